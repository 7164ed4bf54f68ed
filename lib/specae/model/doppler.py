"""A differentiable Doppler shift of a rest-frame spectrum onto the observed grid.

A model variant whose decoder draws each spectrum in the star's rest frame, on a padded rest grid, moves it onto
the observed grid by a velocity that its encoder outputs, as spender does (Melchior et al. 2023, AJ 166, 74;
likewise AESTRA and wobble): each observed pixel λ samples the rest spectrum at λ_rest = λ / (1 + v/c) by linear
interpolation between its two neighbouring rest pixels (gather + lerp), so the result is differentiable with
respect to the rest flux and to v, whose gradient is the local slope of the rest spectrum.

Convention, that of the synthetic generator (:mod:`specae.synth.survey` puts a line of rest wavelength λ0 at
λ0·(1 + rv/c)): the **classical** first-order Doppler factor, not the relativistic √((1 + β)/(1 − β)), with
c = :data:`specae.constants.SPEED_OF_LIGHT_KMS`. Velocities therefore do not add: the inverse of a shift by v is
a shift by −v/(1 + v/c), and a shift by v then by −v scales wavelengths by 1 − (v/c)² (10⁻⁸ at 30 km/s).

- :class:`RestGrid` (:meth:`RestGrid.covering`): the rest grid, with the observed grid's step and lattice, that
  covers the observed wavelengths for every velocity in ±v_max, padded by whole pixels at both ends and, for a
  decoder, rounded up to a length it can draw (:func:`smallest_length`).
- :func:`doppler_shift`: the shift itself; samples whose λ_rest falls outside the rest grid take the edge value
  and are flagged in the returned mask (never wrapped, never an error: a check would cost a device sync).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from specae.constants import SPEED_OF_LIGHT_KMS
from specae.spectra.grid import Grid

__all__ = ["RestGrid", "ShiftedSpectra", "doppler_shift", "smallest_length"]

# Extra padding (pixels) on top of the exact need: a sample at ±v_max lands this far inside the rest grid, so
# rounding of the positions never flags it as outside (float32 positions err by ~10⁻⁷ of the shift, see
# doppler_shift: 4·10⁻⁵ pixel for the 345-pixel shift of 150 km/s on the paper's 0.01 Å pixels).
_COVERAGE_MARGIN_PIXELS = 1e-3
# How far (in steps) an observed wavelength may sit off the straight line through the first and last ones.
_LINEAR_TOLERANCE_STEPS = 1e-3
# Offsets (λ − rest_start)/step this close to an integer are that integer: float64 wavelengths near 5,000 Å carry
# ~10⁻¹¹ pixel of rounding, which would otherwise make a zero shift blend in 10⁻¹¹ of the neighbouring pixel.
_SNAP_PIXELS = 1e-9


class ShiftedSpectra(NamedTuple):
    """flux: the shifted spectra, (b, n_obs) or (b, 1, n_obs) like the input's rank; inside: bool of the same shape,
    False where λ_rest fell outside the rest grid (there flux is the nearest edge value, with no velocity gradient).
    """

    flux: torch.Tensor
    inside: torch.Tensor


def smallest_length(needed: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is ≥ ``needed`` pixels.

    For a decoder of the released family the output length is the config's ``input_length``, which must be a
    multiple of the total stride, so pass ``multiple=math.prod(config.strides)`` (2⁹ = 512 for the study preset,
    2¹⁴ for the paper's); ``multiple=1`` gives ``needed`` itself.
    """
    if not (isinstance(needed, int | np.integer) and needed >= 1):
        raise ValueError(f"needed must be a positive integer number of pixels, got {needed!r}")
    if not (isinstance(multiple, int | np.integer) and multiple >= 1):
        raise ValueError(f"multiple must be a positive integer (e.g. math.prod(config.strides)), got {multiple!r}")
    return int(multiple * math.ceil(needed / multiple))


