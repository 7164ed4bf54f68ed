"""Latent traversals: node replacement, Doppler shifts measured from spectra, the monotonic window."""

import numpy as np
import pytest
import torch

from specae.analysis.traversal import TooFewBinsError, doppler_shift_kms, doppler_sweep, monotonic_window, traverse
from specae.spectra.grid import Grid
from specae.synth.survey import SyntheticSurvey


def test_traverse_replaces_one_node_only():
    weights = torch.arange(12, dtype=torch.float32).reshape(4, 3)  # a linear "decoder": 4 latents → 3 px

    def decoder(codes):
        return (codes @ weights)[:, None, :]

    code = torch.tensor([1.0, -2.0, 0.5, 3.0])
    decoded = traverse(decoder, code, node=2, values=[-1.0, 0.0, 1.0])
    assert decoded.shape == (3, 3)
    expected = torch.stack([decoder(torch.tensor([[1.0, -2.0, v, 3.0]]))[0, 0] for v in (-1.0, 0.0, 1.0)])
    torch.testing.assert_close(decoded, expected)
    with pytest.raises(ValueError, match="node in \\[0, 4\\)"):
        traverse(decoder, code, node=4, values=[0.0])


@pytest.mark.parametrize(("factor", "rv", "tolerance"), [(1, -40.0, 0.05), (1, 12.0, 0.05), (40, -40.0, 2.0),
                                                        (40, 12.0, 2.0)])
def test_doppler_shift_is_measured_from_spectra(factor, rv, tolerance):
    """Noise-free spectra: within 0.05 km/s at full resolution; within 0.1 px (2 km/s) on the 0.4 Å grid,
    where R = 115,000 lines are unresolved and the sampling phase biases any shift estimate."""
    grid = Grid(factor)
    survey = SyntheticSurvey.single_star(grid, 2, teff=5_200.0, vsini=2.0, rv=[0.0, rv], berv=0.0, airmass=1.0)
    flux = survey.render([0, 1], noise=False).numpy()
    valid = grid.mask & (grid.wavelength > 4_500) & (grid.wavelength < 6_200)  # no tellurics
    measured = doppler_shift_kms(grid.wavelength, flux[0], flux[1:], valid)
    assert measured[0] == pytest.approx(rv, abs=tolerance)


def test_monotonic_window_finds_the_s_curve_between_its_extremes():
    """A derivative-of-Gaussian response like the paper's RV node: peak at −25, trough at +40 km/s."""
    rng = np.random.default_rng(0)
    rv = rng.uniform(-150, 150, 20_000)
    centre, width = 7.5, 32.5
    node = -2.5 * np.exp(0.5) * (rv - centre) / width * np.exp(-0.5 * ((rv - centre) / width) ** 2)
    node += rng.normal(0, 0.05, rv.size)
    window = monotonic_window(rv, node, bin_width=5.0)
    assert window.direction == -1
    assert window.low == pytest.approx(-25.0, abs=5.0) and window.high == pytest.approx(40.0, abs=5.0)
    assert window.slope < 0
    with pytest.raises(TooFewBinsError, match="10 finite .* fewer than the 15"):
        monotonic_window(rv[:10], node[:10], bin_width=5.0)
    with pytest.raises(TooFewBinsError, match="2 of the 2 bins of 200 .* narrow bin_width"):  # wider than the span
        monotonic_window(rv, node, bin_width=200.0)
    with pytest.raises(TooFewBinsError, match="0 of the 60 bins of 5 .* widen bin_width"):  # too few points per bin
        monotonic_window(rv[:40], node[:40], bin_width=5.0, min_count=5)


