"""Object-disjoint train/validation splits: every spectrum of a star lands in the same set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from specae.seeding import Stream, derive_seed


@dataclass(frozen=True)
class Split:
    """Index arrays of an object-disjoint split (sorted, int64)."""

    train: np.ndarray
    validation: np.ndarray


def object_disjoint_split(object_ids: npt.ArrayLike, validation_fraction: float, seed: int) -> Split:
    """Shuffle the unique objects with ``seed`` and give ``validation_fraction`` of them to validation.

    Every spectrum of an object lands in the same set. At least one object goes to each set.
    """
    ids = np.asarray(object_ids)
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    objects = np.unique(ids)
    if objects.size < 2:
        raise ValueError(f"an object-disjoint split needs at least 2 objects, got {objects.size}")
    order = np.random.default_rng(derive_seed(seed, Stream.SPLIT)).permutation(objects.size)
    n_validation = min(max(1, round(validation_fraction * objects.size)), objects.size - 1)
    validation_objects = objects[order[:n_validation]]
    in_validation = np.isin(ids, validation_objects)
    return Split(train=np.flatnonzero(~in_validation), validation=np.flatnonzero(in_validation))

