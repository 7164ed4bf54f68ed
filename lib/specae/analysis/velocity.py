"""The classical answer and the physical limit for radial velocities.

- :func:`ccf_rv`: the HARPS DRS cross-correlation RV (Baranne et al. 1996, A&AS 119, 373; Pepe et al. 2002,
  A&A 388, 632): each spectrum is cross-correlated with a binary line mask, box-shaped holes of a fixed
  velocity width centred on the mask lines Doppler-shifted by v and weighted by the mask weights, and the RV is
  the centre of a Gaussian fitted to the CCF dip. The masks are the DRS masks F9…M5 the package ships
  (:func:`harps_mask`).
- :func:`photon_noise_rv`: the photon-noise RV limit of each spectrum from its quality factor (Bouchy, Pepe &
  Queloz 2001, A&A 374, 733), σ_RV = c / √Σᵢ (λᵢ ∂A/∂λᵢ)² / σᵢ²; :func:`synthetic_sigma` gives the expected
  flux and per-pixel noise of synthetic spectra, so the limit uses the noise-free spectrum and the generator's σ.

Conventions, those of the synthetic generator (:mod:`specae.synth.survey`) and of HARPS s1d products:
wavelengths are in **air** (the masks, the grid and the generator's line lists all are); a velocity v moves
a line from λ to λ·(1 + v/c) (the **classical** first-order Doppler factor, as the generator applies it; the
relativistic factor would differ by v²/2c, 37 m/s at 150 km/s); spectra are in the **barycentric** frame, the
stellar lines shifted by the label ``rv`` alone and only the telluric lines by the BERV. So the CCF measures the
label ``rv`` itself (km/s), with no BERV to add or remove. (Spectra in the observer's frame would give v with
(1 + v/c)(1 + BERV/c) = 1 + rv/c.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import numpy as np
import torch
from scipy import sparse

from specae.analysis._inputs import to_float_array
from specae.constants import SPEED_OF_LIGHT_KMS
from specae.synth.line_lists import mask_library
from specae.synth.survey import READ_NOISE_E, SyntheticSurvey, detector

__all__ = ["HARPS_HOLE_WIDTH_KMS", "CCFResult", "ccf_rv", "harps_mask", "harps_mask_type", "photon_noise_rv",
           "synthetic_photon_noise_rv", "synthetic_sigma"]

HARPS_HOLE_WIDTH_KMS = 0.82  # width of the HARPS DRS mask holes (Pepe et al. 2002)
MIN_VELOCITIES = 7  # a Gaussian with a continuum has 4 parameters
DIP_WINGS_SIGMAS = 3.0  # the fitted velocities must reach this many σ on both sides of the centre
MASK_FILE = "data/harps_line_masks.npz"  # in specae.synth, written by scripts/extract_line_masks.py
_FIT_ITERATIONS = 100
_GRID_TOLERANCE = 1e-6  # relative departure from a uniform step still called uniform


def harps_mask_type(teff) -> np.ndarray:
    """(n,) str: the DRS mask type (F9…M5) of nearest Teff to each of ``teff`` (K, scalar or (n,))."""
    library = mask_library()
    teff = np.atleast_1d(np.asarray(teff, dtype=np.float64))
    nearest = np.argmin(np.abs(teff[:, None] - library.teff_k[None, :]), axis=1)
    return np.array(library.types)[nearest]


def harps_mask(kind: str | float, wavelength_range: tuple[float, float] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """The HARPS DRS line mask of a spectral type (``"G2"``) or of the type of nearest Teff (K, a number).

    Returns (line_wavelength, weight), each (L,) float64, rest air wavelengths (Å) sorted, and the DRS weights;
    ``wavelength_range`` (low, high) Å keeps only the lines inside it.
    """
    library = mask_library()
    name = kind if isinstance(kind, str) else str(harps_mask_type(kind)[0])
    if name not in library.types:
        raise ValueError(f"unknown HARPS mask type {name!r}; the shipped masks are {', '.join(library.types)} "
                         "(or pass a Teff in K for the nearest)")
    with resources.files("specae.synth").joinpath(MASK_FILE).open("rb") as handle, \
            np.load(handle, allow_pickle=False) as data:
        index = library.types.index(name)
        piece = slice(int(data["offsets"][index]), int(data["offsets"][index + 1]))
        wavelength = data["wavelength"][piece].astype(np.float64)
        weight = data["weight"][piece].astype(np.float64)
    if wavelength_range is not None:
        low, high = wavelength_range
        inside = (wavelength >= low) & (wavelength <= high)
        wavelength, weight = wavelength[inside], weight[inside]
    return wavelength, weight


@dataclass(frozen=True)
class CCFResult:
    """Cross-correlation RVs of n spectra on n_v velocities.

    velocities: (n_v,) km/s. ccf: (n, n_v) the CCF divided by its fitted continuum (1 away from the dip; by its
    maximum where the fit failed).
    rv: (n,) km/s, the fitted Gaussian's centre (the label ``rv`` for this package's spectra); sigma: (n,) km/s
    its width; contrast: (n,) its depth as a fraction of the continuum; continuum: (n,) the fitted continuum of
    the raw CCF (the weighted mean over lines of the flux summed in a hole, flux units × pixels); n_lines: (n,)
    mask lines used. Spectra whose fit failed (``on_failure="nan"``) hold NaN.
    """

    velocities: np.ndarray
    ccf: np.ndarray
    rv: np.ndarray
    sigma: np.ndarray
    contrast: np.ndarray
    continuum: np.ndarray
    n_lines: np.ndarray

    @property
    def fwhm(self) -> np.ndarray:
        """(n,) km/s full width at half maximum of the fitted Gaussian."""
        return 2 * np.sqrt(2 * np.log(2)) * self.sigma


def ccf_rv(flux, mask, wavelength, line_wavelength, line_weight, velocities, *,
           hole_width_kms: float = HARPS_HOLE_WIDTH_KMS, fit_half_width_kms: float | None = None,
           min_contrast: float = 1e-3, on_failure: Literal["raise", "nan"] = "raise") -> CCFResult:
    """Radial velocities by the HARPS DRS binary-mask cross-correlation (Baranne et al. 1996; Pepe et al. 2002).

    flux: (n, n_pix) or (n_pix,) on the linear wavelength grid ``wavelength`` (n_pix,) Å (air, pixel centres, a
    uniform step); mask: (n_pix,) or (n, n_pix) bool, True on usable pixels (non-finite flux is masked too).
    line_wavelength, line_weight: (L,) rest wavelengths (Å) and weights of the mask, e.g. :func:`harps_mask`.
    velocities: (n_v,) uniform, increasing grid (km/s) that covers each dip with ≥ 3σ on both sides.

    For every velocity v, line l gets a hole of ``hole_width_kms`` centred on λ_l·(1 + v/c), and the CCF is
    Σ_l w_l Σ_j f_lj(v) F_j / Σ_l w_l, with f_lj the fraction of pixel j inside the hole. A line whose holes
    over the whole velocity grid touch a masked pixel or leave the grid is left out at every velocity, so the
    CCF of a spectrum uses one set of lines. The RV is the centre of a Gaussian with a constant continuum
    fitted by least squares (Levenberg–Marquardt, vectorised over spectra) to the CCF, over the whole grid or
    within ``fit_half_width_kms`` of its minimum: the DRS way, not a parabola on the minimum.

    A fit fails when its dip is no deeper than ``min_contrast`` of the continuum (by default 0.1 %; the generator's
    FGK dwarfs dip 15–65 % on the study grid, its 10,000 K stars 0.4 %), when its σ is below the velocity step, or
    when the dip ±3σ is not inside the fitted velocities; failures raise a ValueError naming the spectra and the fix,
    or with ``on_failure="nan"`` are NaN. Away from the true dip the CCF of a line-rich spectrum wanders by ≈ 1 %
    (chance alignments with other lines), so a grid that misses the dip can fit such a wiggle: the contrast tells,
    and ``min_contrast`` of a few % rejects them.
    """
    if on_failure not in ("raise", "nan"):
        raise ValueError(f"on_failure must be 'raise' or 'nan', got {on_failure!r}")
    flux = to_float_array(flux, "flux")
    flux = flux[None, :] if flux.ndim == 1 else flux
    wavelength = to_float_array(wavelength, "wavelength")
    valid = _valid_pixels(flux, mask, wavelength)
    step = _uniform_step(wavelength, "wavelength", "Å", "put the spectra on this package's linear grid (Grid)")
    velocities = to_float_array(velocities, "velocities")
    if velocities.ndim != 1 or velocities.size < MIN_VELOCITIES:
        raise ValueError(f"velocities must be a 1-D grid of ≥ {MIN_VELOCITIES} values (a Gaussian with a "
                         f"continuum has 4 parameters), got shape {velocities.shape}; e.g. np.arange(-20, 20.1, 0.5)"
                         " around the expected RV")
    v_step = _uniform_step(velocities, "velocities", "km/s", "use np.arange or np.linspace")
    line_wavelength = to_float_array(line_wavelength, "line_wavelength")
    line_weight = to_float_array(line_weight, "line_weight")
    if line_wavelength.ndim != 1 or line_wavelength.shape != line_weight.shape or line_wavelength.size == 0:
        raise ValueError(f"line_wavelength {line_wavelength.shape} and line_weight {line_weight.shape} must be "
                         "non-empty 1-D arrays of equal length; take them from harps_mask(type, wavelength_range)")
    if hole_width_kms <= 0:
        raise ValueError(f"hole_width_kms must be > 0, got {hole_width_kms}")

    lower, upper, first, span = _hole_edges(line_wavelength, velocities, hole_width_kms, wavelength[0], step)
    last = np.ceil(upper[-1]).astype(np.int64) - 1  # the last pixel a line's holes touch (the reddest hole's)
    on_grid = (first[0] >= 0) & (last < wavelength.size)
    bad = np.concatenate([np.zeros((valid.shape[0], 1), np.int64), np.cumsum(~valid, axis=1)], axis=1)
    start, stop = np.clip(first[0], 0, wavelength.size), np.clip(last + 1, 0, wavelength.size)
    usable = on_grid[None, :] & (bad[:, stop] == bad[:, start])  # (n, L): no masked pixel under any hole
    n_lines = usable.sum(axis=1)
    if np.any(n_lines == 0):
        raise ValueError(f"{np.count_nonzero(n_lines == 0)} spectra (first: {int(np.argmax(n_lines == 0))}) have no "
                         f"mask line whose holes over {velocities[0]:g}…{velocities[-1]:g} km/s lie on valid pixels; "
                         "choose a mask and velocity range that overlap the spectra's unmasked wavelengths")
    raw = np.empty((flux.shape[0], velocities.size))
    clean = np.where(valid, flux, 0.0)
    patterns, group = np.unique(usable, axis=0, return_inverse=True)
    for index, lines in enumerate(patterns):
        members = np.flatnonzero(group.ravel() == index)
        matrix = _hole_matrix(lower[:, lines], upper[:, lines], first[:, lines], span, line_weight[lines],
                              wavelength.size)
        raw[members] = (matrix @ clean[members].T).T / line_weight[lines].sum()
    p, used = _fit_dip(velocities, raw, fit_half_width_kms)
    for failed, message in _fit_failures(p, used, raw, velocities, v_step, fit_half_width_kms, min_contrast):
        if failed.any() and on_failure == "raise":
            first_failed = int(np.argmax(failed))
            raise ValueError(f"{np.count_nonzero(failed)} spectra (first: {first_failed}) {message(first_failed)}")
        p[failed] = np.nan
    continuum, depth, centre, sigma = p.T
    level = np.where(np.isfinite(continuum), continuum, raw.max(axis=1))
    return CCFResult(velocities=velocities, ccf=raw / level[:, None], rv=centre, sigma=sigma,
                     contrast=depth / continuum, continuum=continuum, n_lines=n_lines)


def _valid_pixels(flux: np.ndarray, mask, wavelength: np.ndarray) -> np.ndarray:
    """(n, n_pix) bool: the mask (broadcast) and finite flux; shapes checked against the wavelength grid."""
    if flux.ndim != 2 or wavelength.ndim != 1 or flux.shape[1] != wavelength.size:
        raise ValueError(f"flux {flux.shape} must be (n, n_pix) or (n_pix,) with n_pix = wavelength's length "
                         f"{wavelength.shape}; pass the grid the spectra were sampled on (Grid.wavelength)")
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape not in ((flux.shape[1],), flux.shape):
        raise ValueError(f"mask must be bool of shape ({flux.shape[1]},) or {flux.shape}, got {mask.dtype} "
                         f"{mask.shape}; use Grid.mask for this package's grids")
    valid = np.broadcast_to(mask, flux.shape) & np.isfinite(flux)
    if not valid.any(axis=1).all():
        raise ValueError(f"{np.count_nonzero(~valid.any(axis=1))} spectra have no valid pixel (mask all False or "
                         "flux all NaN); leave them out")
    return valid


def _uniform_step(values: np.ndarray, name: str, unit: str, fix: str) -> float:
    """The step of a uniform increasing grid, or a ValueError naming ``name`` and ``fix``."""
    if values.ndim != 1 or values.size < 2:
        raise ValueError(f"{name} must be a 1-D grid of ≥ 2 values, got shape {values.shape}")
    steps = np.diff(values)
    step = float(steps.mean())
    if not step > 0 or np.max(np.abs(steps - step)) > _GRID_TOLERANCE * step:
        raise ValueError(f"{name} must increase in uniform steps (found steps {steps.min():g}…{steps.max():g} {unit}); "
                         f"{fix}")
    return step


def _hole_edges(line_wavelength, velocities, hole_width_kms, first_centre, step):
    """Each hole's edges in pixel units from the grid's first pixel edge, (n_v, L) each; the first pixel each
    touches (n_v, L) int; and the most pixels any hole touches."""
    centre = line_wavelength[None, :] * (1 + velocities[:, None] / SPEED_OF_LIGHT_KMS)
    half = centre * (hole_width_kms / (2 * SPEED_OF_LIGHT_KMS))
    edge = first_centre - step / 2
    lower, upper = (centre - half - edge) / step, (centre + half - edge) / step
    first = np.floor(lower).astype(np.int64)
    span = int(np.max(np.ceil(upper).astype(np.int64) - first))
    return lower, upper, first, max(span, 1)


def _hole_matrix(lower, upper, first, span, weight, n_pix) -> sparse.csr_array:
    """(n_v, n_pix) sparse: weight × fraction of each pixel inside each hole, summed over lines."""
    rows, columns, values = [], [], []
    n_v = lower.shape[0]
    for k in range(span):
        pixel = first + k
        overlap = np.clip(np.minimum(upper, pixel + 1) - np.maximum(lower, pixel), 0.0, None)
        rows.append(np.broadcast_to(np.arange(n_v)[:, None], pixel.shape).ravel())
        columns.append(pixel.ravel())
        values.append((overlap * weight[None, :]).ravel())
    data = np.concatenate(values)
    keep = data > 0
    return sparse.csr_array((data[keep], (np.concatenate(rows)[keep], np.concatenate(columns)[keep])),
                            shape=(n_v, n_pix))


def _gaussian_dip(v: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model c − a·exp(−(v − μ)²/2s²) of parameters p (n, 4) = (c, a, μ, s) at v (n_v,): values (n, n_v) and
    the Jacobian (n, n_v, 4)."""
    c, a, mu, s = (p[:, i : i + 1] for i in range(4))
    x = (v[None, :] - mu) / s
    g = np.exp(-0.5 * x**2)
    jacobian = np.stack([np.ones_like(g), -g, -a * g * x / s, -a * g * x**2 / s], axis=-1)
    return c - a * g, jacobian


