"""The differentiable Doppler shift (specae.model.doppler): where a shifted line lands, how far linear
interpolation is off, its gradients, and what happens outside the rest grid or with bad inputs.

Grids are windows of the study preset's lattice (0.04 Å pixels, ≈ 2.4 km/s near 5,000 Å), a few hundred pixels
long so that each test takes milliseconds. Error bounds for linear interpolation: between two samples h apart
the error is at most h²/8·max|f''| (the remainder of the linear Lagrange interpolant), and a Gaussian line of
depth d and width σ has max|f''| = d/σ² (at its centre), so a line of σ pixels is interpolated to d/(8σ²).
"""

import math

import numpy as np
import pytest
import torch

from specae.constants import SPEED_OF_LIGHT_KMS
from specae.model.doppler import RestGrid, doppler_shift, smallest_length
from specae.spectra.grid import Grid

STEP = 0.04  # Å, the study preset's pixel
OBSERVED = Grid.window(4_959.99, 400, 4)  # 4,959.99–4,975.95 Å
DEPTH = 0.6


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """One torch thread: the tensors are small, and two cores are busy elsewhere."""


def absorption(wavelength: np.ndarray, centre: float, sigma_angstrom: float) -> np.ndarray:
    """(n,) float64 continuum 1 with one Gaussian line of depth DEPTH at ``centre`` Å."""
    return 1 - DEPTH * np.exp(-0.5 * ((wavelength - centre) / sigma_angstrom) ** 2)


def interpolation_bound(sigma_pixels: float) -> float:
    """The largest linear-interpolation error of a Gaussian line of σ pixels: h²/8 · d/σ² with h = 1 pixel."""
    return DEPTH / (8 * sigma_pixels**2)


def test_zero_velocity_copies_the_observed_pixels_of_the_rest_grid():
    # At v = 0 every observed pixel sits on a rest pixel (same lattice): (λ − start)/step is an integer up to
    # ~10⁻¹¹ pixel of float64 rounding, which doppler_shift snaps away, so the lerp weight is exactly 0 and the
    # copy is exact in both precisions.
    rest = RestGrid.covering(OBSERVED, 30.0)
    for dtype, tolerance in ((torch.float64, 0.0), (torch.float32, 0.0)):
        flux = torch.rand(3, 1, rest.n_pixels, dtype=dtype, generator=torch.Generator().manual_seed(0))
        shifted = rest.shift(flux, torch.zeros(3, dtype=dtype))
        assert shifted.flux.shape == (3, 1, OBSERVED.n_pixels) and shifted.flux.dtype == dtype
        assert shifted.inside.all()
        torch.testing.assert_close(shifted.flux, flux[..., rest.observed_slice], rtol=0, atol=tolerance)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("sigma_pixels", [2.0, 3.0, 5.0])
def test_a_shifted_line_lands_on_the_analytic_line_within_the_interpolation_bound(sigma_pixels, dtype):
    rest = RestGrid.covering(OBSERVED, 60.0)
    centre, velocity = 4_968.0, torch.tensor([31.0, -17.3, 44.4])  # shifts of ≈ 12.9, −7.2, 18.5 pixels
    template = torch.as_tensor(absorption(rest.wavelength, centre, sigma_pixels * STEP), dtype=dtype)
    shifted = rest.shift(template.expand(3, -1), velocity.to(dtype))
    # The analytic observed spectrum is the rest line at λ/(1 + β): centred on λ0·(1 + β), σ stretched by 1 + β.
    factor = 1 + velocity.double().numpy()[:, None] / SPEED_OF_LIGHT_KMS
    expected = absorption(OBSERVED.wavelength[None, :] / factor, centre, sigma_pixels * STEP)
    error = np.abs(shifted.flux.double().numpy() - expected).max()
    # Bound: d/(8σ²) (the module docstring); float32 adds ~10⁻⁷ rounding of the flux and ~10⁻⁶ pixel of the
    # positions (10⁻⁷ of an 18-pixel shift) times the slope (≤ 0.15 per pixel), well inside 10⁻⁵. Measured (both
    # precisions): 0.0169, 0.0078, 0.0028 against bounds of 0.0188, 0.0083, 0.0030; the lower limit (half the
    # bound) shows that the test sees the interpolation error at all (the 44.4 km/s shift, 18.5 pixels, samples
    # the rest grid near half pixels, one a quarter pixel from the line centre: 0.9 of the bound).
    bound = interpolation_bound(sigma_pixels)
    assert shifted.inside.all()
    assert 0.5 * bound < error <= bound + (1e-5 if dtype == torch.float32 else 1e-12)


