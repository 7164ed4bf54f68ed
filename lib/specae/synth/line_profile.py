"""Line optical depth on a linear wavelength grid, broadened and integrated over pixels.

Stellar lines: each line adds A·φ(v) to τ, where φ is a Gaussian (thermal ⊕ microturbulence ⊕
instrument) convolved with the rotation profile of a limb-darkened sphere (Gray, *The Observation
and Analysis of Stellar Photospheres*, eq. 18.14), averaged over each pixel. The lines are deposited
as weighted deltas (linear weights, which keep each centroid exact) and convolved with φ in Fourier
space, where φ is analytic, segment by segment (overlap–save) so the profile's width in pixels can
follow λ. The cost does not depend on the number of lines or on vsini.

Telluric lines (few, Gaussian): pixel integrals of the Gaussian, deposited directly.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

from specae.constants import SPEED_OF_LIGHT_KMS

LIMB_DARKENING = 0.6  # linear limb-darkening coefficient of the rotation profile
PROFILE_EXTENT_SIGMAS = 5.0
SEGMENT_PIXELS = 4_096  # λ changes by ≤ 1.1 % within a segment of the full-resolution grid
_PAD_QUANTUM = 256
_ROTATION_TABLE_STEP = 0.005  # in x = 2π·f·vsini; linear interpolation error < 1e-5
_ROTATION_TABLE_SIZE = 400_001  # x ≤ 2,000: vsini ≤ 300 km/s wherever the Gaussian factor exceeds 1e-12


def rotation_transform(x: torch.Tensor, limb_darkening: float = LIMB_DARKENING) -> torch.Tensor:
    """Fourier transform of the unit-area rotation profile at x = 2π·f·vsini (f in cycles per km/s)."""
    small = x.abs() < 1e-3
    safe = torch.where(small, torch.ones_like(x), x)
    disk = torch.where(small, 1 - x**2 / 8, 2 * torch.special.bessel_j1(safe) / safe)
    limb = torch.where(small, 1 - x**2 / 10, 3 * (torch.sin(safe) - safe * torch.cos(safe)) / safe**3)
    eps = limb_darkening
    return ((1 - eps) * disk + (2 * eps / 3) * limb) / (1 - eps / 3)


@lru_cache(maxsize=4)
def _rotation_table(device: str) -> torch.Tensor:
    """rotation_transform at x = 0, Δ, 2Δ, … (float32): interpolating it is ~10× faster than Bessel J1."""
    x = torch.arange(_ROTATION_TABLE_SIZE, dtype=torch.float64, device=device) * _ROTATION_TABLE_STEP
    return rotation_transform(x).float()


def profile_transform(frequency: torch.Tensor, sigma_kms: float, vsini_kms: float) -> torch.Tensor:
    """Fourier transform of φ = Gaussian(σ) ⊛ rotation(vsini) at ``frequency`` (cycles per km/s, float32)."""
    transform = torch.exp(-2 * (math.pi * sigma_kms * frequency) ** 2)
    if vsini_kms > 0:
        table = _rotation_table(str(frequency.device))
        position = (2 * math.pi * vsini_kms / _ROTATION_TABLE_STEP) * frequency
        # Beyond the table the Gaussian factor is < 1e-12, so clamping there changes nothing.
        position = position.clamp(max=_ROTATION_TABLE_SIZE - 2)
        lower = position.floor()
        index = lower.long()
        transform = transform * torch.lerp(table[index], table[index + 1], position - lower)
    return transform


def broadened_lines(
    n_pixels: int, grid_start: float, grid_step: float, wavelength: torch.Tensor, area: torch.Tensor,
    sigma_kms: float, vsini_kms: float,
) -> torch.Tensor:
    """(n_pixels,) float32 pixel-averaged τ of lines broadened by φ(σ, vsini).

    Grid: λ_j = grid_start + j·grid_step (Å), n_pixels a multiple of 4,096. wavelength: (L,) float64
    observed line centres (Å); area: (L,) τ areas (km/s), i.e. weak-line equivalent widths.
    """
    if sigma_kms <= 0 or vsini_kms < 0:
        raise ValueError(f"the profile needs σ > 0 and vsini ≥ 0 (got σ={sigma_kms}, vsini={vsini_kms})")
    if n_pixels % SEGMENT_PIXELS:
        raise ValueError(f"n_pixels ({n_pixels}) must be a multiple of {SEGMENT_PIXELS}")
    device = wavelength.device
    red_end = grid_start + n_pixels * grid_step
    reach = (vsini_kms + PROFILE_EXTENT_SIGMAS * sigma_kms) * red_end / (SPEED_OF_LIGHT_KMS * grid_step)
    pad = _PAD_QUANTUM * math.ceil((reach + 2) / _PAD_QUANTUM)
    position = (wavelength - grid_start) / grid_step + pad  # in the padded array
    keep = (position >= 0) & (position < n_pixels + 2 * pad - 1)
    position, weight = position[keep], (area * wavelength / (SPEED_OF_LIGHT_KMS * grid_step))[keep]  # area in pixels
    lower = position.floor()
    fraction = position - lower
    deltas = torch.zeros(n_pixels + 2 * pad, dtype=torch.float32, device=device)
    deltas.index_add_(0, lower.long(), (weight * (1 - fraction)).float())
    deltas.index_add_(0, lower.long() + 1, (weight * fraction).float())

    length = SEGMENT_PIXELS + 2 * pad
    segments = deltas.unfold(0, length, SEGMENT_PIXELS)  # (n_segments, length), overlapping views
    centre = grid_start + (torch.arange(segments.shape[0], device=device, dtype=torch.float32) + 0.5) \
        * (SEGMENT_PIXELS * grid_step)
    frequency, pixel_response = _pixel_frequencies(length, str(device))
    kms_frequency = frequency[None, :] * (centre[:, None] / (SPEED_OF_LIGHT_KMS * grid_step))
    kernel = profile_transform(kms_frequency, sigma_kms, vsini_kms) * pixel_response
    spectrum = torch.fft.rfft(segments) * kernel
    return torch.fft.irfft(spectrum, n=length)[:, pad : pad + SEGMENT_PIXELS].reshape(-1)


@lru_cache(maxsize=16)
def _pixel_frequencies(length: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """rfft frequencies (cycles per pixel) and the pixel response: the pixel average (sinc) with the
    linear deposit's triangle (sinc²) divided out, i.e. 1/sinc. Both float32, (length // 2 + 1,)."""
    frequency = torch.fft.rfftfreq(length, device=device, dtype=torch.float64)
    return frequency.float(), (1 / torch.special.sinc(frequency)).float()


