"""Training loop: seeded and resumable, with per-epoch train/validation history and atomic checkpoints.

Every random draw derives from the preset's seed and a counter (the epoch for the sampler, the step
for the VAE noise), never from global RNG state, so on CPU a run that stops after 2 epochs (or inside
an epoch, from a ``checkpoint_every`` checkpoint) and resumes ends with the same weights, bit for bit,
as one run in one go; so does a run that streams its spectra (:mod:`specae.training.feeds`) instead of holding
them in memory. On CUDA the steps run under bf16 autocast by default, and started by ``torchrun``
several processes train one model together (:mod:`specae.training.distributed`). The steps take the fast path
by default, the plain one on request (:class:`~specae.training.options.TrainOptions`); a run records which, and
resumes only on the path it started on.

A run reads top to bottom in :func:`_train`: set up (or resume) the model and optimiser, then for each
epoch train its steps (:func:`_train_epoch`), evaluate and record it (:func:`_epoch_record`), checkpoint.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from specae.model.autoencoder import AutoencoderOutput, LossTerms, SpectrumAutoencoder, masked_l1_kl_loss
from specae.model.factory import build_model
from specae.seeding import Stream, derive_seed, torch_generator
from specae.spectra.spectra_set import SpectraSet
from specae.training import checkpoints, distributed
from specae.training.allocator import reuse_memory
from specae.training.balanced_sampler import BalancedSampler
from specae.training.checkpoints import CHECKPOINT_NAME
from specae.training.devices import kernel_settings, resolve_device
from specae.training.feeds import BatchSource, training_source
from specae.training.options import TrainOptions
from specae.training.presets import Preset
from specae.training.progress import EpochRecord, Progress
from specae.training.schedules import beta_schedule, learning_rate_at
from specae.training.split import Split, object_disjoint_split

_EVAL_BATCH = 64


@dataclass
class TrainResult:
    """A finished (or resumed) run: the model in eval mode, its history and where it was saved.

    history: one plain dict per finished epoch, keyed as the fields of :class:`EpochRecord`.
    """

    preset: Preset
    model: SpectrumAutoencoder
    history: list[dict]
    checkpoint: Path
    split: Split
    data: SpectraSet | BatchSource
    steps: int | None = None  # optimisation steps done (None where unknown)
    training_path: dict | None = None  # TrainOptions.record() of the steps (None: a run from before the record)


@dataclass(frozen=True)
class Evaluation:
    """Mean loss terms of the deterministic pass (z = μ) over a set of spectra; loss = reconstruction + β·kl."""

    loss: float
    reconstruction: float
    kl: float


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


@dataclass
class _Run:
    """What stays fixed while a run trains: its configuration, model and optimiser, data and batching."""

    preset: Preset
    options: TrainOptions
    ranks: distributed.Ranks
    checkpoint: Path
    data: SpectraSet | BatchSource
    split: Split
    model: SpectrumAutoencoder
    optimizer: torch.optim.Optimizer
    stepper: torch.nn.Module  # the model, or its DDP / compiled wrapper, that runs the steps
    autocast: torch.dtype | None  # the steps' autocast type (None: plain fp32)
    training_path: dict  # options.record(): what the steps compute with
    sampler: BalancedSampler
    steps_per_epoch: int
    stop_at: int  # this call returns once this many steps are done in all (options.stop_at_step, else all)
    validation_set: np.ndarray  # (n,) spectrum indices evaluated each epoch
    train_probe: np.ndarray  # (n,) training spectrum indices evaluated like them

    @property
    def total_steps(self) -> int:
        """Steps of the whole configured run (all epochs)."""
        return self.preset.train.epochs * self.steps_per_epoch

    def beta(self, step: int) -> float:
        """KL weight of step ``step`` (counted from 0 over the whole run)."""
        cfg = self.preset.train
        return beta_schedule(step, cfg.beta, cfg.beta_warmup_start, cfg.beta_warmup_end)

    def learning_rate(self, step: int) -> float:
        """Adam step size of step ``step``."""
        cfg = self.preset.train
        return learning_rate_at(step, cfg.learning_rate, cfg.lr_schedule, cfg.lr_warmup_steps, self.total_steps)

    def save(self, progress: Progress) -> None:
        """Checkpoint the model, optimiser and ``progress``."""
        checkpoints.save(self.checkpoint, self.preset, self.model, self.optimizer, progress, ranks=self.ranks,
                         split=self.split, data=self.data, training_path=self.training_path)


def _train(preset: Preset, out_dir: Path, ranks: distributed.Ranks, resume: bool, show_progress: bool,
           data: SpectraSet | BatchSource, options: TrainOptions) -> TrainResult:
    """Set up (or resume) the run, then train, record and checkpoint epoch after epoch."""
    preset.data.grid.check_length(data.n_pixels)
    split = _usable_split(preset, data)
    model, optimizer = _new_model(preset, ranks.device)
    training_path = options.record(ranks.device)
    if checkpoints.exists(out_dir):
        if not resume:
            raise FileExistsError(f"{out_dir} holds a checkpoint; pass resume=True to continue it or choose another "
                                  "out_dir")
        progress = checkpoints.resume(out_dir, preset, model, optimizer, ranks.device, training_path)
    else:
        progress = Progress()
        _fit_to_data(model, preset, data, split)
    # set up after resuming: wrapping the model in DDP copies rank 0's weights to every rank
    run = _set_up(preset, out_dir, ranks, data, split, model, optimizer, options, training_path)
    bar = tqdm(total=run.total_steps, initial=progress.step, disable=not show_progress, desc=f"train {preset.name}",
               unit="step")
    memory = reuse_memory() if options.fast and ranks.device.type == "cpu" else contextlib.nullcontext()
    with kernel_settings(ranks.device), memory, bar:
        while progress.epoch < preset.train.epochs and progress.step < run.stop_at:
            started = time.perf_counter()
            _train_epoch(run, progress, bar)
            if progress.step < (progress.epoch + 1) * run.steps_per_epoch:  # stopped inside the epoch (stop_at)
                run.save(progress)
                break
            progress.finish_epoch(_epoch_record(run, progress, started))
            run.save(progress)
    model.set_fast_layers(False).eval()  # as a checkpoint or reference run loads it
    return TrainResult(preset=preset, model=model, history=progress.history, checkpoint=run.checkpoint, split=split,
                       data=data, steps=progress.step, training_path=training_path)


def _new_model(preset: Preset, device: torch.device) -> tuple[SpectrumAutoencoder, torch.optim.Optimizer]:
    """The model with its seeded initial weights (global RNG state untouched) on ``device``, and its Adam."""
    with kernel_settings(device), torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(preset.train.seed, Stream.WEIGHTS))
        model = build_model(preset.model, preset.data.grid).to(device)
    return model, torch.optim.Adam(model.parameters(), lr=preset.train.learning_rate)


def _fit_to_data(model: SpectrumAutoencoder, preset: Preset, data: SpectraSet | BatchSource, split: Split) -> None:
    """Before a fresh run's first step, a model with a starting point taken from the data fits it to the training
    spectra: the Doppler-aware variant its template (``fit_template``, no labels; a resumed run loads it from the
    checkpoint). Other models have nothing to fit and are left untouched. The template's subset is drawn from the
    weights' stream (counter 1): the template is part of the initial model."""
    fit_template = getattr(model, "fit_template", None)
    if fit_template is None:
        return
    if not isinstance(data, SpectraSet):
        raise ValueError(f"the Doppler-aware variant (velocity=True) fits its template to the training spectra held in "
                         f"memory, and this run streams them ({type(data).__name__}); for now, train it on a survey "
                         "that fits in memory (specae.training.datasets.load_synthetic)")
    fit_template(data.flux[split.train], data.mask[split.train], seed=derive_seed(preset.train.seed, Stream.WEIGHTS, 1))


