"""Training against validation codes, node by node: the two-sample KS distance and the nodes worth plotting."""

import numpy as np
import pytest
from scipy.stats import ks_2samp, norm

from specae.analysis import latent_shift

RNG = np.random.default_rng(0)
FIRST = RNG.normal(size=(2_000, 3)) * [1.0, 1.0, 3.0]
SECOND = RNG.normal(size=(2_000, 3)) * [1.0, 1.0, 3.0] + [1.0, 0.0, 0.0]  # node 0 moved by 1 σ
MU = np.concatenate([FIRST, SECOND])


def test_a_shifted_node_has_the_expected_ks_distance_and_the_others_none():
    """Two unit normals 1 σ apart: D = 2Φ(½) − 1 ≈ 0.383; equal distributions: D ≈ 0 (≤ 0.05 at n = 2,000)."""
    shift = latent_shift(FIRST, SECOND, MU, informative=[0, 1, 2])
    assert shift.distances[0] == pytest.approx(2 * norm.cdf(0.5) - 1, abs=0.03)
    assert shift.distances[1] < 0.05 and shift.distances[2] < 0.05
    for node, distance in zip(shift.nodes, shift.distances, strict=True):
        assert distance == ks_2samp(FIRST[:, node], SECOND[:, node]).statistic
    assert shift.max_distance == float(shift.distances[0])


def test_only_the_informative_nodes_are_compared_and_the_widest_come_first():
    shift = latent_shift(FIRST, SECOND, MU, informative=np.array([2, 1]))
    np.testing.assert_array_equal(shift.nodes, [2, 1])
    np.testing.assert_array_equal(shift.widest, [2, 1])  # σ ≈ 3 before σ ≈ 1
    assert latent_shift(FIRST, SECOND, MU, informative=[0, 1, 2], n_widest=1).widest.tolist() == [2]


def test_all_nodes_are_compared_when_none_is_informative():
    shift = latent_shift(FIRST, SECOND, MU, informative=np.array([], dtype=np.int64))
    np.testing.assert_array_equal(shift.nodes, [0, 1, 2])
    np.testing.assert_array_equal(shift.widest, [2, 0, 1])  # node 0 spreads wider than 1: the sets are 1 σ apart


def test_codes_must_be_finite_matrices():
    with pytest.raises(ValueError, match="first contains NaN"):
        latent_shift(np.full((3, 2), np.nan), SECOND, MU, informative=[0])
