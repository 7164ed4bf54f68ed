"""How a run executes (training path, precision, compilation, checkpoint cadence, evaluation size), apart from
what it learns."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

PRECISIONS = ("auto", "fp32", "bf16")
TRAINING_PATHS = ("fast", "plain")
PATH_VARIABLE = "SPECAE_TRAINING_PATH"  # the default training path, for `make` and papermill runs


def default_training_path() -> str:
    """``$SPECAE_TRAINING_PATH`` when set, else "fast"."""
    path = os.environ.get(PATH_VARIABLE, "") or "fast"
    if path not in TRAINING_PATHS:
        raise ValueError(f"{PATH_VARIABLE}={path!r} is not a training path; set it to one of {TRAINING_PATHS} "
                         "or unset it (fast)")
    return path


@dataclass(frozen=True)
class TrainOptions:
    """How a run executes, not what it learns (so not part of the preset or its hash).

    path: "fast" (the default, or ``$SPECAE_TRAINING_PATH``) or "plain". The fast path computes the same
    function with the model's fast layers (:meth:`~specae.model.autoencoder.SpectrumAutoencoder.set_fast_layers`)
    and, on a CPU, with the allocator tuned (:mod:`specae.training.allocator`); the plain path computes it as the
    release does, as every run before the fast path was trained. Their weights differ by float rounding only
    (docs/decisions.md, *A faster training path*).
    precision: "auto" (bf16 autocast on CUDA, float32 elsewhere), "fp32" or "bf16" (autocast on any device, even
    a CPU that only emulates it).
    compile: run the training steps through ``torch.compile``.
    checkpoint_every: also checkpoint every this many steps (0: at the end of each epoch only); a run
    resumed from a mid-epoch checkpoint continues that epoch where it stopped.
    stop_at_step: checkpoint and return once this many steps are done in total (None: all epochs), e.g.
    to fit a job into a scheduler's time limit; calling again resumes.
    prefetch: prepare the next batch in a background thread while the current step runs (streaming
    sources only; in-memory batches are a copy away).
    eval_spectra: the end-of-epoch validation error is measured on at most this many validation spectra,
    a fixed seeded subset (0: all). A paper-scale object-disjoint validation set can be large (its size depends on
    which heavily observed stars it holds).
    """

    path: str = field(default_factory=default_training_path)
    precision: str = "auto"
    compile: bool = False
    checkpoint_every: int = 0
    stop_at_step: int | None = None
    prefetch: bool = True
    eval_spectra: int = 4_096

    def __post_init__(self):
        if self.path not in TRAINING_PATHS:
            raise ValueError(f"path must be one of {TRAINING_PATHS}, got {self.path!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be an integer ≥ 0 (0 = per epoch), "
                             f"got {self.checkpoint_every!r}")
        if self.stop_at_step is not None and (not isinstance(self.stop_at_step, int) or self.stop_at_step < 0):
            raise ValueError(f"stop_at_step must be an integer ≥ 0 or None, got {self.stop_at_step!r}")
        if not isinstance(self.eval_spectra, int) or self.eval_spectra < 0:
            raise ValueError(f"eval_spectra must be an integer ≥ 0 (0 = all), got {self.eval_spectra!r}")

    @property
    def fast(self) -> bool:
        """Whether this run takes the fast path."""
        return self.path == "fast"

    def autocast_dtype(self, device: torch.device) -> torch.dtype | None:
        """bfloat16 when this run's steps autocast on ``device``, else None (plain float32)."""
        if self.precision == "bf16" or (self.precision == "auto" and device.type == "cuda"):
            return torch.bfloat16
        return None

    def record(self, device: torch.device) -> dict:
        """What a run on ``device`` computed with, as a manifest stores it: path and autocast type (or None)."""
        autocast = self.autocast_dtype(device)
        return {"path": self.path, "autocast": None if autocast is None else str(autocast).removeprefix("torch.")}

    @classmethod
    def from_record(cls, record: dict | None, **others) -> TrainOptions:
        """The options that compute as ``record`` says (:meth:`record`; None: a run from before the fast path,
        trained on the plain path in float32), with ``others`` (e.g. ``stop_at_step``)."""
        if record is None:
            return cls(path="plain", precision="fp32", **others)
        precision = {None: "fp32", "bfloat16": "bf16"}.get(record["autocast"])
        if precision is None:
            raise ValueError(f"unknown autocast type {record['autocast']!r} in the training path record {record}")
        return cls(path=record["path"], precision=precision, **others)
