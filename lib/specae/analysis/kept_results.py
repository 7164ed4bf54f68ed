"""The results files of the kept scripts that chapters quote (``benchmarks/results/``): each number a chapter
prints from them comes from the script's run that wrote the file, and the script's command reruns it.

* the decoder probe (``scripts/decoder_doppler_probe.py``): the study's decoder told the true labels, trained on
  the spectra as observed and moved to the rest frame;
* the conditioning screen (``scripts/conditioning_screen.py``; read by :mod:`specae.analysis.conditioning`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from specae._files import REPO_DIR

RESULTS_DIR = REPO_DIR / "benchmarks" / "results"
DECODER_PROBE = RESULTS_DIR / "decoder_doppler_probe_2026-12-02.json"
DECODER_PROBE_COMMAND = ("python scripts/decoder_doppler_probe.py --steps 4000 "
                         "--json benchmarks/results/decoder_doppler_probe.json")


def read_kept(path: str | Path, command: str) -> dict:
    """The results file at ``path``, or a FileNotFoundError naming the ``command`` that writes it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {path}; write it with `{command}`")
    return json.loads(path.read_text())


def decoder_probe_table(path: str | Path = DECODER_PROBE) -> pd.DataFrame:
    """One row per probe (frame × optimisation): steps, validation stars and the masked L1 over all pixels, in
    the line cores and elsewhere."""
    probes = read_kept(path, DECODER_PROBE_COMMAND)["probes"]
    table = pd.DataFrame(probes).set_index(["optimisation", "frame"])
    return table[["steps", "validation stars", "L1", "line cores", "elsewhere"]]


def decoder_signal(path: str | Path = DECODER_PROBE) -> dict[str, list[float]]:
    """Optimisation → the standard deviation of a unit-variance signal after each activation of a fresh decoder,
    as the decoder probe measured it."""
    return read_kept(path, DECODER_PROBE_COMMAND)["signal_std_after_each_activation"]