def _set_up(preset: Preset, out_dir: Path, ranks: distributed.Ranks, data: SpectraSet | BatchSource, split: Split,
            model: SpectrumAutoencoder, optimizer: torch.optim.Optimizer, options: TrainOptions,
            training_path: dict) -> _Run:
    """The fixed parts of a run around its (resumed) model: its path, sampler, batching, stepper, evaluation sets."""
    cfg = preset.train
    model.set_fast_layers(options.fast)
    sampler = BalancedSampler(data.object_ids[split.train], num_samples=cfg.samples_per_epoch or len(split.train),
                              seed=cfg.seed, balanced=preset.data.balanced)
    steps_per_epoch = math.ceil(len(sampler) / cfg.batch_size)
    distributed.check_batch_size(len(sampler) // steps_per_epoch, ranks)
    validation_set, train_probe = _evaluation_sets(split, preset, options.eval_spectra)
    return _Run(preset=preset, options=options, ranks=ranks, checkpoint=out_dir / CHECKPOINT_NAME, data=data,
                split=split, model=model, optimizer=optimizer, stepper=_step_model(model, ranks, options),
                autocast=None if training_path["autocast"] is None else getattr(torch, training_path["autocast"]),
                training_path=training_path, sampler=sampler, steps_per_epoch=steps_per_epoch,
                stop_at=cfg.epochs * steps_per_epoch if options.stop_at_step is None else options.stop_at_step,
                validation_set=validation_set, train_probe=train_probe)


def _train_epoch(run: _Run, progress: Progress, bar: tqdm) -> None:
    """The steps of epoch ``progress.epoch`` still to do (up to ``run.stop_at``), summed into ``progress.sums``;
    also checkpoints every ``checkpoint_every`` steps inside the epoch."""
    device, every = run.ranks.device, run.options.checkpoint_every
    run.model.train()
    first = progress.epoch * run.steps_per_epoch  # the epoch's first step
    order = run.split.train[run.sampler.indices(progress.epoch).numpy()]
    batches = np.array_split(order, run.steps_per_epoch)[progress.step - first : run.stop_at - first]
    local = [run.ranks.shard(batch) for batch in batches]
    feed = _feed(run.data, [indices for indices, _ in local], device, run.options.prefetch)
    for batch, (indices, offset), (flux, mask) in zip(batches, local, feed, strict=True):
        for group in run.optimizer.param_groups:
            group["lr"] = run.learning_rate(progress.step)
        noise = _noise(run.preset, progress.step, len(batch), device)
        terms = optimisation_step(run.stepper, run.optimizer, flux, mask, run.beta(progress.step),
                                  run.preset.train.grad_clip, run.autocast,
                                  noise=None if noise is None else noise[offset : offset + len(indices)],
                                  n_batch=len(batch), ranks=run.ranks)
        progress.step += 1
        progress.sums.add(*run.ranks.sum(torch.stack([terms.total, terms.reconstruction, terms.kl]).detach()).tolist())
        bar.update(1)
        bar.set_postfix(loss=f"{terms.total.item():.4f}", epoch=progress.epoch + 1)
        if every and progress.step % every == 0 and progress.step % run.steps_per_epoch:
            run.save(progress)


def _epoch_record(run: _Run, progress: Progress, started: float) -> EpochRecord:
    """Evaluate the model after the epoch just trained and record it; ``started``: its ``time.perf_counter()``."""
    beta = run.beta(progress.step - 1)  # the β of the epoch's last step
    device = run.ranks.device
    autocast = run.autocast if device.type == "cuda" else None  # float32 on a CPU: comparable across paths
    validation = evaluate(run.model, run.data, run.validation_set, beta, device, run.ranks, autocast)
    train_eval = evaluate(run.model, run.data, run.train_probe, beta, device, run.ranks, autocast)
    sums, n_steps = progress.sums, run.steps_per_epoch
    return EpochRecord(
        epoch=progress.epoch + 1, step=progress.step, beta=beta, train_loss=sums.total / n_steps,
        train_reconstruction=sums.reconstruction / n_steps, train_kl=sums.kl / n_steps,
        train_eval_reconstruction=train_eval.reconstruction, validation_loss=validation.loss,
        validation_reconstruction=validation.reconstruction, validation_kl=validation.kl,
        seconds=time.perf_counter() - started,
    )


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
             autocast: torch.dtype | None = None) -> Evaluation:
    """Mean loss terms of the deterministic pass (z = μ) over spectra ``indices`` (n,): reconstruction
    pixel-weighted over their valid pixels, KL per spectrum.

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
    return Evaluation(loss=reconstruction + beta * kl, reconstruction=reconstruction, kl=kl)


def _usable_split(preset: Preset, data: SpectraSet | BatchSource) -> Split:
    """Object-disjoint split over the spectra that survived normalisation (degenerate ones are left out)."""
    if len(data) == 0:
        raise ValueError("the dataset is empty: no spectra to train on")
    usable = np.flatnonzero(~data.degenerate)
    if usable.size == 0:
        raise ValueError(f"all {len(data)} spectra are degenerate (median ≤ {preset.data.median_threshold} ADU); "
                         "nothing to train on")
    split = object_disjoint_split(data.object_ids[usable], preset.data.validation_fraction, preset.data.split_seed)
    return Split(train=usable[split.train], validation=usable[split.validation])


def _evaluation_sets(split: Split, preset: Preset, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The validation spectra evaluated each epoch (all, or a fixed seeded subset of ``limit`` when there are
    more) and a fixed subset of as many training spectra, evaluated like them."""
    validation = split.validation
    if limit and len(validation) > limit:
        rng = np.random.default_rng(derive_seed(preset.data.split_seed, Stream.EVAL_VALIDATION))
        validation = np.sort(rng.choice(validation, size=limit, replace=False))
    rng = np.random.default_rng(derive_seed(preset.data.split_seed, Stream.EVAL_TRAINING))
    n = min(len(split.train), len(validation))
    return validation, np.sort(rng.choice(split.train, size=n, replace=False))


def _step_model(model: SpectrumAutoencoder, ranks: distributed.Ranks, options: TrainOptions) -> torch.nn.Module:
    """The module that runs the training steps: the model, wrapped in DDP for several ranks, compiled on request."""
    stepper: torch.nn.Module = model
    if ranks.distributed:
        stepper = DistributedDataParallel(model, device_ids=[ranks.device] if ranks.device.type == "cuda" else None)
    if not options.compile:
        return stepper
    return torch.compile(stepper)  # type: ignore[return-value]  # a Module compiles to a Module; the stub says Callable


def _feed(data: SpectraSet | BatchSource, batches: list[np.ndarray], device: torch.device,
          prefetch: bool) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(flux (b, 1, L), mask (b, L)) of each batch in turn; a streaming source's next batch is read while this
    one trains."""
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
    generator = torch_generator(preset.train.seed, Stream.VAE_NOISE, step, device=device)
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
                             logvar=None if output.logvar is None else output.logvar.float(),
                             velocity=None if output.velocity is None else output.velocity.float())
