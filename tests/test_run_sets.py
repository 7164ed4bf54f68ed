"""Run sets: which (size, seed) runs a chapter asks for, and which of them judge a claim for each seed."""

from types import SimpleNamespace

import pytest

from specae.analysis import run_sets
from specae.analysis.run_sets import train_run_set
from specae.training.presets import get_preset


def _fake_training(monkeypatch, asked):
    def fake_cached_train_many(presets, device, data, reference):
        asked.append(reference)
        asked.extend(presets)
        return [SimpleNamespace(preset=p, history=[]) for p in presets]

    monkeypatch.setattr(run_sets, "cached_train_many", fake_cached_train_many)


def test_a_run_set_trains_every_size_once_and_the_main_size_over_every_seed(monkeypatch):
    asked = []
    _fake_training(monkeypatch, asked)
    preset = get_preset("smoke", latent_dim=8)
    runs = train_run_set(preset, sizes=[4, 16, 4, 8], seeds=[2, 0, 2], device="cpu")
    reference, *presets = asked
    assert reference is True  # reference runs are read unless retrain
    cells = [(p.model.variational, p.model.latent_dim, p.train.seed) for p in presets]
    assert cells == [(True, 4, 2), (True, 8, 0), (True, 8, 2), (True, 16, 2),
                     (False, 4, 2), (False, 8, 0), (False, 8, 2), (False, 16, 2)]
    assert runs.seeds == (2, 0) and runs.main_size == 8 and runs.sizes == [4, 8, 16]
    seed0 = runs.by_size("β-VAE", seed=0)  # the main size with seed 0, the other sizes with the first seed
    assert [(size, run.preset.train.seed) for size, run in seed0.items()] == [(4, 2), (8, 0), (16, 2)]
    assert {seed: run.preset.train.seed for seed, run in runs.by_seed("deterministic").items()} == {2: 2, 0: 0}
    assert all(run.preset.train.beta == 0 for run in runs.by_seed("deterministic").values())


def test_retrain_skips_the_reference_runs_and_a_run_set_needs_a_seed(monkeypatch):
    asked = []
    _fake_training(monkeypatch, asked)
    train_run_set(get_preset("smoke"), sizes=[4], seeds=[0], retrain=True)
    assert asked[0] is False
    with pytest.raises(ValueError, match="at least one training seed"):
        train_run_set(get_preset("smoke"), sizes=[4], seeds=[])
