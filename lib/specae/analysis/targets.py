"""Targets beyond the paper (issue 23's "beyond the paper" rows): a measured number against the value it must
beat and, where one is set, a harder goal. Lower is better for every target here (errors, RMSEs, ratios)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from specae.analysis.claims import INCONCLUSIVE, NOT_TESTABLE

GOAL_MET = "goal met"
TARGET_MET = "target met"
MISSED = "missed"


@dataclass(frozen=True)
class Target:
    """value: the measured number (for several seeds, the worst); target: it must be below this (or at most this,
    when ``inclusive``); goal: the harder bound, inclusive (None: no goal); unit: how the numbers read, e.g. "km/s";
    unconverged: the runs it reads that did not converge (then it is *inconclusive*, as a claim on such a run is)."""

    value: float
    target: float
    goal: float | None = None
    unit: str = ""
    unconverged: tuple[str, ...] = ()
    inclusive: bool = False

    @property
    def status(self) -> str:
        """:data:`GOAL_MET` (≤ the goal), :data:`TARGET_MET` (below the target), :data:`MISSED`, *not testable*
        when the value or its target could not be measured (NaN), or *inconclusive* when a run it reads did not
        converge."""
        if not (math.isfinite(self.value) and math.isfinite(self.target)):
            return NOT_TESTABLE
        if self.unconverged:
            return INCONCLUSIVE
        if self.goal is not None and math.isfinite(self.goal) and self.value <= self.goal:
            return GOAL_MET
        within = self.value <= self.target if self.inclusive else self.value < self.target
        return TARGET_MET if within else MISSED

    def describe(self, digits: int = 3) -> str:
        """"0.062 against < 0.078 (goal ≤ 0.05)", in the target's unit; a NaN reads "not measured" (a NaN goal
        is left out)."""
        unit = f" {self.unit}" if self.unit else ""

        def number(value: float) -> str:
            return f"{value:.{digits}g}{unit}" if math.isfinite(value) else "not measured"

        goal = f" (goal ≤ {number(self.goal)})" if self.goal is not None and math.isfinite(self.goal) else ""
        runs = f"; not converged: {', '.join(self.unconverged)}" if self.unconverged else ""
        return f"{number(self.value)} against {'≤' if self.inclusive else '<'} {number(self.target)}{goal}{runs}"