@dataclass(frozen=True)
class RestGrid:
    """A rest-frame grid on the observed grid's lattice: ``n_pixels`` samples ``step_angstrom`` apart from
    ``start_angstrom``, of which rest pixels ``pad_left … pad_left + n_observed − 1`` are the observed pixels
    (so at v = 0 the shift copies them), with ``pad_left`` and ``pad_right`` whole pixels of padding."""

    start_angstrom: float
    step_angstrom: float
    n_observed: int
    pad_left: int
    pad_right: int

    @classmethod
    def covering(cls, observed: Grid | np.ndarray, v_max_kms: float, *, multiple: int = 1,
                 n_pixels: int | None = None) -> RestGrid:
        """The rest grid covering ``observed`` (a :class:`Grid` or its (n_obs,) linear wavelengths in Å) for every
        velocity in ±``v_max_kms``.

        Padding: the exact need, ⌈λ_first·β/(1 + β)⌉ pixels on the left and ⌈λ_last·β/(1 − β)⌉ on the right
        (β = v_max/c, in steps, plus a 10⁻³-pixel margin when v_max > 0). Length: ``n_pixels`` when given (it must
        be at least the need), else the smallest multiple of ``multiple`` at or above the need
        (:func:`smallest_length`); the pixels added by the rounding are split between the ends, the odd one on the
        right.
        """
        wavelength = observed.wavelength if isinstance(observed, Grid) else np.asarray(observed, dtype=np.float64)
        if wavelength.ndim != 1 or wavelength.size < 2 or not np.all(np.isfinite(wavelength)):
            raise ValueError(f"observed wavelengths must be a 1-D finite array of ≥ 2 values, got shape "
                             f"{wavelength.shape}; pass a Grid or its .wavelength")
        n_observed = int(wavelength.size)
        step = float(wavelength[-1] - wavelength[0]) / (n_observed - 1)
        line = wavelength[0] + step * np.arange(n_observed)
        if not step > 0 or np.max(np.abs(wavelength - line)) > _LINEAR_TOLERANCE_STEPS * abs(step):
            raise ValueError("observed wavelengths must increase linearly (one constant step), like Grid.wavelength; "
                             "resample a log-linear or irregular grid first")
        if not (math.isfinite(v_max_kms) and 0 <= v_max_kms < SPEED_OF_LIGHT_KMS):
            raise ValueError(f"v_max_kms must be a finite velocity in [0, c) km/s, got {v_max_kms!r}")
        beta = v_max_kms / SPEED_OF_LIGHT_KMS
        margin = _COVERAGE_MARGIN_PIXELS if beta else 0.0
        pad_left = math.ceil(wavelength[0] * beta / (1 + beta) / step + margin)
        pad_right = math.ceil(wavelength[-1] * beta / (1 - beta) / step + margin)
        needed = n_observed + pad_left + pad_right
        if n_pixels is None:
            n_pixels = smallest_length(needed, multiple)
        elif not (isinstance(n_pixels, int | np.integer) and n_pixels >= needed):
            raise ValueError(
                f"n_pixels={n_pixels!r} cannot cover ±{v_max_kms} km/s: that needs ≥ {needed} rest pixels "
                f"({n_observed} observed + {pad_left} + {pad_right} padding); pass a larger length, e.g. "
                f"smallest_length({needed}, math.prod(config.strides)), or a smaller v_max_kms"
            )
        extra = int(n_pixels) - needed
        pad_left += extra // 2
        pad_right += extra - extra // 2
        return cls(float(wavelength[0]) - pad_left * step, step, n_observed, pad_left, pad_right)

    @property
    def n_pixels(self) -> int:
        """Rest pixels: n_observed + pad_left + pad_right."""
        return self.n_observed + self.pad_left + self.pad_right

    @property
    def wavelength(self) -> np.ndarray:
        """(n_pixels,) float64 rest-frame wavelengths in Å."""
        return self.start_angstrom + self.step_angstrom * np.arange(self.n_pixels, dtype=np.float64)

    @property
    def observed_wavelength(self) -> np.ndarray:
        """(n_observed,) float64 wavelengths in Å of the observed grid (rest pixels ``observed_slice``)."""
        return self.wavelength[self.observed_slice]

    @property
    def observed_slice(self) -> slice:
        """The rest pixels that coincide with the observed ones at v = 0."""
        return slice(self.pad_left, self.pad_left + self.n_observed)

    @property
    def v_max_kms(self) -> float:
        """The largest |v| (km/s) for which every observed pixel samples inside this grid (≥ the one asked for:
        the padding is whole pixels and the rounding adds some)."""
        first, last = self.wavelength[self.pad_left], self.wavelength[self.pad_left + self.n_observed - 1]
        blue = first / self.start_angstrom - 1  # λ_first / (1 + β) = start
        red = 1 - last / (self.start_angstrom + self.step_angstrom * (self.n_pixels - 1))
        return float(min(blue, red) * SPEED_OF_LIGHT_KMS)

    def shift(self, rest_flux: torch.Tensor, velocity_kms: torch.Tensor) -> ShiftedSpectra:
        """:func:`doppler_shift` of (b, n_pixels) or (b, 1, n_pixels) rest spectra onto the observed grid."""
        return doppler_shift(rest_flux, self.start_angstrom, self.step_angstrom, velocity_kms,
                             self.observed_wavelength)


