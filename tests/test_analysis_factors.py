"""The factors of a window: labels whose one-σ change moves the noise-free spectrum by more than its noise."""

from specae import get_preset
from specae.analysis.factors import factor_sensitivity


def test_the_study_window_has_stellar_factors_and_no_telluric_ones():
    """4,960–5,288 Å has no telluric lines: BERV and water vapour change nothing (exactly 0); the stellar
    labels move lines by many σ (RV and Teff by tens of σ in the full measurement, > 5 σ asserted)."""
    preset = get_preset("study")
    sensitivity = factor_sensitivity(preset.data.synthetic, preset.data.grid, n_stars=4)
    change = dict(zip(sensitivity.labels, sensitivity.change_in_sigma, strict=True))
    assert change["berv"] == 0 and change["pwv"] == 0
    assert min(change[name] for name in ("teff", "logg", "feh", "rv")) > 5
    assert {"teff", "logg", "feh", "rv"} <= set(sensitivity.factors) and "berv" not in sensitivity.factors
