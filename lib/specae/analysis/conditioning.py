"""Study II's conditioning screen read back (issue 22; docs/decisions.md, *Study II: rules fixed before its runs*):
the screen's cells (initialisation × peak step size, each a β-VAE and a deterministic model) and the rule that
picks the one every Study II run adopts.

The rule fixed before the screen: among the cells whose two runs stayed finite and whose β-VAE did not collapse,
the lowest geometric mean of the two final validation L1. The amendment made before any Study II run (its reason
is in decisions.md): a cell is eligible only if both its runs also converged.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from specae.analysis.kept_results import RESULTS_DIR, read_kept

SCREEN_RESULTS = RESULTS_DIR / "conditioning_screen_cpu2_2026-12-05.json"
SCREEN_COMMAND = "python scripts/conditioning_screen.py --json <file>"  # about 1 h 30 min on the 2-core machine
MODELS = {"vae": "β-VAE", "ae": "deterministic"}  # the cell's keys → names


def read_screen(path: str | Path = SCREEN_RESULTS) -> dict[str, dict]:
    """Cell name ("<init> <peak>") → {"vae": run summary, "ae": run summary}, as the screen script wrote them."""
    return read_kept(path, SCREEN_COMMAND)["cells"]


def geometric_mean_l1(cell: dict) -> float:
    """√(β-VAE final L1 × deterministic final L1) of one cell."""
    return math.sqrt(cell["vae"]["final_l1"] * cell["ae"]["final_l1"])


def eligible(cell: dict, amended: bool = True) -> bool:
    """Both runs finite and the β-VAE not collapsed; with the amendment, both runs converged too."""
    sound = cell["vae"]["finite"] and cell["ae"]["finite"] and not cell["vae"]["collapsed"]
    return sound and (not amended or (cell["vae"]["converged"] and cell["ae"]["converged"]))


def winner(cells: dict[str, dict], amended: bool = True) -> str | None:
    """The eligible cell of lowest :func:`geometric_mean_l1` (None when none is eligible); ``amended=False`` applies
    the rule as first fixed."""
    candidates = [name for name, cell in cells.items() if eligible(cell, amended)]
    return min(candidates, key=lambda name: geometric_mean_l1(cells[name])) if candidates else None


def screen_table(cells: dict[str, dict]) -> pd.DataFrame:
    """One row per cell: each model's final validation L1 and run state, the geometric mean, and whether the cell
    is eligible under the first rule and under the amended one."""
    rows = {}
    for name, cell in cells.items():
        init, peak = name.rsplit(" ", 1)
        row: dict[str, object] = {"initialisation": init, "peak step": float(peak)}
        for key, model in MODELS.items():
            row[f"{model} L1"] = cell[key]["final_l1"]
            row[f"{model} state"] = cell[key]["run_state"]["state"]
        row["geometric mean"] = geometric_mean_l1(cell)
        row["eligible (first rule)"] = eligible(cell, amended=False)
        row["eligible (amended)"] = eligible(cell, amended=True)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")
