"""Bottleneck measurements: line-core selection, masked errors and the PCA baseline."""

import numpy as np
import pytest
import torch

from specae.analysis.bottleneck import error_table, line_core_mask, masked_l1, pca_reconstruct
from specae.spectra.spectra_set import SpectraSet


def test_line_cores_are_the_dips_not_the_continuum():
    flux = np.ones((1, 200))
    flux[0, 50:53] = [0.9, 0.6, 0.9]  # one line
    flux[0, 120] = 0.97  # a dip shallower than the 0.05 threshold
    mask = np.ones_like(flux, dtype=bool)
    mask[0, 51] = False  # masked pixels are never cores
    cores = line_core_mask(flux, mask, depth=0.05, width=5)
    assert np.flatnonzero(cores[0]).tolist() == [50, 52]


def test_masked_l1_and_error_table():
    target = np.ones((2, 10))
    target[:, 4] = 0.5
    mask = np.ones_like(target, dtype=bool)
    good, flat = target.copy(), np.ones_like(target)
    rows = error_table({4: flat, 2: good}, target, mask)
    assert [row["size"] for row in rows] == [2, 4]
    assert rows[0]["all"] == 0.0 and rows[1]["line_cores"] == pytest.approx(0.5) and rows[1]["continuum"] == 0.0
    assert masked_l1(flat, target, mask) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="no pixel selected"):
        masked_l1(flat, target, np.zeros_like(mask))


def test_pca_with_enough_components_reconstructs_a_low_rank_set_exactly():
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(3, 64))
    flux = torch.as_tensor(rng.normal(size=(40, 3)) @ basis, dtype=torch.float32)
    data = SpectraSet(flux=flux, mask=torch.ones_like(flux, dtype=torch.bool), degenerate=np.zeros(40, bool),
                      labels=None)
    exact = pca_reconstruct(data, np.arange(30), np.arange(30, 40), n_components=3)
    np.testing.assert_allclose(exact, flux[30:].numpy(), atol=1e-4)
    rough = pca_reconstruct(data, np.arange(30), np.arange(30, 40), n_components=1)
    assert np.abs(rough - flux[30:].numpy()).mean() > 0.1


def test_example_star_is_the_brightest_g_or_k_star():
    from specae.analysis.bottleneck import example_star

    assert example_star([3_500, 5_200, 5_800, 7_000], [300, 40, 90, 500]) == 2
    assert example_star([3_500, 7_000], [10, 20]) == 0  # none in range: the first spectrum
