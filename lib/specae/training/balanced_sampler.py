"""Visibility-balanced sampling: each epoch's draws, every object equally likely per draw.

Some HARPS targets have thousands of spectra and most have a handful. Weighting each spectrum by
1 / (number of spectra of its object) makes every *object* equally likely per draw, whatever its
visibility.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import Sampler

from specae.seeding import Stream, torch_generator


def visibility_weights(object_ids: npt.ArrayLike) -> torch.Tensor:
    """(n_spectra,) float64 sampling weights 1 / n_obs(object), normalised to sum to 1."""
    ids = np.asarray(object_ids)
    if ids.size == 0:
        raise ValueError("cannot weight an empty dataset: object_ids is empty")
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse].astype(np.float64)
    return torch.as_tensor(weights / weights.sum())


class BalancedSampler(Sampler[int]):
    """Draws ``num_samples`` spectrum indices per epoch with replacement, each object equally likely.

    The draw for an epoch depends only on (seed, epoch), so a resumed run sees the same sequence.
    With ``balanced=False`` every spectrum is equally likely instead (the unbalanced baseline).
    """

    def __init__(self, object_ids: Sequence | np.ndarray, num_samples: int | None = None, seed: int = 0,
                 balanced: bool = True):
        n = len(object_ids)
        if n == 0:
            raise ValueError("cannot sample from an empty dataset: object_ids is empty")
        self.weights = visibility_weights(object_ids) if balanced else torch.full((n,), 1.0 / n, dtype=torch.float64)
        self.num_samples = n if num_samples is None else int(num_samples)
        if self.num_samples < 1:
            raise ValueError(f"num_samples must be ≥ 1, got {self.num_samples}")
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose draw ``__iter__`` yields next."""
        self.epoch = epoch

    def indices(self, epoch: int) -> torch.Tensor:
        """(num_samples,) int64 indices drawn for ``epoch``."""
        generator = torch_generator(self.seed, Stream.SAMPLER, epoch)
        return torch.multinomial(self.weights, self.num_samples, replacement=True, generator=generator)

    def draws_per_object(self, epoch: int, object_ids: npt.ArrayLike) -> np.ndarray:
        """(n_objects,) how often each object (ids 0 … max) is drawn in ``epoch``."""
        ids = np.asarray(object_ids)
        return np.bincount(ids[self.indices(epoch).numpy()], minlength=int(ids.max()) + 1)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices(self.epoch).tolist())

    def __len__(self) -> int:
        return self.num_samples
