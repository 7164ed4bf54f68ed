"""Reference runs: written with a manifest, found by configuration, loaded instead of training, skipped on
request; and the committed study runs still match what the code trains (the validity probe)."""

import json

import numpy as np
import pytest
import torch

import specae.training.run_cache as cache
from specae import get_preset
from specae.training.reference_runs import (
    ProbeSource,
    configuration,
    find_reference_run,
    probe_losses,
    reference_runs,
    schedule_samples,
    write_reference_run,
)
from specae.training.run_cache import cached_train
from specae.training.run_keys import trained_with
from specae.training.study_runs import STUDY_RUNS, budget_run_names, study_preset
from specae.training.survey_cache import cached_synthetic

TINY = dict(epochs=2, n_spectra=48, n_objects=12)


@pytest.fixture(scope="module", autouse=True)
def _one_thread_here(one_thread):
    """Every test of this module runs with one torch thread (see conftest.py)."""


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A smoke run trained through the cache and written as a reference run."""
    root = tmp_path_factory.mktemp("reference")
    preset = get_preset("smoke", **TINY)
    result = cached_train(preset, device="cpu", cache_dir=root / "cache", runs_dir=root / "runs")
    run = write_reference_run("smoke-tiny", result, trained_with(result), root / "runs")
    return root, preset, result, run


def test_a_written_run_holds_weights_split_and_a_full_manifest(written):
    root, preset, result, run = written
    manifest = json.loads((root / "runs" / "smoke-tiny" / "manifest.json").read_text())
    assert manifest["configuration"] == configuration(preset) and manifest["config_hash"] == preset.config_hash()
    assert manifest["steps"] == result.steps == 6 and len(manifest["history"]) == 2
    assert manifest["wall_seconds"] > 0 and manifest["device"]["type"] == "cpu" and manifest["device"]["threads"] == 1
    assert set(manifest["versions"]) == {"specae", "torch", "numpy", "python"}
    assert set(manifest["fingerprints"]) == {"data", "training_code"} and "commit" in manifest["git"]
    assert manifest["probe"]["steps"] == 2 and set(manifest["probe"]["loss_sums"]) == {
        "total", "reconstruction", "kl"}
    assert [sample["step"] for sample in manifest["schedule"]] == [0, 3, 5]


def test_the_cache_loads_a_reference_run_instead_of_training(written, monkeypatch):
    root, preset, result, _ = written
    monkeypatch.setattr(cache, "train", lambda *args, **kwargs: pytest.fail("a reference run must not train"))
    loaded = cached_train(preset, device="cpu", cache_dir=root / "empty-cache", runs_dir=root / "runs")
    assert loaded.checkpoint == root / "runs" / "smoke-tiny" / "model.pt"
    assert loaded.history == result.history and loaded.steps == result.steps
    np.testing.assert_array_equal(loaded.split.validation, result.split.validation)
    for name, tensor in result.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], tensor), name
    assert find_reference_run(preset.with_overrides(seed=1), root / "runs") is None  # matched by configuration


class _TrainedError(Exception):
    """Raised in place of training, to see that the cache would train."""


def test_retrain_skips_the_reference_run(written, monkeypatch):
    root, preset, _, _ = written

    def refuse(*args, **kwargs):
        raise _TrainedError

    monkeypatch.setattr(cache, "train", refuse)
    with pytest.raises(_TrainedError):
        cached_train(preset, device="cpu", cache_dir=root / "other-cache", runs_dir=root / "runs", reference=False)


def test_an_unfinished_run_is_refused(written):
    root, preset, result, _ = written
    partial = type(result)(**{**result.__dict__, "history": result.history[:1]})
    with pytest.raises(ValueError, match="run 'half' is not finished: 1 of 2 epochs"):
        write_reference_run("half", partial, trained_with(result), root / "runs")


def test_the_study_runs_are_the_designed_set():
    """Seeds 0, 1, 2 of both models at 5 sizes, of 3 β a factor 100 apart and of uniform sampling (39 runs), and
    both main models at 2, 4 and 8 × the study's steps (6 runs), seed 0 of every configuration first."""
    assert len(STUDY_RUNS) == 45
    presets = {name: study_preset(name) for name in STUDY_RUNS}
    study = get_preset("study")
    one_budget = {name: p for name, p in presets.items() if p.train.epochs == study.train.epochs}
    cells = {(p.model.variational, p.model.latent_dim, p.train.seed) for p in one_budget.values()}
    assert {(v, size, seed) for v in (True, False) for size in (2, 4, 8, 16, 32) for seed in (0, 1, 2)} <= cells
    betas = {p.train.beta: sorted(q.train.seed for q in one_budget.values() if q.model.variational
                                  and q.train.beta == p.train.beta and q.data.balanced and q.model.latent_dim == 16)
             for p in one_budget.values() if p.model.variational}
    assert betas == {1e-4: [0, 1, 2], 1e-3: [0, 1, 2], 1e-2: [0, 1, 2]}
    assert sorted(p.train.seed for p in one_budget.values() if not p.data.balanced) == [0, 1, 2]
    budgets = sorted((p.train.epochs // study.train.epochs, p.model.variational) for name, p in presets.items()
                     if name not in one_budget)
    assert budgets == [(b, v) for b in (2, 4, 8) for v in (False, True)]
    assert all(study_preset(name).model.latent_dim == 16 and study_preset(name).train.seed == 0
               for name in presets if name not in one_budget)
    assert budget_run_names(8) == ("vae16-budget8x-seed0", "ae16-budget8x-seed0")
    assert all(p.train.seed == 0 for p in list(presets.values())[:13])
    assert len({p.config_hash() for p in presets.values()}) == 45


COMMITTED = reference_runs()
STUDY_SURVEY = get_preset("study").data


def _code_path(preset) -> tuple:
    """What decides which training code a run's steps go through: the model (paper's β-VAE or deterministic, or the
    Doppler-aware variant), the draws (balanced or uniform) and the survey (the study's or another). Seeds, sizes,
    β and budgets change numbers, not the code (a budget's first 20 steps are its 1× run's: the warm-up is the
    same), and every run's configuration and schedule are checked on their own."""
    model = "variant" if preset.model.velocity else ("β-VAE" if preset.model.variational else "deterministic")
    return model, preset.data.balanced, preset.data == STUDY_SURVEY


def _one_per_code_path(runs) -> list:
    """The run of each code path the probe retrains: the first seed's, at the main size and β, with the fewest
    steps."""
    chosen = {}
    study = get_preset("study")
    def preference(run) -> tuple:
        preset = run.preset
        return (preset.train.seed, preset.model.latent_dim != study.model.latent_dim,
                preset.train.beta not in (0.0, study.train.beta), run.manifest["steps"], run.name)

    for run in sorted(runs, key=preference):
        chosen.setdefault(_code_path(run.preset), run)
    return sorted(chosen.values(), key=lambda run: run.name)


PROBED = _one_per_code_path(COMMITTED)

# The probe sums 20 steps of float32 training from the same seeds and takes the weights' L2 norm after them.
# Another CPU's kernels round differently: with torch, oneDNN and MKL capped at AVX2 on the developer's
# AVX-512 machine, the sums moved by at most 9.5e-8 relative and the norm by 8.2e-9 (on the same machine they
# are equal bit for bit). 1e-6 leaves a margin of 10. A change to what training computes moves them by more:
# Adam's ε 1e-8 → 1e-7 moved the deterministic run's norm by 6.1e-5 and the β-VAE's KL sum by 3.0e-5, and a
# warm-up starting one step later (peak·max(step, 1)/warm-up instead of peak·(step + 1)/warm-up) moved the
# loss sums by 1.3e-4 and 4.7e-4.
PROBE_RTOL = 1e-6


@pytest.mark.parametrize("run", COMMITTED, ids=[run.name for run in COMMITTED])
def test_a_committed_reference_runs_configuration_and_schedule_are_the_codes(run):
    """The run's configuration is still its name's, and its schedule samples are what the schedule code gives."""
    assert run.manifest["configuration"] == configuration(study_preset(run.name))
    assert run.manifest["schedule"] == schedule_samples(run.preset, run.manifest["history"])


def _probe_spectra(run):
    """The study survey from the survey cache (rendered once for every run on it), held in memory as the Doppler-
    aware variant needs for its template; another survey rendered only where the probe's steps read it."""
    if run.preset.data == STUDY_SURVEY or run.preset.model.velocity:
        return cached_synthetic(run.preset.data)
    return ProbeSource(run)


@pytest.mark.slow
@pytest.mark.parametrize("run", PROBED, ids=[run.name for run in PROBED])
def test_a_committed_reference_run_is_what_the_code_trains(run):
    """Validity: the first 20 steps retrained here give the manifest's loss sums and weights, for one run of each
    code path (about 6 runs of 2–10 s)."""
    probe = probe_losses(run.preset, _probe_spectra(run), run.manifest["probe"]["steps"],
                         run.manifest.get("training_path"))
    for term, value in run.manifest["probe"]["loss_sums"].items():
        assert probe["loss_sums"][term] == pytest.approx(value, rel=PROBE_RTOL, abs=1e-12), term
    assert probe["weights_l2"] == pytest.approx(run.manifest["probe"]["weights_l2"], rel=PROBE_RTOL)


def test_the_probe_on_a_survey_rendered_per_batch_equals_the_probe_on_the_survey_in_memory(written):
    """ProbeSource renders only the spectra the probe's steps draw, with the degenerate ones read from the committed
    split: the same split, draws and spectra as in memory, so the same sums and weights bit for bit."""
    root, preset, result, _ = written
    run = find_reference_run(preset, root / "runs")
    source = ProbeSource(run)
    assert np.array_equal(source.degenerate, result.data.degenerate)
    assert probe_losses(preset, source, 2, run.manifest.get("training_path")) == \
        probe_losses(preset, result.data, 2, run.manifest.get("training_path"))


def test_verify_retrains_a_committed_run_and_finds_it_equal_here(tmp_path, monkeypatch):
    """On the machine that trained it, a retrained run equals the committed one bit for bit (a smoke-sized
    study run stands in for the real ones, which take 25 minutes)."""
    import specae.training.study_runs as study_runs

    monkeypatch.setattr(study_runs, "study_preset", lambda name: get_preset("smoke", **TINY))
    result = cached_train(study_runs.study_preset("x"), device="cpu", cache_dir=tmp_path / "a", reference=False)
    write_reference_run("vae16-seed0", result, trained_with(result), tmp_path / "runs")
    report = study_runs.verify_study_run("vae16-seed0", device="cpu", cache_dir=tmp_path / "b",
                                         runs_dir=tmp_path / "runs")
    assert report["epochs"] == 2 and report["max_relative_difference"] == 0 and report["max_weight_difference"] == 0


def test_verify_run_prints_the_scorecard_numbers_of_both_runs(tmp_path, monkeypatch, capsys):
    import specae.training.study_runs as study_runs
    from specae.__main__ import main

    monkeypatch.setattr(study_runs, "study_preset", lambda name: get_preset("smoke", **TINY))
    result = cached_train(study_runs.study_preset("x"), device="cpu", cache_dir=tmp_path / "a", reference=False)
    write_reference_run("vae16-seed0", result, trained_with(result), tmp_path / "runs")
    monkeypatch.setattr(study_runs, "find_reference_run", lambda preset, runs_dir=None: reference_runs(
        tmp_path / "runs")[0])
    monkeypatch.setenv("SPECAE_CACHE", str(tmp_path / "b"))
    assert main(["verify-run", "vae16-seed0", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "largest relative difference 0.00e+00; largest weight difference 0.00e+00" in printed
    lines = [line for line in printed.splitlines() if line.startswith("  R, validation stars: ")]
    committed, retrained = lines[0].split(": ")[1].split(" → ")
    assert committed == retrained and 0 < float(committed) < 1  # the same weights give the same numbers
    assert "  RV node: z" in printed and "  MI of the Teff node (nats): " in printed


def test_study_runs_are_written_as_each_finishes_and_not_trained_again(tmp_path, monkeypatch):
    """Three tiny runs trained two at a time are each written once, with its state; a second call trains none."""
    import specae.training.study_runs as study_runs

    seeds = {"a": 0, "b": 1, "c": 2}
    monkeypatch.setattr(study_runs, "STUDY_RUNS", seeds)
    monkeypatch.setattr(study_runs, "study_preset", lambda name: get_preset("smoke", seed=seeds[name], **TINY))
    reports: list[str] = []
    written = study_runs.train_study_runs(device="cpu", workers=2, runs_dir=tmp_path / "runs",
                                          cache_dir=tmp_path / "cache", report=reports.append,
                                          assess=lambda run: {"state": "converged", "seed": run.preset.train.seed})
    assert sorted(written) == ["a", "b", "c"] and reports[0].startswith("0 of 3 study runs already")
    runs = {run.name: run for run in reference_runs(tmp_path / "runs")}
    assert {name: run.manifest["run_state"]["seed"] for name, run in runs.items()} == seeds
    assert all(f"({count} of 3, " in report for count, report in zip((1, 2, 3), reports[1:], strict=True))
    assert study_runs.train_study_runs(device="cpu", runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache",
                                       report=reports.append) == []


def test_the_velocity_runs_are_the_designed_set_beside_the_studys():
    """The RV-spread surveys (× 0.03, 0.1, 0.3) for both main models with seeds 0–2, and the Doppler-aware β-VAE at
    twice the study's steps at 5 sizes with seed 0 and at 16 latents with seeds 1 and 2, and once at the study's
    steps (issue 23); no name or configuration shared with the study's; the variant at the study's steps, the first
    seed's spread runs and the variant at the main size train first."""
    from specae.training.study_runs import REFERENCE_RUNS, RUN_SETS
    from specae.training.velocity_runs import VELOCITY_RUNS

    assert not set(VELOCITY_RUNS) & set(STUDY_RUNS) and list(REFERENCE_RUNS) == [*STUDY_RUNS, *VELOCITY_RUNS]
    assert RUN_SETS == {"study": STUDY_RUNS, "velocity": VELOCITY_RUNS}
    presets = {name: study_preset(name) for name in VELOCITY_RUNS}
    spread = sorted((p.data.synthetic.rv_scale, p.model.variational, p.train.seed) for p in presets.values()
                    if not p.model.velocity)
    assert spread == sorted((scale, v, seed) for scale in (0.03, 0.1, 0.3) for v in (True, False) for seed in (0, 1, 2))
    order = list(VELOCITY_RUNS)
    assert order[0] == "dvae16-seed0" and order[7] == "dvae16-budget2x-seed0"
    assert all(presets[name].train.seed == 0 for name in order[:8])
    steps = get_preset("study").train.epochs
    variant = sorted((p.model.latent_dim, p.train.seed, p.train.epochs // steps) for p in presets.values()
                     if p.model.velocity)
    assert variant == [(2, 0, 2), (4, 0, 2), (8, 0, 2), (16, 0, 1), (16, 0, 2), (16, 1, 2), (16, 2, 2), (32, 0, 2)]
    assert all(p.model.variational for p in presets.values() if p.model.velocity)
    assert len({study_preset(name).config_hash() for name in REFERENCE_RUNS}) == len(REFERENCE_RUNS)
