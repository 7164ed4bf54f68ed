"""Scorecard checks: each claim's verdict flips exactly at its stated tolerance."""

from types import SimpleNamespace

import numpy as np
import pytest

from specae.analysis import LabelNode, PaperComparison
from specae.analysis.claims import (
    CLAIMS,
    DECIDING,
    check_c1,
    check_c2,
    check_c3,
    check_c4,
    check_c5,
    check_c6,
    check_c7,
)


def rows(*errors, lines=None, continuum=None):
    """Error rows with R (``stars``) = errors; the pooled ``all`` is NaN, so a check that read it would fail."""
    sizes = [2 ** (i + 1) for i in range(len(errors))]
    lines = lines or [2 * e for e in errors]
    continuum = continuum or [e / 2 for e in errors]
    return [dict(size=size, stars=error, all=np.nan, line_cores=line_error, continuum=continuum_error)
            for size, error, line_error, continuum_error in zip(sizes, errors, lines, continuum, strict=True)]


def comparison(rv_node, rv_mi, teff_node, teff_mi, informative, runners_up=((-1, np.nan), (-1, np.nan)),
               best_null=0.05):
    nodes = {name: LabelNode(name, node, mi, 0.01, mi, 0.01, True, *second, best_null=best_null)
             for (name, node, mi), second in zip((("rv", rv_node, rv_mi), ("teff", teff_node, teff_mi)), runners_up,
                                                 strict=True)}
    return PaperComparison(np.array(informative), nodes, table=None)


def c5(comparison):
    """Whether both halves of C5 hold."""
    return check_c5(comparison, "rv").holds and check_c5(comparison, "teff").holds


def test_c1_needs_a_falling_error_and_a_larger_gain_in_the_line_cores():
    assert check_c1(rows(0.06, 0.05, 0.04, lines=[0.2, 0.15, 0.1], continuum=[0.03, 0.028, 0.027])).holds
    assert check_c1(rows(0.05, 0.0509, 0.04, lines=[0.2, 0.15, 0.1], continuum=[0.03, 0.03, 0.029])).holds  # +1.8 %
    assert not check_c1(rows(0.05, 0.0515, 0.04, lines=[0.2, 0.15, 0.1], continuum=[0.03, 0.03, 0.029])).holds
    assert not check_c1(rows(0.06, 0.04, lines=[0.2, 0.19], continuum=[0.03, 0.01])).holds
    check = check_c1(rows(0.06, 0.04, lines=[0.2, 0.1], continuum=[0.03, 0.025]))
    assert check.verdict == "✓" and "0.0600 → 0.0400 from 2 to 4 latents" in check.ours and "50 %" in check.ours
    assert not check_c1(rows(0.05, 0.045, 0.0401, lines=[0.2, 0.15, 0.1], continuum=[0.03, 0.03, 0.029])).holds
    one_size = check_c1(rows(0.05))
    assert one_size.holds is None and one_size.verdict == "not testable"
    assert one_size.ours.startswith("not testable: errors at one bottleneck size only (2)")


def test_c2_compares_at_common_sizes():
    vae, det = rows(0.06, 0.05, 0.04), rows(0.05, 0.045)
    check = check_c2(vae, det)
    assert check.holds and "2: 1.20; 4: 1.11" in check.ours
    assert not check_c2(rows(0.05, 0.05), rows(0.05, 0.0515)).holds  # ratios 1.00 and 0.97
    assert not check_c2(rows(0.05), rows(0.05)).holds  # equal: not above 1 on average
    with pytest.raises(ValueError, match="common size"):
        check_c2(rows(0.05), [dict(size=64, stars=0.04)])
    # Study II: sizes where the β-VAE collapsed are left out, and C2 needs two others
    kept = check_c2(rows(0.06, 0.05, 0.04), rows(0.05, 0.045, 0.039), collapsed=[8])
    assert kept.holds and kept.ours.endswith("2: 1.20; 4: 1.11 (collapsed, left out: 8)")
    assert kept.number == pytest.approx(np.sqrt(1.2 * 0.05 / 0.045))
    one_left = check_c2(rows(0.06, 0.05, 0.04), rows(0.05, 0.045, 0.039), collapsed=[2, 8])
    assert one_left.verdict == "not testable" and "collapsed: 2, 8" in one_left.ours