def doppler_shift(rest_flux: torch.Tensor, rest_start: float, step: float, velocity_kms: torch.Tensor,
                  observed_wavelength: np.ndarray | torch.Tensor) -> ShiftedSpectra:
    """Sample each rest spectrum b at λ / (1 + v_b/c) for every observed wavelength λ, by linear interpolation.

    rest_flux: (b, n_rest) or (b, 1, n_rest), floating, on the rest grid ``rest_start + step·j`` (Å).
    velocity_kms: (b,) finite, |v| < c; the line at rest λ0 moves to λ0·(1 + v/c) (classical, as the generator).
    observed_wavelength: (n_obs,) Å, in any order; pass float64 (numpy or a tensor) so that the positions keep
    their precision (a float32 5,000 Å wavelength is only good to 3·10⁻⁴ Å).
    Returns :class:`ShiftedSpectra`: flux (b, n_obs) or (b, 1, n_obs), matching the input's rank, dtype and device,
    and the bool mask ``inside`` of the same shape. A sample outside the rest grid's [first, last] pixel takes the
    edge value (clamped, no wrap) with no velocity gradient and ``inside`` False; :meth:`RestGrid.covering` makes
    a grid on which no |v| ≤ v_max is outside.

    Differentiable in rest_flux and velocity_kms; no loop over the batch. The fractional position is computed as
    ``frac(o) − (λ/step)·β/(1 + β)`` with o the observed pixel's offset from ``rest_start`` in steps (float64, on
    the host or the wavelengths' device), so in float32 it errs by ~10⁻⁷ of the shift, however long the grid
    (a float32 index near 327,680 would carry 0.02 pixel). At an exact pixel boundary linear interpolation has a
    kink: there the velocity gradient is the slope of the pixel on the right. On CUDA the backward of the gather is
    a scatter-add, which PyTorch runs deterministically under ``torch.use_deterministic_algorithms(True)``.
    Checking the velocities costs one device sync per call.
    """
    flux2d, velocity = _checked(rest_flux, step, velocity_kms, observed_wavelength)
    n_rest = flux2d.shape[1]
    device, dtype = flux2d.device, flux2d.dtype
    whole, fraction, wavelength_in_steps = _observed_offsets(observed_wavelength, rest_start, step, device, dtype)

    beta = velocity.to(dtype)[:, None] / SPEED_OF_LIGHT_KMS  # (b, 1)
    # λ/(1 + β) − start = (λ − start) − λ·β/(1 + β), in steps; the whole part of (λ − start) is kept as an integer.
    moved = fraction - wavelength_in_steps * (beta / (1 + beta))  # (b, n_obs), of order the shift in pixels
    moved_whole = torch.floor(moved.detach())
    lerp = moved - moved_whole  # in [0, 1), carries the velocity gradient
    left = whole + moved_whole.long()  # (b, n_obs) index of the rest pixel at or below λ_rest
    inside = (left >= 0) & ((left < n_rest - 1) | ((left == n_rest - 1) & (lerp == 0)))
    below, above = left < 0, left > n_rest - 2
    lerp = torch.where(below, torch.zeros_like(lerp), torch.where(above, torch.ones_like(lerp), lerp))
    left = left.clamp(0, n_rest - 2)
    value = torch.lerp(flux2d.gather(1, left), flux2d.gather(1, left + 1), lerp)
    if rest_flux.dim() == 3:
        return ShiftedSpectra(value[:, None, :], inside[:, None, :])
    return ShiftedSpectra(value, inside)


