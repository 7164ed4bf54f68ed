"""Study II's verdicts: precedence, reasons, and the budget trend that separates contradicted from not reached."""

import pytest

from specae.analysis.claims import ClaimCheck, not_testable
from specae.analysis.run_state import COLLAPSED, CONVERGED, UNCONVERGED
from specae.analysis.verdicts import (
    CONTRADICTED,
    INCONCLUSIVE,
    NOT_REACHED,
    NOT_TESTABLE,
    REPRODUCED,
    BudgetTrend,
    decide,
)


def _checks(*holds):
    return {seed: ClaimCheck("C1", "paper", f"ours {seed}", "tolerance", value) for seed, value in enumerate(holds)}


CONVERGED_RUNS = {"ae16-seed0": CONVERGED, "ae16-seed1": CONVERGED}
FLAT = BudgetTrend({1: 0.10, 2: 0.10, 4: 0.09, 8: 0.08})  # 8× keeps 80 % of the shortfall: not moving
MOVING = BudgetTrend({1: 0.10, 2: 0.08, 4: 0.06, 8: 0.05})  # 8× keeps 50 %


@pytest.mark.parametrize("checks, states, trend, lacking, verdict, words", [
    (_checks(True, True, True), CONVERGED_RUNS, None, (), REPRODUCED, "holds for every seed (3)"),
    (_checks(False, False, False), CONVERGED_RUNS, FLAT, (), CONTRADICTED, "does not move toward"),
    (_checks(False, False, False), CONVERGED_RUNS, MOVING, (), NOT_REACHED, "moves toward the tolerance"),
    (_checks(False, False, False), CONVERGED_RUNS, FLAT, ("narrow lines",), NOT_REACHED, "lacks narrow lines"),
    (_checks(False, False, False), CONVERGED_RUNS, None, (), INCONCLUSIVE, "no budget scaling decides"),
    (_checks(True, False, True), CONVERGED_RUNS, FLAT, (), INCONCLUSIVE, "holds for seeds 0, 2 only"),
    (_checks(True, True, True), {"ae16-seed0": UNCONVERGED}, None, (), INCONCLUSIVE, "unconverged runs: ae16-seed0"),
    (_checks(False, False, False), {"vae16-seed0": COLLAPSED, "ae16-seed0": UNCONVERGED}, FLAT, (), NOT_TESTABLE,
     "collapsed runs: vae16-seed0"),
])
def test_each_claim_gets_one_of_five_verdicts_with_its_reason(checks, states, trend, lacking, verdict, words):
    result = decide(checks, states, trend, lacking)
    assert result.verdict == verdict and words in result.reason


def test_a_seed_that_cannot_be_tested_makes_the_claim_not_testable_and_says_why():
    checks = _checks(True, True) | {2: not_testable("C1", "paper", "tolerance", "errors at one size only")}
    result = decide(checks, {"ae16-seed2": UNCONVERGED})
    assert (result.verdict, result.reason) == (NOT_TESTABLE, "seed 2: errors at one size only")


def test_a_budget_trend_needs_every_budget_and_distances():
    with pytest.raises(ValueError, match=r"needs the shortfall at budgets \(1, 2, 4, 8\)"):
        BudgetTrend({1: 0.1, 8: 0.05})
    with pytest.raises(ValueError, match="shortfalls are distances from the tolerance"):
        BudgetTrend({1: 0.1, 2: -0.1, 4: 0.0, 8: 0.0})
    assert BudgetTrend({1: 0.1, 2: 0.1, 4: 0.1, 8: 0.075}).moves_toward  # exactly 75 %: moving
    with pytest.raises(ValueError, match="needs the check of at least one seed"):
        decide({}, {})


def test_budget_runs_are_read_only_when_their_trend_decides():
    """An unconverged 8× run leaves a failing claim inconclusive, but does not touch one that holds or one that a
    missing capability decides."""
    budget = {"ae16-budget8x-seed0": UNCONVERGED, "ae16-budget2x-seed0": CONVERGED}
    failing = decide(_checks(False, False), CONVERGED_RUNS, MOVING, (), budget)
    assert failing.verdict == INCONCLUSIVE and "unconverged: ae16-budget8x-seed0" in failing.reason
    assert decide(_checks(True, True), CONVERGED_RUNS, MOVING, (), budget).verdict == REPRODUCED
    assert decide(_checks(False, False), CONVERGED_RUNS, FLAT, ("narrow lines",), budget).verdict == NOT_REACHED
    settled = dict.fromkeys(budget, CONVERGED)
    assert decide(_checks(False, False), CONVERGED_RUNS, FLAT, (), settled).verdict == CONTRADICTED


def test_a_trend_given_as_a_function_is_measured_only_when_it_decides():
    measured = []

    def trend():
        measured.append(1)
        return FLAT

    assert decide(_checks(True, True), CONVERGED_RUNS, trend).verdict == REPRODUCED and not measured
    assert decide(_checks(False, False), CONVERGED_RUNS, trend, ("narrow lines",)).verdict == NOT_REACHED
    assert not measured
    assert decide(_checks(False, False), CONVERGED_RUNS, trend).verdict == CONTRADICTED and measured == [1]
    assert decide(_checks(False, False), CONVERGED_RUNS, lambda: None).verdict == INCONCLUSIVE