def test_c3_to_c7_tolerances():
    assert check_c3(0.040, 0.0439).holds and not check_c3(0.040, 0.0441).holds and not check_c3(0.04, 0.0359).holds
    assert check_c4({2: 2, 16: 5, 32: 6}, 16, n_factors=5).holds
    reported = check_c4({16: 5, 32: 5}, 16, n_factors=5, active_units=9)  # reported, not judged
    assert reported.holds and reported.ours.endswith("; 9 active units at the main size") and reported.number == 5
    assert not check_c4({16: 6, 32: 6}, 16, n_factors=5).holds  # more informative nodes than factors
    assert not check_c4({16: 0, 32: 0}, 16, n_factors=5).holds
    assert not check_c4({16: 4, 32: 6}, 16, n_factors=5).holds  # does not level off
    no_larger = check_c4({8: 3, 16: 4}, 16, n_factors=5)
    assert no_larger.verdict == "not testable"
    assert "needs the main size 16 and a larger one (add e.g. 32" in no_larger.ours
    assert c5(comparison(3, 1.8, 11, 0.5, [3, 11]))
    assert not c5(comparison(3, 1.8, 3, 1.5, [3]))  # one node for both labels
    teff_short = comparison(3, 1.8, 11, 0.49, [3, 11])
    assert check_c5(teff_short, "rv").holds and not check_c5(teff_short, "teff").holds  # judged per half
    assert check_c5(teff_short, "teff").number == 0.49 and check_c5(teff_short, "teff").claim == "C5 Teff"
    assert not check_c5(comparison(3, 1.8, 11, 1.5, [3]), "teff").holds  # the Teff node is not informative
    assert not check_c5(comparison(3, 0.6, 11, 1.5, [3, 11], best_null=0.61), "rv").holds  # below the best-node null
    # The margin: the released latents' values pass (RV 1.51 against 0.33, Teff 1.33 against 0.69 nats) …
    assert c5(comparison(3, 1.51, 11, 1.33, [3, 11, 5], ((5, 0.33), (5, 0.69))))
    # … a runner-up at more than best / 1.5, or within 0.2 nats, does not
    assert not check_c5(comparison(3, 1.51, 11, 1.33, [3, 11, 5], ((5, 0.33), (5, 0.9))), "teff").holds
    assert not check_c5(comparison(3, 0.55, 11, 1.33, [3, 11, 5], ((5, 0.36), (5, 0.69))), "rv").holds
    window = SimpleNamespace(low=-25.0, high=35.0)
    rising = np.linspace(-20, 25, 15)
    assert check_c6(window, 7, (-100, 100), ["high"], rising).holds
    assert not check_c6(window, 7, (-100, 100), [], rising).holds  # never turns
    assert not check_c6(window, 2, (-100, 100), ["high"], rising).holds  # two bins are not a window
    assert not check_c6(SimpleNamespace(low=-25.0, high=100.0), 13, (-100, 100), ["high"], rising).holds  # data edge
    assert not check_c6(window, 7, (-100, 100), ["high"], np.linspace(-5, 5, 15)).holds  # spans 10 < 30 km/s
    wiggle = rising.copy()
    wiggle[7] = wiggle[9]
    assert not check_c6(window, 7, (-100, 100), ["high"], wiggle).holds  # not monotonic
    flat = np.array([1.0e-7, 1.1e-7, 0.9e-7, 1.2e-7])  # a flat traversal's rounding noise: flat on every CPU
    assert "not monotonically" in check_c6(window, 7, (-100, 100), ["high"], flat).ours
    assert "not monotonically" in check_c6(window, 7, (-100, 100), ["high"], np.sort(flat)).ours
    base = comparison(3, 2.0, 11, 1.0, [3, 11])
    assert check_c7(base, comparison(3, 1.5, 5, 1.2, [3, 5, 8])).holds
    assert not check_c7(base, comparison(3, 2.0, 11, 0.74, [3, 11])).holds
    assert not check_c7(base, comparison(3, 2.0, 3, 1.0, [3])).holds  # C5 fails without balancing
    assert "informative 2 → 3" in check_c7(base, comparison(3, 1.5, 5, 1.2, [3, 5, 8])).ours
    assert list(CLAIMS) == ["C1", "C2", "C3", "C4", "C5 RV", "C5 Teff", "C6", "C7"] and set(CLAIMS) == set(DECIDING)


