"""The study's runs (docs/decisions.md, *Study II*): their names, configurations and the command that trains them.

Each is the ``study`` preset with a few overrides. Every configuration a verdict uses is trained with seeds 0, 1
and 2: both models at every latent size (the main one, 16, first), the β study's two other KL weights (a factor
100 apart in all) and the uniform draw. The budget-scaling runs train the main configuration of both models
(seed 0) for 2, 4 and 8 times the study's steps, each with its own whole schedule. :data:`STUDY_RUNS` lists them
in the order :func:`train_study_runs` trains them: seed 0 of everything first, so that an interrupted session has
finished one seed of every claim, then the shorter budgets, the other seeds and the longest budget.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from specae.training.devices import resolve_device
from specae.training.loop import TrainResult
from specae.training.presets import Preset, get_preset
from specae.training.reference_runs import find_reference_run, probe_losses, probe_steps, write_reference_run
from specae.training.run_cache import cached_train
from specae.training.run_keys import trained_with
from specae.training.side_by_side import cached_train_many, train_side_by_side
from specae.training.velocity_runs import VELOCITY_RUNS

STUDY_PRESET = "study"
MAIN_LATENT_DIM = 16
LATENT_DIMS = (2, 4, 8, 16, 32)
SEEDS = (0, 1, 2)
BETAS = (1e-4, 1e-3, 1e-2)  # the main β in the middle
BUDGETS = (2, 4, 8)  # budget scaling: multiples of the study's steps (1× is the main configuration's seed-0 run)


def budget_run_names(budget: int) -> tuple[str, str]:
    """The (β-VAE, deterministic) main runs trained for ``budget`` × the study's steps (1: the seed-0 runs)."""
    tag = "" if budget == 1 else f"-budget{budget}x"
    return f"vae{MAIN_LATENT_DIM}{tag}-seed0", f"ae{MAIN_LATENT_DIM}{tag}-seed0"


def _seed_runs(seed: int) -> dict[str, dict]:
    """Run name → overrides of the study preset, for every configuration a verdict uses, at ``seed``."""
    runs: dict[str, dict] = {}
    for size in sorted(LATENT_DIMS, key=lambda size: size != MAIN_LATENT_DIM):
        size_override = {} if size == MAIN_LATENT_DIM else dict(latent_dim=size)
        runs[f"vae{size}-seed{seed}"] = dict(seed=seed, **size_override)
        runs[f"ae{size}-seed{seed}"] = dict(seed=seed, variational=False, **size_override)
    main_beta = get_preset(STUDY_PRESET).train.beta
    for beta in BETAS:
        if beta != main_beta:
            runs[f"vae{MAIN_LATENT_DIM}-beta{beta:.0e}-seed{seed}"] = dict(seed=seed, beta=beta)
    runs[f"vae{MAIN_LATENT_DIM}-uniform-seed{seed}"] = dict(seed=seed, balanced=False)
    return runs


def _budget_runs(budget: int) -> dict[str, dict]:
    epochs = get_preset(STUDY_PRESET).train.epochs * budget
    vae, ae = budget_run_names(budget)
    return {vae: dict(seed=0, epochs=epochs), ae: dict(seed=0, epochs=epochs, variational=False)}


def _runs() -> dict[str, dict]:
    """Run name → overrides of the study preset, in training order."""
    first, *others = SEEDS
    longest, *shorter = sorted(BUDGETS, reverse=True)
    runs = _seed_runs(first)
    for budget in sorted(shorter):
        runs |= _budget_runs(budget)
    for seed in others:
        runs |= _seed_runs(seed)
    return runs | _budget_runs(longest)


STUDY_RUNS: dict[str, dict] = _runs()
REFERENCE_RUNS: dict[str, dict] = STUDY_RUNS | VELOCITY_RUNS  # every committed run: the study's, then the velocity's
RUN_SETS = {"study": STUDY_RUNS, "velocity": VELOCITY_RUNS}


def study_preset(name: str) -> Preset:
    """The configuration of reference run ``name`` (e.g. ``"vae16-seed0"``, ``"dvae16-seed0"``)."""
    if name not in REFERENCE_RUNS:
        raise ValueError(f"unknown reference run {name!r}; the runs are {list(REFERENCE_RUNS)}")
    return get_preset(STUDY_PRESET, **REFERENCE_RUNS[name])


