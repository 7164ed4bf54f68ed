"""Stellar line lists for the synthetic generator: empirical HARPS masks interpolated in Teff, and strong lines.

The metal lines come from the HARPS DRS CCF masks F9…M5 (``data/harps_line_masks.npz``, rebuilt by
``scripts/extract_line_masks.py``): air wavelengths of real stellar lines and a weight per line. One
scale per type turns weights into line depths; it is measured on a real G2 V and a real M3 V spectrum
and linear in Teff between them. A star between two mask types gets the lines of both,
weighted linearly in Teff, so M dwarfs get their dense molecular forest and F stars their sparse one.

Strengths are carried as a *pseudo optical depth area* ``A`` (km/s): a line adds ``A·φ(v)`` to the
optical depth, where φ is the star's broadening profile of unit area, so ``A`` is the line's equivalent
width (in velocity) in the weak-line limit and saturation comes from ``exp(−τ)``.

Strong lines with damping wings (Balmer series, Ca II H & K, Na D, Mg b) are Lorentzians in τ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import pairwise

import numpy as np

from specae.constants import SPEED_OF_LIGHT_KMS

RESOLVING_POWER = 115_000
SOLAR_LOGG = 4.44
MICROTURBULENCE_KMS = 1.0
MAX_MASK_DEPTH = 0.95
HOT_STAR_DECAY_K = 900.0  # metal lines fade as exp(−(Teff − T_F9)/this) above the hottest mask
# Pressure sensitivity stand-in: a fixed draw of log g exponents (ionised lines strengthen with log g,
# neutral ones weaken slightly), until a species-resolved list replaces it.
_LOGG_SENSITIVITY_SEED = 20_210_102
_IONISED_FRACTION = 0.2


@dataclass(frozen=True)
class LineSet:
    """Lines of one spectrum before broadening: rest air wavelengths (L,) Å and τ areas A (L,) km/s."""

    wavelength: np.ndarray
    area: np.ndarray


@dataclass(frozen=True)
class MaskLibrary:
    """The HARPS masks: per type its Teff, wavelengths, observed depths at the type, and log g exponents."""

    types: tuple[str, ...]
    teff_k: np.ndarray  # (n_types,) descending
    wavelength: tuple[np.ndarray, ...]
    depth: tuple[np.ndarray, ...]
    logg_exponent: tuple[np.ndarray, ...]

    def type_weights(self, teff: float) -> list[tuple[int, float]]:
        """(mask index, weight) pairs: the two masks bracketing ``teff``, linear in Teff; clamped at the ends."""
        t = self.teff_k
        if teff >= t[0]:
            return [(0, 1.0)]
        if teff <= t[-1]:
            return [(len(t) - 1, 1.0)]
        upper = int(np.searchsorted(-t, -teff, side="right"))  # first mask cooler than teff
        w = (t[upper - 1] - teff) / (t[upper - 1] - t[upper])
        return [(upper - 1, 1.0 - w), (upper, w)]


@lru_cache(maxsize=1)
def mask_library() -> MaskLibrary:
    """Load the packaged HARPS masks (cached)."""
    with resources.files("specae.synth").joinpath("data/harps_line_masks.npz").open("rb") as handle:
        data = np.load(handle, allow_pickle=False)
        offsets = data["offsets"]
        wavelength = data["wavelength"]
        types, teff = tuple(str(t) for t in data["types"]), data["teff_k"].astype(np.float64)
        # Depth per unit weight, measured on real G2 V and M3 V stars, linear in Teff between them.
        order = np.argsort(data["calibration_teff_k"])
        scale = np.interp(teff, data["calibration_teff_k"][order], data["depth_per_weight"][order])
        type_of_line = np.repeat(np.arange(teff.size), np.diff(data["offsets"]))
        depth = np.minimum(data["weight"].astype(np.float64) * scale[type_of_line], MAX_MASK_DEPTH)
    rng = np.random.default_rng(_LOGG_SENSITIVITY_SEED)
    exponent = np.where(rng.random(wavelength.size) < _IONISED_FRACTION, 0.3, -0.1)
    pieces = [slice(int(a), int(b)) for a, b in pairwise(offsets)]
    return MaskLibrary(types, teff, tuple(wavelength[p] for p in pieces), tuple(depth[p] for p in pieces),
                       tuple(exponent[p] for p in pieces))


def intrinsic_sigma_kms(teff) -> np.ndarray:
    """Gaussian σ (km/s) of an iron line: thermal motion at Teff ⊕ microturbulence."""
    thermal_b2 = 2 * 1.380_649e-23 * np.asarray(teff, np.float64) / (55.845 * 1.660_539e-27) / 1e6  # (km/s)²
    return np.sqrt((thermal_b2 + MICROTURBULENCE_KMS**2) / 2)


def instrument_sigma_kms() -> float:
    """Gaussian σ (km/s) of the HARPS instrument profile, R = λ/FWHM = 115,000."""
    return SPEED_OF_LIGHT_KMS / RESOLVING_POWER / (2 * math.sqrt(2 * math.log(2)))


def reference_peak_per_area() -> float:
    """Peak of a unit-area line profile of a non-rotating G2 V star at R = 115,000 (1/(km/s))."""
    sigma = math.hypot(float(intrinsic_sigma_kms(5_770.0)), instrument_sigma_kms())
    return 1.0 / (math.sqrt(2 * math.pi) * sigma)


def metal_lines(teff: float, logg: float, feh: float) -> LineSet:
    """The metal lines of a star: masks bracketing Teff, scaled by [Fe/H], log g and (above F9) Teff."""
    library = mask_library()
    peak = reference_peak_per_area()
    wavelengths, areas = [], []
    for index, weight in library.type_weights(teff):
        depth = library.depth[index]
        # τ area that gives the mask depth at the reference broadening: 1 − exp(−A·peak) = depth.
        area = -np.log1p(-depth) / peak * weight
        area = area * 10.0 ** (feh + library.logg_exponent[index] * (logg - SOLAR_LOGG))
        if teff > library.teff_k[0]:
            area = area * math.exp(-(teff - library.teff_k[0]) / HOT_STAR_DECAY_K)
        wavelengths.append(library.wavelength[index])
        areas.append(area)
    return LineSet(np.concatenate(wavelengths), np.concatenate(areas))


# Strong lines with damping wings: rest air λ (Å), solar central τ, solar Lorentzian half width (Å).
_STRONG_METAL_LINES = (
    ("Ca II K", 3933.66, 8.0, 0.60), ("Ca II H", 3968.47, 6.0, 0.50),
    ("Mg I b1", 5183.60, 4.0, 0.12), ("Mg I b2", 5172.68, 3.5, 0.10), ("Mg I b4", 5167.32, 3.0, 0.08),
    ("Na I D2", 5889.95, 3.0, 0.06), ("Na I D1", 5895.92, 2.5, 0.05),
)
# TiO band heads (air Å) of M dwarfs; each band absorbs from its head toward the red.
TIO_BAND_HEADS = (4954.6, 5166.7, 5448.3, 5847.0, 6158.7, 6651.3)
TIO_DECAY_ANGSTROM = 60.0


def tio_band_depth(teff: float) -> float:
    """Optical depth at each TiO band head: zero above 4,100 K, growing toward cool M dwarfs."""
    return 0.6 * min(max((4_100.0 - teff) / 1_000.0, 0.0), 1.2) ** 1.5


# Balmer series: rest air λ (Å) and oscillator strength f.
BALMER_LINES = (("Hα", 6562.80, 0.641), ("Hβ", 4861.33, 0.119), ("Hγ", 4340.46, 0.0446),
                ("Hδ", 4101.73, 0.0221), ("Hε", 3970.07, 0.0127), ("H8", 3889.05, 0.0080))


def strong_lines(teff: float, logg: float, feh: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lorentzian lines: (rest air λ Å, central τ, half width Å), each (n,), for Balmer and strong metal lines.

    Balmer strength peaks near 9,500 K and its wings widen with log g (Stark broadening); metal lines
    strengthen toward cool stars and with [Fe/H], their wings with log g (van der Waals broadening).
    """
    a_star = math.exp(-(((teff - 9_500.0) / 2_500.0) ** 2))
    balmer_tau = min(1.5 * (teff / 5_800.0) ** 3, 4.0) + 6.0 * a_star
    balmer_width = 0.4 * (1 + 8 * a_star) * 10 ** (0.25 * (logg - SOLAR_LOGG))
    f_alpha, wl_alpha = BALMER_LINES[0][2], BALMER_LINES[0][1]
    balmer = [(wl, balmer_tau * (f * wl / (f_alpha * wl_alpha)) ** 0.3, balmer_width) for _, wl, f in BALMER_LINES]
    metal_scale = 10**feh * min((5_800.0 / teff) ** 2, 3.0) * (math.exp(-(teff - 6_000.0) / HOT_STAR_DECAY_K)
                                                               if teff > 6_000.0 else 1.0)
    # van der Waals wings widen with pressure: higher log g and cooler (denser) atmospheres.
    wing_scale = 10 ** (0.3 * (logg - SOLAR_LOGG)) * min(5_800.0 / teff, 2.0) ** 3
    metal = [(wl, tau * metal_scale, width * wing_scale) for _, wl, tau, width in _STRONG_METAL_LINES]
    wavelength, tau, width = (np.array(column, np.float64) for column in zip(*(balmer + metal), strict=True))
    return wavelength, tau, width
