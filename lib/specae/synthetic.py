"""Synthetic HARPS-like spectra with ground-truth labels, generated in batches with torch.

A first generator (the data issue makes it physically rich; this interface stays): a population of
stars over an HR diagram dominated by FGKM dwarfs, a heavy-tailed number of spectra per object, and
for each spectrum absorption lines whose depths depend on Teff, log g and [Fe/H], Balmer lines,
Doppler shift by the star's radial velocity, a Planck continuum times a smooth throughput, photon
and read noise at a target S/N, and zeros in the padding and CCD gap.

Spectrum ``i`` depends only on (seed, i): its labels come from the population drawn with ``seed``
and its noise from a generator seeded with (seed, i), whatever batch it is rendered in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from astropy import units as u
from astropy.table import Table

from .grid import WAVELENGTH_MAX_ANGSTROM, WAVELENGTH_MIN_ANGSTROM, Grid
from .seeding import derive_seed, torch_generator

SPEED_OF_LIGHT_KMS = 299_792.458
RESOLVING_POWER = 115_000
GAIN_E_PER_ADU = 1.4
READ_NOISE_E = 4.9
BALMER_LINES_ANGSTROM = (6562.80, 4861.33, 4340.46, 4101.73, 3970.07, 3889.05)
_LINE_LIST_SEED = 20_210_101  # the "physics" is fixed; only the survey depends on the data seed
_N_METAL_LINES = 2_500
_SPECTRAL_CLASS_EDGES_K = (3_700.0, 5_200.0, 6_000.0, 7_500.0, 10_000.0, 30_000.0)  # M|K|G|F|A|B|O


@dataclass(frozen=True)
class SyntheticConfig:
    """A synthetic survey.

    n_objects: number of distinct stars; n_spectra: total spectra (≥ n_objects, every star observed).
    seed: the survey seed (population, observations, noise).
    median_snr: median per-pixel S/N at the 0.01 Å native sampling, before rebinning.
    """

    n_objects: int
    n_spectra: int
    seed: int = 0
    median_snr: float = 40.0

    def __post_init__(self):
        if self.n_objects < 1:
            raise ValueError(f"n_objects must be ≥ 1, got {self.n_objects}")
        if self.n_spectra < self.n_objects:
            raise ValueError(
                f"n_spectra ({self.n_spectra}) must be ≥ n_objects ({self.n_objects}): every object has a spectrum"
            )
        if self.median_snr <= 0:
            raise ValueError(f"median_snr must be > 0, got {self.median_snr}")


class SyntheticSurvey:
    """Labels for every spectrum of a synthetic survey and a batched renderer on a :class:`Grid`."""

    def __init__(self, config: SyntheticConfig, grid: Grid):
        self.config = config
        self.grid = grid

    def __len__(self) -> int:
        return self.config.n_spectra

    @cached_property
    def labels(self) -> Table:
        """One row per spectrum: object, stellar parameters and per-observation conditions (true values)."""
        return _draw_population(self.config)

    @property
    def object_ids(self) -> np.ndarray:
        """(n_spectra,) int64 object id of each spectrum."""
        return np.asarray(self.labels["object_id"])

    def render(self, indices, device: torch.device | str = "cpu") -> torch.Tensor:
        """Raw flux (ADU) of spectra ``indices``: (batch, grid.n_pixels) float32 on ``device``."""
        indices = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"spectrum indices must lie in [0, {len(self)}), got {indices.min()}…{indices.max()}")
        rows = self.labels[indices]

        def column(name: str) -> torch.Tensor:
            return torch.as_tensor(np.asarray(rows[name], dtype=np.float64), device=device)

        wavelength = torch.as_tensor(self.grid.wavelength, device=device)
        tau = _line_opacity(wavelength, self.grid.step_angstrom, column("teff"), column("logg"),
                            column("feh"), column("vsini"), column("rv"))
        continuum_e = _continuum_electrons(wavelength, column("teff"), column("snr"))
        signal_e = continuum_e * torch.exp(-tau)
        noise = torch.stack([
            torch.randn(wavelength.shape[0], generator=torch_generator(self.config.seed, int(i)),
                        dtype=torch.float64).to(device)
            for i in indices
        ]) if indices.size else torch.zeros((0, wavelength.shape[0]), dtype=torch.float64, device=device)
        sigma_e = torch.sqrt(signal_e + READ_NOISE_E**2) / math.sqrt(self.grid.factor)
        flux_adu = (signal_e + sigma_e * noise) / GAIN_E_PER_ADU
        return (flux_adu * self.grid.mask_tensor(device)).to(torch.float32)


def spectral_class_number(teff: np.ndarray) -> np.ndarray:
    """MK class as a number from Teff (O=0, B=1, A=2, F=3, G=4, K=5, M=6), as in the paper's CSV."""
    return 6 - np.searchsorted(np.asarray(_SPECTRAL_CLASS_EDGES_K), np.asarray(teff), side="right")


