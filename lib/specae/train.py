"""Training loop: seeded and resumable, with per-epoch train/validation history and atomic checkpoints.

Every random draw derives from the preset's seed and a counter (the epoch for the sampler, the step
for the VAE noise), never from global RNG state, so on CPU a run that stops after 2 epochs and
resumes for 2 more ends with the same weights, bit for bit, as 4 epochs in one go.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import __version__
from .atomic import atomic_write
from .autoencoder import SpectrumAutoencoder, beta_schedule, learning_rate_at, masked_l1_kl_loss
from .data import SpectraSet, load_synthetic
from .presets import Preset
from .sampler import BalancedSampler, Split, object_disjoint_split
from .seeding import derive_seed, torch_generator

CHECKPOINT_NAME = "checkpoint.pt"
PREVIOUS_CHECKPOINT_NAME = "checkpoint.prev.pt"  # the epoch before, kept in case the latest is damaged
CHECKPOINT_FORMAT = 1
DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
_EVAL_BATCH = 64
_NOISE_STREAM = 2  # seed key separating the VAE-noise stream from the weight-initialisation stream


@dataclass
class TrainResult:
    """A finished (or resumed) run: the model in eval mode, its history and where it was saved."""

    preset: Preset
    model: SpectrumAutoencoder
    history: list[dict]
    checkpoint: Path
    split: Split
    data: SpectraSet


def resolve_device(device: str) -> torch.device:
    """'auto' picks cuda > mps > cpu; explicit devices must be available."""
    if not isinstance(device, str) or not (device in ("auto", "cpu", "cuda", "mps") or _is_cuda_index(device)):
        raise ValueError(f"unknown device {device!r}; choose one of {DEVICE_CHOICES}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here; use 'auto' or 'cpu'")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' requested but MPS is not available here; use 'auto' or 'cpu'")
    return torch.device(device)


def train(
    preset: Preset,
    out_dir: str | os.PathLike,
    device: str = "auto",
    resume: bool = True,
    progress: bool = True,
    data: SpectraSet | None = None,
) -> TrainResult:
    """Train ``preset`` and checkpoint to ``out_dir/checkpoint.pt`` after every epoch.

    resume: continue from an existing checkpoint of the same configuration (``epochs`` may grow);
    with ``resume=False`` an existing checkpoint is an error, so no run is overwritten by accident.
    data: the spectra, if already loaded (must come from ``preset.data``); rendered otherwise.
    """
    torch_device = resolve_device(device)
    out_dir = Path(out_dir)
    checkpoint_path = out_dir / CHECKPOINT_NAME
    data = load_synthetic(preset.data) if data is None else data
    preset.data.grid.check_length(data.flux.shape[1])
    split = _usable_split(preset, data)
    cfg = preset.train

    with _deterministic(torch_device), torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(cfg.seed, 1))
        model = SpectrumAutoencoder(preset.model).to(torch_device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    epoch, step, history = 0, 0, []
    previous_path = out_dir / PREVIOUS_CHECKPOINT_NAME
    if checkpoint_path.exists() or previous_path.exists():
        if not resume:
            raise FileExistsError(f"{out_dir} holds a checkpoint; pass resume=True to continue it or choose another out_dir")
        state = _load_resumable(checkpoint_path, previous_path, preset, torch_device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        epoch, step, history = state["epoch"], state["step"], state["history"]

    sampler = BalancedSampler(data.object_ids[split.train], num_samples=cfg.samples_per_epoch or len(split.train),
                              seed=cfg.seed, balanced=preset.data.balanced)
    steps_per_epoch = math.ceil(len(sampler) / cfg.batch_size)
    train_probe = _train_probe(split, preset)
    bar = tqdm(total=cfg.epochs * steps_per_epoch, initial=epoch * steps_per_epoch, disable=not progress,
               desc=f"train {preset.name}", unit="step")
    with _deterministic(torch_device), bar:
        while epoch < cfg.epochs:
            started = time.perf_counter()
            model.train()
            order = split.train[sampler.indices(epoch).numpy()]
            sums = np.zeros(3)
            for batch in np.array_split(order, steps_per_epoch):
                beta = beta_schedule(step, cfg.beta, cfg.beta_warmup_start, cfg.beta_warmup_end)
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate_at(step, cfg.learning_rate, cfg.lr_schedule, cfg.lr_warmup_steps,
                                                   cfg.epochs * steps_per_epoch)
                flux, mask = _batch(data, batch, torch_device)
                output = model(flux, generator=torch_generator(cfg.seed, _NOISE_STREAM, step, device=torch_device))
                terms = masked_l1_kl_loss(output, flux, mask, beta)
                optimizer.zero_grad(set_to_none=True)
                terms.total.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
                step += 1
                sums += [terms.total.item(), terms.reconstruction.item(), terms.kl.item()]
                bar.update(1)
                bar.set_postfix(loss=f"{terms.total.item():.4f}", epoch=epoch + 1)
            epoch += 1
            validation = evaluate(model, data, split.validation, beta, torch_device)
            train_eval = evaluate(model, data, train_probe, beta, torch_device)
            history.append(dict(
                epoch=epoch, step=step, beta=beta,
                train_loss=float(sums[0] / steps_per_epoch), train_reconstruction=float(sums[1] / steps_per_epoch),
                train_kl=float(sums[2] / steps_per_epoch),
                train_eval_reconstruction=train_eval["reconstruction"],
                validation_loss=validation["loss"], validation_reconstruction=validation["reconstruction"],
                validation_kl=validation["kl"], seconds=time.perf_counter() - started,
            ))
            _save_checkpoint(checkpoint_path, preset, model, optimizer, epoch, step, history, split, data)
    model.eval()
    return TrainResult(preset=preset, model=model, history=history, checkpoint=checkpoint_path, split=split, data=data)


@torch.no_grad()
def evaluate(model: SpectrumAutoencoder, data: SpectraSet, indices: np.ndarray, beta: float,
             device: torch.device) -> dict:
    """Mean loss terms of the deterministic pass (z = μ) over spectra ``indices``, pixel-weighted."""
    was_training = model.training
    model.eval()
    totals, n_valid, kl_sum = 0.0, 0.0, 0.0
    for start in range(0, len(indices), _EVAL_BATCH):
        batch = indices[start : start + _EVAL_BATCH]
        flux, mask = _batch(data, batch, device)
        terms = masked_l1_kl_loss(model(flux), flux, mask, beta)
        valid = mask.sum().item()
        totals += terms.reconstruction.item() * valid
        n_valid += valid
        kl_sum += terms.kl.item() * len(batch)
    model.train(was_training)
    reconstruction, kl = totals / n_valid, kl_sum / len(indices)
    return dict(loss=reconstruction + beta * kl, reconstruction=reconstruction, kl=kl)


def load_checkpoint(path: str | os.PathLike, device: str = "cpu") -> tuple[Preset, SpectrumAutoencoder, dict]:
    """Rebuild the preset and the model (eval mode) from a checkpoint alone; also return its contents."""
    torch_device = resolve_device(device)
    state = torch.load(Path(path), map_location=torch_device, weights_only=True)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a specae checkpoint of format {CHECKPOINT_FORMAT}")
    if state.get("specae_version") != __version__:
        raise ValueError(f"{path} was written by specae {state.get('specae_version')}, this is specae {__version__}; "
                         "load it with that version, or retrain")
    preset = Preset.from_dict(state["preset"])
    model = SpectrumAutoencoder(preset.model).to(torch_device)
    model.load_state_dict(state["model"])
    model.eval()
    return preset, model, state


def _usable_split(preset: Preset, data: SpectraSet) -> Split:
    """Object-disjoint split over the spectra that survived normalisation (degenerate ones are left out)."""
    if len(data) == 0:
        raise ValueError("the dataset is empty: no spectra to train on")
    usable = np.flatnonzero(~data.degenerate)
    if usable.size == 0:
        raise ValueError(
            f"all {len(data)} spectra are degenerate (median ≤ {preset.data.median_threshold} ADU); nothing to train on"
        )
    split = object_disjoint_split(data.object_ids[usable], preset.data.validation_fraction, preset.data.split_seed)
    return Split(train=usable[split.train], validation=usable[split.validation])


def _train_probe(split: Split, preset: Preset) -> np.ndarray:
    """A fixed subset of training spectra, as many as the validation set, evaluated like it each epoch."""
    rng = np.random.default_rng(derive_seed(preset.data.split_seed, 3))
    n = min(len(split.train), len(split.validation))
    return np.sort(rng.choice(split.train, size=n, replace=False))


def _batch(data: SpectraSet, indices: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, 1, L) flux and (batch, L) mask on ``device``."""
    index = torch.as_tensor(indices, dtype=torch.long)
    return data.flux[index].unsqueeze(1).to(device), data.mask[index].to(device)


