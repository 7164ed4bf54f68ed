"""Bad inputs in a folder are rejected one by one with a clear one-line reason; the good files are still stored."""

import gzip
import shutil

import numpy as np
import pytest
from astropy.io import fits

from specae.io.fits import HarpsSpectrum, ProductError, read_spectrum, write_adp
from specae.io.real_samples import HARPS_ADP_SAMPLE, HARPS_S1D_SAMPLE, sample_path
from specae.io.store import SpectrumStore, ingest
from specae.spectra.grid import Grid, full_resolution_wavelength
from specae.synth.survey import SyntheticConfig, SyntheticSurvey

GOOD = {"ADP.synthetic-0.fits", "ADP.synthetic-nan-pixels.fits", HARPS_ADP_SAMPLE, f"night1/{HARPS_S1D_SAMPLE}"}
REJECTED = {  # file → a key phrase of its reason
    "truncated.fits": "truncated FITS file",
    "notes.fits": "not a FITS file",
    "no-flux.fits": "no FLUX column",
    "e2ds-like.fits": "PRIMARY image 72×4096; e2ds files need deblazing",
    "header-only.fits": "no SPECTRUM table",
    "all-nan.fits": "no finite value in 3785–6910 Å",
    "swapped-wavelengths.fits": "not strictly increasing (pixel 100000",
    "reversed-wavelengths.fits": "not strictly increasing (pixel 0",
    "red-only.fits": "spans 7000.00–7500.00 Å and covers 0 of the 312501 grid pixels of the 3785–6910 Å window",
    "ADP.copy.fits": f"duplicate product id {HARPS_ADP_SAMPLE}: already stored from {HARPS_ADP_SAMPLE}",
    f"night2/{HARPS_ADP_SAMPLE}": f"duplicate product id {HARPS_ADP_SAMPLE}: already stored from {HARPS_ADP_SAMPLE}",
}


@pytest.fixture(scope="module")
def synthetic_flux():
    """Two full-resolution synthetic spectra, (2, 327,680)."""
    survey = SyntheticSurvey(SyntheticConfig(n_objects=2, n_spectra=3, seed=5), Grid(1))
    return survey.render(range(2)).numpy()


