"""Run sets: the (size, seed) runs a chapter asks for, and the errors each seed's runs make."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from astropy.table import Table

from specae.analysis.bottleneck import error_table, errors_by_seed, pca_reconstructions
from specae.model.autoencoder import AutoencoderOutput
from specae.spectra.spectra_set import SpectraSet
from specae.training import run_sets
from specae.training.presets import get_preset
from specae.training.run_sets import RunSet, train_run_set


def _fake_training(monkeypatch, asked):
    def fake_cached_train_many(presets, device, data, reference):
        asked.append(reference)
        asked.extend(presets)
        return [SimpleNamespace(preset=p, history=[]) for p in presets]

    monkeypatch.setattr(run_sets, "cached_train_many", fake_cached_train_many)


def test_a_run_set_trains_every_size_with_every_seed(monkeypatch):
    asked = []
    _fake_training(monkeypatch, asked)
    preset = get_preset("smoke", latent_dim=8)
    runs = train_run_set(preset, sizes=[4, 16, 4], seeds=[2, 0, 2], device="cpu")
    reference, *presets = asked
    assert reference is True  # reference runs are read unless retrain
    cells = [(p.model.variational, p.model.latent_dim, p.train.seed) for p in presets]
    assert cells == [(v, size, seed) for v in (True, False) for size in (4, 8, 16) for seed in (2, 0)]
    assert runs.seeds == (2, 0) and runs.main_size == 8 and runs.sizes == [4, 8, 16]
    seed0 = runs.by_size("β-VAE", seed=0)
    assert [(size, run.preset.train.seed) for size, run in seed0.items()] == [(4, 0), (8, 0), (16, 0)]
    assert {seed: run.preset.model.latent_dim for seed, run in runs.by_seed("β-VAE", size=16).items()} == {2: 16, 0: 16}
    assert {seed: run.preset.train.seed for seed, run in runs.by_seed("deterministic").items()} == {2: 2, 0: 0}
    assert all(run.preset.train.beta == 0 for run in runs.by_seed("deterministic").values())
    assert len(runs.all_runs()) == 12 and len(runs.all_runs("β-VAE")) == 6


def test_retrain_skips_the_reference_runs_and_a_run_set_needs_a_seed(monkeypatch):
    asked = []
    _fake_training(monkeypatch, asked)
    train_run_set(get_preset("smoke"), sizes=[4], seeds=[0], retrain=True)
    assert asked[0] is False
    with pytest.raises(ValueError, match="at least one training seed"):
        train_run_set(get_preset("smoke"), sizes=[4], seeds=[])


class Scaled(torch.nn.Module):
    """A stand-in autoencoder that reconstructs every spectrum as ``factor`` × itself."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = torch.nn.Parameter(torch.tensor(factor))

    def encode(self, x):
        return x * self.factor, None

    def decode(self, z):
        return z

    def forward(self, x):
        mu, _ = self.encode(x)
        return AutoencoderOutput(reconstruction=self.decode(mu), mu=mu, logvar=None, z=mu)


def _low_rank_set(n: int = 40, n_pix: int = 64) -> SpectraSet:
    rng = np.random.default_rng(1)
    flux = torch.as_tensor(1.0 + 0.3 * rng.normal(size=(n, 2)) @ rng.normal(size=(2, n_pix)), dtype=torch.float32)
    mask = torch.ones_like(flux, dtype=torch.bool)
    mask[:, :4] = False
    return SpectraSet(flux=flux, mask=mask, degenerate=np.zeros(n, bool), labels=Table({"object_id": np.arange(n)}))