def _save_checkpoint(path: Path, preset, model, optimizer, epoch, step, history, split, data) -> None:
    """Write the checkpoint atomically (see specae.atomic), keeping the one before as checkpoint.prev.pt."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        os.replace(path, path.with_name(PREVIOUS_CHECKPOINT_NAME))
    state = dict(
        format=CHECKPOINT_FORMAT, specae_version=__version__, torch_version=str(torch.__version__),
        preset=preset.to_dict(), config_hash=preset.config_hash(), epoch=epoch, step=step, history=history,
        model=model.state_dict(), optimizer=optimizer.state_dict(),
        data_summary=dict(n_spectra=len(data), n_degenerate=int(data.degenerate.sum()),
                          n_train=len(split.train), n_validation=len(split.validation)),
    )
    atomic_write(path, lambda handle: torch.save(state, handle))


def _load_resumable(latest: Path, previous: Path, preset: Preset, device: torch.device) -> dict:
    """The latest checkpoint, or the one before when the latest is missing or unreadable (with a warning)."""
    try:
        state = torch.load(latest, map_location=device, weights_only=True)
    except Exception as error:  # noqa: BLE001 (truncated, corrupt or missing: fall back)
        if not previous.exists():
            raise ValueError(f"{latest} is unreadable ({type(error).__name__}) and there is no {previous.name} to "
                             "fall back to; delete the folder to start again") from error
        warnings.warn(f"{latest} is unreadable ({type(error).__name__}); resuming from {previous.name}",
                      RuntimeWarning, stacklevel=3)
        latest, state = previous, torch.load(previous, map_location=device, weights_only=True)
    return _check_compatible(latest, state, preset)


def _check_compatible(path: Path, state: dict, preset: Preset) -> dict:
    """Refuse a checkpoint made with a different configuration (epochs aside) or specae version."""
    if state.get("specae_version") != __version__:
        raise ValueError(f"{path} was written by specae {state.get('specae_version')}, this is specae {__version__}; "
                         "resume with that version or start a new out_dir")
    stored = Preset.from_dict(state["preset"])
    ours = preset.to_dict()
    theirs = stored.with_overrides(epochs=preset.train.epochs).to_dict()
    if ours != theirs:
        differing = sorted(f"{section}.{key}" for section in ("data", "model", "train") for key in ours[section]
                           if ours[section][key] != theirs[section][key])
        values = "; ".join(f"{name}: checkpoint {_field(theirs, name)!r}, requested {_field(ours, name)!r}"
                           for name in differing)
        raise ValueError(f"{path} was made with a different configuration (differs in {differing}: {values}); "
                         "use another out_dir or the checkpoint's own configuration")
    if state["epoch"] > preset.train.epochs:
        raise ValueError(f"{path} already holds {state['epoch']} epochs, more than the {preset.train.epochs} requested")
    return state


def _field(config: dict, name: str):
    section, key = name.split(".")
    return config[section][key]


@contextlib.contextmanager
def _deterministic(device: torch.device):
    """Deterministic kernels on CPU (restored afterwards); accelerators keep their fast defaults."""
    if device.type != "cpu":
        yield
        return
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def _is_cuda_index(device: str) -> bool:
    prefix, _, index = device.partition(":")
    return prefix == "cuda" and index.isdigit()
