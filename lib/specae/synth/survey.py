"""Synthetic HARPS-like spectra with ground-truth labels, rendered in batches with torch on any device.

Each spectrum is built the way HARPS records one (air wavelengths, barycentric frame, 0.01 Å pixels):

1. **Star** (rest frame → Doppler shift by RV): metal lines of the HARPS masks interpolated in Teff
   and scaled with [Fe/H] and log g (:mod:`specae.synth.line_lists`), broadened by thermal motion,
   microturbulence, rotation (vsini, limb-darkened) and the R = 115,000 instrument profile
   (:mod:`specae.synth.line_profile`); Balmer and strong metal lines with damping wings.
2. **Atmosphere** (observer frame → shifted by BERV): O₂ and H₂O lines (:mod:`specae.synth.tellurics`),
   τ ∝ airmass (× water vapour), so they move against the stellar lines from one epoch to the next.
3. **Continuum**: Planck(Teff) × instrument response × atmospheric extinction(airmass), with the
   residual ripple of the échelle orders' blaze.
4. **Detector**: photo-electrons scaled so the continuum at 5,500 Å (an order centre) has the target
   S/N per 0.01 Å pixel; Poisson (Gaussian limit) and read noise, larger at order edges where the
   blaze is low; gain to ADU; zeros in the padding and the CCD gap.

Flux is transmission = exp(−τ_star − τ_telluric) sampled per pixel and averaged onto coarse grids;
multiplying the separately broadened stellar and telluric spectra is the usual fast approximation.
Spectrum ``i`` depends only on (seed, i) and the device: labels come from the population drawn with
``seed`` (:mod:`specae.synth.population`) and noise from a generator seeded with (seed, i).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import torch
from astropy.table import Table

from specae.constants import SPEED_OF_LIGHT_KMS
from specae.seeding import Stream, torch_generator
from specae.spectra.grid import PIXEL_STEP_ANGSTROM, Grid
from specae.synth.line_lists import (
    TIO_BAND_HEADS,
    TIO_DECAY_ANGSTROM,
    instrument_sigma_kms,
    intrinsic_sigma_kms,
    metal_lines,
    strong_lines,
    tio_band_depth,
)
from specae.synth.line_profile import SEGMENT_PIXELS, broadened_lines, gaussian_lines
from specae.synth.population import draw_population, spectral_class_number
from specae.synth.tellurics import TELLURIC_SIGMA_KMS, oxygen_lines, water_lines

__all__ = ["SyntheticConfig", "SyntheticSurvey", "spectral_class_number", "GAIN_E_PER_ADU",
           "READ_NOISE_E", "SNR_REFERENCE_ANGSTROM", "blaze_efficiency"]

GAIN_E_PER_ADU = 1.4  # HARPS GAIN keyword
READ_NOISE_E = 4.9  # HARPS DETRON keyword
SNR_REFERENCE_ANGSTROM = 5_500.0
ECHELLE_CONSTANT_ANGSTROM = 612_000.0  # order m is centred on this / m (HARPS orders 89–161)
RIPPLE_AMPLITUDE = 0.05  # residual blaze ripple after the pipeline's deblazing


@dataclass(frozen=True)
class SyntheticConfig:
    """A synthetic survey.

    n_objects: number of distinct stars; n_spectra: total spectra (≥ n_objects, every star observed).
    seed: the survey seed (population, observations, noise).
    median_snr: median S/N per 0.01 Å pixel of the continuum at 5,500 Å, before rebinning.
    max_spectra_per_object: the most spectra any one star may have (None: no cap beyond the draw).
    rv_scale: every star's radial velocity multiplied by this factor (> 0; 1: the velocities as drawn), the rest of
    the survey unchanged: surveys that differ only in their spread of velocities.
    """

    n_objects: int
    n_spectra: int
    seed: int = 0
    median_snr: float = 40.0
    max_spectra_per_object: int | None = None
    rv_scale: float = 1.0

    def __post_init__(self):
        if self.n_objects < 1:
            raise ValueError(f"n_objects must be ≥ 1, got {self.n_objects}")
        if self.n_spectra < self.n_objects:
            raise ValueError(
                f"n_spectra ({self.n_spectra}) must be ≥ n_objects ({self.n_objects}): every object has a spectrum"
            )
        if self.median_snr <= 0:
            raise ValueError(f"median_snr must be > 0, got {self.median_snr}")
        if not (np.isfinite(self.rv_scale) and self.rv_scale > 0):
            raise ValueError(f"rv_scale must be a finite number > 0 (1: the velocities as drawn), got {self.rv_scale}")
        cap = self.max_spectra_per_object
        if cap is not None and (cap < 1 or cap * self.n_objects < self.n_spectra):
            raise ValueError(f"max_spectra_per_object={cap} cannot hold {self.n_spectra} spectra of "
                             f"{self.n_objects} objects; it must be ≥ 1 and ≥ n_spectra / n_objects")


class SyntheticSurvey:
    """Labels for every spectrum of a synthetic survey and a batched renderer on a :class:`Grid`."""

    def __init__(self, config: SyntheticConfig, grid: Grid):
        self.config = config
        self.grid = grid

    def __len__(self) -> int:
        return self.config.n_spectra

    @classmethod
    def single_star(cls, grid: Grid, n_spectra: int = 1, seed: int = 0, **labels) -> SyntheticSurvey:
        """A survey of one star observed ``n_spectra`` times, with chosen labels (scalars or per-spectrum lists).

        Unnamed labels keep their drawn values; e.g. ``single_star(Grid(1), 2, rv=[0, 5], teff=5_770)``.
        """
        survey = cls(SyntheticConfig(n_objects=1, n_spectra=n_spectra, seed=seed), grid)
        for name, value in labels.items():
            if name not in survey.labels.colnames:
                raise KeyError(f"unknown label {name!r}; labels are {survey.labels.colnames}")
            survey.labels[name][:] = value
        survey.labels["spec_type_no"][:] = spectral_class_number(np.asarray(survey.labels["teff"]))
        return survey

    @cached_property
    def labels(self) -> Table:
        """One row per spectrum: object, stellar parameters and per-observation conditions (true values).

        Edit columns (e.g. set ``rv``) before rendering to make controlled experiments.
        """
        c = self.config
        return draw_population(c.n_objects, c.n_spectra, c.seed, c.median_snr, c.max_spectra_per_object, c.rv_scale)

    @property
    def object_ids(self) -> np.ndarray:
        """(n_spectra,) int64 object id of each spectrum."""
        return np.asarray(self.labels["object_id"])

    def render(self, indices, device: torch.device | str = "cpu", noise: bool = True) -> torch.Tensor:
        """Raw flux (ADU) of spectra ``indices``: (batch, grid.n_pixels) float32 on ``device``.

        noise=False gives the expected flux (same continuum, no noise draw). Spectra are rendered one
        at a time (each stays in cache), so a spectrum never depends on the rest of its batch.
        """
        indices = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"spectrum indices must lie in [0, {len(self)}), got {indices.min()}…{indices.max()}")
        response = detector(self.grid, str(device))
        out = torch.empty((indices.size, self.grid.n_pixels), dtype=torch.float32, device=device)
        for k, (index, row) in enumerate(zip(indices, self.labels[indices], strict=True)):
            transmission = _transmission(row, self.grid, device)
            if self.grid.factor > 1:
                transmission = transmission.view(self.grid.n_pixels, self.grid.factor).mean(dim=1)
            signal_e = _continuum_electrons(response, row).mul_(transmission)  # deblazed e⁻ per 0.01 Å
            torch.mul(signal_e, response.flux_per_electron, out=out[k])
            if noise:
                # Detected counts are signal × blaze (Poisson, Gaussian limit) plus read noise; deblazing
                # divides counts and noise by the blaze; averaging `factor` pixels divides noise by √factor.
                sigma = torch.addcmul(torch.full_like(signal_e, READ_NOISE_E**2), signal_e.clamp_(min=0),
                                      response.blaze).sqrt_()
                noise_draws = torch_generator(self.config.seed, Stream.SPECTRUM_NOISE, int(index), device=device)
                draw = torch.randn(signal_e.shape[0], generator=noise_draws, device=device)
                out[k].addcmul_(sigma.mul_(draw), response.noise_per_electron)
        return out


@dataclass(frozen=True)
class Detector:
    """Per-pixel constants of a grid, each (n,) float32 and zero on masked pixels where they scale output.

    blaze: order efficiency; flux_per_electron: ripple/gain; noise_per_electron: 1/(blaze·gain·√factor);
    inverse_wavelength (1/Å), static_shape (λ⁻⁴ × response) and extinction (ln-flux per airmass) for
    the continuum.
    """

    blaze: torch.Tensor
    flux_per_electron: torch.Tensor
    noise_per_electron: torch.Tensor
    inverse_wavelength: torch.Tensor
    static_shape: torch.Tensor
    extinction: torch.Tensor


@lru_cache(maxsize=8)
def detector(grid: Grid, device: str) -> Detector:
    """The detector's per-pixel constants on ``grid`` (cached per grid and device): the noise model's inputs."""
    wavelength = torch.as_tensor(grid.wavelength, device=device)
    reference = torch.tensor([SNR_REFERENCE_ANGSTROM], dtype=torch.float64, device=device)
    blaze = blaze_efficiency(wavelength)
    mask = grid.mask_tensor(device).double()
    constants = dict(
        blaze=blaze, flux_per_electron=(1 + RIPPLE_AMPLITUDE * (blaze - 0.775)) * mask / GAIN_E_PER_ADU,
        noise_per_electron=mask / (blaze * GAIN_E_PER_ADU * math.sqrt(grid.factor)), inverse_wavelength=1 / wavelength,
        static_shape=_static_shape(wavelength) / _static_shape(reference),
        extinction=_extinction_per_airmass(wavelength) - _extinction_per_airmass(reference))
    return Detector(**{name: value.float() for name, value in constants.items()})


def _static_shape(wavelength: torch.Tensor) -> torch.Tensor:
    """λ⁻⁴ (Planck photons' prefactor) × the instrument's spectral response."""
    return wavelength**-4 * torch.exp(-0.5 * ((wavelength - 5_600.0) / 1_100.0) ** 2)


def _extinction_per_airmass(wavelength: torch.Tensor) -> torch.Tensor:
    """ln(flux) lost per unit airmass: Rayleigh + aerosol extinction of a dry mountain site."""
    microns = wavelength / 1e4
    return -0.4 * math.log(10) * (0.0088 * microns**-4.05 + 0.013 * microns**-1.3)


def blaze_efficiency(wavelength: torch.Tensor) -> torch.Tensor:
    """Relative efficiency (0.41–1) of the échelle order that records each wavelength: sinc² across the order."""
    order_position = ECHELLE_CONSTANT_ANGSTROM / wavelength
    distance = order_position - torch.round(order_position)  # −0.5 … 0.5 from the order centre
    return torch.special.sinc(distance) ** 2


def _transmission(row, grid: Grid, device) -> torch.Tensor:
    """(grid.fine_pixels,) float32 exp(−τ) of one spectrum on the fine pixels of the grid's window.

    Lines are computed only on the segments of the line profile's FFT that hold the window (each segment
    broadens with its own centre's km/s per pixel, so the segments are those of the whole grid), with the
    lines just outside contributing their wings: a window's τ is the whole grid's.
    """
    first_segment = grid.start_pixel // SEGMENT_PIXELS
    n_fine = SEGMENT_PIXELS * math.ceil((grid.start_pixel + grid.fine_pixels) / SEGMENT_PIXELS) \
        - SEGMENT_PIXELS * first_segment
    offset = grid.start_pixel - SEGMENT_PIXELS * first_segment
    start = Grid(start_pixel=SEGMENT_PIXELS * first_segment, fine_pixels=1).start_angstrom
    teff, logg, feh = float(row["teff"]), float(row["logg"]), float(row["feh"])
    stellar_shift = 1 + float(row["rv"]) / SPEED_OF_LIGHT_KMS
    telluric_shift = 1 + float(row["berv"]) / SPEED_OF_LIGHT_KMS
    lines = metal_lines(teff, logg, feh)
    sigma = math.hypot(float(intrinsic_sigma_kms(teff)), instrument_sigma_kms())
    tau = broadened_lines(n_fine, start, PIXEL_STEP_ANGSTROM,
                          torch.as_tensor(lines.wavelength * stellar_shift, device=device),
                          torch.as_tensor(lines.area, device=device), sigma, float(row["vsini"]))
    _add_lorentzian_lines(tau, start, *strong_lines(teff, logg, feh), stellar_shift)
    _add_band_heads(tau, start, tio_band_depth(teff), stellar_shift)

    oxygen_wl, oxygen_area = oxygen_lines()
    water_wl, water_area = water_lines()
    airmass, pwv = float(row["airmass"]), float(row["pwv"])
    gaussian_lines(tau, start, PIXEL_STEP_ANGSTROM,
                   torch.as_tensor(np.concatenate([oxygen_wl, water_wl]) * telluric_shift, device=device),
                   torch.as_tensor(np.concatenate([oxygen_area * airmass, water_area * airmass * pwv]), device=device),
                   math.hypot(instrument_sigma_kms(), TELLURIC_SIGMA_KMS))
    return torch.exp(-tau[offset : offset + grid.fine_pixels])


def _add_lorentzian_lines(tau: torch.Tensor, start: float, rest_wl, central_tau, half_width, shift: float) -> None:
    """Add τ0 / (1 + (Δλ/γ)²) of each line, within its reach, to the fine-pixel ``tau`` from ``start`` Å (in place)."""
    for wl, tau0, gamma in zip(rest_wl * shift, central_tau, half_width, strict=True):
        # Out to where the wing falls below τ = 10⁻³ (at least 2 Å, at most 80 Å).
        reach = min(max(gamma * math.sqrt(max(tau0, 0.0) / 1e-3), 2.0), 80.0)
        first = max(int((wl - reach - start) / PIXEL_STEP_ANGSTROM), 0)
        last = min(int((wl + reach - start) / PIXEL_STEP_ANGSTROM) + 1, tau.shape[0])
        if first >= last:
            continue
        pixel = torch.arange(first, last, device=tau.device, dtype=torch.float64)
        offset = (start + pixel * PIXEL_STEP_ANGSTROM - wl) / gamma
        tau[first:last] += (tau0 / (1 + offset**2)).float()


def _add_band_heads(tau: torch.Tensor, start: float, depth: float, shift: float) -> None:
    """Add molecular bands, τ = depth·exp(−(λ − head)/L) redward of each head, to ``tau`` from ``start`` Å
    (in place)."""
    if depth <= 0:
        return
    for head in TIO_BAND_HEADS:
        head_pixel = int(math.ceil((head * shift - start) / PIXEL_STEP_ANGSTROM))
        first = max(head_pixel, 0)
        last = min(head_pixel + int(8 * TIO_DECAY_ANGSTROM / PIXEL_STEP_ANGSTROM), tau.shape[0])
        if first >= last:
            continue
        pixel = torch.arange(first, last, device=tau.device, dtype=torch.float64)
        distance = start + pixel * PIXEL_STEP_ANGSTROM - head * shift
        tau[first:last] += (depth * torch.exp(-distance / TIO_DECAY_ANGSTROM)).float()


def _continuum_electrons(detector: Detector, row) -> torch.Tensor:
    """(n,) float32 deblazed continuum photo-electrons per 0.01 Å pixel of one spectrum.

    Planck photons(Teff) × instrument response × extinction(airmass), scaled so that the S/N at 5,500 Å
    (blaze 1) is the spectrum's ``snr``: counts C with C / √(C + RN²) = snr.
    """
    teff, airmass, snr = float(row["teff"]), float(row["airmass"]), float(row["snr"])
    hc_over_kt = 1.438_777e8 / teff  # Å
    counts_at_reference = (snr**2 + snr * math.sqrt(snr**2 + 4 * READ_NOISE_E**2)) / 2
    planck = torch.expm1(detector.inverse_wavelength * hc_over_kt).reciprocal_()
    scale = counts_at_reference * math.expm1(hc_over_kt / SNR_REFERENCE_ANGSTROM)
    return planck.mul_(detector.static_shape).mul_(torch.exp(detector.extinction * airmass)).mul_(scale)