def gaussian_lines(
    tau: torch.Tensor, grid_start: float, grid_step: float, wavelength: torch.Tensor, area: torch.Tensor,
    sigma_kms: float,
) -> None:
    """Add the pixel-averaged τ of Gaussian lines (σ in km/s) to ``tau`` (n_pix,) in place.

    wavelength: (L,) float64 observed centres (Å); area: (L,) τ areas (km/s). Profiles running off
    the grid are cut there.
    """
    n_pix = tau.shape[0]
    extent_angstrom = PROFILE_EXTENT_SIGMAS * sigma_kms / SPEED_OF_LIGHT_KMS * float(wavelength.max())
    half = int(math.ceil(extent_angstrom / grid_step)) + 1
    nearest = torch.round((wavelength - grid_start) / grid_step)
    keep = (nearest >= -half) & (nearest < n_pix + half)
    wavelength, area, nearest = wavelength[keep], area[keep], nearest[keep]
    scale = (math.sqrt(2) * sigma_kms * wavelength / SPEED_OF_LIGHT_KMS / grid_step).float()  # σ√2 in pixels
    offsets = torch.arange(-half, half + 2, device=tau.device, dtype=torch.float32)  # pixel edges
    centre = ((wavelength - grid_start) / grid_step - nearest).float()
    erf = torch.special.erf((offsets[None, :] - 0.5 - centre[:, None]) / scale[:, None])
    area_in_pixels = (area * wavelength / (SPEED_OF_LIGHT_KMS * grid_step)).float()
    contribution = area_in_pixels[:, None] * (erf[:, 1:] - erf[:, :-1]) / 2
    padded = torch.zeros(n_pix + 2 * half + 1, dtype=tau.dtype, device=tau.device)
    column = (nearest.long() + half)[:, None] + offsets[None, :-1].long()
    padded.index_add_(0, column.reshape(-1), contribution.reshape(-1))
    tau += padded[half : half + n_pix]
