"""Bottleneck measurements: line-core selection, masked errors and the PCA baseline."""


import numpy as np
import pytest
import torch
from astropy.table import Table

from specae.analysis.bottleneck import (
    error_table,
    line_core_mask,
    masked_flux,
    masked_l1,
    pca_reconstructions,
)
from specae.spectra.spectra_set import SpectraSet
from specae.training.presets import get_preset


def test_line_cores_are_the_dips_not_the_continuum():
    flux = np.ones((1, 200))
    flux[0, 50:53] = [0.9, 0.6, 0.9]  # one line
    flux[0, 120] = 0.97  # a dip shallower than the 0.05 threshold
    mask = np.ones_like(flux, dtype=bool)
    mask[0, 51] = False  # masked pixels are never cores
    cores = line_core_mask(flux, mask, depth=0.05, width=5)
    assert np.flatnonzero(cores[0]).tolist() == [50, 52]


def test_masked_l1_and_error_table():
    target = np.ones((3, 10))
    target[:, 4] = 0.5  # one line core per spectrum
    target[2] *= 2  # the third spectrum, of another star, is twice as bright
    mask = np.ones_like(target, dtype=bool)
    flat = np.ones_like(target)  # misses the line, and the third spectrum's continuum
    rows = error_table({4: flat, 2: target.copy()}, target, mask, object_ids=np.array([7, 7, 9]))
    assert [row["size"] for row in rows] == [2, 4]
    assert rows[0]["all"] == 0.0 and rows[0]["stars"] == 0.0
    # star 7: two spectra of error 0.05; star 9: one of (9 × 1 + 0) / 10 = 0.9 → R = (0.05 + 0.9) / 2
    assert rows[1]["stars"] == pytest.approx(0.475) and rows[1]["all"] == pytest.approx((0.05 + 0.05 + 0.9) / 3)
    # line cores: misses of 0.5, 0.5 and 0 (the third core is 1.0, as flat); continuum: 9 of 27 pixels miss by 1
    assert rows[1]["line_cores"] == pytest.approx(1 / 3) and rows[1]["continuum"] == pytest.approx(9 / 27)
    assert masked_l1(flat, target, mask) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="no pixel selected"):
        masked_l1(flat, target, np.zeros_like(mask))


def test_pca_with_enough_components_reconstructs_a_low_rank_set_exactly():
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(3, 64))
    flux = torch.as_tensor(rng.normal(size=(40, 3)) @ basis, dtype=torch.float32)
    data = SpectraSet(flux=flux, mask=torch.ones_like(flux, dtype=torch.bool), degenerate=np.zeros(40, bool),
                      labels=None)
    fits = pca_reconstructions(data, np.arange(30), np.arange(30, 40), sizes=[1, 3])
    np.testing.assert_allclose(fits[3], flux[30:].numpy(), atol=1e-4)
    assert np.abs(fits[1] - flux[30:].numpy()).mean() > 0.1


def test_example_star_is_the_brightest_g_or_k_star():
    from specae.analysis.bottleneck import example_star

    assert example_star([3_500, 5_200, 5_800, 7_000], [300, 40, 90, 500]) == 2
    assert example_star([3_500, 7_000], [10, 20]) == 0  # none in range: the first spectrum


def test_masked_flux_hides_the_masked_pixels():
    flux = torch.linspace(0.5, 1.5, 5 * 8).reshape(5, 8)
    mask = torch.ones_like(flux, dtype=torch.bool)
    mask[:, :4] = False
    data = SpectraSet(flux=flux, mask=mask, degenerate=np.zeros(5, bool), labels=Table({"object_id": np.arange(5)}))
    shown = masked_flux(data, 3)
    assert np.isnan(shown[:4]).all() and np.array_equal(shown[4:], flux[3, 4:].numpy())


def test_nested_pca_equals_separate_fits_and_star_mean_weighs_stars_equally():
    from sklearn.decomposition import PCA

    from specae.analysis.bottleneck import star_mean
    from specae.training.datasets import load_synthetic

    data = load_synthetic(get_preset("smoke").data)
    train, test = np.arange(0, 60), np.arange(60, 96)
    nested = pca_reconstructions(data, train, test, [2, 8])
    for size in (2, 8):  # float32 output of float64 fits of the same data: equal within 1e-5 absolute
        separate = PCA(n_components=size, svd_solver="full").fit(data.flux[train].numpy().astype(np.float64))
        alone = separate.inverse_transform(separate.transform(data.flux[test].numpy().astype(np.float64)))
        np.testing.assert_allclose(nested[size], alone, rtol=0, atol=1e-5)
    assert star_mean([1.0, 1.0, 1.0, 4.0], [7, 7, 7, 9]) == 2.5  # per-spectrum mean would be 1.75
    assert star_mean([1.0, np.nan, 3.0], [0, 0, 1]) == 2.0


def test_pca_sizes_above_the_number_of_training_spectra_use_every_component():
    """12 training spectra allow at most 12 components: sizes 12, 20 and 50 give the same reconstruction (a
    PCA can do no more), which on a rank-5 set is exact; sklearn alone refuses n_components > n_samples."""
    from specae.analysis.bottleneck import pca_rank

    rng = np.random.default_rng(1)
    flux = torch.as_tensor(rng.normal(size=(20, 5)) @ rng.normal(size=(5, 64)), dtype=torch.float32)
    data = SpectraSet(flux=flux, mask=torch.ones_like(flux, dtype=torch.bool), degenerate=np.zeros(20, bool),
                      labels=None)
    fits = pca_reconstructions(data, np.arange(12), np.arange(12, 20), sizes=[2, 12, 20, 50])
    assert pca_rank(12, 64) == 12 and pca_rank(100, 64) == 64
    assert np.array_equal(fits[20], fits[12]) and np.array_equal(fits[50], fits[12])
    np.testing.assert_allclose(fits[50], flux[12:].numpy(), atol=1e-4)  # float32 round-off of a float64 fit
    assert np.abs(fits[2] - flux[12:].numpy()).mean() > 0.1


def test_reconstruct_draws_on_the_observed_grid_for_both_models():
    """The paper's model reconstructs as decode(μ); the Doppler-aware variant's rest-frame spectrum (longer than the
    observed grid) is moved by its v onto the observed grid, as in training."""
    import torch

    from specae.analysis.bottleneck import reconstruct
    from specae.model.factory import build_model
    from specae.spectra.spectra_set import SpectraSet
    from specae.training.presets import get_preset

    for velocity in (False, True):
        preset = get_preset("smoke", velocity=velocity)
        n_pix = preset.data.grid.n_pixels
        torch.manual_seed(0)
        flux = 1 + 0.1 * torch.randn(5, n_pix)
        data = SpectraSet(flux=flux, mask=torch.ones(5, n_pix, dtype=torch.bool), degenerate=np.zeros(5, dtype=bool),
                          labels=None)
        model = build_model(preset.model, preset.data.grid).eval()
        if velocity:
            model.fit_template(data.flux, data.mask)
        reconstruction = reconstruct(model, data, [4, 0, 2])
        assert reconstruction.shape == (3, n_pix)
        with torch.no_grad():
            x = flux[[4, 0, 2]][:, None, :]
            expected = model(x).reconstruction if velocity else model.decode(model.encode(x)[0])
        assert np.array_equal(reconstruction, expected[:, 0].numpy())
