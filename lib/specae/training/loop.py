"""Training loop: seeded and resumable, with per-epoch train/validation history and atomic checkpoints.

Every random draw derives from the preset's seed and a counter (the epoch for the sampler, the step
for the VAE noise), never from global RNG state, so on CPU a run that stops after 2 epochs (or inside
an epoch, from a ``checkpoint_every`` checkpoint) and resumes ends with the same weights, bit for bit,
as one run in one go; so does a run that streams its spectra (:mod:`specae.training.feeds`) instead of holding
them in memory. On CUDA the steps run under bf16 autocast by default, and started by ``torchrun``
several processes train one model together (:mod:`specae.training.distributed`).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from specae import __version__

from specae.training import distributed
from specae._files import atomic_write
from specae.model.autoencoder import (AutoencoderOutput, LossTerms, SpectrumAutoencoder, beta_schedule, learning_rate_at,
                          masked_l1_kl_loss)
from specae.spectra.spectra_set import SpectraSet
from specae.training.presets import Preset
from specae.training.balanced_sampler import BalancedSampler
from specae.training.split import Split, object_disjoint_split
from specae.seeding import derive_seed, torch_generator
from specae.training.feeds import BatchSource, training_source

CHECKPOINT_NAME = "checkpoint.pt"
PREVIOUS_CHECKPOINT_NAME = "checkpoint.prev.pt"  # the epoch before, kept in case the latest is damaged
CHECKPOINT_FORMAT = 1
DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
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
    data: SpectraSet | BatchSource
    steps: int | None = None  # optimisation steps done (None where unknown)


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


@dataclass(frozen=True)
class TrainOptions:
    """How a run executes, not what it learns (so not part of the preset, its hash or its cache key).

    precision: "auto" (bf16 autocast on CUDA, fp32 elsewhere), "fp32" or "bf16" (autocast on any device).
    compile: run the training steps through ``torch.compile``.
    checkpoint_every: also checkpoint every this many steps (0: at the end of each epoch only); a run
    resumed from a mid-epoch checkpoint continues that epoch where it stopped.
    stop_at_step: checkpoint and return once this many steps are done in total (None: all epochs), e.g.
    to fit a job into a scheduler's time limit; calling again resumes.
    prefetch: prepare the next batch in a background thread while the current step runs (streaming
    sources only; in-memory batches are a copy away).
    eval_spectra: the end-of-epoch validation error is measured on at most this many validation spectra,
    a fixed seeded subset (0: all). The paper survey's object-disjoint validation set holds >100k spectra.
    """

    precision: str = "auto"
    compile: bool = False
    checkpoint_every: int = 0
    stop_at_step: int | None = None
    prefetch: bool = True
    eval_spectra: int = 4_096

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be an integer ≥ 0 (0 = per epoch), got {self.checkpoint_every!r}")
        if self.stop_at_step is not None and (not isinstance(self.stop_at_step, int) or self.stop_at_step < 0):
            raise ValueError(f"stop_at_step must be an integer ≥ 0 or None, got {self.stop_at_step!r}")
        if not isinstance(self.eval_spectra, int) or self.eval_spectra < 0:
            raise ValueError(f"eval_spectra must be an integer ≥ 0 (0 = all), got {self.eval_spectra!r}")

    def autocast_dtype(self, device: torch.device) -> torch.dtype | None:
        """bfloat16 when this run autocasts on ``device``, else None (plain fp32)."""
        if self.precision == "bf16" or (self.precision == "auto" and device.type == "cuda"):
            return torch.bfloat16
        return None


def train(
    preset: Preset,
    out_dir: str | os.PathLike,
    device: str = "auto",
    resume: bool = True,
    progress: bool = True,
    data: SpectraSet | BatchSource | None = None,
    options: TrainOptions = TrainOptions(),
) -> TrainResult:
    """Train ``preset`` and checkpoint to ``out_dir/checkpoint.pt`` after every epoch.

    resume: continue from an existing checkpoint of the same configuration (``epochs`` may grow);
    with ``resume=False`` an existing checkpoint is an error, so no run is overwritten by accident.
    data: the spectra (from ``preset.data``): a :class:`SpectraSet` in memory or a streaming source of
    :mod:`specae.training.feeds`; by default the preset's synthetic survey, in memory when it fits, else
    rendered batch by batch on the device.
    options: precision, compilation and checkpoint cadence (:class:`TrainOptions`).

    Started by ``torchrun``, every process runs this with the same arguments: they train one model with
    DistributedDataParallel (see :mod:`specae.training.distributed`) and rank 0 writes the checkpoints.
    """
    ranks = distributed.start(resolve_device(device))
    try:
        return _train(preset, Path(out_dir), ranks, resume, progress and ranks.is_main,
                      training_source(preset.data) if data is None else data, options)
    finally:
        distributed.stop(ranks)


def _train(preset: Preset, out_dir: Path, ranks: distributed.Ranks, resume: bool, progress: bool,
           data: SpectraSet | BatchSource, options: TrainOptions) -> TrainResult:
    torch_device = ranks.device
    checkpoint_path = out_dir / CHECKPOINT_NAME
    preset.data.grid.check_length(data.n_pixels)
    split = _usable_split(preset, data)
    cfg = preset.train

    with kernel_settings(torch_device), torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(cfg.seed, 1))
        model = SpectrumAutoencoder(preset.model).to(torch_device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    epoch, step, history, epoch_sums = 0, 0, [], np.zeros(3)
    previous_path = out_dir / PREVIOUS_CHECKPOINT_NAME
    if checkpoint_path.exists() or previous_path.exists():
        if not resume:
            raise FileExistsError(f"{out_dir} holds a checkpoint; pass resume=True to continue it or choose another out_dir")
        state = _load_resumable(checkpoint_path, previous_path, preset, torch_device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        epoch, step, history = state["epoch"], state["step"], state["history"]
        epoch_sums = np.asarray(state.get("epoch_sums", [0.0, 0.0, 0.0]))

    sampler = BalancedSampler(data.object_ids[split.train], num_samples=cfg.samples_per_epoch or len(split.train),
                              seed=cfg.seed, balanced=preset.data.balanced)
    steps_per_epoch = math.ceil(len(sampler) / cfg.batch_size)
    distributed.check_batch_size(len(sampler) // steps_per_epoch, ranks)
    stop_at = cfg.epochs * steps_per_epoch if options.stop_at_step is None else options.stop_at_step
    stepper = _step_model(model, ranks, options)
    autocast = options.autocast_dtype(torch_device)
    validation_set, train_probe = _evaluation_sets(split, preset, options.eval_spectra)
    save = functools.partial(_save_checkpoint, checkpoint_path, preset, model, optimizer, ranks=ranks, split=split,
                             data=data)
    bar = tqdm(total=cfg.epochs * steps_per_epoch, initial=step, disable=not progress, desc=f"train {preset.name}",
               unit="step")
    with kernel_settings(torch_device), bar:
        while epoch < cfg.epochs and step < stop_at:
            started = time.perf_counter()
            model.train()
            order = split.train[sampler.indices(epoch).numpy()]
            batches = np.array_split(order, steps_per_epoch)[step - epoch * steps_per_epoch : stop_at - epoch * steps_per_epoch]
            local = [ranks.shard(batch) for batch in batches]
            feed = _feed(data, [indices for indices, _ in local], torch_device, options.prefetch)
            for batch, (indices, offset), (flux, mask) in zip(batches, local, feed):
                beta = beta_schedule(step, cfg.beta, cfg.beta_warmup_start, cfg.beta_warmup_end)
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate_at(step, cfg.learning_rate, cfg.lr_schedule, cfg.lr_warmup_steps,
                                                   cfg.epochs * steps_per_epoch)
                noise = _noise(preset, step, len(batch), torch_device)
                terms = optimisation_step(stepper, optimizer, flux, mask, beta, cfg.grad_clip, autocast,
                                          noise=None if noise is None else noise[offset : offset + len(indices)],
                                          n_batch=len(batch), ranks=ranks)
                step += 1
                epoch_sums += ranks.sum(torch.stack([terms.total, terms.reconstruction, terms.kl]).detach()).tolist()
                bar.update(1)
                bar.set_postfix(loss=f"{terms.total.item():.4f}", epoch=epoch + 1)
                if options.checkpoint_every and step % options.checkpoint_every == 0 and step % steps_per_epoch:
                    save(epoch=epoch, step=step, history=history, epoch_sums=epoch_sums)
            if step < (epoch + 1) * steps_per_epoch:  # stopped inside the epoch (stop_at_step)
                save(epoch=epoch, step=step, history=history, epoch_sums=epoch_sums)
                break
            epoch += 1
            validation = evaluate(model, data, validation_set, beta, torch_device, ranks, autocast)
            train_eval = evaluate(model, data, train_probe, beta, torch_device, ranks, autocast)
            history.append(dict(
                epoch=epoch, step=step, beta=beta,
                train_loss=float(epoch_sums[0] / steps_per_epoch),
                train_reconstruction=float(epoch_sums[1] / steps_per_epoch),
                train_kl=float(epoch_sums[2] / steps_per_epoch),
                train_eval_reconstruction=train_eval["reconstruction"],
                validation_loss=validation["loss"], validation_reconstruction=validation["reconstruction"],
                validation_kl=validation["kl"], seconds=time.perf_counter() - started,
            ))
            epoch_sums = np.zeros(3)
            save(epoch=epoch, step=step, history=history, epoch_sums=epoch_sums)
    model.eval()
    return TrainResult(preset=preset, model=model, history=history, checkpoint=checkpoint_path, split=split, data=data,
                       steps=step)


def optimisation_step(stepper: torch.nn.Module, optimizer: torch.optim.Optimizer, flux: torch.Tensor,
                      mask: torch.Tensor, beta: float, grad_clip: float = 0.0, autocast: torch.dtype | None = None,
                      noise: torch.Tensor | None = None, n_batch: int | None = None,
                      ranks: distributed.Ranks | None = None) -> LossTerms:
    """One Adam step on a batch: forward (under ``autocast`` when given), masked L1 + β·KL, backward, clip, step.

    stepper: the model, or its DDP / compiled wrapper; flux (b, 1, L), mask (b, L), noise (b, latent) or None.
    With several ``ranks`` the batch is this rank's slice of ``n_batch`` spectra and the terms are its share.
    """
    ranks = ranks or distributed.Ranks(rank=0, world_size=1, device=flux.device)
    with torch.autocast(flux.device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
        output = stepper(flux, noise=noise)
    terms = _loss(_in_fp32(output), flux, mask, beta, n_batch or len(flux), ranks)
    optimizer.zero_grad(set_to_none=True)
    (terms.total * ranks.world_size).backward()  # DDP averages over ranks; each slice holds its share
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]], grad_clip)
    optimizer.step()
    return terms


@torch.no_grad()
def evaluate(model: SpectrumAutoencoder, data: SpectraSet | BatchSource, indices: np.ndarray, beta: float,
             device: torch.device, ranks: distributed.Ranks | None = None,
             autocast: torch.dtype | None = None) -> dict:
    """Mean loss terms of the deterministic pass (z = μ) over spectra ``indices``, pixel-weighted.

    With several ranks each evaluates every ``world_size``-th spectrum and the sums are combined.
    """
    was_training = model.training
    model.eval()
    if ranks is not None and ranks.distributed:
        indices = indices[ranks.rank :: ranks.world_size]
    totals, n_valid, kl_sum = 0.0, 0.0, 0.0
    for start in range(0, len(indices), _EVAL_BATCH):
        batch = indices[start : start + _EVAL_BATCH]
        flux, mask = data.batch(batch, device)
        with torch.autocast(device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
            output = model(flux)
        terms = masked_l1_kl_loss(_in_fp32(output), flux, mask, beta)
        valid = mask.sum().item()
        totals += terms.reconstruction.item() * valid
        n_valid += valid
        kl_sum += terms.kl.item() * len(batch)
    model.train(was_training)
    count = len(indices)
    if ranks is not None and ranks.distributed:
        totals, n_valid, kl_sum, count = ranks.sum(torch.tensor([totals, n_valid, kl_sum, count],
                                                                dtype=torch.float64)).tolist()
    reconstruction, kl = totals / n_valid, kl_sum / count
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


def _usable_split(preset: Preset, data: SpectraSet | BatchSource) -> Split:
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


def _evaluation_sets(split: Split, preset: Preset, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The validation spectra evaluated each epoch (all, or a fixed seeded subset of ``limit`` when there are
    more) and a fixed subset of as many training spectra, evaluated like them."""
    validation = split.validation
    if limit and len(validation) > limit:
        rng = np.random.default_rng(derive_seed(preset.data.split_seed, 4))
        validation = np.sort(rng.choice(validation, size=limit, replace=False))
    rng = np.random.default_rng(derive_seed(preset.data.split_seed, 3))
    n = min(len(split.train), len(validation))
    return validation, np.sort(rng.choice(split.train, size=n, replace=False))