def test_doppler_sweep_measures_the_velocity_a_node_encodes():
    """A decoder whose node 1 is the star's RV (km/s): the sweep spans the 2nd–98th percentile of the values
    the node takes, and each decoded spectrum is shifted by (value − the code's own value), within 0.5 km/s
    on the 0.08 Å grid (on the 0.4 Å grid, shifts of ~60 km/s can lock onto a wrong correlation peak)."""
    grid = Grid(8)
    fixed = dict(teff=5_200.0, vsini=2.0, berv=0.0, airmass=1.0, pwv=2.0, snr=100.0, mjd=55_000.0)

    def decoder(codes):  # (m, 3) → (m, 1, n_pix): one star observed at RV = codes[:, 1], all else fixed
        rvs = codes[:, 1].tolist()
        star = SyntheticSurvey.single_star(grid, len(rvs), rv=rvs, **fixed)
        return star.render(np.arange(len(rvs)), noise=False)[:, None, :]

    valid = grid.mask & (grid.wavelength > 4_500) & (grid.wavelength < 6_200)  # no tellurics
    node_values = np.linspace(-50.0, 50.0, 101)  # percentiles 2 and 98: −48 and +48 km/s
    sweep = doppler_sweep(decoder, np.array([0.3, 10.0, -1.0]), 1, node_values, grid.wavelength, valid, steps=5)
    np.testing.assert_allclose(sweep.values, [-48.0, -24.0, 0.0, 24.0, 48.0])
    np.testing.assert_allclose(sweep.shifts, sweep.values - 10.0, atol=0.5)
    assert sweep.span == pytest.approx(96.0, abs=1.0)


def test_a_node_that_rises_then_falls_turns_at_the_window_end_beyond_its_band():
    """Node = tent of RV peaking at +40 km/s (+ small noise): the monotonic window around 0 rises up to the bin
    holding the peak; the next bin falls by ≈ 0.2, far beyond a bootstrap half width of ≈ 0.003, so the high
    end turns."""
    from specae.analysis.traversal import median_band, monotonic_window, turning_ends

    rng = np.random.default_rng(0)
    rv = rng.uniform(-100, 100, 4000)
    node = 1 - np.abs(rv - 40) / 50 + rng.normal(0, 0.02, rv.size)
    window = monotonic_window(rv, node, bin_width=10.0)
    band = median_band(rv, node, window.centres, 10.0, n_bootstrap=100)
    assert window.direction == 1 and window.high == 45.0 and window.low == -95.0  # the bin 40–50 holds the peak
    assert band.half_width.max() < 0.01
    assert turning_ends(window, band) == ["high"]  # the low end is the data's edge, not a turn
    flat = median_band(rv, node + 10 * (rv > 40) * (rv - 40) / 50, window.centres, 10.0, n_bootstrap=50)
    assert turning_ends(window, flat) == []  # keeps rising past the window: no turn


def test_a_turn_within_the_2_sigma_band_is_no_turn():
    """Study II's C6 band spans 2.5–97.5 % of the bootstrap medians, about twice the 1σ band's width for Gaussian
    scatter: a node whose last bin drops 1.5 × the 1σ half width below the one before turns at 1σ and not at 2σ.
    The drop is set from the measured 1σ band, so the test does not depend on its value."""
    from specae.analysis.traversal import BAND_2_SIGMA, MedianBand, MonotonicWindow, median_band, turning_ends

    rng = np.random.default_rng(1)
    rv = rng.uniform(-100, 100, 2000)
    node = rv / 100 + rng.normal(0, 0.3, rv.size)
    centres = np.arange(-90.0, 100.0, 20.0)
    one = median_band(rv, node, centres, 20.0, n_bootstrap=400)
    two = median_band(rv, node, centres, 20.0, n_bootstrap=400, percentiles=BAND_2_SIGMA)
    assert np.all(two.half_width > 1.5 * one.half_width)
    medians = one.medians.copy()
    medians[-1] = medians[-2] - 1.5 * max(one.half_width[-2:])
    rising = MonotonicWindow(low=float(centres[0]), high=float(centres[-2]), slope=0.01, direction=1, centres=centres,
                             medians=medians)
    assert turning_ends(rising, MedianBand(centres, medians, one.half_width)) == ["high"]
    assert turning_ends(rising, MedianBand(centres, medians, two.half_width)) == []
