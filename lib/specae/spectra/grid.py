"""The HARPS analysis grid: wavelengths, padding and the CCD-gap mask, at full or rebinned resolution.

The released network sees 327,680 samples: the 312,501 native ADP pixels over 3785–6910 Å at 0.01 Å,
zero-padded by 7,589 pixels on the left and 7,590 on the right, with the gap between the blue and red
CCDs (indices 159,453–162,893, ≈ 5303.6–5338.0 Å) masked. These constants come from the authors' released
inference code; the first author's later project and later re-analyses use the same ones. Coarser grids
for small presets average ``factor`` neighbouring pixels; a coarse pixel is valid only when all the
fine pixels it holds are valid, so the mask is rebinned consistently with the flux.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

WAVELENGTH_MIN_ANGSTROM = 3785.0
WAVELENGTH_MAX_ANGSTROM = 6910.0
PIXEL_STEP_ANGSTROM = 0.01
N_REAL_PIXELS = 312_501
PAD_LEFT_PIXELS = 7_589
PAD_RIGHT_PIXELS = 7_590
N_PADDED_PIXELS = 327_680  # 20 × 2**14
PADDED_START_ANGSTROM = 3709.11  # wavelength of padded index 0
CCD_GAP_INDICES = (159_453, 162_893)  # inclusive, in the padded full-resolution grid
_WAVELENGTH_TOLERANCE_ANGSTROM = 1e-5
_WINDOW = f"{WAVELENGTH_MIN_ANGSTROM:.0f}–{WAVELENGTH_MAX_ANGSTROM:.0f} Å"


@dataclass(frozen=True)
class Grid:
    """The padded HARPS grid averaged over ``factor`` fine pixels (``factor=1`` is the paper's grid).

    ``factor`` must divide 327,680 = 2**16 × 5, e.g. 1, 2, 4, 5, 8, 10, 16, 20, 40, 80, 160, 320.
    """

    factor: int = 1

    def __post_init__(self):
        if not isinstance(self.factor, int) or self.factor < 1 or N_PADDED_PIXELS % self.factor:
            raise ValueError(
                f"grid factor {self.factor!r} must be a positive integer dividing {N_PADDED_PIXELS} "
                "(2**16 × 5), e.g. 1, 5, 10, 20, 40, 80, 160, 320"
            )

    @property
    def n_pixels(self) -> int:
        """Number of samples per spectrum on this grid."""
        return N_PADDED_PIXELS // self.factor

    @property
    def step_angstrom(self) -> float:
        """Pixel width in Å."""
        return PIXEL_STEP_ANGSTROM * self.factor

    @cached_property
    def wavelength(self) -> np.ndarray:
        """(n_pixels,) float64 air wavelength in Å at the centre of each (coarse) pixel."""
        fine = full_resolution_wavelength()
        return fine.reshape(self.n_pixels, self.factor).mean(axis=1)

    @cached_property
    def mask(self) -> np.ndarray:
        """(n_pixels,) bool: True on real pixels, False on padding and the CCD gap."""
        return full_resolution_mask().reshape(self.n_pixels, self.factor).all(axis=1)

    def mask_tensor(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """The mask as a (n_pixels,) bool tensor on ``device``."""
        return torch.as_tensor(self.mask, device=device)

    def rebin_flux(self, flux: torch.Tensor) -> torch.Tensor:
        """Average full-resolution flux onto this grid.

        flux: (..., 327,680) on the padded full-resolution grid. Returns (..., n_pixels).
        """
        if flux.shape[-1] != N_PADDED_PIXELS:
            raise ValueError(
                f"rebin_flux needs full-resolution spectra of {N_PADDED_PIXELS} pixels, got {flux.shape[-1]}"
            )
        return flux.reshape(*flux.shape[:-1], self.n_pixels, self.factor).mean(dim=-1)

    def check_length(self, n_pixels: int) -> None:
        """Raise a ValueError naming both lengths when ``n_pixels`` does not match this grid."""
        if n_pixels != self.n_pixels:
            raise ValueError(
                f"spectra have {n_pixels} pixels but this grid (factor {self.factor}) has {self.n_pixels}; "
                "rebin full-resolution spectra with Grid.rebin_flux or choose the preset whose grid matches"
            )


def full_resolution_wavelength() -> np.ndarray:
    """(327,680,) float64 wavelengths in Å of the padded paper grid: 3709.11 + 0.01·i."""
    return PADDED_START_ANGSTROM + PIXEL_STEP_ANGSTROM * np.arange(N_PADDED_PIXELS, dtype=np.float64)


def full_resolution_mask() -> np.ndarray:
    """(327,680,) bool artefact mask of the released code: False on padding and the CCD gap."""
    mask = np.zeros(N_PADDED_PIXELS, dtype=bool)
    mask[PAD_LEFT_PIXELS : PAD_LEFT_PIXELS + N_REAL_PIXELS] = True
    gap_start, gap_end = CCD_GAP_INDICES
    mask[gap_start : gap_end + 1] = False
    return mask


def place_on_grid(wavelength: np.ndarray, flux: np.ndarray) -> np.ndarray:
    """Put a native 0.01 Å HARPS spectrum onto the padded full-resolution grid by wavelength value.

    wavelength: (n,) Å, a 0.01 Å grid covering 3785–6910 Å (any start, e.g. ADP products start near 3781 Å).
    flux: (n,). Returns (327,680,) float32 with zeros outside 3785–6910 Å. Pixels are matched by
    wavelength value, never by index, since real products start at different wavelengths.
    NaN flux pixels are kept (normalisation masks them), but a window without any finite flux is refused.
    """
    wavelength = np.asarray(wavelength, dtype=np.float64)
    flux = np.asarray(flux)
    if wavelength.ndim != 1 or wavelength.shape != flux.shape:
        raise ValueError(f"wavelength {wavelength.shape} and flux {flux.shape} must be 1-D arrays of equal length")
    index = np.rint((wavelength - PADDED_START_ANGSTROM) / PIXEL_STEP_ANGSTROM).astype(np.int64)
    off_grid = np.abs(PADDED_START_ANGSTROM + PIXEL_STEP_ANGSTROM * index - wavelength) > _WAVELENGTH_TOLERANCE_ANGSTROM
    window = (index >= PAD_LEFT_PIXELS) & (index < PAD_LEFT_PIXELS + N_REAL_PIXELS)
    if np.any(off_grid & window):
        raise ValueError(
            "wavelengths are not on the 0.01 Å HARPS grid (multiples of 0.01 Å); "
            "resample the spectrum onto the grid before placing it"
        )
    taken = index[window]
    covered = np.count_nonzero(np.bincount(taken - PAD_LEFT_PIXELS, minlength=N_REAL_PIXELS))  # O(n), unlike unique
    if taken.size != N_REAL_PIXELS or covered != N_REAL_PIXELS:
        span = f"{wavelength.min():.2f}–{wavelength.max():.2f} Å" if wavelength.size else "no wavelengths"
        raise ValueError(
            f"the spectrum spans {span} and covers {covered} of the {N_REAL_PIXELS} grid pixels "
            f"of the {_WINDOW} window; it must cover that whole window once"
        )
    if not np.isfinite(flux[window]).any():
        raise ValueError(f"the flux has no finite value in {_WINDOW} (all NaN or infinite); "
                         "the product holds no usable spectrum, leave it out")
    placed = np.zeros(N_PADDED_PIXELS, dtype=np.float32)
    placed[taken] = flux[window]
    return placed
