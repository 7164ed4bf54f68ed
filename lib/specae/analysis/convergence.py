"""The study's convergence criterion, fixed before its runs (docs/decisions.md, *The study*).

A run is converged when the best validation L1 over its last 20 % of steps is less than 1 % below the best
before them, and its final value is within 2 % of its best. The history is the per-epoch record of a run
(:class:`~specae.training.progress.EpochRecord` as dicts): "the last 20 % of steps" are the epochs that end
after 80 % of the run's steps. A run with no epoch ending within its first 80 % (one epoch, say) cannot be
judged: its verdict is *not testable* (not converged, with the reason), not an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from specae.training.schedules import HOLD_FRACTION as LAST_FRACTION  # the study's schedule holds its last 20 %

MAX_LATE_GAIN = 0.01
MAX_FINAL_EXCESS = 0.02


@dataclass(frozen=True)
class Convergence:
    """The criterion applied to one run.

    best_before: best validation L1 of the epochs ending within the first 80 % of steps; best_late: best of
    the others; final: the last epoch's; late_gain: (best_before − best_late) / best_before; final_excess:
    (final − best) / best with best the lower of the two; converged: late_gain < 1 % and final_excess ≤ 2 %.
    untestable: why the criterion cannot be applied ("" when it can; then best_before and late_gain are NaN and
    the run does not count as converged).
    """

    best_before: float
    best_late: float
    final: float
    late_gain: float
    final_excess: float
    untestable: str = ""

    @property
    def testable(self) -> bool:
        return not self.untestable

    @property
    def converged(self) -> bool:
        return self.testable and self.late_gain < MAX_LATE_GAIN and self.final_excess <= MAX_FINAL_EXCESS

    def __str__(self) -> str:
        if not self.testable:
            return f"not testable: {self.untestable}"
        verdict = "converged" if self.converged else "not converged"
        return (f"{verdict}: last-20 % gain {100 * self.late_gain:+.2f} % (limit 1 %), final "
                f"{100 * self.final_excess:.2f} % above best (limit 2 %)")


def convergence(history: list[dict], key: str = "validation_reconstruction") -> Convergence:
    """Apply the criterion to a run's per-epoch ``history``; it needs epochs on both sides of 80 % of the steps,
    and a run without one before is *not testable* (:attr:`Convergence.untestable` says why)."""
    if not history:
        raise ValueError("the history is empty: the run has no finished epoch to judge")
    last_start = (1 - LAST_FRACTION) * history[-1]["step"]
    before = [record[key] for record in history if record["step"] <= last_start]
    late = [record[key] for record in history if record["step"] > last_start]
    if not before:
        best_late, final = min(late), late[-1]
        return Convergence(best_before=np.nan, best_late=best_late, final=final, late_gain=np.nan,
                           final_excess=(final - best_late) / best_late,
                           untestable=f"{len(history)} epoch{'s' if len(history) > 1 else ''} of "
                                      f"{history[-1]['step']:,} steps, none ending within the first 80 %: train more "
                                      "epochs to judge convergence")
    best_before, best_late, final = min(before), min(late), late[-1]
    best = min(best_before, best_late)
    return Convergence(best_before=best_before, best_late=best_late, final=final,
                       late_gain=(best_before - best_late) / best_before, final_excess=(final - best) / best)


def convergence_note(verdicts: dict[str, Convergence]) -> str:
    """One sentence: which runs (name → verdict) the criterion cannot judge and why, or that it judges all."""
    untestable = {name: verdict for name, verdict in verdicts.items() if not verdict.testable}
    if not untestable:
        return "Every run has epochs on both sides of its last 20 % of steps, so the criterion judges each."
    return " ".join(f"The criterion cannot judge {name}: {verdict.untestable}." for name, verdict in untestable.items())


def all_converged(runs: Iterable) -> bool:
    """Whether every run of ``runs`` (TrainResult-like: a ``history``) meets the convergence criterion."""
    return all(convergence(run.history).converged for run in runs)
