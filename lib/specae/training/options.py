"""How a run executes (precision, compilation, checkpoint cadence, evaluation size), apart from what it learns."""

from __future__ import annotations

from dataclasses import dataclass

import torch

PRECISIONS = ("auto", "fp32", "bf16")


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
            raise ValueError(f"checkpoint_every must be an integer ≥ 0 (0 = per epoch), "
                             f"got {self.checkpoint_every!r}")
        if self.stop_at_step is not None and (not isinstance(self.stop_at_step, int) or self.stop_at_step < 0):
            raise ValueError(f"stop_at_step must be an integer ≥ 0 or None, got {self.stop_at_step!r}")
        if not isinstance(self.eval_spectra, int) or self.eval_spectra < 0:
            raise ValueError(f"eval_spectra must be an integer ≥ 0 (0 = all), got {self.eval_spectra!r}")

    def autocast_dtype(self, device: torch.device) -> torch.dtype | None:
        """bfloat16 when this run autocasts on ``device``, else None (plain fp32)."""
        if self.precision == "bf16" or (self.precision == "auto" and device.type == "cuda"):
            return torch.bfloat16
        return None