def _step_model(model: SpectrumAutoencoder, ranks: distributed.Ranks, options: TrainOptions) -> torch.nn.Module:
    """The module that runs the training steps: the model, wrapped in DDP for several ranks, compiled on request."""
    stepper: torch.nn.Module = model
    if ranks.distributed:
        stepper = DistributedDataParallel(model, device_ids=[ranks.device] if ranks.device.type == "cuda" else None)
    return torch.compile(stepper) if options.compile else stepper


def _feed(data: SpectraSet | BatchSource, batches: list[np.ndarray], device: torch.device,
          prefetch: bool) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(flux, mask) of each batch in turn; a streaming source's next batch is read while this one trains."""
    if not prefetch or isinstance(data, SpectraSet) or not batches:
        yield from (data.batch(indices, device) for indices in batches)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="specae-prefetch") as pool:
        pending = pool.submit(data.batch, batches[0], device)
        for following in [*batches[1:], None]:
            current = pending.result()
            if following is not None:
                pending = pool.submit(data.batch, following, device)
            yield current


def _noise(preset: Preset, step: int, n_spectra: int, device: torch.device) -> torch.Tensor | None:
    """(n_spectra, latent_dim) ε of a β-VAE's step ``step`` for the whole global batch (None if deterministic)."""
    if not preset.model.variational:
        return None
    generator = torch_generator(preset.train.seed, _NOISE_STREAM, step, device=device)
    return torch.randn((n_spectra, preset.model.latent_dim), generator=generator, device=device, dtype=torch.float32)


