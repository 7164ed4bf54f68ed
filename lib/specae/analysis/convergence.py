"""The study's convergence criterion, fixed before its runs (docs/decisions.md, *The study*).

A run is converged when the best validation L1 over its last 20 % of steps is less than 1 % below the best
before them, and its final value is within 2 % of its best. The history is the per-epoch record of a run
(:class:`~specae.training.progress.EpochRecord` as dicts): "the last 20 % of steps" are the epochs that end
after 80 % of the run's steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from specae.training.schedules import HOLD_FRACTION as LAST_FRACTION  # the study's schedule holds its last 20 %

MAX_LATE_GAIN = 0.01
MAX_FINAL_EXCESS = 0.02


@dataclass(frozen=True)
class Convergence:
    """The criterion applied to one run.

    best_before: best validation L1 of the epochs ending within the first 80 % of steps; best_late: best of
    the others; final: the last epoch's; late_gain: (best_before − best_late) / best_before; final_excess:
    (final − best) / best with best the lower of the two; converged: late_gain < 1 % and final_excess ≤ 2 %.
    """

    best_before: float
    best_late: float
    final: float
    late_gain: float
    final_excess: float

    @property
    def converged(self) -> bool:
        return self.late_gain < MAX_LATE_GAIN and self.final_excess <= MAX_FINAL_EXCESS

    def __str__(self) -> str:
        verdict = "converged" if self.converged else "not converged"
        return (f"{verdict}: last-20 % gain {100 * self.late_gain:+.2f} % (limit 1 %), final "
                f"{100 * self.final_excess:.2f} % above best (limit 2 %)")


def convergence(history: list[dict], key: str = "validation_reconstruction") -> Convergence:
    """Apply the criterion to a run's per-epoch ``history`` (needs epochs on both sides of 80 % of the steps)."""
    if not history:
        raise ValueError("the history is empty: the run has no finished epoch to judge")
    last_start = (1 - LAST_FRACTION) * history[-1]["step"]
    before = [record[key] for record in history if record["step"] <= last_start]
    late = [record[key] for record in history if record["step"] > last_start]
    if not before:
        raise ValueError(f"no epoch ends within the first 80 % of the {history[-1]['step']} steps; "
                         "the criterion needs epochs before the last 20 %")
    best_before, best_late, final = min(before), min(late), late[-1]
    best = min(best_before, best_late)
    return Convergence(best_before=best_before, best_late=best_late, final=final,
                       late_gain=(best_before - best_late) / best_before, final_excess=(final - best) / best)
