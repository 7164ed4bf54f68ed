"""Median normalisation: masked pixels, non-finite flux and the degenerate rule."""

import numpy as np
import pytest
import torch

from specae.spectra.normalisation import median_normalise


def _spectra(n=4, n_pix=1001, seed=0):
    generator = torch.Generator().manual_seed(seed)
    flux = 500 + 2000 * torch.rand(n, n_pix, generator=generator)
    mask = torch.ones(n_pix, dtype=torch.bool)
    mask[:100] = False
    mask[500:550] = False
    return flux, mask


def test_valid_pixels_have_median_one_and_masked_pixels_do_not_move_it():
    flux, mask = _spectra()
    result = median_normalise(flux, mask)
    for row, valid in zip(result.flux, result.mask, strict=True):
        assert torch.median(row[valid]).item() == pytest.approx(1.0, abs=1e-6)
    # Put absurd values in the masked pixels: nothing changes on the valid ones.
    poisoned = flux.clone()
    poisoned[:, ~mask] = 1e9
    again = median_normalise(poisoned, mask)
    torch.testing.assert_close(again.flux, result.flux, rtol=0, atol=0)
    torch.testing.assert_close(again.scale, result.scale, rtol=0, atol=0)
    assert (result.flux[:, ~mask] == 0).all() and not result.mask[:, ~mask].any()


def test_masked_as_zero_variant_reproduces_the_released_inference_script():
    flux, mask = _spectra(n=3, n_pix=2001)
    mask[:900] = False  # enough zeros to pull the median well below the valid-pixel one
    released = median_normalise(flux, mask, variant="masked_as_zero")
    expected = np.median((flux * mask).numpy(), axis=1)
    # torch.median takes the lower middle value of an even count; 2001 is odd, so the two agree exactly.
    np.testing.assert_allclose(released.scale.numpy(), expected, rtol=1e-6)
    assert (released.scale < median_normalise(flux, mask).scale).all()


def test_non_finite_flux_is_masked_not_propagated():
    flux, mask = _spectra(n=2)
    flux[0, 200] = float("nan")
    flux[0, 300] = float("inf")
    flux[1, 400] = -float("inf")
    result = median_normalise(flux, mask)
    assert torch.isfinite(result.flux).all()
    assert not result.mask[0, 200] and not result.mask[0, 300] and not result.mask[1, 400]
    assert result.mask[0, 201] and not result.degenerate.any()


def test_degenerate_spectra_are_flagged_zeroed_and_never_divided():
    flux, mask = _spectra(n=4)
    flux[1] = 30.0  # median 30 ≤ 50 ADU
    flux[2] = float("nan")  # no finite pixel at all
    flux[3] = -5.0
    result = median_normalise(flux, mask, threshold=50.0)
    assert result.degenerate.tolist() == [False, True, True, True]
    assert (result.flux[1:] == 0).all() and not result.mask[1:].any()
    assert torch.isnan(result.scale[1:]).all() and torch.isfinite(result.scale[0])
    # With a threshold below 30 the second spectrum is kept.
    assert median_normalise(flux, mask, threshold=20.0).degenerate.tolist() == [False, False, True, True]


def test_bad_arguments_name_the_problem():
    flux, mask = _spectra()
    with pytest.raises(ValueError, match="unknown median variant 'mean'"):
        median_normalise(flux, mask, variant="mean")
    with pytest.raises(ValueError, match="mask has 10 pixels but flux has 1001"):
        median_normalise(flux, mask[:10])
    with pytest.raises(ValueError, match="batch size 0"):
        median_normalise(flux[:0], mask)


def test_normalised_with_nan_marks_masked_pixels():
    from specae.spectra.normalisation import normalised_with_nan
    flux = torch.tensor([100.0, 200.0, 300.0, 0.0])
    mask = torch.tensor([True, True, True, False])
    out = normalised_with_nan(flux, mask)
    assert out[:3].tolist() == [0.5, 1.0, 1.5] and torch.isnan(out[3])