def run_name(preset: Preset) -> str:
    """The study's name of the run ``preset`` configures (e.g. "vae16-seed0"), or, for any other configuration,
    a name that spells out what sets it apart: family (``d`` for the Doppler-aware variant), latent size, β,
    draws, the survey's velocity scale when not 1, epochs and seed."""
    names = {study_preset(name).config_hash(): name for name in REFERENCE_RUNS}
    if preset.config_hash() in names:
        return names[preset.config_hash()]
    model, train = preset.model, preset.train
    family = f"vae{model.latent_dim}-beta{train.beta:.0e}" if model.variational else f"ae{model.latent_dim}"
    draws = "balanced" if preset.data.balanced else "uniform"
    scale = preset.data.synthetic.rv_scale
    survey = "" if scale == 1 else f"-rv{scale:g}"
    return f"{'d' if model.velocity else ''}{family}-{draws}{survey}-{train.epochs}ep-seed{train.seed} ({preset.name})"


def verify_study_run(name: str, device: str = "auto", cache_dir: str | os.PathLike | None = None,
                     runs_dir: str | os.PathLike | None = None) -> dict:
    """Retrain study run ``name`` from scratch on this machine (through the run cache, never the committed run, on
    the training path the committed one recorded) and compare it with the committed one: per-epoch validation L1
    of both, the largest relative difference, and the largest difference of any weight (0 on the machine and
    kernels that trained it); ``models`` holds both models (on the CPU) and ``result`` the retrained run."""
    preset = study_preset(name)
    committed = find_reference_run(preset, runs_dir)
    if committed is None:
        raise ValueError(f"{name} has no committed run in {runs_dir or 'runs/'}; train it with make reference-runs")
    recorded = committed.manifest.get("training_path") or {"path": "plain"}  # runs from before the record: plain
    retrained = cached_train_many([preset], device=device, cache_dir=cache_dir, reference=False,
                                  path=recorded["path"])[0]
    model, history, _ = committed.load("cpu")
    ours = [record["validation_reconstruction"] for record in retrained.history]
    theirs = [record["validation_reconstruction"] for record in history]
    weights = retrained.model.cpu().state_dict()
    return {
        "name": name, "epochs": len(ours), "committed": theirs, "retrained": ours,
        "max_relative_difference": max(abs(a - b) / b for a, b in zip(ours, theirs, strict=True)),
        "max_weight_difference": max(float((weights[key] - value).abs().max())
                                     for key, value in model.state_dict().items()),
        "committed_device": committed.manifest["device"],
        "retrained_seconds": sum(record["seconds"] for record in retrained.history),
        "models": {"committed": model, "retrained": retrained.model.cpu()}, "result": retrained,
    }


def train_study_runs(names: Iterable[str] | None = None, device: str = "auto", workers: int | None = None,
                     runs_dir: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
                     report: Callable[[str], None] = print, path: str | None = None,
                     assess: Callable[[TrainResult], dict] | None = None) -> list[str]:
    """Train the named study runs (default: all) that ``runs_dir`` lacks and write each as a reference run, on
    training path ``path`` (default: :func:`~specae.training.options.default_training_path`, the fast one);
    ``assess`` gives each run's state for its manifest (``specae reference-runs`` passes
    :func:`specae.analysis.run_state.assess_run`).

    Runs are trained ``workers`` at a time (default: one per CPU core on a CPU, one on an accelerator) through
    the run cache, which resumes an interrupted run from its last epoch; each is written to ``runs_dir`` as soon
    as it finishes, while the others train. Returns the names written, in the order they finished.
    """
    names = list(STUDY_RUNS) if names is None else list(names)
    for name in names:
        study_preset(name)  # an unknown name fails before anything trains
    todo = [name for name in names if find_reference_run(study_preset(name), runs_dir) is None]
    on_cpu = resolve_device(device).type == "cpu"
    workers = workers or ((os.cpu_count() or 1) if on_cpu else 1)
    report(f"{len(names) - len(todo)} of {len(names)} study runs already in {runs_dir or 'runs/'}; "
           f"training {len(todo)}, {workers} at a time")
    started = time.perf_counter()
    written = []
    for index in train_side_by_side([study_preset(name) for name in todo], device, cache_dir, workers, path):
        name = todo[index]
        result = cached_train(study_preset(name), device=device, cache_dir=cache_dir, reference=False, path=path)
        record = trained_with(result)
        probe = probe_losses(result.preset, result.data, probe_steps(result.history), record["training_path"])
        run = write_reference_run(name, result, record, runs_dir, threads=1 if on_cpu else None, probe=probe,
                                  state=None if assess is None else assess(result))
        last = run.manifest["history"][-1]
        written.append(name)
        report(f"{name}: {run.manifest['steps']} steps, validation L1 {last['validation_reconstruction']:.5f}, "
               f"{run.manifest['wall_seconds'] / 60:.1f} min → {run.path} ({len(written)} of {len(todo)}, "
               f"{(time.perf_counter() - started) / 3600:.1f} h)")
    return written
