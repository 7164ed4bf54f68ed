"""Study II's conditioning screen: initialisation × peak step size on the main configuration (issue 22, item 3).

The cells, what is measured and the rule that picks the winner were fixed before the screen ran
(docs/decisions.md, *Study II: rules fixed before its runs*, **Conditioning screen**): PyTorch's default and
He-normal weights × peak step sizes 10⁻³, 2 × 10⁻³, 5 × 10⁻³ and 10⁻², each cell a β-VAE and a deterministic
model (16 latents, seed 0) on the study preset with Study II's schedule (``cosine_hold10``). The runs train on
the fast path through the run cache, two at a time on a 2-core CPU (about 11 min a run, 1 h 30 min for all);
run the command again after an interruption and it resumes from the cached epochs. For each run: the final
validation L1 and Study II's run state (:mod:`specae.analysis.run_state`: the convergence check and, for the
β-VAE, the collapse check on its validation KL and active units); the winner is the cell with the lowest
geometric mean of its two final L1 among the cells whose runs stayed finite and whose β-VAE did not collapse.

    .venv/bin/python scripts/conditioning_screen.py --json benchmarks/results/conditioning_screen_cpu2_DATE.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
from pathlib import Path

import numpy as np
import torch

from specae.analysis.conditioning import winner
from specae.analysis.latents import node_kl
from specae.analysis.run_state import COLLAPSED, CONVERGED, run_state
from specae.training.presets import Preset, get_preset
from specae.training.run_keys import run_key
from specae.training.side_by_side import cached_train_many

INITS = ("default", "he_normal")
PEAKS = (1e-3, 2e-3, 5e-3, 1e-2)
SCHEDULE = "cosine_hold10"


def cell_presets(init: str, peak: float) -> dict[str, Preset]:
    """The cell's two runs: {"vae": β-VAE, "ae": deterministic}."""
    common = dict(init=init, learning_rate=peak, lr_schedule=SCHEDULE)
    return {"vae": get_preset("study", **common), "ae": get_preset("study", variational=False, **common)}


def run_summary(result) -> dict:
    """Final validation L1 and Study II's run state (convergence and, for the β-VAE, collapse) of one run."""
    history = result.history
    variational = result.preset.model.variational
    per_node = node_kl(result.model, result.data, result.split.validation) if variational else None
    state = run_state(history, per_node)
    return {"key": run_key(result.preset, "cpu", "fast"), "final_l1": history[-1]["validation_reconstruction"],
            "finite": all(math.isfinite(record["train_loss"]) for record in history),
            "collapsed": state.state == COLLAPSED, "converged": state.state == CONVERGED,
            "run_state": state.to_dict(), "node_kl": None if per_node is None else per_node.tolist(),
            "validation_l1": [record["validation_reconstruction"] for record in history]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    grid = {f"{init} {peak:g}": cell_presets(init, peak) for init in INITS for peak in PEAKS}
    presets = [preset for cell in grid.values() for preset in cell.values()]
    results = iter(cached_train_many(presets, device="cpu", workers=2, reference=False, path="fast"))
    cells = {name: {model: run_summary(next(results)) for model in cell} for name, cell in grid.items()}
    best = winner(cells, amended=False)  # the rule as fixed before the screen (decisions.md records the amendment)
    for name, cell in cells.items():
        vae, ae = cell["vae"], cell["ae"]
        print(f"{name:>16}: β-VAE L1 {vae['final_l1']:.5f} ({vae['run_state']['reason']}); AE L1 "
              f"{ae['final_l1']:.5f} ({ae['run_state']['reason']}){'  ← winner' if name == best else ''}")
    if args.json:
        args.json.write_text(json.dumps({
            "date": datetime.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
            "torch": str(torch.__version__), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "schedule": SCHEDULE, "inits": INITS, "peaks": PEAKS, "training_path": "fast", "cells": cells,
            "winner": best, "numpy": np.__version__}, indent=1) + "\n")


if __name__ == "__main__":
    main()