def _checked(rest_flux: torch.Tensor, step: float, velocity_kms: torch.Tensor,
             observed_wavelength: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(b, n_rest) flux and (b,) velocity, or a ValueError naming what is wrong and how to fix it."""
    if not isinstance(rest_flux, torch.Tensor) or not rest_flux.is_floating_point():
        raise ValueError("rest_flux must be a floating-point tensor (b, n_rest) or (b, 1, n_rest)")
    if rest_flux.dim() == 3 and rest_flux.shape[1] == 1:
        flux2d = rest_flux[:, 0, :]
    elif rest_flux.dim() == 2:
        flux2d = rest_flux
    else:
        raise ValueError(f"rest_flux must be (b, n_rest) or (b, 1, n_rest), got shape {tuple(rest_flux.shape)}; "
                         "shift one channel at a time")
    if flux2d.shape[1] < 2:
        raise ValueError(f"the rest grid needs ≥ 2 pixels to interpolate, got {flux2d.shape[1]}")
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"step must be a positive rest-grid pixel width in Å, got {step!r}")
    velocity = torch.as_tensor(velocity_kms, device=flux2d.device)
    if velocity.shape != flux2d.shape[:1]:
        raise ValueError(f"velocity_kms must be (b,) = ({flux2d.shape[0]},), one per spectrum, got shape "
                         f"{tuple(velocity.shape)}; pass one velocity per rest spectrum")
    if not velocity.is_floating_point():
        velocity = velocity.to(flux2d.dtype)
    if not bool(torch.all(torch.isfinite(velocity) & (velocity.abs() < SPEED_OF_LIGHT_KMS))):
        raise ValueError("velocity_kms must be finite with |v| < c; a NaN or infinite velocity comes from upstream "
                         "(e.g. a diverged encoder): bound it, e.g. v_max·tanh(·)")
    shape = tuple(np.shape(observed_wavelength))
    if len(shape) != 1 or shape[0] < 1:
        raise ValueError(f"observed_wavelength must be 1-D (n_obs,) Å, got shape {shape}")
    return flux2d, velocity


def _observed_offsets(observed_wavelength: np.ndarray | torch.Tensor, rest_start: float, step: float,
                      device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(n_obs,) whole and fractional parts of (λ − rest_start)/step (int64, ``dtype``) and λ/step (``dtype``),
    computed in float64 where the wavelengths are (on the host for MPS, which has no float64); offsets within
    10⁻⁹ pixel of an integer are snapped to it."""
    wavelength = torch.as_tensor(observed_wavelength).detach()
    if wavelength.device.type == "mps":
        wavelength = wavelength.cpu()
    wavelength = wavelength.to(torch.float64)
    if not bool(torch.all(torch.isfinite(wavelength))):
        raise ValueError("observed_wavelength must be finite (Å); drop or fill the non-finite ones")
    offset = (wavelength - rest_start) / step
    nearest = torch.round(offset)
    offset = torch.where((offset - nearest).abs() < _SNAP_PIXELS, nearest, offset)
    whole = torch.floor(offset)
    return (whole.to(device=device, dtype=torch.long), (offset - whole).to(device=device, dtype=dtype),
            (wavelength / step).to(device=device, dtype=dtype))
