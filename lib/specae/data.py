"""Training data in memory: synthetic spectra rendered once, median-normalised, with their labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from astropy.table import Table

from .normalization import median_normalise
from .presets import DataConfig
from .synthetic import SyntheticSurvey

IN_MEMORY_LIMIT_BYTES = 4 * 1024**3
_RENDER_BATCH = 64


@dataclass
class SpectraSet:
    """Normalised spectra and their metadata.

    flux: (n_spectra, n_pix) float32 normalised flux; mask: (n_spectra, n_pix) bool valid pixels.
    degenerate: (n_spectra,) bool, spectra whose median failed the threshold (flux and mask all zero).
    labels: astropy Table, one row per spectrum (true factors for synthetic data).
    """

    flux: torch.Tensor
    mask: torch.Tensor
    degenerate: np.ndarray
    labels: Table

    def __len__(self) -> int:
        return self.flux.shape[0]

    @property
    def object_ids(self) -> np.ndarray:
        """(n_spectra,) object identifier of each spectrum."""
        return np.asarray(self.labels["object_id"])

    @property
    def n_pixels(self) -> int:
        return self.flux.shape[1]

    def batch(self, indices: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, 1, L) normalised flux and (batch, L) mask of spectra ``indices`` on ``device``."""
        index = torch.as_tensor(indices, dtype=torch.long)
        return self.flux[index].unsqueeze(1).to(device), self.mask[index].to(device)


def load_synthetic(config: DataConfig) -> SpectraSet:
    """Render and median-normalise every spectrum of the configured synthetic survey (deterministic)."""
    survey = SyntheticSurvey(config.synthetic, config.grid)
    if not fits_in_memory(config):
        raise ValueError(
            f"{len(survey)} spectra × {config.grid.n_pixels} px need {_bytes_in_memory(config) / 1024**3:.1f} GiB "
            f"in memory (limit {IN_MEMORY_LIMIT_BYTES / 1024**3:.0f} GiB); lower n_spectra or raise grid_factor, "
            "or stream the spectra (specae.sources.RenderedSource)"
        )
    mask = config.grid.mask_tensor()
    parts = [
        median_normalise(survey.render(np.arange(start, min(start + _RENDER_BATCH, len(survey)))), mask,
                         threshold=config.median_threshold, variant=config.median_variant)
        for start in range(0, len(survey), _RENDER_BATCH)
    ]
    return SpectraSet(
        flux=torch.cat([p.flux for p in parts]),
        mask=torch.cat([p.mask for p in parts]),
        degenerate=torch.cat([p.degenerate for p in parts]).numpy(),
        labels=survey.labels,
    )


def fits_in_memory(config: DataConfig) -> bool:
    """Whether :func:`load_synthetic` may hold the configured survey (within :data:`IN_MEMORY_LIMIT_BYTES`)."""
    return _bytes_in_memory(config) <= IN_MEMORY_LIMIT_BYTES


def _bytes_in_memory(config: DataConfig) -> int:
    return config.synthetic.n_spectra * config.grid.n_pixels * 5  # float32 flux + bool mask
