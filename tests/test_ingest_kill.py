"""A real crash: the ingest command is SIGKILLed after its first commit, then resumed; nothing is lost or doubled."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from specae.io.fits import HarpsSpectrum, read_spectrum, write_adp
from specae.io.store import MANIFEST, SpectrumStore, ingest
from specae.spectra.grid import Grid, full_resolution_wavelength
from specae.synth.survey import SyntheticConfig, SyntheticSurvey

N_SPECTRA = 12
GRID_FACTOR = 40  # small shards; the FITS files themselves are full resolution
TIMEOUT_S = 60


@pytest.mark.slow
def test_killed_ingest_resumes_with_every_file_stored_or_rejected_once(tmp_path):
    source, store = tmp_path / "source", tmp_path / "store"
    names = _write_synthetic_folder(source)
    (source / "notes.fits").write_text("not FITS")  # one reject, so the rejects tables are resumed too
    command = [sys.executable, "-m", "specae", "ingest", str(source), "--out", str(store), "--workers", "1",
               "--shard-size", "2", "--grid-factor", str(GRID_FACTOR)]

    killed = _run_until_first_commit(command, store, tmp_path / "killed.log")
    assert killed.returncode == -signal.SIGKILL
    before = SpectrumStore(store)
    stored_before, rejected_before = len(before), len(before.rejects)
    assert 2 <= stored_before + rejected_before < N_SPECTRA + 1, "the kill must land mid-ingest"

    rerun = ingest(source, store, grid=GRID_FACTOR, shard_size=2, workers=1)  # the same call as the command
    assert (rerun.seen, rerun.stored, rerun.rejected, rerun.skipped) == (
        N_SPECTRA + 1, N_SPECTRA - stored_before, 1 - rejected_before, stored_before + rejected_before)

    result = SpectrumStore(store)
    assert sorted(result.labels["source"]) == sorted(names) and len(result) == N_SPECTRA
    assert list(result.labels["index"]) == list(range(N_SPECTRA))
    assert list(result.rejects["source"]) == ["notes.fits"]
    assert not list(store.glob(".*.tmp")), "the rerun removes what the killed run left half-written"
    grid = Grid(GRID_FACTOR)
    for row in result.labels:
        fine = torch.from_numpy(read_spectrum(source / row["source"]).on_grid())
        np.testing.assert_array_equal(result.flux([row["index"]])[0], grid.rebin_flux(fine).numpy())


def _write_synthetic_folder(folder):
    """N_SPECTRA full-resolution synthetic ADP files; returns their names."""
    folder.mkdir()
    survey = SyntheticSurvey(SyntheticConfig(n_objects=4, n_spectra=N_SPECTRA, seed=5), Grid(1))
    flux = survey.render(range(N_SPECTRA)).numpy()
    names = [f"ADP.synthetic-{i:02d}.fits" for i in range(N_SPECTRA)]
    for name, spectrum_flux in zip(names, flux, strict=True):
        error = np.full_like(spectrum_flux, np.nan)
        write_adp(folder / name, HarpsSpectrum(full_resolution_wavelength(), spectrum_flux, error, dict(object=name)))
    return names


def _run_until_first_commit(command, store, log_path):
    """Start ``command``, SIGKILL its whole process group once the manifest shows a commit; the finished process."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while _commits(store) < 1:
            assert process.poll() is None, f"ingest ended before its first commit: {log_path.read_text()}"
            assert time.monotonic() < deadline, "no commit within the timeout"
            time.sleep(0.01)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the command and its reading worker, as a crash would
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return process


def _commits(store) -> int:
    path = store / MANIFEST
    return json.loads(path.read_text())["commits"] if path.exists() else 0
