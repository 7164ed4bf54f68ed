"""Where training batches come from when the data set does not fit in memory.

Training asks a source for ``batch(indices, device)`` → (batch, 1, L) normalised flux and (batch, L)
mask, and reads ``object_ids`` (for the balanced sampler and the object-disjoint split) and
``degenerate``. Three sources share that interface:

* :class:`specae.spectra.spectra_set.SpectraSet`: every spectrum rendered and normalised once, held in memory
  (the smoke and study presets);
* :class:`StoreSource`: raw spectra streamed from an on-disk store (:mod:`specae.io.store`), median-
  normalised per batch on the training device; memory does not grow with the store;
* :class:`RenderedSource`: synthetic spectra rendered per batch on the training device (the
  ``paper`` preset's 267,361 spectra of 327,680 px would need 350 GB in memory).

A streaming source cannot know in advance which spectra fail the median threshold: it reports none as
degenerate, and such a spectrum enters its batch with an empty mask (it adds nothing to the L1 term).
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np
import torch
from astropy.table import Table

from specae.io.store import SpectrumStore, object_ids
from specae.spectra.normalisation import median_normalise
from specae.spectra.spectra_set import SpectraSet
from specae.synth.survey import SyntheticSurvey
from specae.training.datasets import fits_in_memory, load_synthetic
from specae.training.presets import DataConfig


class BatchSource(Protocol):
    """What training reads: spectra by index, their objects and which failed normalisation."""

    labels: Table

    def __len__(self) -> int: ...

    @property
    def n_pixels(self) -> int: ...

    @property
    def object_ids(self) -> np.ndarray: ...

    @property
    def degenerate(self) -> np.ndarray: ...

    def batch(self, indices: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]: ...


def training_source(config: DataConfig, store: str | os.PathLike | None = None,
                    stream: bool = False) -> SpectraSet | BatchSource:
    """The spectra a run trains on: the ``store`` when given, else the synthetic survey of ``config``,
    in memory when it fits (and ``stream`` is False), otherwise rendered batch by batch."""
    if store is not None:
        return StoreSource(store, config)
    if stream or not fits_in_memory(config):
        return RenderedSource(config)
    return load_synthetic(config)


class _NormalisingSource:
    """Shared part of the streaming sources: raw flux of a batch → median-normalised on the device."""

    def __init__(self, config: DataConfig, object_ids: np.ndarray, labels: Table):
        self.config = config
        self.labels = labels
        self._object_ids = object_ids
        self._mask = config.grid.mask_tensor()

    def __len__(self) -> int:
        return len(self._object_ids)

    @property
    def n_pixels(self) -> int:
        return self.config.grid.n_pixels

    @property
    def object_ids(self) -> np.ndarray:
        """(n_spectra,) object identifier of each spectrum."""
        return self._object_ids

    @property
    def degenerate(self) -> np.ndarray:
        """(n_spectra,) all False: degenerate spectra are found per batch (empty mask), not in advance."""
        return np.zeros(len(self), dtype=bool)

    def batch(self, indices: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, 1, L) normalised flux and (batch, L) mask of spectra ``indices`` on ``device``."""
        normalised = median_normalise(self.raw(np.asarray(indices), device), self._mask.to(device),
                                      threshold=self.config.median_threshold, variant=self.config.median_variant)
        return normalised.flux.unsqueeze(1), normalised.mask

    def raw(self, indices: np.ndarray, device: torch.device) -> torch.Tensor:
        """(batch, L) raw flux (ADU) on ``device``."""
        raise NotImplementedError


class StoreSource(_NormalisingSource):
    """Spectra streamed from an on-disk store whose grid matches ``config``; objects from its OBJECT column."""

    def __init__(self, store: str | os.PathLike, config: DataConfig):
        self.store = SpectrumStore(store)
        if self.store.grid != config.grid:
            raise ValueError(f"{store} holds spectra on the grid ({self.store.grid.describe()}), the preset trains on "
                             f"({config.grid.describe()}); choose the preset of that grid or ingest onto this one")
        if len(self.store) == 0:
            raise ValueError(f"{store} holds no spectra; ingest some first")
        labels = self.store.labels
        if "object" not in labels.colnames:
            raise ValueError(f"{store} has no 'object' label column, needed for balanced sampling and the split")
        super().__init__(config, object_ids(labels), labels)

    def raw(self, indices: np.ndarray, device: torch.device) -> torch.Tensor:
        return torch.from_numpy(self.store.flux(indices)).to(device)


class RenderedSource(_NormalisingSource):
    """The synthetic survey of ``config``, each batch rendered on the training device when it is needed."""

    def __init__(self, config: DataConfig):
        self.survey = SyntheticSurvey(config.synthetic, config.grid)
        super().__init__(config, self.survey.object_ids, self.survey.labels)

    def raw(self, indices: np.ndarray, device: torch.device) -> torch.Tensor:
        return self.survey.render(indices, device=device)
