"""What the optimiser uses at each step: the KL weight β and Adam's step size, as functions of the step.

``step`` counts optimisation steps from 0 over the whole run (not per epoch), so a resumed run continues
both schedules where it stopped.
"""

from __future__ import annotations

import math


def beta_schedule(step: int, beta: float, warmup_start: int, warmup_end: int) -> float:
    """KL weight at ``step``: 0 before warmup_start, linear up to ``beta`` at warmup_end, then flat."""
    if step < warmup_start:
        return 0.0
    if step >= warmup_end:
        return beta
    return beta * (step - warmup_start) / (warmup_end - warmup_start)


HOLD_FRACTION = 0.2  # "cosine_hold": the last fifth of the steps, the span the convergence criterion checks
FLOORS = {"cosine": 0.02, "cosine_hold": 0.02, "cosine_hold10": 0.10}  # the final step size, a fraction of the peak


def learning_rate_at(step: int, peak: float, schedule: str, warmup_steps: int, total_steps: int) -> float:
    """Adam step size at ``step``: ``peak`` throughout ("constant"), or a linear warm-up over
    ``warmup_steps`` followed by a cosine decay to 2 % of ``peak`` at ``total_steps`` ("cosine"), or at
    80 % of ``total_steps`` and then held there ("cosine_hold": the last 20 % train at the final step size,
    so that a gain there shows the run had not converged rather than the decay's last steps; "cosine_hold10":
    the same with a final step size of 10 % of ``peak``, which still trains)."""
    if schedule == "constant":
        return peak
    if schedule not in FLOORS:
        raise ValueError(f"unknown learning-rate schedule {schedule!r}; use 'constant' or one of {sorted(FLOORS)}")
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    if schedule != "cosine":
        total_steps = round((1 - HOLD_FRACTION) * total_steps)
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    floor = FLOORS[schedule] * peak
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
