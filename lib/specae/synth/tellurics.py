"""Telluric absorption lines in the observer's frame: the O₂ B and γ bands, and water vapour.

No telluric line catalogue can be installed offline, so:
- **O₂** lines are computed from the molecule: the b¹Σg⁺ ← X³Σg⁻ bands (1,0) "B" near 6,870 Å and
  (2,0) "γ" near 6,280 Å, P and R branches from odd N″ only (¹⁶O₂), line positions from the band
  origins and rotational constants, intensities from (2N″+1)·exp(−E″/kT) at 250 K. This reproduces
  the band heads at 6,867.6 and 6,276 Å (air) and the branch structure, not each line to 0.01 Å.
- **H₂O** lines are a fixed random draw inside the real water bands of the window (5,880–5,990,
  6,470–6,600 and 6,860–6,925 Å), with log-uniform strengths: a stand-in for a real line list.

Each line carries its τ area (km/s) at airmass 1 (O₂) or per airmass and mm of precipitable water
(H₂O), so the transmission scales as T(λ)^airmass. Wavelengths are air, in the observer's frame: in a
barycentric spectrum they appear at λ·(1 + BERV/c), moving against the stellar lines.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from specae.synth.line_lists import instrument_sigma_kms

TELLURIC_SIGMA_KMS = 0.8  # Doppler ⊕ pressure width of O₂/H₂O lines, as a Gaussian σ
_C2_CM_K = 1.438_777  # second radiation constant hc/k in cm·K
_O2_LOWER_B_CM = 1.437_68  # X³Σg⁻ v=0 rotational constant (cm⁻¹)
# band: (origin cm⁻¹, upper-state B′ cm⁻¹, depth of the strongest line at airmass 1 and HARPS resolution)
_O2_BANDS = {"B (1,0)": (14_527.2, 1.3730, 0.90), "γ (2,0)": (15_902.4, 1.3548, 0.12)}
_O2_SPIN_SPLITTING_CM = 1.9  # the two fine-structure components of each branch line
_ATMOSPHERE_K = 250.0
_WATER_SEED = 20_210_103
# band: (start Å, end Å, number of lines, depth of the strongest line per airmass at 1 mm of water)
_WATER_BANDS = ((5_880.0, 5_990.0, 80, 0.02), (6_470.0, 6_600.0, 150, 0.03), (6_860.0, 6_925.0, 100, 0.08))


def vacuum_to_air(wavelength_vacuum: np.ndarray) -> np.ndarray:
    """Air wavelengths (Å) from vacuum ones, with the Ciddor/Edlén refractive index of standard air."""
    s2 = (1e4 / np.asarray(wavelength_vacuum)) ** 2
    n = 1 + 1e-8 * (8_342.54 + 2_406_147 / (130 - s2) + 15_998 / (38.9 - s2))
    return wavelength_vacuum / n


def line_depth_to_area(depth: npt.ArrayLike) -> np.ndarray:
    """τ area (km/s) of a telluric line whose centre is ``depth`` deep at HARPS resolution."""
    sigma = math.hypot(instrument_sigma_kms(), TELLURIC_SIGMA_KMS)
    return -np.log1p(-np.asarray(depth)) * math.sqrt(2 * math.pi) * sigma


def _o2_band(origin: float, upper_b: float, strongest_depth: float) -> tuple[np.ndarray, np.ndarray]:
    """(air λ Å, τ area at airmass 1) of one O₂ band's P and R branch lines."""
    n_lower = np.arange(1, 41, 2, dtype=np.float64)  # odd N″ only for ¹⁶O₂
    energy = _O2_LOWER_B_CM * n_lower * (n_lower + 1)
    branch_r = origin + upper_b * (n_lower + 1) * (n_lower + 2) - energy
    branch_p = origin + upper_b * (n_lower - 1) * n_lower - energy
    strength = (2 * n_lower + 1) * np.exp(-_C2_CM_K * energy / _ATMOSPHERE_K)
    strength = strength / strength.max()
    wavenumber = np.concatenate([branch_r, branch_r - _O2_SPIN_SPLITTING_CM,
                                 branch_p, branch_p - _O2_SPIN_SPLITTING_CM])
    area = line_depth_to_area(strongest_depth) * np.tile(strength, 4)
    return vacuum_to_air(1e8 / wavenumber), area


@lru_cache(maxsize=1)
def oxygen_lines() -> tuple[np.ndarray, np.ndarray]:
    """(air λ Å, τ area in km/s at airmass 1) of the O₂ lines, sorted by wavelength."""
    bands = [_o2_band(*band) for band in _O2_BANDS.values()]
    wavelength, area = (np.concatenate(parts) for parts in zip(*bands, strict=True))
    order = np.argsort(wavelength)
    return wavelength[order], area[order]


@lru_cache(maxsize=1)
def water_lines() -> tuple[np.ndarray, np.ndarray]:
    """(air λ Å, τ area in km/s per airmass per mm of precipitable water) of the H₂O stand-in lines."""
    rng = np.random.default_rng(_WATER_SEED)
    wavelength_parts, depth_parts = [], []
    for start, end, count, strongest in _WATER_BANDS:
        wavelength_parts.append(rng.uniform(start, end, count))
        depth_parts.append(strongest * 10 ** rng.uniform(-2, 0, count))
    wavelength, depth = np.concatenate(wavelength_parts), np.concatenate(depth_parts)
    order = np.argsort(wavelength)
    return wavelength[order], line_depth_to_area(depth[order])
