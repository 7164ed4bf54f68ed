"""Reference runs: trained once, committed under ``runs/<name>/`` and loaded by the book instead of training.

A reference run folder holds

    model.pt        the final weights (a state dict, loaded with ``weights_only``)
    split.npz       the train / validation spectrum indices (int32, compressed)
    manifest.json   name, the full configuration (``Preset.to_dict()``) and its hash, the per-epoch history,
                    steps, wall time, device (and the CPU's kernel capability), thread count, the training path
                    and its autocast type, versions, git commit, the code and data fingerprints, the
                    learning-rate and β schedules sampled every epoch, the validity probe and, for runs written
                    since Study II, the run's state (converged, unconverged or collapsed, with the checks' numbers)

:func:`find_reference_run` matches a configuration to a run by the configuration alone, not by the code's
fingerprint: a run stays usable across edits that do not change what training computes. Whether they do is
what the **validity probe** checks: the loss terms summed over the first :data:`PROBE_STEPS` steps of the
configuration, trained on the CPU with one thread from its seeds on the run's own training path
(:func:`probe_losses`; a manifest without ``training_path`` is a run of the plain path), recorded when the run is
written and recomputed by ``tests/test_reference_runs.py`` (docs/decisions.md says how to regenerate
the runs when it fails).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from specae._files import REPO_DIR, atomic_write
from specae._version import __version__
from specae.model.autoencoder import SpectrumAutoencoder
from specae.model.factory import build_model
from specae.spectra.spectra_set import SpectraSet
from specae.training.checkpoints import load_checkpoint
from specae.training.feeds import BatchSource, RenderedSource
from specae.training.loop import TrainResult, train
from specae.training.options import TrainOptions
from specae.training.presets import Preset
from specae.training.schedules import beta_schedule, learning_rate_at
from specae.training.split import Split

RUNS_DIR = REPO_DIR / "runs"
MANIFEST_NAME = "manifest.json"
WEIGHTS_NAME = "model.pt"
SPLIT_NAME = "split.npz"
MANIFEST_FORMAT = 1
PROBE_STEPS = 20


@dataclass(frozen=True)
class ReferenceRun:
    """A committed run: its folder and manifest (``manifest["configuration"]`` is ``Preset.to_dict()``)."""

    path: Path
    manifest: dict

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def preset(self) -> Preset:
        return Preset.from_dict(self.manifest["configuration"])

    def split(self) -> Split:
        """The committed object-disjoint split (train and validation spectrum indices)."""
        with np.load(self.path / SPLIT_NAME) as arrays:
            return Split(train=arrays["train"].astype(np.int64), validation=arrays["validation"].astype(np.int64))

    def load(self, device: str | torch.device = "cpu") -> tuple[SpectrumAutoencoder, list[dict], Split]:
        """The model (eval mode, on ``device``), its per-epoch history and its split."""
        model = build_model(self.preset.model, self.preset.data.grid)
        model.load_state_dict(torch.load(self.path / WEIGHTS_NAME, map_location="cpu", weights_only=True))
        return model.to(device).eval(), self.manifest["history"], self.split()


def reference_runs(runs_dir: str | os.PathLike | None = None) -> list[ReferenceRun]:
    """Every run under ``runs_dir`` (default ``runs/`` of the book), in name order."""
    root = RUNS_DIR if runs_dir is None else Path(runs_dir)
    runs = []
    for path in sorted(root.glob(f"*/{MANIFEST_NAME}")):
        manifest = json.loads(path.read_text())
        if manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"{path} has manifest format {manifest.get('format')}, expected {MANIFEST_FORMAT}")
        runs.append(ReferenceRun(path=path.parent, manifest=manifest))
    return runs


def configuration(preset: Preset) -> dict:
    """``preset.to_dict()`` as a manifest stores it (JSON: tuples become lists)."""
    return json.loads(json.dumps(preset.to_dict()))


def find_reference_run(preset: Preset, runs_dir: str | os.PathLike | None = None) -> ReferenceRun | None:
    """The reference run of exactly this configuration, or None."""
    wanted = configuration(preset)
    return next((run for run in reference_runs(runs_dir) if run.manifest["configuration"] == wanted), None)


def write_reference_run(name: str, result: TrainResult, trained_with: dict,
                        runs_dir: str | os.PathLike | None = None, threads: int | None = 1,
                        probe: dict | None = None, state: dict | None = None) -> ReferenceRun:
    """Write a finished run as ``runs_dir/<name>/`` (replacing a run of that name).

    trained_with: ``{"fingerprints": {...}, "git": {...}, "training_path": {...}}`` (:func:`run_keys.trained_with`):
    the data and code fingerprints and the commit the run was trained with (recorded, not checked), and the
    training path its steps took (what the probe retrains with); threads: torch threads it trained with (None on a GPU);
    ``probe`` as from :func:`probe_losses` (computed here when None); ``state``: the run's state as
    :meth:`specae.analysis.run_state.RunState.to_dict` gives it (recorded when given).
    """
    preset = result.preset
    if not result.history or result.history[-1]["epoch"] != preset.train.epochs:
        raise ValueError(f"run {name!r} is not finished: {len(result.history)} of {preset.train.epochs} epochs")
    folder = (RUNS_DIR if runs_dir is None else Path(runs_dir)) / name
    folder.mkdir(parents=True, exist_ok=True)
    model_state = {key: value.detach().cpu() for key, value in result.model.state_dict().items()}
    atomic_write(folder / WEIGHTS_NAME, lambda handle: torch.save(model_state, handle))
    atomic_write(folder / SPLIT_NAME, lambda handle: np.savez_compressed(
        handle, train=np.asarray(result.split.train, dtype=np.int32),
        validation=np.asarray(result.split.validation, dtype=np.int32)))
    device = next(result.model.parameters()).device
    manifest = {
        "format": MANIFEST_FORMAT, "name": name, "configuration": configuration(preset),
        "config_hash": preset.config_hash(), "steps": result.steps or result.history[-1]["step"],
        "epochs": preset.train.epochs, "history": result.history,
        "wall_seconds": round(sum(record["seconds"] for record in result.history), 1),
        "device": {"type": device.type, "name": _device_name(device), "threads": threads,
                   "cpu_capability": torch.backends.cpu.get_cpu_capability()},
        "versions": {"specae": __version__, "torch": str(torch.__version__), "numpy": np.__version__,
                     "python": platform.python_version()},
        "training_path": trained_with["training_path"],
        "git": trained_with["git"],
        "fingerprints": trained_with["fingerprints"],
        "schedule": schedule_samples(preset, result.history),
        "probe": probe if probe is not None else probe_losses(preset, result.data, probe_steps(result.history),
                                                              trained_with["training_path"]),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if state is not None:
        manifest["run_state"] = state
    atomic_write(folder / MANIFEST_NAME, lambda handle: handle.write(json.dumps(manifest, indent=1).encode()))
    return ReferenceRun(path=folder, manifest=manifest)


def probe_losses(preset: Preset, data: SpectraSet | BatchSource | None = None, steps: int = PROBE_STEPS,
                 training_path: dict | None = None) -> dict:
    """The loss terms (total, reconstruction, KL) summed over the first ``steps`` steps of ``preset``, trained
    on the CPU with one thread from its seeds on ``training_path`` (``TrainOptions.record()``; None: the plain
    path in float32, as runs from before the record were trained), and the L2 norm of the weights after them:
    what the validity test recomputes. A bfloat16 path autocasts even where the CPU only emulates it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="specae-probe-") as folder:
            train(preset, folder, device="cpu", progress=False, data=data,
                  options=TrainOptions.from_record(training_path, stop_at_step=steps))
            _, model, state = load_checkpoint(Path(folder) / "checkpoint.pt")
    finally:
        torch.set_num_threads(previous)
    if state["step"] != steps or state["epoch"] != 0:
        raise ValueError(f"the probe needs {steps} steps inside the first epoch; the run stopped at step "
                         f"{state['step']}, epoch {state['epoch']}")
    weights = torch.cat([parameter.detach().double().flatten() for parameter in model.parameters()])
    return {"steps": steps, "loss_sums": dict(zip(("total", "reconstruction", "kl"), state["epoch_sums"], strict=True)),
            "weights_l2": float(weights.norm())}


