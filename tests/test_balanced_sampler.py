"""Visibility-balanced sampling and object-disjoint splits."""

import numpy as np
import pytest

from specae.training.balanced_sampler import BalancedSampler, visibility_weights
from specae.training.split import object_disjoint_split

N_DRAWS = 100_000


def _skewed_ids(n_objects=20, heavy=1000):
    """Object 0 has `heavy` spectra, every other object one."""
    return np.concatenate([np.zeros(heavy, dtype=int), np.arange(1, n_objects)])


def test_every_object_is_equally_likely_whatever_its_visibility():
    ids = _skewed_ids()
    n_objects = 20
    draws = BalancedSampler(ids, num_samples=N_DRAWS, seed=7).indices(0).numpy()
    counts = np.bincount(ids[draws], minlength=n_objects)
    p = 1 / n_objects
    sigma = np.sqrt(N_DRAWS * p * (1 - p))
    assert np.all(np.abs(counts - N_DRAWS * p) < 3 * sigma), counts


def test_unbalanced_sampling_is_dominated_by_the_heavy_object():
    ids = _skewed_ids()
    draws = BalancedSampler(ids, num_samples=N_DRAWS, seed=7, balanced=False).indices(0).numpy()
    assert np.mean(ids[draws] == 0) == pytest.approx(1000 / 1019, abs=0.01)


def test_weights_are_inverse_visibility():
    ids = np.array(["a", "a", "a", "b", "c", "c"])
    weights = visibility_weights(ids).numpy()
    np.testing.assert_allclose(weights * 3, [1 / 3, 1 / 3, 1 / 3, 1, 1 / 2, 1 / 2], rtol=1e-12)


def test_draws_depend_only_on_seed_and_epoch():
    ids = _skewed_ids()
    a, b = BalancedSampler(ids, seed=3), BalancedSampler(ids, seed=3)
    assert a.indices(5).tolist() == b.indices(5).tolist()
    assert a.indices(5).tolist() != a.indices(6).tolist()
    a.set_epoch(2)
    assert list(a) == b.indices(2).tolist() and len(a) == len(ids)


def test_split_never_puts_an_object_in_both_sets():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 300, size=5000)
    split = object_disjoint_split(ids, validation_fraction=0.1, seed=42)
    assert set(ids[split.train]).isdisjoint(ids[split.validation])
    assert np.array_equal(np.sort(np.concatenate([split.train, split.validation])), np.arange(ids.size))
    assert len(set(ids[split.validation])) == round(0.1 * len(set(ids)))
    again = object_disjoint_split(ids, validation_fraction=0.1, seed=42)
    assert np.array_equal(again.validation, split.validation)
    assert not np.array_equal(object_disjoint_split(ids, 0.1, seed=1).validation, split.validation)


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="empty"):
        BalancedSampler([])
    with pytest.raises(ValueError, match="at least 2 objects"):
        object_disjoint_split([1, 1, 1], 0.2, seed=0)
    with pytest.raises(ValueError, match=r"validation_fraction must be in \(0, 1\)"):
        object_disjoint_split([1, 2, 3], 1.5, seed=0)


def test_draws_per_object_counts_one_epoch():
    ids = np.array([0, 0, 0, 1, 2, 2])
    sampler = BalancedSampler(ids, num_samples=600, seed=1)
    counts = sampler.draws_per_object(0, ids)
    assert counts.sum() == 600 and counts.shape == (3,)
    assert np.array_equal(counts, np.bincount(ids[sampler.indices(0).numpy()], minlength=3))
