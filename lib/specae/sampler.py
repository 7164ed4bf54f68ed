"""Visibility-balanced sampling and object-disjoint splits.

Some HARPS targets have thousands of spectra and most have a handful. Weighting each spectrum by
1 / (number of spectra of its object) makes every *object* equally likely per draw, whatever its
visibility (paper-notes §2.5). Splits are made over objects, so no star is in two sets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Sampler

from .seeding import torch_generator


def visibility_weights(object_ids: Sequence) -> torch.Tensor:
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

    def __init__(self, object_ids: Sequence, num_samples: int | None = None, seed: int = 0, balanced: bool = True):
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
        generator = torch_generator(self.seed, epoch)
        return torch.multinomial(self.weights, self.num_samples, replacement=True, generator=generator)

    def draws_per_object(self, epoch: int, object_ids: Sequence) -> np.ndarray:
        """(n_objects,) how often each object (ids 0 … max) is drawn in ``epoch``."""
        ids = np.asarray(object_ids)
        return np.bincount(ids[self.indices(epoch).numpy()], minlength=int(ids.max()) + 1)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices(self.epoch).tolist())

    def __len__(self) -> int:
        return self.num_samples


@dataclass(frozen=True)
class Split:
    """Index arrays of an object-disjoint split (sorted, int64)."""

    train: np.ndarray
    validation: np.ndarray


def object_disjoint_split(object_ids: Sequence, validation_fraction: float, seed: int) -> Split:
    """Shuffle the unique objects with ``seed`` and give ``validation_fraction`` of them to validation.

    Every spectrum of an object lands in the same set. At least one object goes to each set.
    """
    ids = np.asarray(object_ids)
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    objects = np.unique(ids)
    if objects.size < 2:
        raise ValueError(f"an object-disjoint split needs at least 2 objects, got {objects.size}")
    order = np.random.default_rng(seed).permutation(objects.size)
    n_validation = min(max(1, round(validation_fraction * objects.size)), objects.size - 1)
    validation_objects = objects[order[:n_validation]]
    in_validation = np.isin(ids, validation_objects)
    return Split(train=np.flatnonzero(~in_validation), validation=np.flatnonzero(in_validation))

