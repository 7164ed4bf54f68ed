"""Schedules: the KL weight β and the learning rate as functions of the step."""

import numpy as np
import pytest

from specae.training.schedules import beta_schedule, learning_rate_at


def test_beta_warms_up_linearly():
    values = [beta_schedule(step, 0.3, 50_000, 100_000) for step in (0, 49_999, 50_000, 75_000, 100_000, 10**7)]
    assert values == pytest.approx([0.0, 0.0, 0.0, 0.15, 0.3, 0.3])
    assert beta_schedule(0, 0.1, 0, 0) == 0.1


def test_cosine_schedule_warms_up_then_decays_to_two_percent():
    rates = [learning_rate_at(step, 3e-3, "cosine", 100, 672) for step in range(672)]
    assert rates[0] == pytest.approx(3e-5) and rates[99] == pytest.approx(3e-3)
    assert np.all(np.diff(rates[:100]) > 0) and np.all(np.diff(rates[100:]) < 0)
    assert learning_rate_at(672, 3e-3, "cosine", 100, 672) == pytest.approx(6e-5, rel=1e-9)
    assert learning_rate_at(386, 3e-3, "cosine", 100, 672) == pytest.approx(0.51 * 3e-3, rel=1e-9)  # half-way
    assert learning_rate_at(5, 3e-3, "constant", 100, 672) == 3e-3
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'linear'"):
        learning_rate_at(5, 3e-3, "linear", 100, 672)


def test_cosine_hold_reaches_the_floor_at_80_percent_and_stays_there():
    rates = [learning_rate_at(step, 2e-3, "cosine_hold", 200, 8_000) for step in range(8_000)]
    assert rates[199] == pytest.approx(2e-3) and np.all(np.diff(rates[200:6_400]) < 0)
    assert rates[6_400:] == pytest.approx([4e-5] * 1_600, rel=1e-9)
    assert learning_rate_at(3_300, 2e-3, "cosine_hold", 200, 8_000) == pytest.approx(0.51 * 2e-3, rel=1e-9)


def test_cosine_hold10_holds_a_tenth_of_the_peak_over_the_last_fifth():
    """Study II's schedule: the same warm-up and decay, to 10 % of the peak at 80 % of the steps, held there."""
    peak, total = 2e-3, 1_000
    rates = np.array([learning_rate_at(step, peak, "cosine_hold10", 50, total) for step in range(total)])
    assert rates[49] == pytest.approx(peak) and rates.max() == pytest.approx(peak)
    assert np.all(rates[800:] == pytest.approx(0.1 * peak)) and rates[799] > 0.1 * peak
    assert np.all(np.diff(rates[50:800]) <= 0)
