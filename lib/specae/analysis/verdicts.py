"""Study II's five verdicts, fixed before its runs (docs/decisions.md, *Study II: rules fixed before its runs*).

A claim (or one half of a two-part claim, such as C5's RV and Teff halves) is judged from its check on each seed
(:class:`~specae.analysis.claims.ClaimCheck`), the states of the runs it reads
(:mod:`specae.analysis.run_state`), the budget-scaling trend of its deciding number and the capabilities the model
lacks, in this order of precedence: *not testable*, *inconclusive*, ✓ *reproduced*, and, when the rule fails on
every seed, *not reached at this budget* or ✗ *contradicted*. Every verdict carries its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from specae.analysis.claims import CLAIMS, DECIDING, INCONCLUSIVE, NOT_TESTABLE, ClaimCheck
from specae.analysis.run_state import COLLAPSED, UNCONVERGED

REPRODUCED = "✓ reproduced"
CONTRADICTED = "✗ contradicted"
NOT_REACHED = "not reached at this budget"
VERDICTS = (REPRODUCED, CONTRADICTED, NOT_REACHED, NOT_TESTABLE, INCONCLUSIVE)
BUDGETS = (1, 2, 4, 8)  # multiples of the study's steps that budget scaling trains
MOVING_SHORTFALL = 0.75  # the trend moves toward the tolerance when the 8× shortfall is at most this × the 1× one


@dataclass(frozen=True)
class BudgetTrend:
    """The deciding number's shortfall from its tolerance at each budget (budget → shortfall ≥ 0, 0 when the rule
    holds there), from the budget-scaling runs."""

    shortfalls: Mapping[int, float]

    def __post_init__(self):
        if set(self.shortfalls) != set(BUDGETS):
            raise ValueError(f"a budget trend needs the shortfall at budgets {BUDGETS}, got {sorted(self.shortfalls)}")
        if any(value < 0 for value in self.shortfalls.values()):
            raise ValueError(f"shortfalls are distances from the tolerance, ≥ 0; got {dict(self.shortfalls)}")

    @property
    def moves_toward(self) -> bool:
        """Whether the shortfall at 8× is at most :data:`MOVING_SHORTFALL` of the shortfall at 1×."""
        return self.shortfalls[8] <= MOVING_SHORTFALL * self.shortfalls[1]

    def __str__(self) -> str:
        return "shortfall " + " → ".join(f"{self.shortfalls[b]:.3g} at {b}×" for b in BUDGETS)


@dataclass(frozen=True)
class Verdict:
    """verdict: one of :data:`VERDICTS`; reason: why, in a few words."""

    verdict: str
    reason: str


Trend = BudgetTrend | Callable[[], BudgetTrend | None] | None  # a trend, or how to measure it when it decides


def decide(checks: Mapping[int, ClaimCheck], run_states: Mapping[str, str], trend: Trend = None,
           lacking: Sequence[str] = (), trend_states: Mapping[str, str] | None = None) -> Verdict:
    """The verdict of one claim (or half) from its check per seed (seed → check), the states of the runs it reads
    (run name → state), its budget trend (None when budget scaling has not run), the capabilities the model
    measurably lacks (e.g. "narrow lines") and the states of the budget-scaling runs behind the trend, which are
    read only when the trend decides (then a collapsed or unconverged one leaves the claim inconclusive). A trend
    given as a function is measured only then, since measuring it costs a pass over the budget runs."""
    if not checks:
        raise ValueError("a verdict needs the check of at least one seed")
    untestable = {seed: check for seed, check in checks.items() if not check.testable}
    if untestable:
        seed, check = next(iter(untestable.items()))
        return Verdict(NOT_TESTABLE, f"seed {seed}: {check.ours.removeprefix('not testable: ')}")
    collapsed = sorted(name for name, state in run_states.items() if state == COLLAPSED)
    if collapsed:
        return Verdict(NOT_TESTABLE, f"it reads collapsed runs: {', '.join(collapsed)}")
    unconverged = sorted(name for name, state in run_states.items() if state == UNCONVERGED)
    if unconverged:
        return Verdict(INCONCLUSIVE, f"unconverged runs: {', '.join(unconverged)}")
    held = {seed: check.holds for seed, check in checks.items()}
    if len(set(held.values())) > 1:
        holding = sorted(seed for seed, holds in held.items() if holds)
        return Verdict(INCONCLUSIVE, f"the seeds disagree: it holds for seed{'s' if len(holding) > 1 else ''} "
                                     f"{', '.join(map(str, holding))} only")
    if all(held.values()):
        return Verdict(REPRODUCED, f"holds for every seed ({len(held)})")
    if lacking:
        return Verdict(NOT_REACHED, f"fails for every seed; the model lacks {' and '.join(lacking)}")
    if callable(trend):
        trend = trend()
    if trend is None:
        return Verdict(INCONCLUSIVE, "fails for every seed, and no budget scaling decides between contradicted and "
                                     "not reached")
    unsettled = sorted(name for name, state in (trend_states or {}).items() if state in (COLLAPSED, UNCONVERGED))
    if unsettled:
        return Verdict(INCONCLUSIVE, f"fails for every seed, and budget-scaling runs it would read are collapsed or "
                                     f"unconverged: {', '.join(unsettled)}")
    if trend.moves_toward:
        return Verdict(NOT_REACHED, f"fails for every seed but moves toward the tolerance with budget ({trend})")
    return Verdict(CONTRADICTED, f"fails for every seed and does not move toward the tolerance with budget ({trend})")


@dataclass(frozen=True)
class ClaimVerdict:
    """A claim (or half) judged over seeds: its check per seed (seed → :class:`ClaimCheck`) and the
    :class:`Verdict` that :func:`decide` gives them."""

    claim: str
    checks: Mapping[int, ClaimCheck]
    decided: Verdict

    @property
    def verdict(self) -> str:
        return self.decided.verdict

    @property
    def reason(self) -> str:
        return self.decided.reason

    @property
    def statement(self) -> str:
        return CLAIMS[self.claim]

    @property
    def paper(self) -> str:
        return next(iter(self.checks.values())).paper

    @property
    def tolerance(self) -> str:
        return next(iter(self.checks.values())).tolerance

    @property
    def ours(self) -> str:
        """Each seed's numbers and verdict, e.g. "seed 0: … (✓); seed 1: … (✗); seed 2: not testable: …"."""
        return "; ".join(f"seed {seed}: {check.ours}" + (f" ({check.verdict})" if check.testable else "")
                         for seed, check in self.checks.items())

    @property
    def deciding(self) -> str:
        """The deciding number with its range over the seeds that could test it, e.g. "MI of the RV node (nats):
        0.02–0.04"; "—" when no seed could."""
        name, form = DECIDING[self.claim]
        numbers = sorted(check.number for check in self.checks.values() if check.number is not None)
        if not numbers:
            return "—"
        low, high = form.format(numbers[0]), form.format(numbers[-1])
        return f"{name}: {low}" + ("" if low == high else f" … {high}")

    def as_row(self) -> dict:
        return dict(claim=self.claim, statement=self.statement, verdict=self.verdict, deciding=self.deciding,
                    reason=self.reason, paper=self.paper, ours=self.ours, tolerance=self.tolerance)


def judge(claim: str, checks: Mapping[int, ClaimCheck], run_states: Mapping[str, str],
          trend: Trend = None, lacking: Sequence[str] = (),
          trend_states: Mapping[str, str] | None = None) -> ClaimVerdict:
    """``claim`` judged over the seeds' checks by :func:`decide`: the states of the runs it reads (run name →
    state), its budget trend (None where budget scaling does not follow it), the capabilities it lacks and the
    states of the budget-scaling runs."""
    if not checks:
        raise ValueError(f"{claim} needs the check of at least one seed")
    if any(check.claim != claim for check in checks.values()):
        raise ValueError(f"every check must be of {claim}, got {sorted({c.claim for c in checks.values()})}")
    return ClaimVerdict(claim, dict(checks), decide(checks, run_states, trend, lacking, trend_states))
