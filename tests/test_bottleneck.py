"""Bottleneck measurements: line-core selection, masked errors and the PCA baseline."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from specae.analysis import bottleneck
from specae.analysis.bottleneck import (
    bottleneck_runs,
    error_table,
    errors_by_size,
    line_core_mask,
    masked_flux,
    masked_l1,
    pca_reconstruct,
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
    return SpectraSet(flux=flux, mask=mask, degenerate=np.zeros(n, bool), labels=None)


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
    assert errors["PCA"] == error_table({size: pca_reconstruct(data, train, validation, size) for size in (2, 4)},
                                        target, mask)


def test_masked_flux_hides_the_masked_pixels():
    data = _low_rank_set()
    flux = masked_flux(data, 3)
    assert np.isnan(flux[:4]).all() and np.array_equal(flux[4:], data.flux[3, 4:].numpy())


def test_bottleneck_runs_trains_each_family_at_each_size_once(monkeypatch):
    asked = []

    def fake_cached_train_many(presets, device, data):
        asked.extend(presets)
        return [SimpleNamespace(preset=p) for p in presets]

    monkeypatch.setattr(bottleneck, "cached_train_many", fake_cached_train_many)
    runs = bottleneck_runs(get_preset("smoke"), [16, 4, 4], device="cpu")
    assert [(p.model.latent_dim, p.model.variational) for p in asked] == [(4, True), (16, True), (4, False),
                                                                          (16, False)]
    assert list(runs) == ["β-VAE", "deterministic"] and list(runs["β-VAE"]) == [4, 16]
    assert runs["deterministic"][16].preset.train.beta == 0.0 and runs["β-VAE"][4].preset.train.beta > 0


def test_nested_pca_equals_separate_fits_and_star_mean_weighs_stars_equally():
    from specae.analysis.bottleneck import pca_reconstruct, pca_reconstructions, star_mean
    from specae.training.datasets import load_synthetic

    data = load_synthetic(get_preset("smoke").data)
    train, test = np.arange(0, 60), np.arange(60, 96)
    nested = pca_reconstructions(data, train, test, [2, 8])
    for size in (2, 8):  # float32 output of float64 fits of the same data: equal within 1e-5 absolute
        np.testing.assert_allclose(nested[size], pca_reconstruct(data, train, test, size), rtol=0, atol=1e-5)
    assert star_mean([1.0, 1.0, 1.0, 4.0], [7, 7, 7, 9]) == 2.5  # per-spectrum mean would be 1.75
    assert star_mean([1.0, np.nan, 3.0], [0, 0, 1]) == 2.0