def _loss(output: AutoencoderOutput, flux: torch.Tensor, mask: torch.Tensor, beta: float, n_batch: int,
          ranks: distributed.Ranks) -> LossTerms:
    """Loss terms of this rank's slice, as its share of the whole batch's (the batch itself with one rank)."""
    if not ranks.distributed:
        return masked_l1_kl_loss(output, flux, mask, beta)
    n_valid = ranks.sum(mask.sum().reshape(1))[0]
    return masked_l1_kl_loss(output, flux, mask, beta, n_valid=n_valid, n_spectra=n_batch)


def _in_fp32(output: AutoencoderOutput) -> AutoencoderOutput:
    """The output with every tensor in float32 (a no-op outside autocast), so the loss is summed in fp32."""
    return AutoencoderOutput(reconstruction=output.reconstruction.float(), mu=output.mu.float(), z=output.z.float(),
                             logvar=None if output.logvar is None else output.logvar.float())


def _save_checkpoint(path: Path, preset, model, optimizer, *, ranks: distributed.Ranks, split, data, epoch, step,
                     history, epoch_sums) -> None:
    """Rank 0 writes the checkpoint atomically (see specae._files), keeping the one before as checkpoint.prev.pt.

    epoch: completed epochs; step: steps done in all; epoch_sums: summed loss terms of the epoch under way.
    """
    if ranks.is_main:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            os.replace(path, path.with_name(PREVIOUS_CHECKPOINT_NAME))
        state = dict(
            format=CHECKPOINT_FORMAT, specae_version=__version__, torch_version=str(torch.__version__),
            preset=preset.to_dict(), config_hash=preset.config_hash(), epoch=epoch, step=step, history=history,
            epoch_sums=[float(value) for value in epoch_sums], model=model.state_dict(), optimizer=optimizer.state_dict(),
            data_summary=dict(n_spectra=len(data), n_degenerate=int(data.degenerate.sum()),
                              n_train=len(split.train), n_validation=len(split.validation)),
        )
        atomic_write(path, lambda handle: torch.save(state, handle))
    ranks.barrier()


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
def kernel_settings(device: torch.device):
    """Deterministic kernels on CPU; on CUDA, cuDNN picks its fastest convolution algorithms by timing them
    (``cudnn.benchmark``: the shapes never change within a run). Both restored afterwards."""
    if device.type == "cuda":
        previous = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = True
        try:
            yield
        finally:
            torch.backends.cudnn.benchmark = previous
        return
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