def test_shifting_by_v_then_minus_v_returns_the_spectrum_within_twice_the_bound():
    # Each shift errs by at most B = d/(8σ²), and the second one interpolates the first's error with weights
    # summing to one, so the round trip errs by ≤ 2B, plus the classical factor's (1 + β)(1 − β) = 1 − β²:
    # a move of β²·λ/h pixels (2·10⁻³ at 37 km/s) times the line's largest slope d/(σ√e).
    sigma_pixels, velocity = 2.5, 37.0
    rest = RestGrid.covering(OBSERVED, 100.0)  # 42 pixels of padding each side, ≥ twice the 15-pixel shift
    template = torch.as_tensor(absorption(rest.wavelength, 4_967.3, sigma_pixels * STEP))[None]
    there = doppler_shift(template, rest.start_angstrom, STEP, torch.tensor([velocity]).double(), rest.wavelength)
    back = doppler_shift(there.flux, rest.start_angstrom, STEP, torch.tensor([-velocity]).double(),
                         rest.observed_wavelength)
    assert back.inside.all()
    error = (back.flux - template[:, rest.observed_slice]).abs().max().item()
    beta = velocity / SPEED_OF_LIGHT_KMS
    drift = beta**2 * rest.wavelength.max() / STEP * DEPTH / (sigma_pixels * math.sqrt(math.e))
    assert error <= 2 * interpolation_bound(sigma_pixels) + drift  # measured 0.0196 against 0.0243


