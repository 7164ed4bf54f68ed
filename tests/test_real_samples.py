"""Real ESO HARPS products (the checksummed samples `make data` fetches) through the same pipeline."""

import shutil
import tarfile

import numpy as np
import pytest

import specae.io.real_samples as samples
from specae._files import sha256_file
from specae.io.fits import read_spectrum
from specae.io.real_samples import HARPS_ADP_SAMPLE, HARPS_S1D_SAMPLE, SAMPLE_FILES, fetch_samples, sample_path
from specae.spectra.grid import Grid
from specae.spectra.normalisation import median_normalise


def test_real_adp_spectrum_loads_onto_the_paper_grid():
    spectrum = read_spectrum(sample_path(HARPS_ADP_SAMPLE))
    assert spectrum.product == "ADP" and spectrum.wavelength.size == 313_124
    assert spectrum.wavelength[0] == pytest.approx(3781.43, abs=1e-6)
    in_window = (spectrum.wavelength >= 3785 - 1e-5) & (spectrum.wavelength <= 6910 + 1e-5)
    assert in_window.sum() == 312_501
    assert np.isnan(spectrum.error).all()  # this product carries no error spectrum
    assert (spectrum.flux == 0).sum() == 3_295 and (spectrum.flux < 0).sum() == 5_160
    meta = spectrum.meta
    assert meta["object"] == "IC4651No9122" and meta["prog_id"] == "076.C-0429(A)"
    assert meta["snr"] == pytest.approx(23.35) and meta["berv"] == pytest.approx(-8.686, abs=1e-3)
    assert meta["airmass"] == pytest.approx(1.0785, abs=1e-4)
    placed = spectrum.on_grid()
    grid = Grid(1)
    np.testing.assert_array_equal(placed[grid.mask], spectrum.flux[in_window][grid.mask[7_589:320_090]])
    normalised = median_normalise(placed, grid.mask)
    assert not normalised.degenerate[0] and normalised.scale[0].item() == pytest.approx(652.34, abs=0.01)


def test_real_s1d_spectrum_loads_with_its_header_metadata():
    spectrum = read_spectrum(sample_path(HARPS_S1D_SAMPLE))
    assert spectrum.product == "s1d" and spectrum.wavelength.size == 313_114
    assert spectrum.wavelength[0] == pytest.approx(3781.19, abs=1e-6)
    assert spectrum.meta["object"] == "Gl581" and spectrum.meta["berv"] == pytest.approx(-23.544, abs=1e-3)
    assert np.count_nonzero(spectrum.on_grid()) > 300_000


def test_real_products_of_other_kinds_are_refused():
    with pytest.raises(ValueError, match="comes from ESPRESSO"):
        read_spectrum(sample_path("HD41248_1_1_S1D_A.fits"))
    with pytest.raises(ValueError, match="e2ds files need deblazing"):
        read_spectrum(sample_path("HARPS.2003-12-13T06:19:48.371_e2ds_A.fits"))


def test_corrupted_sample_is_detected(tmp_path, monkeypatch):
    monkeypatch.setenv("SPECAE_SAMPLES", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="make data"):
        sample_path(HARPS_S1D_SAMPLE)
    shutil.copy(_cached(HARPS_S1D_SAMPLE), tmp_path / HARPS_S1D_SAMPLE)
    assert sample_path(HARPS_S1D_SAMPLE).parent == tmp_path
    with open(tmp_path / HARPS_S1D_SAMPLE, "r+b") as handle:
        handle.seek(5000)
        handle.write(b"\0\0\0\0")
    with pytest.raises(ValueError, match="does not match its SHA-256"):
        sample_path(HARPS_S1D_SAMPLE)


def test_fetch_downloads_only_what_is_missing_or_corrupt(tmp_path, monkeypatch):
    for name in SAMPLE_FILES:
        shutil.copy(_cached(name), tmp_path / name)
    monkeypatch.setattr(samples, "_download_archive", lambda folder: pytest.fail("nothing should be downloaded"))
    assert len(fetch_samples(tmp_path)) == len(SAMPLE_FILES)

    (tmp_path / HARPS_ADP_SAMPLE).unlink()

    def fake_archive(folder):  # the archive's own checksum is checked in the real _download_archive
        archive = folder / "archive.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(_cached(HARPS_ADP_SAMPLE), arcname=samples._MEMBER_FOLDER + HARPS_ADP_SAMPLE)
        return archive

    monkeypatch.setattr(samples, "_download_archive", fake_archive)
    fetch_samples(tmp_path)
    assert sha256_file(tmp_path / HARPS_ADP_SAMPLE) == SAMPLE_FILES[HARPS_ADP_SAMPLE]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SAMPLE_FILES)  # no temporary left behind


@pytest.fixture(scope="module", autouse=True)
def _cached_paths():
    """Resolve the real cache before any test points SPECAE_SAMPLES elsewhere."""
    _CACHED.update({name: sample_path(name) for name in SAMPLE_FILES})


_CACHED = {}


def _cached(name):
    return _CACHED[name]
