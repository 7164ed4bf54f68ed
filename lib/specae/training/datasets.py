"""A synthetic survey in memory: every spectrum rendered once and median-normalised, with its labels."""

from __future__ import annotations

import numpy as np
import torch

from specae.spectra.normalisation import median_normalise
from specae.spectra.spectra_set import SpectraSet
from specae.synth.survey import SyntheticSurvey
from specae.training.presets import DataConfig

IN_MEMORY_LIMIT_BYTES = 4 * 1024**3
_RENDER_BATCH = 64


def load_synthetic(config: DataConfig) -> SpectraSet:
    """Render and median-normalise every spectrum of the configured synthetic survey (deterministic)."""
    survey = SyntheticSurvey(config.synthetic, config.grid)
    if not fits_in_memory(config):
        raise ValueError(
            f"{len(survey)} spectra × {config.grid.n_pixels} px need {bytes_in_memory(config) / 1024**3:.1f} GiB "
            f"in memory (limit {IN_MEMORY_LIMIT_BYTES / 1024**3:.0f} GiB); lower n_spectra or raise grid_factor, "
            "or stream the spectra (specae.training.feeds.RenderedSource)"
        )
    return _render(survey, config, np.arange(len(survey)))


def load_first_spectra(config: DataConfig) -> tuple[SpectraSet, np.ndarray]:
    """The first spectrum of every star of the configured survey, rendered and median-normalised as
    :func:`load_synthetic` renders it, and their (n_stars,) indices in the survey: the same spectra and labels at a
    fraction of the cost (for reading a model's codes one spectrum per star). A star whose first spectrum is
    degenerate keeps it, flagged, where :func:`~specae.analysis.latents.one_per_star` would take its next."""
    survey = SyntheticSurvey(config.synthetic, config.grid)
    _, first = np.unique(survey.object_ids, return_index=True)
    return _render(survey, config, first), first


def _render(survey: SyntheticSurvey, config: DataConfig, indices: np.ndarray) -> SpectraSet:
    """Spectra ``indices`` of ``survey`` rendered in batches and median-normalised, with their labels."""
    mask = config.grid.mask_tensor()
    parts = [
        median_normalise(survey.render(indices[start : start + _RENDER_BATCH]), mask,
                         threshold=config.median_threshold, variant=config.median_variant)
        for start in range(0, len(indices), _RENDER_BATCH)
    ]
    return SpectraSet(
        flux=torch.cat([p.flux for p in parts]),
        mask=torch.cat([p.mask for p in parts]),
        degenerate=torch.cat([p.degenerate for p in parts]).numpy(),
        labels=survey.labels[indices],
    )


def fits_in_memory(config: DataConfig) -> bool:
    """Whether :func:`load_synthetic` may hold the configured survey (within :data:`IN_MEMORY_LIMIT_BYTES`)."""
    return bytes_in_memory(config) <= IN_MEMORY_LIMIT_BYTES


def bytes_in_memory(config: DataConfig) -> int:
    """Bytes that :func:`load_synthetic` holds for the configured survey (float32 flux and a bool mask)."""
    return config.synthetic.n_spectra * config.grid.n_pixels * 5  # float32 flux + bool mask