def test_gradcheck_in_both_inputs_at_shifts_away_from_pixel_boundaries():
    # Linear interpolation is smooth in v between pixel boundaries, and linear in the flux everywhere; the
    # finite differences of gradcheck (10⁻⁶ km/s ≈ 4·10⁻⁷ pixel) stay inside a pixel when the fractional
    # positions are ≥ 0.1 from an integer, which the test asserts first.
    start, observed = 5_000.0, 5_000.0 + STEP * (10 + np.arange(20))
    shift_pixels = np.array([3.4, -2.7])
    velocity = torch.tensor(shift_pixels * STEP / 5_000.0 * SPEED_OF_LIGHT_KMS, requires_grad=True)
    positions = (observed[None, :] / (1 + velocity.detach().numpy()[:, None] / SPEED_OF_LIGHT_KMS) - start) / STEP
    assert np.abs(positions - np.round(positions)).min() > 0.1
    flux = torch.rand(2, 1, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    assert torch.autograd.gradcheck(lambda f, v: doppler_shift(f, start, STEP, v, observed).flux, (flux, velocity))


@pytest.mark.parametrize("offset_kms", [2.0, -2.0])
def test_one_gradient_step_moves_the_velocity_toward_the_truth(offset_kms):
    # The L1 between the shifted template and the target falls as v nears v_true: its gradient at v_true ± 2 km/s
    # (≈ 0.8 pixel, inside the line's σ = 2.5 pixels) points away from v_true, so a step against it gets closer.
    rest, v_true = RestGrid.covering(OBSERVED, 60.0), 12.0
    template = torch.as_tensor(absorption(rest.wavelength, 4_968.0, 2.5 * STEP))[None]
    target = torch.as_tensor(absorption(OBSERVED.wavelength / (1 + v_true / SPEED_OF_LIGHT_KMS), 4_968.0, 0.1))

    def loss(velocity):
        return (rest.shift(template, velocity).flux[0] - target).abs().mean()

    velocity = torch.tensor([v_true + offset_kms], dtype=torch.float64, requires_grad=True)
    before = loss(velocity)
    (gradient,) = torch.autograd.grad(before, velocity)
    assert math.copysign(1, gradient.item()) == math.copysign(1, offset_kms)
    after_velocity = velocity.detach() - 0.5 / gradient.abs() * gradient  # a 0.5 km/s step against the gradient
    assert abs(after_velocity.item() - v_true) < abs(offset_kms)
    assert loss(after_velocity) < before


def test_a_batch_equals_shifting_each_spectrum_alone():
    # Each output row depends on its own flux row and velocity alone, through the same elementwise operations.
    rest = RestGrid.covering(OBSERVED, 80.0)
    flux = torch.rand(4, rest.n_pixels, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    velocity = torch.tensor([-71.3, -0.4, 9.9, 80.0], dtype=torch.float64)
    batch = rest.shift(flux, velocity)
    assert batch.flux.shape == batch.inside.shape == (4, OBSERVED.n_pixels)
    alone = torch.cat([rest.shift(flux[i : i + 1], velocity[i : i + 1]).flux for i in range(4)])
    torch.testing.assert_close(batch.flux, alone, rtol=0, atol=1e-12)


@pytest.mark.parametrize("grid", [OBSERVED, Grid.window(6_500.0, 300, 1), Grid()], ids=["study", "red", "paper"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_rest_grid_covers_v_max_with_the_fewest_whole_pixels(grid, dtype):
    # Every observed pixel at ±v_max samples inside (the padding is the exact need plus 10⁻³ pixel, and float32
    # positions err by ~10⁻⁷ of the shift: 4·10⁻⁵ pixel for the paper grid's 345 pixels at 150 km/s); one pixel
    # less of padding would not cover v_max, so RestGrid.v_max_kms exceeds it by less than a pixel's velocity.
    v_max = 150.0
    rest = RestGrid.covering(grid, v_max)
    flux = torch.zeros(2, rest.n_pixels, dtype=dtype)
    assert rest.shift(flux, torch.tensor([v_max, -v_max], dtype=dtype)).inside.all()
    pixel_kms = SPEED_OF_LIGHT_KMS * grid.step_angstrom / grid.wavelength[-1]
    assert v_max <= rest.v_max_kms < v_max + pixel_kms
    np.testing.assert_allclose(rest.observed_wavelength, grid.wavelength, rtol=0, atol=1e-9)


def test_a_decoder_length_pads_both_ends_and_a_too_short_one_is_refused():
    needed = RestGrid.covering(OBSERVED, 200.0)
    assert smallest_length(needed.n_pixels, 512) == 512 * math.ceil(needed.n_pixels / 512)
    assert smallest_length(512, 512) == 512 and smallest_length(513, 512) == 1_024 and smallest_length(7, 1) == 7
    rounded = RestGrid.covering(OBSERVED, 200.0, multiple=512)
    assert rounded.n_pixels == 1_024 and rounded.n_pixels % 512 == 0
    extra = rounded.n_pixels - needed.n_pixels
    assert rounded.pad_left - needed.pad_left == extra // 2
    assert rounded.pad_right - needed.pad_right == extra - extra // 2
    exact = RestGrid.covering(OBSERVED, 200.0, n_pixels=needed.n_pixels + 3)
    assert (exact.pad_left, exact.pad_right) == (needed.pad_left + 1, needed.pad_right + 2)
    with pytest.raises(ValueError, match=f"needs ≥ {needed.n_pixels} rest pixels.*smallest_length"):
        RestGrid.covering(OBSERVED, 200.0, n_pixels=needed.n_pixels - 1)
    for bad in ((0, 512), (100, 0)):
        with pytest.raises(ValueError, match="positive integer"):
            smallest_length(*bad)


def test_samples_outside_the_rest_grid_take_the_edge_value_and_are_flagged():
    rest = RestGrid.covering(OBSERVED, 20.0)
    flux = torch.rand(2, rest.n_pixels, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    velocity = torch.tensor([90.0, -90.0], dtype=torch.float64, requires_grad=True)
    shifted = rest.shift(flux, velocity)
    # Independently: λ_rest = λ/(1 + β) in pixels of the rest grid; none lies within 0.01 pixel of an edge here.
    position = (OBSERVED.wavelength[None, :] / (1 + velocity.detach().numpy()[:, None] / SPEED_OF_LIGHT_KMS)
                - rest.start_angstrom) / STEP
    expected_inside = (position >= 0) & (position <= rest.n_pixels - 1)
    assert np.abs(position - np.clip(position, 0, rest.n_pixels - 1)).min(where=~expected_inside, initial=1) > 0.01
    np.testing.assert_array_equal(shifted.inside.numpy(), expected_inside)
    blue, red = ~shifted.inside[0], ~shifted.inside[1]
    assert 20 < blue.sum() < 40 and 20 < red.sum() < 40  # ≈ 28 pixels beyond the padding, no wrap to the far end
    assert (shifted.flux[0, blue] == flux[0, 0]).all() and (shifted.flux[1, red] == flux[1, -1]).all()
    (gradient,) = torch.autograd.grad(shifted.flux[0, blue].sum() + shifted.flux[1, red].sum(), velocity)
    assert (gradient == 0).all()


@pytest.mark.parametrize(("flux_shape", "velocity", "message"), [
    ((2, 50), [1.0, 2.0, 3.0], "one velocity per rest spectrum"),
    ((2, 1, 50), [1.0], "one velocity per rest spectrum"),
    ((2, 50), [1.0, math.nan], "finite.*bound it"),
    ((2, 50), [math.inf, 0.0], "finite.*bound it"),
    ((2, 50), [0.0, -SPEED_OF_LIGHT_KMS], "< c"),
    ((2, 2, 50), [1.0, 2.0], "one channel at a time"),
    ((2, 1), [1.0, 2.0], "≥ 2 pixels"),
])
def test_bad_inputs_are_refused_naming_the_problem(flux_shape, velocity, message):
    with pytest.raises(ValueError, match=message):
        doppler_shift(torch.ones(flux_shape), 5_000.0, STEP, torch.tensor(velocity), 5_000.0 + STEP * np.arange(30))


def test_bad_grids_are_refused_naming_the_problem():
    flux, velocity = torch.ones(1, 50), torch.zeros(1)
    with pytest.raises(ValueError, match="1-D"):
        doppler_shift(flux, 5_000.0, STEP, velocity, np.ones((2, 3)))
    with pytest.raises(ValueError, match="positive rest-grid pixel width"):
        doppler_shift(flux, 5_000.0, 0.0, velocity, np.ones(3))
    with pytest.raises(ValueError, match="increase linearly"):
        RestGrid.covering(np.geomspace(5_000.0, 5_100.0, 300), 10.0)
    with pytest.raises(ValueError, match="v_max_kms"):
        RestGrid.covering(OBSERVED, -1.0)
