"""The HARPS analysis grid, its mask, rebinning and placement by wavelength value."""

import numpy as np
import pytest
import torch

from specae.spectra.grid import (
    CCD_GAP_INDICES,
    N_PADDED_PIXELS,
    N_REAL_PIXELS,
    PAD_LEFT_PIXELS,
    Grid,
    full_resolution_mask,
    full_resolution_wavelength,
    place_on_grid,
)


def test_paper_grid_constants():
    wavelength, mask = full_resolution_wavelength(), full_resolution_mask()
    assert wavelength.shape == mask.shape == (327_680,)
    assert wavelength[PAD_LEFT_PIXELS] == pytest.approx(3785.0, abs=1e-9)
    assert wavelength[PAD_LEFT_PIXELS + N_REAL_PIXELS - 1] == pytest.approx(6910.0, abs=1e-9)
    assert (~mask).sum() == 18_620  # 7,589 + 3,441 + 7,590 masked pixels
    gap = np.flatnonzero(~mask[PAD_LEFT_PIXELS : PAD_LEFT_PIXELS + N_REAL_PIXELS]) + PAD_LEFT_PIXELS
    assert (gap[0], gap[-1]) == CCD_GAP_INDICES == (159_453, 162_893)
    assert wavelength[gap[0]] == pytest.approx(5303.64, abs=1e-6)
    assert wavelength[gap[-1]] == pytest.approx(5338.04, abs=1e-6)


@pytest.mark.parametrize("factor", [1, 5, 40, 320])
def test_rebinned_grid_is_consistent_with_the_fine_grid(factor):
    grid = Grid(factor)
    assert grid.n_pixels * factor == N_PADDED_PIXELS
    fine_mask = full_resolution_mask().reshape(-1, factor)
    np.testing.assert_array_equal(grid.mask, fine_mask.all(axis=1))
    coarse_wavelength = full_resolution_wavelength().reshape(-1, factor).mean(1)
    np.testing.assert_allclose(grid.wavelength, coarse_wavelength, rtol=0, atol=1e-9)
    # A mock spectrum whose flux equals its wavelength rebins to the coarse wavelengths exactly.
    flux = torch.as_tensor(full_resolution_wavelength())
    np.testing.assert_allclose(grid.rebin_flux(flux).numpy(), grid.wavelength, rtol=0, atol=1e-9)


@pytest.mark.parametrize("factor", [0, 3, -40, 7])
def test_grid_rejects_factors_that_do_not_divide_the_length(factor):
    with pytest.raises(ValueError, match="must be a positive integer dividing 327680"):
        Grid(factor)


def test_check_length_names_both_lengths():
    with pytest.raises(ValueError, match="1000 pixels but this grid .factor 40. has 8192"):
        Grid(40).check_length(1000)


@pytest.mark.parametrize("start", [3781.43, 3781.75, 3785.0])
def test_place_on_grid_matches_by_wavelength_value(start):
    # Real ADP products start at different wavelengths; the placed flux must not depend on it.
    n = int(round((6912.66 - start) / 0.01)) + 1
    wavelength = start + 0.01 * np.arange(n)
    placed = place_on_grid(wavelength, wavelength.astype(np.float32))
    grid_wavelength = full_resolution_wavelength()
    real = slice(PAD_LEFT_PIXELS, PAD_LEFT_PIXELS + N_REAL_PIXELS)
    # float32 rounding; one pixel off is 0.01
    np.testing.assert_allclose(placed[real], grid_wavelength[real].astype(np.float32), rtol=0, atol=1e-3)
    assert np.count_nonzero(placed) == N_REAL_PIXELS
    assert placed[: PAD_LEFT_PIXELS].sum() == placed[PAD_LEFT_PIXELS + N_REAL_PIXELS :].sum() == 0


def test_place_on_grid_refuses_off_grid_or_short_spectra():
    wavelength = 3781.005 + 0.01 * np.arange(313_200)
    with pytest.raises(ValueError, match="not on the 0.01 Å HARPS grid"):
        place_on_grid(wavelength, np.ones_like(wavelength))
    short = 4000.0 + 0.01 * np.arange(1000)
    with pytest.raises(ValueError, match="covers 1000 of the 312501 grid pixels"):
        place_on_grid(short, np.ones_like(short))
    with pytest.raises(ValueError, match="equal length"):
        place_on_grid(short, np.ones(10))


def test_a_window_is_a_slice_of_the_lattice_on_the_whole_grids_bins():
    window = Grid.window(4960.0, 8192, 4)
    assert window.start_pixel % 4 == 0 and window.n_pixels == 8192 and window.step_angstrom == 0.04
    first = window.start_pixel // 4
    np.testing.assert_array_equal(window.wavelength, Grid(4).wavelength[first : first + 8192])
    np.testing.assert_array_equal(window.mask, Grid(4).mask[first : first + 8192])
    assert window.describe() == "factor 4, 4959.99–5287.66 Å"
    # 0.04 Å at the median wavelength 5123.8 Å: 0.04 / 5123.8 × c = 2.34 km/s
    assert window.velocity_step_kms == pytest.approx(0.04 / np.median(window.wavelength) * 299_792.458, rel=1e-12)
    assert 2.3 < window.velocity_step_kms < 2.4
    flux = torch.as_tensor(full_resolution_wavelength())
    np.testing.assert_allclose(window.rebin_flux(flux).numpy(), window.wavelength, rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="must lie inside the 327680 pixels"):
        Grid(4, start_pixel=327_000, fine_pixels=4_096)