def _draw_population(config: SyntheticConfig) -> Table:
    rng = np.random.default_rng(derive_seed(config.seed, 1))
    n_obj = config.n_objects
    # HR diagram: FGKM dwarfs dominate, with some hot A/B stars and some giants.
    kind = rng.choice(3, size=n_obj, p=[0.82, 0.08, 0.10])  # 0 cool dwarf, 1 hot star, 2 giant
    teff = np.where(kind == 0, rng.uniform(3_200, 6_500, n_obj),
                    np.where(kind == 1, rng.uniform(6_500, 12_000, n_obj), rng.uniform(4_000, 5_300, n_obj)))
    logg = np.where(kind == 2, rng.uniform(2.0, 3.5, n_obj),
                    np.clip(4.4 + 0.25 * (5_800 - teff) / 2_600 + rng.normal(0, 0.1, n_obj), 3.8, 5.1))
    feh = np.clip(rng.normal(-0.1, 0.25, n_obj), -1.5, 0.5)
    vsini = np.where(kind == 1, rng.uniform(10, 120, n_obj), rng.exponential(3.0, n_obj) + 1.0)
    systemic_rv = np.clip(25.0 * rng.standard_t(4, n_obj), -150, 150)
    # Heavy-tailed visibility: Pareto weights, every object observed at least once.
    weights = rng.pareto(0.9, n_obj) + 1.0
    extra = rng.multinomial(config.n_spectra - n_obj, weights / weights.sum())
    n_obs = extra + 1
    object_id = np.repeat(np.arange(n_obj), n_obs)

    n = config.n_spectra
    binary_amplitude = np.where(rng.random(n_obj) < 0.1, rng.uniform(1, 20, n_obj), 0.0)
    phase = rng.uniform(0, 2 * np.pi, n)
    rv = systemic_rv[object_id] + binary_amplitude[object_id] * np.sin(phase) + rng.normal(0, 0.005, n)
    snr = config.median_snr * np.exp(rng.normal(0, 0.5, n))
    table = Table()
    table["object_id"] = object_id
    table["object_name"] = np.char.add("SYN", np.char.zfill(object_id.astype(str), 6))
    table["n_obs"] = n_obs[object_id]
    table["teff"] = teff[object_id] * u.K
    table["logg"] = logg[object_id] * u.dex
    table["feh"] = feh[object_id] * u.dex
    table["vsini"] = vsini[object_id] * u.km / u.s
    table["rv"] = rv * u.km / u.s
    table["berv"] = rng.uniform(-30, 30, n) * u.km / u.s
    table["airmass"] = np.clip(1.0 + np.abs(rng.normal(0, 0.4, n)), 1.0, 2.9)
    table["snr"] = snr
    table["spec_type_no"] = spectral_class_number(table["teff"].value)
    return table


