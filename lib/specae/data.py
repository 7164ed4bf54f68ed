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


def load_synthetic(config: DataConfig) -> SpectraSet:
    """Render and median-normalise every spectrum of the configured synthetic survey (deterministic)."""
    survey = SyntheticSurvey(config.synthetic, config.grid)
    n_bytes = len(survey) * config.grid.n_pixels * 5
    if n_bytes > IN_MEMORY_LIMIT_BYTES:
        raise ValueError(
            f"{len(survey)} spectra × {config.grid.n_pixels} px need {n_bytes / 1024**3:.1f} GiB in memory "
            f"(limit {IN_MEMORY_LIMIT_BYTES / 1024**3:.0f} GiB); lower n_spectra or raise grid_factor"
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
