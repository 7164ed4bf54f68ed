"""Quality measures of a spectrum that need no model: the DER_SNR signal-to-noise estimator."""

from __future__ import annotations

import numpy as np


def der_snr(flux: np.ndarray) -> float:
    """S/N per pixel of a spectrum from the flux alone (Stoehr et al. 2008, "DER_SNR").

    flux: (n,) fluxes of neighbouring pixels; zeros and non-finite values (gaps, masks) are dropped.
    The noise is 1.482602/√6 · median|2fᵢ − fᵢ₋₂ − fᵢ₊₂|, exact for white noise on a signal that is
    linear over 4 pixels; on resolved lines it overestimates the noise, so use line-poor windows.
    """
    values = np.asarray(flux, dtype=np.float64)
    values = values[np.isfinite(values) & (values != 0)]
    if values.size < 5:
        raise ValueError(f"DER_SNR needs at least 5 valid pixels, got {values.size}")
    noise = 1.482602 / np.sqrt(6.0) * np.median(np.abs(2 * values[2:-2] - values[:-4] - values[4:]))
    return float(np.median(values) / noise)
