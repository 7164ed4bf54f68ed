"""Targets beyond the paper: the status of a measured number against its target and goal."""

import math

from specae.analysis.targets import GOAL_MET, MISSED, TARGET_MET, Target


def test_a_number_is_judged_against_its_goal_first_then_its_target():
    assert Target(0.04, target=0.078, goal=0.05).status == GOAL_MET
    assert Target(0.05, target=0.078, goal=0.05).status == GOAL_MET  # the goal is inclusive (≤)
    assert Target(0.06, target=0.078, goal=0.05).status == TARGET_MET
    assert Target(0.078, target=0.078, goal=0.05).status == MISSED  # the target is strict (below)
    assert Target(0.5, target=1.0).status == TARGET_MET
    assert Target(math.nan, target=1.0).status == "not testable"  # nothing measured: no verdict
    assert Target(0.5, target=math.nan).status == "not testable"
    assert Target(0.5, target=1.0, goal=math.nan).status == TARGET_MET  # an unmeasured goal leaves the target


def test_the_description_names_the_numbers_and_the_unit():
    assert Target(0.27, target=1.0, goal=0.15, unit="km/s").describe() == \
        "0.27 km/s against < 1 km/s (goal ≤ 0.15 km/s)"
    assert Target(0.0621, target=0.0783).describe() == "0.0621 against < 0.0783"
    assert Target(math.nan, target=1.0, goal=math.nan, unit="km/s").describe() == "not measured against < 1 km/s"


def test_a_target_read_on_an_unconverged_run_is_inconclusive():
    target = Target(0.04, target=0.078, goal=0.05, unconverged=("dvae16-seed0",))
    assert target.status == "inconclusive"
    assert target.describe() == "0.04 against < 0.078 (goal ≤ 0.05); not converged: dvae16-seed0"


def test_an_inclusive_target_admits_its_bound():
    assert Target(1.0, target=1.0, unit="km/s", inclusive=True).status == TARGET_MET
    assert Target(1.0, target=1.0, unit="km/s").status == MISSED
    assert Target(1.0, target=1.0, unit="km/s", inclusive=True).describe() == "1 km/s against ≤ 1 km/s"
