"""How alike two spectra are in a wavelength window, and the S/N of one in a line-poor window."""

import numpy as np
import pytest

from specae.spectra.quality import (
    LINE_POOR_WINDOW,
    LINE_RICH_WINDOW,
    der_snr,
    in_window,
    window_correlation,
    window_snr,
)

WAVELENGTH = 5_000.0 + 0.01 * np.arange(150_001)  # 5000–6500 Å


def test_in_window_is_half_open():
    inside = in_window(WAVELENGTH, (5_500.0, 5_530.0))
    assert inside.sum() == 3_000 and WAVELENGTH[inside].min() == pytest.approx(5_500.0)
    assert WAVELENGTH[inside].max() == pytest.approx(5_529.99)


def test_window_correlation_reads_only_the_window():
    lines = np.sin(WAVELENGTH)
    outside = ~in_window(WAVELENGTH, LINE_RICH_WINDOW)
    scaled = np.where(outside, -lines, 2 * lines + 3)  # anti-correlated outside the window only
    assert window_correlation(WAVELENGTH, lines, scaled) == pytest.approx(1.0, abs=1e-12)
    assert window_correlation(WAVELENGTH, lines, -lines) == pytest.approx(-1.0, abs=1e-12)


def test_window_snr_is_der_snr_of_the_line_poor_window():
    """White noise of σ = 1 % on a flat continuum: S/N 100 (DER_SNR over 3,000 pixels, within 5 %)."""
    flux = 1.0 + 0.01 * np.random.default_rng(0).normal(size=WAVELENGTH.size)
    flux[~in_window(WAVELENGTH, LINE_POOR_WINDOW)] *= 0.5  # rest of the spectrum: another level, ignored
    assert window_snr(WAVELENGTH, flux) == pytest.approx(100.0, rel=0.05)
    assert window_snr(WAVELENGTH, flux) == der_snr(flux[in_window(WAVELENGTH, LINE_POOR_WINDOW)])