def _line_list() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixed metal-line list: air wavelengths (Å), central optical depth at 5800 K, Teff exponent."""
    rng = np.random.default_rng(_LINE_LIST_SEED)
    # Line density rises to the blue, as in real FGK spectra.
    u01 = rng.random(_N_METAL_LINES)
    inv = 1 / WAVELENGTH_MIN_ANGSTROM - u01 * (1 / WAVELENGTH_MIN_ANGSTROM - 1 / WAVELENGTH_MAX_ANGSTROM)
    wavelength = 1 / inv
    tau_sun = 10 ** rng.uniform(-1.7, 0.6, _N_METAL_LINES)
    teff_exponent = rng.uniform(1.0, 6.0, _N_METAL_LINES)
    return wavelength, tau_sun, teff_exponent


def _line_opacity(wavelength, step, teff, logg, feh, vsini, rv) -> torch.Tensor:
    """(batch, n_pix) optical depth of metal and Balmer lines, averaged over each pixel."""
    line_wl, tau_sun, exponent = (torch.as_tensor(a, device=wavelength.device) for a in _line_list())
    # Metal lines strengthen toward cool stars and with metallicity; a mild log g term stands in for
    # the pressure sensitivity of ionised lines.
    metal_tau = (tau_sun * (5_800.0 / teff[:, None]) ** exponent * 10 ** feh[:, None]
                 * 10 ** (-0.15 * (logg[:, None] - 4.4)))
    thermal_kms = torch.sqrt(0.0166 * teff / 56.0 + 1.0)  # iron thermal speed ⊕ 1 km/s microturbulence
    sigma_kms = torch.sqrt((SPEED_OF_LIGHT_KMS / RESOLVING_POWER / 2.3548) ** 2 + thermal_kms**2 + (vsini / 1.66) ** 2)
    tau = _gaussian_lines(wavelength, step, line_wl, metal_tau, sigma_kms[:, None].expand_as(metal_tau), rv)
    balmer_wl = torch.as_tensor(BALMER_LINES_ANGSTROM, device=wavelength.device, dtype=torch.float64)
    balmer_strength = 0.4 + 3.0 * torch.exp(-(((teff - 9_500.0) / 2_500.0) ** 2))
    balmer_tau = balmer_strength[:, None] * (balmer_wl / 6562.8) ** 2 * torch.ones_like(balmer_wl)
    balmer_sigma = (60.0 + 40.0 * (logg - 4.0).clamp(min=0))[:, None] * torch.ones_like(balmer_wl)
    return tau + _gaussian_lines(wavelength, step, balmer_wl, balmer_tau, balmer_sigma, rv)


def _gaussian_lines(wavelength, step, rest_wl, tau0, sigma_kms, rv) -> torch.Tensor:
    """Sum of Doppler-shifted Gaussian optical-depth profiles, integrated over each pixel.

    rest_wl: (n_lines,) Å; tau0, sigma_kms: (batch, n_lines); rv: (batch,) km/s. Returns (batch, n_pix).
    Each spectrum gets a window of ±5σ of its own widest line, so slow rotators stay cheap.
    """
    rows = [_gaussian_lines_one(wavelength, step, rest_wl, tau0[b], sigma_kms[b], rv[b]) for b in range(rv.shape[0])]
    if not rows:
        return torch.zeros(0, wavelength.shape[0], dtype=torch.float64, device=wavelength.device)
    return torch.stack(rows)


def _gaussian_lines_one(wavelength, step, rest_wl, tau0, sigma_kms, rv) -> torch.Tensor:
    """One spectrum of :func:`_gaussian_lines`: tau0, sigma_kms (n_lines,), rv scalar → (n_pix,)."""
    n_pix = wavelength.shape[0]
    centre = rest_wl * (1 + rv / SPEED_OF_LIGHT_KMS)
    scale = centre * sigma_kms / SPEED_OF_LIGHT_KMS * math.sqrt(2)  # σ√2 in Å
    half_window = int(math.ceil(5 / math.sqrt(2) * float(scale.max()) / step)) + 1
    offsets = torch.arange(-half_window, half_window + 1, device=wavelength.device)
    start = float(wavelength[0])
    nearest = torch.round((centre - start) / step)
    # Lower pixel edges relative to the line centre in units of σ√2: (n_lines, window).
    # float32 suffices for these relative coordinates, and torch's float32 erf is far faster.
    lower = ((((nearest - 0.5) * step + start - centre)[:, None] + offsets * step) / scale[:, None]).float()
    upper = lower + (step / scale).float()[:, None]
    in_pixel = (torch.special.erf(upper) - torch.special.erf(lower)).double()
    # Area of a Gaussian with central depth tau0 that falls in each pixel, divided by the pixel width.
    contribution = (tau0 * scale * (math.sqrt(math.pi) / 2) / step)[:, None] * in_pixel
    # Scatter into a padded buffer so that windows running off either end need no masking.
    padded = torch.zeros(n_pix + 2 * half_window, dtype=torch.float64, device=wavelength.device)
    column = (nearest.long() + half_window)[:, None] + offsets
    if int(column.min()) < 0 or int(column.max()) >= padded.shape[0]:
        raise ValueError("a spectral line falls outside the grid; keep line lists within the padded grid")
    padded.index_add_(0, column.reshape(-1), contribution.reshape(-1))
    return padded[half_window : half_window + n_pix]

def _continuum_electrons(wavelength, teff, snr) -> torch.Tensor:
    """(batch, n_pix) continuum in photo-electrons per 0.01 Å pixel: Planck × throughput, S/N² at the median."""
    hc_over_k = 1.438_777e8  # Å·K
    planck = wavelength[None, :] ** -5 / torch.expm1(hc_over_k / (wavelength[None, :] * teff[:, None]))
    throughput = torch.exp(-0.5 * ((wavelength - 5_600.0) / 1_100.0) ** 2)
    shape = planck * throughput[None, :]
    shape = shape / torch.median(shape, dim=1, keepdim=True).values
    return shape * (snr**2)[:, None]