class ProbeSource(RenderedSource):
    """A committed run's survey rendered batch by batch for its validity probe, which touches only the spectra of
    its first steps: the spectra its committed split leaves out are the degenerate ones, so the probe's split and
    draws are the run's without rendering the whole survey. (Rendering and normalising a spectrum do not depend on
    the batch it is in, so each batch is bit for bit what the whole survey held in memory gives.)"""

    def __init__(self, run: ReferenceRun):
        super().__init__(run.preset.data)
        split = run.split()
        self._degenerate = np.ones(len(self), dtype=bool)
        self._degenerate[np.concatenate([split.train, split.validation])] = False

    @property
    def degenerate(self) -> np.ndarray:
        """(n_spectra,) True for the spectra the run's committed split leaves out."""
        return self._degenerate


def probe_steps(history: list[dict]) -> int:
    """Steps the probe trains: :data:`PROBE_STEPS`, or all but the last step of a shorter first epoch (the
    probe reads the sums of the epoch under way)."""
    return min(PROBE_STEPS, history[0]["step"] - 1)


def schedule_samples(preset: Preset, history: list[dict]) -> list[dict]:
    """The step size and β at the first step of each epoch and at the last step (to check schedule code)."""
    cfg = preset.train
    total = history[-1]["step"]
    starts = [0] + [record["step"] for record in history[:-1]] + [total - 1]
    return [{"step": step, "learning_rate": learning_rate_at(step, cfg.learning_rate, cfg.lr_schedule,
                                                              cfg.lr_warmup_steps, total),
             "beta": beta_schedule(step, cfg.beta, cfg.beta_warmup_start, cfg.beta_warmup_end)} for step in starts]


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()
