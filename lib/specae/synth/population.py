"""A HARPS-like survey population: stars over an HR diagram and the conditions of each observation.

Objects: FGKM dwarfs dominate, with some hot A/B stars and red giants; [Fe/H] of the solar
neighbourhood; slow rotators except hot stars; systemic RVs with a few binaries; positions over the
sky seen from La Silla. Observations: a heavy-tailed (Pareto) number per object, every object at least
once; each has a date in the object's observing season, which sets the barycentric correction
(BERV) from the Earth's orbit; an hour angle, which sets the airmass; precipitable water vapour; S/N.
Every draw comes from a generator seeded with the survey seed, so labels depend only on the config.
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.table import Table

from specae.seeding import Stream, derive_seed

LA_SILLA_LATITUDE_DEG = -29.257
EARTH_ORBITAL_SPEED_KMS = 29.78
MIN_ALTITUDE_DEG = 20.0
MAX_AIRMASS = 2.9
_SPECTRAL_CLASS_EDGES_K = (3_700.0, 5_200.0, 6_000.0, 7_500.0, 10_000.0, 30_000.0)  # M|K|G|F|A|B|O
_OBLIQUITY_DEG = 23.439
_J2000_MJD = 51_544.5


SPECTRAL_CLASSES = "OBAFGKM"  # the MK class of each spectral_class_number, 0 … 6


def spectral_class_number(teff: np.ndarray) -> np.ndarray:
    """MK class as a number from Teff (O=0, B=1, A=2, F=3, G=4, K=5, M=6), as in the released label CSV."""
    return 6 - np.searchsorted(np.asarray(_SPECTRAL_CLASS_EDGES_K), np.asarray(teff), side="right")


def draw_population(n_objects: int, n_spectra: int, seed: int, median_snr: float,
                    max_per_object: int | None = None, rv_scale: float = 1.0) -> Table:
    """One row per spectrum, grouped by object: true stellar parameters and observing conditions.

    rv_scale: every radial velocity (systemic, binary orbit and jitter) multiplied by this factor, all else drawn
    as at 1 (the RV-spread experiment's surveys; 1 is the study's, bit for bit).

    max_per_object: cap on any star's number of spectra; the spectra above it go to the other stars in
    proportion to their weights, as further multinomial draws (no cap: the single draw as before).
    """
    rng = np.random.default_rng(derive_seed(seed, Stream.POPULATION))
    stars = _draw_stars(rng, n_objects)
    weights = rng.pareto(0.9, n_objects) + 1.0
    n_obs = rng.multinomial(n_spectra - n_objects, weights / weights.sum()) + 1
    if max_per_object is not None:
        n_obs = _cap_counts(rng, n_obs, weights, max_per_object)
    obj = np.repeat(np.arange(n_objects), n_obs)

    n = n_spectra
    # Radial velocity: systemic + a binary orbit for 10 % of objects + per-observation jitter.
    binary_amplitude = np.where(rng.random(n_objects) < 0.1, rng.uniform(1, 20, n_objects), 0.0)
    rv = (stars["systemic_rv"][obj] + binary_amplitude[obj] * np.sin(rng.uniform(0, 2 * np.pi, n))
          + rng.normal(0, 1, n) * stars["jitter"][obj])
    # Dates in each object's season (Sun 180° ± 75° away in ecliptic longitude), HARPS years 2004–2019.
    sun_minus_star = np.deg2rad(180.0 + rng.uniform(-75, 75, n))
    sun_longitude = stars["ecliptic_longitude"][obj] + sun_minus_star
    year = rng.integers(2004, 2020, n)
    mjd = _mjd_of_sun_longitude(np.rad2deg(sun_longitude), year)
    berv = EARTH_ORBITAL_SPEED_KMS * np.cos(stars["ecliptic_latitude"][obj]) * np.sin(sun_minus_star)
    airmass = _airmass(rng, stars["dec"][obj])

    table = Table()
    table["object_id"] = obj
    table["object_name"] = np.char.add("SYN", np.char.zfill(obj.astype(str), 6))
    table["n_obs"] = n_obs[obj]
    table["teff"] = stars["teff"][obj] * u.K
    table["logg"] = stars["logg"][obj] * u.dex
    table["feh"] = stars["feh"][obj] * u.dex
    table["vsini"] = stars["vsini"][obj] * u.km / u.s
    table["rv"] = rv_scale * rv * u.km / u.s
    table["berv"] = berv * u.km / u.s
    table["airmass"] = airmass
    table["pwv"] = np.exp(rng.normal(np.log(3.5), 0.6, n)) * u.mm
    table["snr"] = median_snr * np.exp(rng.normal(0, 0.5, n))
    table["mjd"] = mjd * u.day
    table["ra"] = np.rad2deg(stars["ra"][obj]) * u.deg
    table["dec"] = np.rad2deg(stars["dec"][obj]) * u.deg
    table["spec_type_no"] = spectral_class_number(table["teff"].value)
    return table


def _cap_counts(rng: np.random.Generator, n_obs: np.ndarray, weights: np.ndarray, cap: int) -> np.ndarray:
    """Counts with none above ``cap`` and the same total: the excess is redrawn among the stars below the cap."""
    n_obs = n_obs.copy()
    while (excess := int(np.clip(n_obs - cap, 0, None).sum())) > 0:
        n_obs = np.minimum(n_obs, cap)
        open_weights = np.where(n_obs < cap, weights, 0.0)
        n_obs += rng.multinomial(excess, open_weights / open_weights.sum())
    return n_obs


def _draw_stars(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Per-object parameters (angles in radians)."""
    kind = rng.choice(3, size=n, p=[0.82, 0.08, 0.10])  # cool dwarf, hot star, giant
    dwarf_teff = np.where(rng.random(n) < 0.3, rng.uniform(3_050, 3_900, n), rng.uniform(3_900, 6_500, n))
    teff = np.select([kind == 0, kind == 1], [dwarf_teff, rng.uniform(6_500, 12_000, n)], rng.uniform(4_000, 5_300, n))
    dwarf_logg = np.clip(4.44 + 0.6 * (5_770 - teff) / 2_700 + rng.normal(0, 0.08, n), 3.9, 5.2)
    logg = np.select([kind == 0, kind == 1], [dwarf_logg, rng.uniform(3.8, 4.3, n)], rng.uniform(1.8, 3.4, n))
    feh = np.clip(rng.normal(-0.1, 0.25, n), -1.5, 0.5)
    vsini = np.select([kind == 1, teff > 6_000], [rng.uniform(20, 150, n), rng.exponential(6.0, n) + 3.0],
                      rng.exponential(2.0, n) + 1.0)
    # Sky: uniform on the sphere south of δ = +30°.
    dec = np.arcsin(rng.uniform(-1, np.sin(np.deg2rad(30)), n))
    ra = rng.uniform(0, 2 * np.pi, n)
    eps = np.deg2rad(_OBLIQUITY_DEG)
    sin_beta = np.sin(dec) * np.cos(eps) - np.cos(dec) * np.sin(eps) * np.sin(ra)
    ecliptic_longitude = np.arctan2(np.sin(ra) * np.cos(eps) + np.tan(dec) * np.sin(eps), np.cos(ra))
    return dict(teff=teff, logg=logg, feh=feh, vsini=vsini, ra=ra, dec=dec,
                systemic_rv=np.clip(25.0 * rng.standard_t(4, n), -150, 150),
                jitter=np.where(teff < 4_000, 0.003, 0.0015) * np.exp(rng.normal(0, 0.5, n)),
                ecliptic_latitude=np.arcsin(sin_beta), ecliptic_longitude=ecliptic_longitude)