def test_errors_by_seed_uses_each_seeds_own_runs_and_one_pca():
    data = _low_rank_set()
    train, validation = np.arange(30), np.arange(30, 40)
    runs = RunSet(runs={"β-VAE": {(2, 0): SimpleNamespace(model=Scaled(0.9)),
                                  (2, 1): SimpleNamespace(model=Scaled(0.7)),
                                  (4, 0): SimpleNamespace(model=Scaled(0.95)),
                                  (4, 1): SimpleNamespace(model=Scaled(0.8))},
                        "deterministic": {cell: SimpleNamespace(model=Scaled(1.0))
                                          for cell in ((2, 0), (2, 1), (4, 0), (4, 1))}},
                  main_size=4, seeds=(0, 1))
    errors = errors_by_seed(runs, data, train, validation)
    assert list(errors) == [0, 1] and list(errors[0]) == ["β-VAE", "deterministic", "PCA"]
    target, mask = data.flux[validation].numpy(), data.mask[validation].numpy()
    mean_flux = np.abs(target[mask]).mean()  # one spectrum per star: R equals the pooled error when counts match
    assert [row["size"] for row in errors[1]["β-VAE"]] == [2, 4]
    expected = {(0, 0): 0.10, (0, 1): 0.05, (1, 0): 0.30, (1, 1): 0.20}  # |x − f x| = (1 − f) |x|
    for (seed, position), share in expected.items():
        assert errors[seed]["β-VAE"][position]["all"] == pytest.approx(share * mean_flux, rel=1e-5)
    assert all(row[key] == 0.0 for row in errors[1]["deterministic"] for key in ("stars", "line_cores", "continuum"))
    assert errors[0]["PCA"] is errors[1]["PCA"] and errors[0]["PCA"][0]["stars"] < 1e-5  # rank 2 + a constant
    pca = pca_reconstructions(data, train, validation, (2, 4))  # one spectrum per star in train: all of them
    assert errors[0]["PCA"] == error_table(pca, target, mask, data.object_ids[validation])


def test_budget_runs_train_both_models_for_each_multiple_of_the_steps(monkeypatch):
    asked = []
    _fake_training(monkeypatch, asked)
    preset = get_preset("smoke", seed=3)
    runs = run_sets.train_budget_runs(preset, budgets=[4, 1, 4], device="cpu")
    reference, *presets = asked
    assert reference is True and list(runs) == [1, 4]
    assert [(p.train.epochs, p.model.variational, p.train.seed) for p in presets] == [
        (2, True, 3), (2, False, 3), (8, True, 3), (8, False, 3)]
    vae, deterministic = runs[4]
    assert vae.preset.train.epochs == 8 and not deterministic.preset.model.variational
    with pytest.raises(ValueError, match="integers ≥ 1"):
        run_sets.train_budget_runs(preset, budgets=[0.5])


def test_the_median_row_and_the_spread_over_seeds():
    from specae.analysis.bottleneck import median_rows, seed_spread

    def rows(*values):
        return [dict(size=size, stars=value, line_cores=2 * value) for size, value in zip((2, 4), values, strict=True)]

    errors = {0: {"deterministic": rows(0.06, 0.05)}, 1: {"deterministic": rows(0.07, 0.04)},
              2: {"deterministic": rows(0.05, 0.045)}}
    assert median_rows(errors, "deterministic") == [dict(size=2, stars=0.06, line_cores=0.12),
                                                    dict(size=4, stars=0.045, line_cores=0.09)]
    assert seed_spread(errors, "deterministic") == {2: [0.06, 0.07, 0.05], 4: [0.05, 0.04, 0.045]}


def test_a_curve_reading_gives_every_value_and_says_whether_it_falls_at_every_step():
    from specae.analysis.bottleneck import curve_reading

    def rows(*values):
        return [dict(size=2 ** (i + 1), stars=value) for i, value in enumerate(values)]

    assert curve_reading(rows(0.0669, 0.0655, 0.0642, 0.0679)) == (
        "0.0669, 0.0655, 0.0642 and 0.0679 at 2, 4, 8 and 16 latents: lowest at 8, not falling at every step")
    assert curve_reading(rows(0.07, 0.06)) == "0.0700 and 0.0600 at 2 and 4 latents: falling at every step"
    assert curve_reading(rows(0.05)) == "0.0500 at 2 latents"
