"""Where one epoch's draws go: uniform sampling follows the visibility, balanced sampling evens it out."""

import numpy as np
import pytest

from specae.analysis import draw_shares
from specae.training.balanced_sampler import BalancedSampler

# Object 0 has 900 spectra, objects 1 … 100 one each: 1,000 spectra of 101 objects.
OBJECT_IDS = np.concatenate([np.zeros(900, dtype=np.int64), np.arange(1, 101)])


def test_draws_are_one_epoch_of_each_sampler():
    shares = draw_shares(OBJECT_IDS, seed=7)
    assert list(shares.draws) == ["uniform", "balanced"]
    for name, balanced in (("uniform", False), ("balanced", True)):
        expected = BalancedSampler(OBJECT_IDS, seed=7, balanced=balanced).draws_per_object(0, OBJECT_IDS)
        np.testing.assert_array_equal(shares.draws[name], expected)
        assert shares.draws[name].sum() == 1_000


def test_uniform_draws_follow_the_visibility_and_balanced_ones_do_not():
    """Top 1 % = object 0. Uniform: it takes 90 % of the draws (binomial σ ≈ 1 %) and each single-spectrum
    object is missed with probability (1 − 1/1000)^1000 ≈ e⁻¹ (σ ≈ 5 %); balanced: 1/101 of the draws
    (σ ≈ 0.3 %) and P(missed) = (100/101)^1000 ≈ 5·10⁻⁵ per object."""
    shares = draw_shares(OBJECT_IDS, seed=0, top_fraction=0.01)
    assert shares.top_share["uniform"] == pytest.approx(0.9, abs=0.04)
    assert shares.top_share["balanced"] == pytest.approx(1 / 101, abs=0.012)
    assert shares.never["uniform"] == pytest.approx(100 / 101 * np.exp(-1), abs=0.15)
    assert shares.never["balanced"] == 0.0


def test_the_top_share_counts_at_least_one_object():
    shares = draw_shares(OBJECT_IDS, seed=0, top_fraction=0.0)
    draws = shares.draws["uniform"]
    assert shares.top_share["uniform"] == draws[0] / draws.sum()
