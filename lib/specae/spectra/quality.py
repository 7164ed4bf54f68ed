"""Quality measures of a spectrum that need no model: the DER_SNR signal-to-noise estimator, and how alike
two spectra are in a window of wavelength."""

from __future__ import annotations

import numpy as np

LINE_RICH_WINDOW = (6100.0, 6200.0)  # Å, [low, high): many Fe I and Ca I lines, to compare line patterns
LINE_POOR_WINDOW = (5500.0, 5530.0)  # Å, [low, high): few lines, where DER_SNR measures the noise


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


def in_window(wavelength: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """(n,) bool: pixels with low ≤ λ < high. wavelength: (n,) Å."""
    low, high = window
    return (wavelength >= low) & (wavelength < high)


def window_correlation(wavelength: np.ndarray, first: np.ndarray, second: np.ndarray,
                       window: tuple[float, float] = LINE_RICH_WINDOW) -> float:
    """Pearson correlation of two (n,) spectra on one grid of ``wavelength`` (n,) Å, inside ``window``."""
    inside = in_window(wavelength, window)
    return float(np.corrcoef(first[inside], second[inside])[0, 1])


def window_snr(wavelength: np.ndarray, flux: np.ndarray, window: tuple[float, float] = LINE_POOR_WINDOW) -> float:
    """:func:`der_snr` of the (n,) raw ``flux`` inside ``window`` (a line-poor one by default)."""
    return der_snr(flux[in_window(wavelength, window)])