def _mjd_of_sun_longitude(longitude_deg: np.ndarray, year: np.ndarray) -> np.ndarray:
    """MJD in ``year`` when the Sun's mean ecliptic longitude is ``longitude_deg`` (low-precision almanac)."""
    days_per_degree = 365.2422 / 360.0
    # Mean longitude L = 280.460° + 0.9856474°·(MJD − J2000); take the date within the year's span.
    start = _J2000_MJD + (year - 2000) * 365.2422
    start_longitude = 280.460 + 0.985_647_4 * (start - _J2000_MJD)
    return start + np.mod(longitude_deg - start_longitude, 360.0) * days_per_degree


def _airmass(rng: np.random.Generator, dec: np.ndarray) -> np.ndarray:
    """Airmass 1/sin(altitude) at a random hour angle while the object is above 20° (capped at 2.9)."""
    lat = np.deg2rad(LA_SILLA_LATITUDE_DEG)
    cos_limit = (np.sin(np.deg2rad(MIN_ALTITUDE_DEG)) - np.sin(lat) * np.sin(dec)) / (np.cos(lat) * np.cos(dec))
    hour_limit = np.minimum(np.arccos(np.clip(cos_limit, -1, 1)), np.deg2rad(4 * 15))  # ≤ 4 h from transit
    hour = rng.uniform(-1, 1, dec.size) * hour_limit
    sin_altitude = np.sin(lat) * np.sin(dec) + np.cos(lat) * np.cos(dec) * np.cos(hour)
    return np.clip(1 / np.maximum(sin_altitude, 1e-3), 1.0, MAX_AIRMASS)