@pytest.fixture(scope="module")
def source(tmp_path_factory, synthetic_flux):
    """One folder holding the good files and every kind of bad file."""
    folder = tmp_path_factory.mktemp("bad-input")
    wavelength = full_resolution_wavelength()
    real = sample_path(HARPS_ADP_SAMPLE)
    _write(folder / "ADP.synthetic-0.fits", wavelength, synthetic_flux[0])
    with_nan = synthetic_flux[1].copy()
    with_nan[20_000:21_000] = np.nan  # NaN pixels in an otherwise good spectrum: normalisation masks them
    _write(folder / "ADP.synthetic-nan-pixels.fits", wavelength, with_nan)
    shutil.copy(real, folder / HARPS_ADP_SAMPLE)
    (folder / "night1").mkdir()
    shutil.copy(sample_path(HARPS_S1D_SAMPLE), folder / "night1" / HARPS_S1D_SAMPLE)

    data = real.read_bytes()
    (folder / "truncated.fits").write_bytes(data[: len(data) // 2])
    (folder / "notes.fits").write_text("observing notes, saved with the wrong extension\n")
    _write_table(folder / "no-flux.fits", WAVE=wavelength[:10], ERR=np.ones(10))
    fits.PrimaryHDU(np.ones((72, 4096), dtype="f4"), header=fits.Header({"INSTRUME": "HARPS"})).writeto(
        folder / "e2ds-like.fits")
    fits.PrimaryHDU(header=fits.Header({"INSTRUME": "HARPS", "ARCFILE": "ADP.header-only.fits"})).writeto(
        folder / "header-only.fits")
    _write(folder / "all-nan.fits", wavelength, np.full(wavelength.size, np.nan, dtype=np.float32))
    swapped = wavelength.copy()
    swapped[[100_000, 100_001]] = swapped[[100_001, 100_000]]
    _write(folder / "swapped-wavelengths.fits", swapped, synthetic_flux[0])
    _write(folder / "reversed-wavelengths.fits", wavelength[::-1].copy(), synthetic_flux[0][::-1].copy())
    red = 7000.0 + 0.01 * np.arange(50_001)
    _write(folder / "red-only.fits", red, np.ones(red.size, dtype=np.float32))
    shutil.copy(real, folder / "ADP.copy.fits")  # same ARCFILE under another name …
    (folder / "night2").mkdir()
    shutil.copy(real, folder / "night2" / HARPS_ADP_SAMPLE)  # … and in another folder
    return folder


def test_each_bad_file_is_rejected_with_its_reason_and_the_good_ones_are_stored(source, tmp_path):
    report = ingest(source, tmp_path / "store", shard_size=2, workers=2)
    assert report.seen == report.stored + report.rejected == len(GOOD) + len(REJECTED)
    assert (report.stored, report.rejected, report.skipped) == (len(GOOD), len(REJECTED), 0)
    store = SpectrumStore(tmp_path / "store")
    reasons = dict(zip(store.rejects["source"], store.rejects["reason"], strict=True))
    assert set(reasons) == set(REJECTED)
    for name, phrase in REJECTED.items():
        assert phrase in reasons[name], name
        assert "\n" not in reasons[name] and str(source) not in reasons[name] and len(reasons[name]) < 200, name
    assert set(store.labels["source"]) == GOOD and len(store) == len(GOOD)
    for row in store.labels:
        np.testing.assert_array_equal(store.flux([row["index"]])[0], read_spectrum(source / row["source"]).on_grid())
    nan_row = store.labels[store.labels["source"] == "ADP.synthetic-nan-pixels.fits"][0]
    assert np.isnan(store.flux([nan_row["index"]])[0]).sum() == 1_000


def test_a_product_id_stored_by_an_earlier_run_is_rejected_in_a_later_one(tmp_path):
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    (later / "again").mkdir(parents=True)
    shutil.copy(sample_path(HARPS_ADP_SAMPLE), first / HARPS_ADP_SAMPLE)
    shutil.copy(sample_path(HARPS_ADP_SAMPLE), later / "again" / "renamed.fits")
    assert ingest(first, tmp_path / "store", workers=1).stored == 1
    report = ingest(later, tmp_path / "store", workers=1)
    assert (report.seen, report.stored, report.rejected) == (1, 0, 1)
    rejects = SpectrumStore(tmp_path / "store").rejects
    assert list(rejects["source"]) == ["again/renamed.fits"]
    assert rejects["reason"][0] == (f"duplicate product id {HARPS_ADP_SAMPLE}: already stored from "
                                    f"{HARPS_ADP_SAMPLE}; remove this copy")


@pytest.mark.parametrize("cut, phrase", [
    ("content", "truncated FITS file: 2,630,880 of the 5,260,544 bytes"),  # a half FITS file, gzipped whole
    ("stream", "truncated gzip file"),  # a whole FITS file, its gzip stream cut in half
    ("start", "truncated or corrupt gzip file"),  # only the first bytes of the gzip stream
])
def test_truncated_gzip_files_are_named_as_such(tmp_path, cut, phrase):
    data = sample_path(HARPS_ADP_SAMPLE).read_bytes()
    whole = gzip.compress(data, compresslevel=1)
    packed = {"content": gzip.compress(data[: len(data) // 2], compresslevel=1),
              "stream": whole[: len(whole) // 2], "start": whole[:40]}
    path = tmp_path / "ADP.fits.gz"
    path.write_bytes(packed[cut])
    with pytest.raises(ProductError, match=phrase):
        read_spectrum(path)


def _write(path, wavelength, flux):
    """A synthetic ADP file (no ARCFILE, so never a duplicate)."""
    spectrum = HarpsSpectrum(wavelength, flux, np.full(flux.size, np.nan, dtype=np.float32), dict(object="SYN"))
    write_adp(path, spectrum)


def _write_table(path, **columns):
    """An ADP-like file whose one-row SPECTRUM table holds only the given vector columns."""
    defs = [fits.Column(name=name, format=f"{values.size}D", array=values[None, :]) for name, values in columns.items()]
    table = fits.BinTableHDU.from_columns(defs, name="SPECTRUM")
    fits.HDUList([fits.PrimaryHDU(header=fits.Header({"INSTRUME": "HARPS"})), table]).writeto(path)
