"""The study's runs (docs/decisions.md, *The study*): their names, configurations and the command that trains them.

Each is the ``study`` preset with a few overrides. The main configuration (16 latents, β = 10⁻³, balanced
sampling) is trained with seeds 0, 1 and 2 for both models; the bottleneck study adds the other sizes at
seed 0; the β study two more KL weights (a factor 100 apart in all); the sampling study the uniform draw.
:data:`STUDY_RUNS` lists them in the order :func:`train_study_runs` trains them, so that an interrupted
session has finished the runs most claims need.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from specae.training.devices import resolve_device
from specae.training.loop import TrainResult
from specae.training.presets import Preset, get_preset
from specae.training.reference_runs import find_reference_run, probe_losses, probe_steps, write_reference_run
from specae.training.run_cache import cached_train_many, trained_with

STUDY_PRESET = "study"
MAIN_LATENT_DIM = 16
LATENT_DIMS = (2, 4, 8, 16, 32)
SEEDS = (0, 1, 2)
BETAS = (1e-4, 1e-3, 1e-2)  # the main β in the middle


def _runs() -> dict[str, dict]:
    """Run name → overrides of the study preset, in training order."""
    runs: dict[str, dict] = {}
    for seed in SEEDS:
        runs[f"vae{MAIN_LATENT_DIM}-seed{seed}"] = dict(seed=seed)
        runs[f"ae{MAIN_LATENT_DIM}-seed{seed}"] = dict(seed=seed, variational=False)
    for size in LATENT_DIMS:
        if size != MAIN_LATENT_DIM:
            runs[f"vae{size}-seed0"] = dict(latent_dim=size)
            runs[f"ae{size}-seed0"] = dict(latent_dim=size, variational=False)
    main_beta = get_preset(STUDY_PRESET).train.beta
    for beta in BETAS:
        if beta != main_beta:
            runs[f"vae{MAIN_LATENT_DIM}-beta{beta:.0e}-seed0"] = dict(beta=beta)
    runs[f"vae{MAIN_LATENT_DIM}-uniform-seed0"] = dict(balanced=False)
    return runs


STUDY_RUNS: dict[str, dict] = _runs()


def study_preset(name: str) -> Preset:
    """The configuration of study run ``name`` (e.g. ``"vae16-seed0"``)."""
    if name not in STUDY_RUNS:
        raise ValueError(f"unknown study run {name!r}; the runs are {list(STUDY_RUNS)}")
    return get_preset(STUDY_PRESET, **STUDY_RUNS[name])


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

    Runs are trained ``workers`` at a time (default: one per CPU core on a CPU, one on an accelerator)
    through the run cache, which resumes an interrupted run from its last epoch; each group is written to
    ``runs_dir`` as soon as it finishes. Returns the names written.
    """
    names = list(STUDY_RUNS) if names is None else list(names)
    for name in names:
        study_preset(name)  # an unknown name fails before anything trains
    todo = [name for name in names if find_reference_run(study_preset(name), runs_dir) is None]
    on_cpu = resolve_device(device).type == "cpu"
    workers = workers or ((os.cpu_count() or 1) if on_cpu else 1)
    report(f"{len(names) - len(todo)} of {len(names)} study runs already in {runs_dir or 'runs/'}; "
           f"training {len(todo)}, {workers} at a time")
    written = []
    for first in range(0, len(todo), workers):
        group = todo[first : first + workers]
        started = time.perf_counter()
        results = cached_train_many([study_preset(name) for name in group], device=device, cache_dir=cache_dir,
                                    workers=workers, reference=False, path=path)
        for name, result in zip(group, results, strict=True):
            record = trained_with(result)
            probe = probe_losses(result.preset, result.data, probe_steps(result.history), record["training_path"])
            run = write_reference_run(name, result, record, runs_dir, threads=1 if on_cpu else None, probe=probe,
                                      state=None if assess is None else assess(result))
            last = run.manifest["history"][-1]
            report(f"{name}: {run.manifest['steps']} steps, validation L1 {last['validation_reconstruction']:.5f}, "
                   f"{run.manifest['wall_seconds'] / 60:.1f} min → {run.path}")
            written.append(name)
        report(f"group of {len(group)} done in {(time.perf_counter() - started) / 60:.1f} min")
    return written
