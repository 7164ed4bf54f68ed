"""The on-disk store and ingest: every input stored or rejected with a reason, resumable, exact."""

import json
import shutil

import numpy as np
import pytest
import torch

from specae.__main__ import main
from specae.io.fits import HarpsSpectrum, read_spectrum, write_adp
from specae.io.real_samples import HARPS_ADP_SAMPLE, HARPS_S1D_SAMPLE, sample_path
from specae.io.store import MANIFEST, SpectrumStore, ingest
from specae.spectra.grid import Grid, full_resolution_wavelength
from specae.synth.survey import SyntheticConfig, SyntheticSurvey

N_SYNTHETIC = 3


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A folder like an archive download: synthetic ADPs, two real HARPS products, and three bad files."""
    folder = tmp_path_factory.mktemp("archive")
    survey = SyntheticSurvey(SyntheticConfig(n_objects=2, n_spectra=N_SYNTHETIC, seed=5), Grid(1))
    flux = survey.render(range(N_SYNTHETIC)).numpy()
    for i in range(N_SYNTHETIC):
        meta = dict(object=f"SYN{i}", snr=float(survey.labels["snr"][i]), berv=0.0, airmass=1.2, mjd=60000.0 + i)
        spectrum = HarpsSpectrum(full_resolution_wavelength(), flux[i], np.full_like(flux[i], np.nan), meta)
        write_adp(folder / f"ADP.synthetic-{i}.fits", spectrum)
    shutil.copy(sample_path(HARPS_ADP_SAMPLE), folder / HARPS_ADP_SAMPLE)
    (folder / "night2").mkdir()
    shutil.copy(sample_path(HARPS_S1D_SAMPLE), folder / "night2" / HARPS_S1D_SAMPLE)
    shutil.copy(sample_path("HD41248_1_1_S1D_A.fits"), folder / "espresso.fits")
    (folder / "truncated.fits").write_bytes(b"SIMPLE  =                    T" + b" " * 50)
    (folder / "notes.txt").write_text("not a FITS file, not an input")
    return folder


def test_every_file_is_stored_or_rejected_with_its_reason(source, tmp_path):
    report = ingest(source, tmp_path / "store", shard_size=2, workers=2)
    assert (report.seen, report.stored, report.rejected, report.skipped) == (7, 5, 2, 0)
    assert report.line() == "seen 7 = stored 5 + rejected 2"
    store = SpectrumStore(tmp_path / "store")
    assert len(store) == 5 and len(store.manifest["shards"]) == 3  # shards of 2, 2 and 1
    rejects = dict(zip(store.rejects["source"], store.rejects["reason"], strict=True))
    assert set(rejects) == {"espresso.fits", "truncated.fits"}
    assert "comes from ESPRESSO" in rejects["espresso.fits"]
    labels = store.labels
    assert sorted(labels["source"]) == sorted(["ADP.synthetic-0.fits", "ADP.synthetic-1.fits", "ADP.synthetic-2.fits",
                                               HARPS_ADP_SAMPLE, f"night2/{HARPS_S1D_SAMPLE}"])
    for row in labels:  # stored flux is exactly the source placed on the grid
        expected = read_spectrum(source / row["source"]).on_grid()
        np.testing.assert_array_equal(store.flux([row["index"]])[0], expected)
    real = labels[labels["source"] == HARPS_ADP_SAMPLE][0]
    assert real["object"] == "IC4651No9122" and real["snr"] == pytest.approx(23.35) and real["product"] == "ADP"
    s1d = labels[labels["source"] == f"night2/{HARPS_S1D_SAMPLE}"][0]
    assert s1d["product"] == "s1d" and not s1d["arcfile"] and s1d["berv"] == pytest.approx(-23.544, abs=1e-3)


def test_rerun_and_interrupted_commit_resume_without_duplicates(source, tmp_path):
    store_path = tmp_path / "store"
    ingest(source, store_path, shard_size=2, workers=1)
    again = ingest(source, store_path, shard_size=2, workers=1)
    assert (again.stored, again.rejected, again.skipped) == (0, 0, 7)
    # Simulate a crash after a commit wrote its shard and labels but before its manifest:
    manifest = json.loads((store_path / MANIFEST).read_text())
    last = manifest["shards"].pop()
    (store_path / MANIFEST).write_text(json.dumps(manifest))
    resumed = ingest(source, store_path, shard_size=2, workers=1)
    assert (resumed.stored, resumed.rejected, resumed.skipped) == (last["rows"], 0, 7 - last["rows"])
    store = SpectrumStore(store_path)
    assert len(store) == 5 and len(set(store.labels["source"])) == 5 and len(store.rejects) == 2
    assert list(store.labels["index"]) == list(range(5))


def test_coarse_store_holds_rebinned_flux(source, tmp_path):
    ingest(source, tmp_path / "coarse", grid=40, workers=1)
    store = SpectrumStore(tmp_path / "coarse")
    row = store.labels[0]
    fine = read_spectrum(source / row["source"]).on_grid()
    np.testing.assert_array_equal(store.flux([row["index"]])[0], Grid(40).rebin_flux(torch.from_numpy(fine)).numpy())
    with pytest.raises(ValueError, match=r"on the grid \(factor 40\), not \(factor 1\)"):
        ingest(source, tmp_path / "coarse", grid=1)


def test_windowed_store_holds_the_window_of_the_fine_flux(source, tmp_path):
    """A store on a window of the lattice (the study's grid) holds that window of each spectrum, rebinned."""
    window = Grid.window(4960.0, 8192, 4)
    ingest(source, tmp_path / "window", grid=window, workers=1)
    store = SpectrumStore(tmp_path / "window")
    assert store.grid == window
    row = store.labels[0]
    fine = read_spectrum(source / row["source"]).on_grid()[window.start_pixel : window.start_pixel + 32_768]
    np.testing.assert_array_equal(store.flux([row["index"]])[0], fine.reshape(8192, 4).mean(axis=1))


def test_bad_store_input_names_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a spectra store"):
        SpectrumStore(tmp_path)
    with pytest.raises(NotADirectoryError, match="is not a folder of FITS files"):
        ingest(tmp_path / "missing", tmp_path / "store")


def test_ingest_command_prints_the_counts(source, tmp_path, capsys):
    assert main(["ingest", str(source), "--out", str(tmp_path / "store"), "--workers", "1"]) == 0
    assert capsys.readouterr().out.strip().endswith("seen 7 = stored 5 + rejected 2")
    assert len(SpectrumStore(tmp_path / "store")) == 5