def test_a_claim_verdict_prints_its_reason_and_the_deciding_numbers_range():
    from specae.analysis.verdicts import INCONCLUSIVE, REPRODUCED, judge

    holds, fails = check_c3(0.05, 0.051), check_c3(0.05, 0.07)
    converged = {"vae16-seed0": "converged"}
    verdict = judge("C3", {0: holds, 1: holds, 2: check_c3(0.05, 0.0525)}, converged)
    assert verdict.verdict == REPRODUCED and verdict.reason == "holds for every seed (3)"
    assert verdict.deciding == "(validation − training) / training R: +2.0% … +5.0%"
    mixed = judge("C3", {0: holds, 1: fails, 2: holds}, converged)
    assert mixed.verdict == INCONCLUSIVE and "seed 1: training 0.0500, validation 0.0700 (+40.0 %) (✗)" in mixed.ours
    assert judge("C3", {0: holds}, {"vae16-seed0": "unconverged"}).verdict == INCONCLUSIVE
    row = mixed.as_row()
    assert row["statement"] == CLAIMS["C3"] and row["verdict"] == INCONCLUSIVE and row["tolerance"] == holds.tolerance
    assert row["reason"] == "the seeds disagree: it holds for seeds 0, 2 only"
    with pytest.raises(ValueError, match="every check must be of C4"):
        judge("C4", {0: holds}, converged)


def test_a_claim_is_not_testable_when_any_seed_cannot_test_it_and_a_collapsed_code_is_never_read():
    from specae.analysis.claims import NOT_TESTABLE, unless_collapsed, unless_rv_node
    from specae.analysis.verdicts import judge

    holds, fails = check_c3(0.05, 0.051), check_c3(0.05, 0.07)
    assert unless_collapsed(holds, {"β-VAE": 0.1}) is holds  # KL ≥ 0.1 nats: the code is read
    assert unless_collapsed(fails, {"balanced β-VAE": 2.3, "uniform-draw β-VAE": 0.9}) is fails
    collapsed = unless_collapsed(fails, {"balanced β-VAE": 2.3, "uniform-draw β-VAE": 0.0012})
    assert collapsed.holds is None and collapsed.verdict == NOT_TESTABLE and collapsed.paper == fails.paper
    assert collapsed.ours == ("not testable: the uniform-draw β-VAE's code collapsed (validation KL 0.001 nats, below "
                              "0.1), so none of its nodes carries anything")
    both = unless_collapsed(fails, {"balanced β-VAE": 0.007, "uniform-draw β-VAE": 0.016})
    assert both.ours == ("not testable: the codes of the balanced β-VAE (0.007 nats) and the uniform-draw β-VAE "
                         "(0.016 nats) collapsed (validation KL below 0.1), so none of their nodes carries anything")
    verdict = judge("C3", {0: holds, 1: collapsed, 2: holds}, {})
    assert verdict.verdict == NOT_TESTABLE  # before "inconclusive": a seed that cannot test it says nothing
    assert verdict.ours.split("; ")[1] == "seed 1: " + collapsed.ours  # its reason, not a second verdict
    assert verdict.deciding.endswith("+2.0%")  # the seeds that could test it
    assert judge("C3", {0: collapsed}, {"x": "unconverged"}).deciding == "—"
    assert judge("C3", {0: holds}, {"vae8-seed0": "collapsed"}).verdict == NOT_TESTABLE
    window = SimpleNamespace(low=-25.0, high=35.0)
    c6 = check_c6(window, 7, (-100, 100), ["high"], np.linspace(-20, 25, 15))
    no_rv = check_c5(comparison(3, 0.03, 11, 1.5, [3, 11]), "rv")
    assert unless_rv_node(c6, check_c5(comparison(3, 1.8, 11, 1.5, [3, 11]), "rv")) is c6
    assert unless_rv_node(c6, no_rv).ours.startswith("not testable: no RV node to read (C5's RV half: z3, 0.03 nats")
