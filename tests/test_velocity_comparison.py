"""Scoring velocity estimates: one global offset removed, per class with the same zero point."""

import numpy as np
import pytest

from specae.analysis.velocity_comparison import rmse_after_offset, score_velocities, scores_by_class


def test_a_constant_offset_costs_nothing_and_scatter_is_measured():
    rng = np.random.default_rng(0)
    true = rng.normal(0, 30, 1_000)
    noise = rng.normal(0, 0.5, 1_000)
    rmse, offset = rmse_after_offset(true + 3.0 + noise, true)
    assert offset == pytest.approx(3.0 + noise.mean()) and rmse == pytest.approx(noise.std(), rel=1e-12)
    failed = true + 3.0
    failed[:10] = np.nan  # a failed fit is left out, not counted as zero
    assert rmse_after_offset(failed, true) == pytest.approx((0.0, 3.0), abs=1e-9)
    with pytest.raises(ValueError, match="no finite estimate"):
        rmse_after_offset(np.full(3, np.nan), np.zeros(3))
    with pytest.raises(ValueError, match="one shape"):
        rmse_after_offset(np.zeros(3), np.zeros(4))


def test_scores_and_classes_share_one_zero_point():
    true = np.array([0.0, 10.0, 20.0, 30.0])
    estimates = {"learned": true + np.array([1.0, 1.0, 3.0, 3.0]), "ccf": true + 0.5}
    scores = score_velocities(true, estimates)
    assert scores.rmse == {"learned": 1.0, "ccf": 0.0} and scores.offset == {"learned": 2.0, "ccf": 0.5}
    assert scores.n == 4 and scores.ratio("ccf", "learned") == 0.0
    by_class = scores_by_class(true, estimates, np.array([4, 4, 5, 5]), limit=np.array([0.1, 0.3, 0.2, 0.2]))
    # each class is off the global zero point by 1 km/s: a per-class offset would hide that, one survey-wide does not
    assert by_class == {4: {"spectra": 2.0, "learned": 1.0, "ccf": 0.0, "photon limit": 0.2},
                        5: {"spectra": 2.0, "learned": 1.0, "ccf": 0.0, "photon limit": 0.2}}
