"""One place that builds a model from its configuration: the paper's autoencoder, or the Doppler-aware variant
(:mod:`specae.model.doppler_autoencoder`, not the paper's model) when ``config.velocity`` asks for it."""

from __future__ import annotations

import numpy as np

from specae.model.autoencoder import AutoencoderConfig, SpectrumAutoencoder
from specae.model.doppler_autoencoder import DopplerAutoencoder
from specae.spectra.grid import Grid

__all__ = ["build_model"]


def build_model(config: AutoencoderConfig, grid: Grid | np.ndarray | None = None) -> SpectrumAutoencoder:
    """``SpectrumAutoencoder(config)``, or ``DopplerAutoencoder(config, grid)`` when ``config.velocity``.

    grid: the spectra's grid (``preset.data.grid``, or its (n_obs,) wavelengths in Å); the variant needs it to
    place its rest grid and Doppler shift, the paper's model ignores it.
    """
    if not config.velocity:
        return SpectrumAutoencoder(config)
    if grid is None:
        raise ValueError("the Doppler-aware variant (velocity=True) needs the spectra's grid: "
                         "build_model(preset.model, preset.data.grid)")
    return DopplerAutoencoder(config, grid)
