"""The HARPS analysis grid: wavelengths, padding and the CCD-gap mask, at full or rebinned resolution.

The released network sees 327,680 samples: the 312,501 native ADP pixels over 3785–6910 Å at 0.01 Å,
zero-padded by 7,589 pixels on the left and 7,590 on the right, with the gap between the blue and red
CCDs (indices 159,453–162,893, ≈ 5303.6–5338.0 Å) masked. These constants come from the authors' released
inference code; the first author's later project and later re-analyses use the same ones. Coarser grids
for small presets average ``factor`` neighbouring pixels; a coarse pixel is valid only when all the
fine pixels it holds are valid, so the mask is rebinned consistently with the flux. A grid may also
cover a window of the lattice (``start_pixel``, ``fine_pixels``): the study preset sees 32,768 fine
pixels from 4,959.99 Å binned by 4, keeping the paper's velocity resolution on a laptop budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from specae.constants import SPEED_OF_LIGHT_KMS

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
    """``fine_pixels`` of the padded HARPS lattice from ``start_pixel``, averaged over ``factor`` fine pixels.

    The default is the paper's whole 327,680-sample grid (``factor=1``); ``factor`` must divide
    ``fine_pixels``, e.g. 1, 2, 4, 5, 8, 10, 16, 20, 40, 80, 160, 320 for the whole grid (2**16 × 5).
    """

    factor: int = 1
    start_pixel: int = 0
    fine_pixels: int = N_PADDED_PIXELS

    def __post_init__(self):
        for name in ("factor", "start_pixel", "fine_pixels"):
            if not isinstance(getattr(self, name), int | np.integer):
                raise ValueError(f"grid {name} must be an integer, got {getattr(self, name)!r}")
        if not 0 <= self.start_pixel < self.start_pixel + self.fine_pixels <= N_PADDED_PIXELS:
            raise ValueError(
                f"grid window of {self.fine_pixels} fine pixels from {self.start_pixel} must lie inside the "
                f"{N_PADDED_PIXELS} pixels of the padded lattice"
            )
        if self.factor < 1 or self.fine_pixels % self.factor:
            raise ValueError(
                f"grid factor {self.factor!r} must be a positive integer dividing {self.fine_pixels} "
                f"(the window's fine pixels), e.g. 1, 5, 10, 20, 40, 80, 160, 320 for the whole grid"
            )

    @classmethod
    def window(cls, start_angstrom: float, n_pixels: int, factor: int) -> Grid:
        """``n_pixels`` samples of ``factor`` fine pixels each, starting at the bin of the whole ``Grid(factor)``
        nearest to ``start_angstrom`` (so the window's samples are samples of that grid)."""
        start = factor * round((start_angstrom - PADDED_START_ANGSTROM) / (PIXEL_STEP_ANGSTROM * factor))
        return cls(factor=factor, start_pixel=start, fine_pixels=n_pixels * factor)

    @property
    def is_whole(self) -> bool:
        """True when the grid covers the whole padded lattice (no window)."""
        return self.start_pixel == 0 and self.fine_pixels == N_PADDED_PIXELS

    @property
    def n_pixels(self) -> int:
        """Number of samples per spectrum on this grid."""
        return self.fine_pixels // self.factor

    @property
    def step_angstrom(self) -> float:
        """Pixel width in Å."""
        return PIXEL_STEP_ANGSTROM * self.factor

    @property
    def velocity_step_kms(self) -> float:
        """Pixel width in km/s at the grid's median wavelength."""
        return self.step_angstrom / float(np.median(self.wavelength)) * SPEED_OF_LIGHT_KMS

    @property
    def start_angstrom(self) -> float:
        """Wavelength (Å) of the window's first fine pixel."""
        return PADDED_START_ANGSTROM + PIXEL_STEP_ANGSTROM * self.start_pixel

    @property
    def fine_slice(self) -> slice:
        """The window's fine pixels as a slice of the padded lattice."""
        return slice(self.start_pixel, self.start_pixel + self.fine_pixels)

    @cached_property
    def wavelength(self) -> np.ndarray:
        """(n_pixels,) float64 air wavelength in Å at the centre of each (coarse) pixel."""
        fine = full_resolution_wavelength()[self.fine_slice]
        return fine.reshape(self.n_pixels, self.factor).mean(axis=1)

    @cached_property
    def mask(self) -> np.ndarray:
        """(n_pixels,) bool: True on real pixels, False on padding and the CCD gap."""
        return np.all(full_resolution_mask()[self.fine_slice].reshape(self.n_pixels, self.factor), axis=1)

    def mask_tensor(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """The mask as a (n_pixels,) bool tensor on ``device``."""
        return torch.as_tensor(self.mask, device=device)

    def rebin_flux(self, flux: torch.Tensor) -> torch.Tensor:
        """Cut this grid's window out of full-resolution flux and average it onto this grid.

        flux: (..., 327,680) on the padded full-resolution grid. Returns (..., n_pixels).
        """
        if flux.shape[-1] != N_PADDED_PIXELS:
            raise ValueError(
                f"rebin_flux needs full-resolution spectra of {N_PADDED_PIXELS} pixels, got {flux.shape[-1]}"
            )
        window = flux if self.is_whole else flux[..., self.fine_slice]
        return window.reshape(*flux.shape[:-1], self.n_pixels, self.factor).mean(dim=-1)

    def check_length(self, n_pixels: int) -> None:
        """Raise a ValueError naming both lengths when ``n_pixels`` does not match this grid."""
        if n_pixels != self.n_pixels:
            raise ValueError(
                f"spectra have {n_pixels} pixels but this grid ({self.describe()}) has {self.n_pixels}; "
                "rebin full-resolution spectra with Grid.rebin_flux or choose the preset whose grid matches"
            )

    def describe(self) -> str:
        """e.g. "factor 40" for the whole grid, "factor 4, 4959.99–5287.66 Å" for a window."""
        if self.is_whole:
            return f"factor {self.factor}"
        end = self.start_angstrom + PIXEL_STEP_ANGSTROM * (self.fine_pixels - 1)
        return f"factor {self.factor}, {self.start_angstrom:.2f}–{end:.2f} Å"


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
