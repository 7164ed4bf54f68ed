"""Targets beyond the paper (issue 23's "beyond the paper" rows): a measured number against the value it must
beat and, where one is set, a harder goal. Lower is better for every target here (errors, RMSEs, ratios)."""

from __future__ import annotations

import math
from dataclasses import dataclass

GOAL_MET = "goal met"
TARGET_MET = "target met"
MISSED = "missed"


@dataclass(frozen=True)
class Target:
    """value: the measured number (for several seeds, the worst); target: it must be below this; goal: the harder
    bound (None: no goal); unit: how the numbers read, e.g. "km/s"."""

    value: float
    target: float
    goal: float | None = None
    unit: str = ""

    @property
    def status(self) -> str:
        """:data:`GOAL_MET` (≤ the goal), :data:`TARGET_MET` (below the target) or :data:`MISSED` (NaN too)."""
        if not math.isfinite(self.value):
            return MISSED
        if self.goal is not None and self.value <= self.goal:
            return GOAL_MET
        return TARGET_MET if self.value < self.target else MISSED

    def describe(self, digits: int = 3) -> str:
        """"0.062 against < 0.078 (goal ≤ 0.05)", in the target's unit."""
        unit = f" {self.unit}" if self.unit else ""
        goal = f" (goal ≤ {self.goal:.{digits}g}{unit})" if self.goal is not None else ""
        return f"{self.value:.{digits}g}{unit} against < {self.target:.{digits}g}{unit}{goal}"