def _fit_dip(v: np.ndarray, ccf: np.ndarray, half_width: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares Gaussian dips c − a·exp(−(v − μ)²/2s²) of (n, n_v) CCFs, all spectra at once
    (Levenberg–Marquardt): the parameters (n, 4) = (c, a, μ, s) and the (n, n_v) bool velocities fitted."""
    n = ccf.shape[0]
    lowest = np.argmin(ccf, axis=1)
    used = np.ones(ccf.shape, bool) if half_width is None else np.abs(v[None, :] - v[lowest][:, None]) <= half_width
    weight = used.astype(np.float64)
    # Start: the highest point, the lowest point and the width of a Gaussian of the dip's area; in units of the
    # starting continuum, so that all spectra take well-conditioned steps.
    scale = np.max(np.where(used, ccf, -np.inf), axis=1)[:, None]
    y = ccf / scale
    depth = 1 - y[np.arange(n), lowest]
    dv = float(v[1] - v[0])
    width = np.sum(weight * (1 - y), axis=1) * dv / np.maximum(depth, 1e-300) / np.sqrt(2 * np.pi)
    p = np.stack([np.ones(n), depth, v[lowest], np.clip(width, dv, (v[-1] - v[0]) / 2)], axis=1)

    def chi2_of(params):
        model, jacobian = _gaussian_dip(v, params)
        return np.sum(weight * (y - model) ** 2, axis=1), model, jacobian

    chi2, model, jacobian = chi2_of(p)
    damping = np.full(n, 1e-3)
    for _ in range(_FIT_ITERATIONS):
        jw = jacobian * weight[:, :, None]
        normal = np.einsum("nvi,nvj->nij", jw, jacobian)
        gradient = np.einsum("nvi,nv->ni", jw, y - model)
        diagonal = np.einsum("nii->ni", normal)
        # The floor keeps the step defined where a parameter has no pull (no dip: a = 0 leaves μ and s free).
        floor = 1e-12 * diagonal.max(axis=1, keepdims=True)
        damped = normal + (damping[:, None] * diagonal + floor)[:, :, None] * np.eye(4)
        trial = p + np.linalg.solve(damped, gradient[:, :, None])[:, :, 0]
        trial[:, 3] = np.abs(trial[:, 3])
        new_chi2, new_model, new_jacobian = chi2_of(trial)
        better = np.isfinite(new_chi2) & (new_chi2 <= chi2)
        converged = better & (chi2 - new_chi2 <= 1e-12 * chi2)
        p = np.where(better[:, None], trial, p)
        model = np.where(better[:, None], new_model, model)
        jacobian = np.where(better[:, None, None], new_jacobian, jacobian)
        chi2 = np.where(better, new_chi2, chi2)
        damping = np.clip(np.where(better, damping / 3, damping * 4), 1e-9, 1e13)
        if np.all(converged | (damping > 1e12)):
            break
    p[:, :2] *= scale
    return p, used


def _fit_failures(p: np.ndarray, used: np.ndarray, ccf: np.ndarray, v: np.ndarray, v_step: float,
                  half_width: float | None, min_contrast: float) -> list[tuple[np.ndarray, Callable[[int], str]]]:
    """Each kind of failed fit: (n,) bool spectra and a message for spectrum i naming the problem and the fix."""
    continuum, depth, centre, sigma = p.T
    low = np.where(used, v, np.inf).min(axis=1)
    high = np.where(used, v, -np.inf).max(axis=1)
    no_dip = ~np.isfinite(p).all(axis=1) | (continuum <= 0) | ~(depth > min_contrast * continuum)
    coarse = ~no_dip & (sigma < v_step)
    lowest = np.argmin(ccf, axis=1)
    uncovered = ~no_dip & ~coarse & ((lowest == 0) | (lowest == v.size - 1) | (centre - DIP_WINGS_SIGMAS * sigma < low)
                                     | (centre + DIP_WINGS_SIGMAS * sigma > high))
    wider = "fit_half_width_kms" if half_width is not None else "the velocity grid"
    return [
        (no_dip, lambda i: f"show no CCF dip deeper than min_contrast = {min_contrast:g} (no line of the mask in the "
                           "spectrum, or lines too broad to see); use the mask of the star's type, or leave hot and "
                           "fast-rotating stars out"),
        (coarse, lambda i: f"have a CCF dip (σ = {sigma[i]:.3g} km/s) narrower than the velocity step ({v_step:g} "
                           "km/s): the velocity grid is too coarse; use a step ≤ σ, e.g. 0.5 km/s as the DRS does"),
        (uncovered, lambda i: f"have a CCF dip (minimum at {v[lowest[i]]:.4g} km/s, fitted centre {centre[i]:.4g}, σ "
                              f"{sigma[i]:.3g} km/s) whose ±{DIP_WINGS_SIGMAS:g}σ is not inside the fitted velocities "
                              f"({low[i]:.4g}…{high[i]:.4g} km/s): the velocity grid does not cover the dip; widen "
                              f"{wider} or centre the grid on the expected RV"),
    ]


def photon_noise_rv(flux, sigma, wavelength, mask) -> np.ndarray:
    """Photon-noise RV limit (km/s) of each spectrum from its quality factor (Bouchy, Pepe & Queloz 2001, eq. 12).

    σ_RV = c / √Σᵢ (λᵢ ∂A/∂λᵢ)² / σᵢ², with ∂A/∂λ by central differences on the grid (a pixel counts only when it and
    both neighbours are valid; the two end pixels never do). flux: (n, n_pix) or (n_pix,) the spectrum A, best
    noise-free (:func:`synthetic_sigma` gives it for synthetic spectra): noisy flux adds the noise's own slope to the
    sum and makes the limit too small, little at high S/N (by 0.8 % for a G2 V star at the label S/N 50 on the
    study grid), more as 1/(S/N)² grows. sigma: per-pixel noise in the flux's units, the flux's shape (or
    broadcastable); wavelength: (n_pix,) Å; mask: (n_pix,) or (n, n_pix) bool, True on usable pixels (σ ≤ 0 or
    non-finite values are left out too). Returns (n,) km/s (inf where a spectrum holds no RV information, e.g. a flat
    one).

    The formula needs pixels small against the lines: central differences span two pixels and under-read a line's
    slope, so the limit comes out too large on coarse grids. For a G2 V star (vsini 2 km/s) it is 2 % too large on
    the 0.01 Å grid but 32 % on the study preset's 0.04 Å grid; :func:`synthetic_photon_noise_rv` gives the exact
    limit of synthetic spectra on any grid.
    """
    flux = to_float_array(flux, "flux")
    flux = flux[None, :] if flux.ndim == 1 else flux
    wavelength = to_float_array(wavelength, "wavelength")
    sigma = _noise_like(sigma, flux)
    valid = _valid_pixels(flux, mask, wavelength) & np.isfinite(sigma) & (sigma > 0)
    inner = valid[:, 1:-1] & valid[:, :-2] & valid[:, 2:]
    if not inner.any(axis=1).all():
        raise ValueError(f"{np.count_nonzero(~inner.any(axis=1))} spectra have no valid pixel with valid neighbours; "
                         "check the mask and that sigma > 0 on the spectrum's pixels")
    slope = (flux[:, 2:] - flux[:, :-2]) / (wavelength[2:] - wavelength[:-2])
    return _rv_limit(wavelength[1:-1] / SPEED_OF_LIGHT_KMS * slope, sigma[:, 1:-1], inner)


def _noise_like(sigma, flux: np.ndarray) -> np.ndarray:
    """``sigma`` as float64 broadcast to the flux's (n, n_pix), or a ValueError naming both shapes."""
    values = to_float_array(sigma, "sigma")
    try:
        return np.broadcast_to(values, flux.shape)
    except ValueError:
        raise ValueError(f"sigma {values.shape} must have the flux's shape {flux.shape} (or broadcast to it): "
                         "one noise value per pixel") from None


def _rv_limit(flux_per_kms: np.ndarray, sigma: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(n,) km/s: 1/√Σᵢ (∂Fᵢ/∂v / σᵢ)² over the valid pixels, from (n, n_pix) ∂F/∂v (flux per km/s) and σ."""
    information = np.where(valid, (flux_per_kms / np.where(valid, sigma, 1.0)) ** 2, 0.0).sum(axis=1)
    with np.errstate(divide="ignore"):
        return 1.0 / np.sqrt(information)


def synthetic_sigma(survey: SyntheticSurvey, indices) -> tuple[np.ndarray, np.ndarray]:
    """Expected (noise-free) flux and per-pixel noise (ADU) of synthetic spectra ``indices``: each (batch, n_pixels)
    float64 on the survey's grid.

    The generator's noise model (:meth:`SyntheticSurvey.render`): S deblazed photo-electrons per 0.01 Å, the continuum
    at 5,500 Å at the label's S/N; Poisson (Gaussian limit) on the detected S·blaze plus the read noise, divided back
    by the blaze, the gain and √(fine pixels averaged): σ = √(RN² + S·blaze) / (blaze · gain · √factor), zero on
    masked pixels. ``render(indices)`` − flux is Gaussian with this σ.
    """
    expected = survey.render(indices, noise=False).double()
    response = detector(survey.grid, "cpu")
    per_electron = response.flux_per_electron.double()
    lit = per_electron > 0
    electrons = torch.where(lit, expected / torch.where(lit, per_electron, 1.0), 0.0).clamp(min=0)
    blaze = response.blaze.double()
    sigma = (READ_NOISE_E**2 + electrons * blaze).sqrt() * response.noise_per_electron.double()
    return expected.numpy(), sigma.numpy()


def synthetic_photon_noise_rv(survey: SyntheticSurvey, indices, step_kms: float = 0.05) -> np.ndarray:
    """Exact photon-noise RV limit (km/s) of synthetic spectra ``indices``: (batch,).

    The Cramér–Rao bound 1/√Σᵢ (∂Fᵢ/∂v / σᵢ)² of the pixel-averaged flux F with the generator's σ
    (:func:`synthetic_sigma`), ∂F/∂v from noise-free renderings at rv ± ``step_kms``: Bouchy et al.'s quality factor
    without the finite-difference error of :func:`photon_noise_rv` on coarse grids, and counting only the stellar
    lines' motion (not the continuum's slope nor the telluric lines, which do not move with the star's RV).
    """
    if step_kms <= 0:
        raise ValueError(f"step_kms must be > 0, got {step_kms}")
    _, sigma = synthetic_sigma(survey, indices)
    rendered = []
    for sign in (1.0, -1.0):
        shifted = SyntheticSurvey(survey.config, survey.grid)
        shifted.labels = survey.labels.copy()
        shifted.labels["rv"] += sign * step_kms
        rendered.append(shifted.render(indices, noise=False).double().numpy())
    return _rv_limit((rendered[0] - rendered[1]) / (2 * step_kms), sigma, sigma > 0)
