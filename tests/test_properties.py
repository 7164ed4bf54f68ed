"""Property-based tests (hypothesis): on arbitrary input the FITS reader, the grid placement and the
median normalisation either succeed with clean output or raise their documented error, never another."""

import io

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from specae.io.fits import HarpsSpectrum, ProductError, read_spectrum, write_adp
from specae.spectra.grid import (
    N_PADDED_PIXELS,
    N_REAL_PIXELS,
    PAD_LEFT_PIXELS,
    PADDED_START_ANGSTROM,
    PIXEL_STEP_ANGSTROM,
    place_on_grid,
)
from specae.spectra.normalisation import MEDIAN_VARIANTS, median_normalise

any_float = st.floats(allow_nan=True, allow_infinity=True, width=32)


@given(data=st.data(), batch=st.integers(1, 3), n_pix=st.integers(1, 48), variant=st.sampled_from(MEDIAN_VARIANTS),
       threshold=st.floats(-10, 100))
def test_normalisation_never_emits_nan_or_unmasks_bad_pixels(data, batch, n_pix, variant, threshold):
    flux = data.draw(arrays(np.float32, (batch, n_pix), elements=any_float))
    mask = data.draw(arrays(np.bool_, (n_pix,)))
    out = median_normalise(torch.from_numpy(flux), torch.from_numpy(mask), threshold=threshold, variant=variant)
    assert torch.isfinite(out.flux).all()
    assert not (out.mask & ~torch.from_numpy(mask & np.isfinite(flux))).any()  # never unmasks padding or NaN
    assert (out.flux[~out.mask] == 0).all()
    assert (out.degenerate == torch.isnan(out.scale)).all()
    assert not out.mask[out.degenerate].any()
    finite_scale = out.scale[~out.degenerate]
    assert (finite_scale > threshold).all()


@given(offset=st.integers(-40, 40), extra=st.integers(-3, 40),
       nan_at=st.lists(st.integers(0, N_REAL_PIXELS - 1), max_size=5),
       jitter=st.sampled_from([0.0, 0.0, 2e-5, 0.004]), reverse=st.booleans())
def test_grid_placement_matches_by_wavelength_or_refuses(offset, extra, nan_at, jitter, reverse):
    """A 0.01 Å spectrum starting ``offset`` pixels from the window, ``extra`` pixels longer than needed."""
    start = PAD_LEFT_PIXELS + offset
    n = N_REAL_PIXELS - offset + extra
    index = start + np.arange(n)
    wavelength = PADDED_START_ANGSTROM + PIXEL_STEP_ANGSTROM * index + jitter
    flux = (1000.0 + (index % 97)).astype(np.float32)
    flux[np.asarray(nan_at, dtype=int) % n] = np.nan
    if reverse:
        wavelength, flux = wavelength[::-1].copy(), flux[::-1].copy()
    should_refuse = jitter > 1e-5 or offset > 0 or extra < 0  # off the lattice, or the window not covered
    try:
        placed = place_on_grid(wavelength, flux)
    except ValueError as error:
        assert should_refuse, error
        assert "0.01 Å HARPS grid" in str(error) or "grid pixels" in str(error)
        return
    assert not should_refuse
    assert placed.shape == (N_PADDED_PIXELS,) and placed.dtype == np.float32
    window = slice(PAD_LEFT_PIXELS, PAD_LEFT_PIXELS + N_REAL_PIXELS)
    expected = (1000.0 + (np.arange(PAD_LEFT_PIXELS, PAD_LEFT_PIXELS + N_REAL_PIXELS) % 97)).astype(np.float32)
    nan = np.isnan(placed[window])
    assert np.array_equal(placed[window][~nan], expected[~nan])  # matched by value, not by position
    assert nan.sum() <= len(nan_at)  # NaN only where the input had it
    assert not placed[: PAD_LEFT_PIXELS].any() and not placed[PAD_LEFT_PIXELS + N_REAL_PIXELS :].any()


def _small_adp() -> bytes:
    wavelength = 5000.0 + 0.01 * np.arange(600)
    flux = (1000 + 50 * np.sin(wavelength)).astype(np.float32)
    spectrum = HarpsSpectrum(wavelength=wavelength, flux=flux, error=np.sqrt(flux), meta=dict(object="TEST"))
    buffer = io.BytesIO()
    write_adp(buffer, spectrum)
    return buffer.getvalue()


ADP_BYTES = _small_adp()


@given(cuts=st.lists(st.tuples(st.integers(0, len(ADP_BYTES) - 1), st.binary(min_size=1, max_size=64)), max_size=4),
       truncate=st.one_of(st.none(), st.integers(0, len(ADP_BYTES))))
@example(cuts=[(30, b"\x00")], truncate=None)  # SIMPLE card unparsable: astropy keeps a bare "corrupted" HDU
def test_reader_on_damaged_files_raises_only_product_errors(tmp_path_factory, cuts, truncate):
    content = bytearray(ADP_BYTES)
    for position, patch in cuts:
        content[position : position + len(patch)] = patch
    if truncate is not None:
        content = content[:truncate]
    path = tmp_path_factory.mktemp("damaged") / "file.fits"
    path.write_bytes(bytes(content))
    try:
        spectrum = read_spectrum(path)
    except ProductError as error:
        assert str(path) in str(error) or path.name in str(error)
        return
    assert np.all(np.isfinite(spectrum.wavelength)) and np.all(np.diff(spectrum.wavelength) > 0)
    assert spectrum.flux.shape == spectrum.wavelength.shape


@given(content=st.binary(max_size=6000))
def test_reader_on_arbitrary_bytes_raises_only_product_errors(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("noise") / "file.fits"
    path.write_bytes(content)
    with pytest.raises(ProductError):
        read_spectrum(path)
