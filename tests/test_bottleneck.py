"""Bottleneck measurements: line-core selection, masked errors and the PCA baseline."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from astropy.table import Table

from specae.analysis.bottleneck import (
    error_table,
    errors_by_size,
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


class Scaled(torch.nn.Module):
    """A stand-in autoencoder that reconstructs every spectrum as ``factor`` × itself."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = torch.nn.Parameter(torch.tensor(factor))

    def encode(self, x):
        return x * self.factor, None

    def decode(self, z):
        return z


def _low_rank_set(n: int = 40, n_pix: int = 64) -> SpectraSet:
    rng = np.random.default_rng(1)
    flux = torch.as_tensor(1.0 + 0.3 * rng.normal(size=(n, 2)) @ rng.normal(size=(2, n_pix)), dtype=torch.float32)
    mask = torch.ones_like(flux, dtype=torch.bool)
    mask[:, :4] = False
    return SpectraSet(flux=flux, mask=mask, degenerate=np.zeros(n, bool), labels=Table({"object_id": np.arange(n)}))


def test_errors_by_size_scores_each_family_and_a_pca_of_each_size():
    data = _low_rank_set()
    train, validation = np.arange(30), np.arange(30, 40)
    models = {"β-VAE": {4: SimpleNamespace(model=Scaled(0.95)), 2: SimpleNamespace(model=Scaled(0.9))},
              "deterministic": {2: SimpleNamespace(model=Scaled(1.0)), 4: SimpleNamespace(model=Scaled(1.0))}}
    errors = errors_by_size(models, data, train, validation, seed=0)
    assert list(errors) == ["β-VAE", "deterministic", "PCA"]
    target, mask = data.flux[validation].numpy(), data.mask[validation].numpy()
    mean_flux = np.abs(target[mask]).mean()
    assert [row["size"] for row in errors["β-VAE"]] == [2, 4]
    assert errors["β-VAE"][0]["all"] == pytest.approx(0.10 * mean_flux, rel=1e-5)  # |x − 0.9 x| = 0.1 |x|
    assert errors["β-VAE"][1]["all"] == pytest.approx(0.05 * mean_flux, rel=1e-5)
    assert all(row[key] == 0.0 for row in errors["deterministic"] for key in ("all", "line_cores", "continuum"))
    assert [row["size"] for row in errors["PCA"]] == [2, 4]
    assert errors["PCA"][0]["all"] < 1e-5  # rank 2 + a constant: two components and the mean reconstruct it
    assert errors["PCA"] == error_table(pca_reconstructions(data, train, validation, (2, 4)), target, mask,
                                        data.object_ids[validation])


def test_masked_flux_hides_the_masked_pixels():
    data = _low_rank_set()
    flux = masked_flux(data, 3)
    assert np.isnan(flux[:4]).all() and np.array_equal(flux[4:], data.flux[3, 4:].numpy())


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
