"""How the Doppler-aware variant converges with its budget (issue 23, chapter 08's convergence table): for each
budget's run, its convergence, its line cores and its velocity on the same spectra, with v split into its two
parts (:meth:`~specae.analysis.velocity_comparison.VelocityComparison.correction`). A description; no target
reads it (docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from specae.analysis.bottleneck import model_error_row
from specae.analysis.convergence import convergence
from specae.analysis.run_state import run_states
from specae.analysis.velocity_comparison import VelocityComparison
from specae.spectra.spectra_set import SpectraSet
from specae.training.loop import TrainResult
from specae.training.study_runs import run_name


def budget_label(budget: int) -> str:
    """The name a budget's run has in the table and in its velocity comparison: "2×" for twice the steps."""
    return f"{budget}×"


def budget_rows(runs: Mapping[int, TrainResult], velocities: VelocityComparison, data: SpectraSet, stars,
                size: int) -> dict[str, dict[str, object]]:
    """Budget label → row: steps, final validation L1, last-20 % gain, state, line cores on ``stars`` (one spectrum
    per validation star, PCA's ``size`` being the reference elsewhere), v's RMSE on the target spectra, the anchor
    alone's and δv's median and scatter (km/s). runs: budget → run; velocities: holds each run's v under its
    :func:`budget_label`, with the anchors (``compare_velocities(..., anchors=True)``)."""
    states = run_states(runs.values())
    rmse = velocities.scores(velocities.target).rmse  # on the FGK spectra at high S/N (the target's)
    rows = {}
    for budget, run in runs.items():
        label = budget_label(budget)
        parts = velocities.correction(label)
        rows[label] = {"steps": run.history[-1]["step"],
                       "validation L1": round(run.history[-1]["validation_reconstruction"], 4),
                       "last-20 % gain": f"{convergence(run.history).late_gain:+.2%}",
                       "state": states[run_name(run.preset)],
                       "line cores": round(model_error_row(run.model, data, stars, size)["line_cores"], 4),
                       "v RMSE, FGK at high S/N (km/s)": round(rmse[label], 3),
                       "anchor alone (km/s)": round(parts["anchor"], 3),
                       "δv median (km/s)": round(parts["median"], 2),
                       "δv scatter (km/s)": round(parts["scatter"], 3)}
    return rows
