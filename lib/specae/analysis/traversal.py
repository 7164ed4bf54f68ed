"""Latent traversals: decode while sweeping one node, measure the Doppler shift the node encodes, and find
where a node tracks a label monotonically (the released model's RV node, z124, is monotonic only for
≈ −26…+40 km/s, as read off the released §6 notebook's plots)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.interpolate import CubicSpline
from scipy.signal import correlate

from specae.constants import SPEED_OF_LIGHT_KMS


@torch.no_grad()
def traverse(decoder, code: torch.Tensor, node: int, values) -> torch.Tensor:
    """Decode ``code`` with node ``node`` replaced by each of ``values``.

    decoder: callable (m, n_latent) → (m, 1, n_pix), e.g. ``model.decode``; code: (n_latent,).
    Returns (m, n_pix) on the decoder's device.
    """
    values = torch.as_tensor(np.asarray(values, dtype=np.float32), device=code.device)
    if code.ndim != 1 or not 0 <= node < code.shape[0]:
        raise ValueError(f"code must be 1-D with node in [0, {code.shape[-1]}), "
                         f"got shape {tuple(code.shape)} and node {node}")
    codes = code.repeat(values.shape[0], 1)
    codes[:, node] = values
    return decoder(codes).reshape(values.shape[0], -1)


def doppler_shift_kms(wavelength: np.ndarray, reference: np.ndarray, spectra: np.ndarray, valid: np.ndarray,
                      max_kms: float = 300.0, oversample: int = 8) -> np.ndarray:
    """Velocity (km/s) that best shifts ``reference`` onto each of ``spectra``, by cross-correlation.

    wavelength: (n,) Å of a linear grid; reference: (n,); spectra: (m, n); valid: (n,) bool pixels to use.
    Both are resampled with cubic splines onto a uniform ln λ grid (``oversample`` × finer than the finest
    pixel in ln λ), where a
    Doppler shift is a translation; the peak of the cross-correlation is refined with a parabola.
    """
    spectra = np.atleast_2d(spectra)
    lam = wavelength[valid]
    step = np.min(np.diff(np.log(lam))) / oversample
    log_grid = np.arange(np.log(lam[0]), np.log(lam[-1]), step)
    grid_lam = np.exp(log_grid)

    def prepared(flux):
        values = CubicSpline(lam, flux[valid])(grid_lam)  # linear interpolation would lock onto pixels
        return values - values.mean()

    ref = prepared(reference)
    max_lag = int(np.ceil(max_kms / SPEED_OF_LIGHT_KMS / step))
    velocities = []
    for flux in spectra:
        cc = correlate(prepared(flux), ref, mode="full", method="fft")  # index ref.size − 1 ↔ lag 0
        zero = ref.size - 1
        window = cc[zero - max_lag : zero + max_lag + 1]
        best = int(np.clip(np.argmax(window), 1, window.size - 2))
        denominator = window[best - 1] - 2 * window[best] + window[best + 1]
        offset = 0.5 * (window[best - 1] - window[best + 1]) / denominator if denominator != 0 else 0.0
        velocities.append((best - max_lag + offset) * step * SPEED_OF_LIGHT_KMS)
    return np.array(velocities)


class TooFewBinsError(ValueError):
    """Too few populated label bins to read a monotonic window from (a limit of the data, not a bug)."""


@dataclass(frozen=True)
class MonotonicWindow:
    """Where a node's binned median moves monotonically with a label.

    low, high: label range of the window; slope: node units per label unit (linear fit inside it);
    direction: +1 rising or −1 falling; centres, medians: the binned curve it was read from.
    """

    low: float
    high: float
    slope: float
    direction: int
    centres: np.ndarray
    medians: np.ndarray


def monotonic_window(label: np.ndarray, node: np.ndarray, bin_width: float, min_count: int = 5,
                     around: float = 0.0, label_name: str = "the label") -> MonotonicWindow:
    """The widest run of label bins containing ``around`` over which the node's median is strictly monotonic.

    label, node: (n,) paired values (NaN dropped); bin_width: label units per bin; bins with fewer
    than ``min_count`` points are skipped. The released model's RV node: around = 0 km/s, bins of a few km/s.
    Raises :class:`TooFewBinsError` when fewer than 3 bins are populated, naming ``label_name`` (with its unit).
    """
    finite = np.isfinite(label) & np.isfinite(node)
    label, node = np.asarray(label)[finite], np.asarray(node)[finite]
    if label.size < 3 * min_count:
        raise TooFewBinsError(f"{label.size} finite (label, node) pairs, fewer than the {3 * min_count} that 3 bins "
                              f"of {min_count} need")
    edges = np.arange(np.floor(label.min() / bin_width) * bin_width, label.max() + bin_width, bin_width)
    which = np.digitize(label, edges) - 1
    centre_list, median_list = [], []
    for b in range(edges.size - 1):
        members = node[which == b]
        if members.size >= min_count:
            centre_list.append((edges[b] + edges[b + 1]) / 2)
            median_list.append(np.median(members))
    centres, medians = np.array(centre_list), np.array(median_list)
    if centres.size < 3:
        n_bins = edges.size - 1
        fix = ("narrow bin_width" if n_bins < 3 else
               "widen bin_width, lower min_count or use more points")
        raise TooFewBinsError(f"{centres.size} of the {n_bins} bins of {bin_width:g} over {label_name}, which spans "
                              f"{label.min():.0f} … {label.max():+.0f}, hold ≥ {min_count} points, fewer than 3; {fix}")
    start = int(np.argmin(np.abs(centres - around)))
    runs = []
    for direction in (+1, -1):
        steps = np.sign(np.diff(medians)) == direction
        low = start
        while low > 0 and steps[low - 1]:
            low -= 1
        high = start
        while high < steps.size and steps[high]:
            high += 1
        runs.append((low, high, direction))
    low, high, direction = max(runs, key=lambda run: run[1] - run[0])  # the first of equally wide runs: rising
    inside = (label >= centres[low] - bin_width / 2) & (label <= centres[high] + bin_width / 2)
    slope = float(np.polyfit(label[inside], node[inside], 1)[0]) if high > low else 0.0
    return MonotonicWindow(float(centres[low]), float(centres[high]), slope, direction, centres, medians)


BAND_1_SIGMA = (16.0, 84.0)  # the study's band
BAND_2_SIGMA = (2.5, 97.5)  # Study II's: C6's turn must exceed this band (docs/decisions.md)


@dataclass(frozen=True)
class MedianBand:
    """A node's binned median against a label with a bootstrap band over the points (stars).

    centres, medians: (m,) the populated bins (as :func:`monotonic_window` reads them); half_width: (m,) half
    the range of the bootstrap medians of each bin between the band's percentiles (16–84 %, or 2.5–97.5 % for
    Study II's 2σ band).
    """

    centres: np.ndarray
    medians: np.ndarray
    half_width: np.ndarray


def median_band(label: np.ndarray, node: np.ndarray, centres: np.ndarray, bin_width: float, n_bootstrap: int = 200,
                seed: int = 0, percentiles: tuple[float, float] = BAND_1_SIGMA) -> MedianBand:
    """Bootstrap (resampling the points, e.g. one spectrum per star) the node's median in each bin of
    ``centres`` ± ``bin_width``/2, with a band between ``percentiles`` of the bootstrap medians
    (:data:`BAND_1_SIGMA` or :data:`BAND_2_SIGMA`). label, node: (n,)."""
    finite = np.isfinite(label) & np.isfinite(node)
    label, node = np.asarray(label)[finite], np.asarray(node)[finite]
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, label.size, size=(n_bootstrap, label.size))
    medians, half = np.empty(centres.size), np.empty(centres.size)
    for b, centre in enumerate(centres):
        inside = np.abs(label - centre) <= bin_width / 2
        medians[b] = np.median(node[inside])
        boot = [np.median(node[sample[inside[sample]]]) for sample in samples if inside[sample].any()]
        low, high = np.percentile(boot, list(percentiles))
        half[b] = (high - low) / 2
    return MedianBand(centres=np.asarray(centres, dtype=float), medians=medians, half_width=half)


def turning_ends(window: MonotonicWindow, band: MedianBand) -> list[str]:
    """The ends of ``window`` ("low", "high") inside the populated range where the node's median turns: the next
    bin outside moves against the window's direction by more than the larger band half width of the two bins."""
    index = {float(centre): i for i, centre in enumerate(band.centres)}
    ends = []
    for name, edge, outward in (("low", window.low, -1), ("high", window.high, +1)):
        i = index.get(float(edge))
        j = None if i is None else i + outward
        if j is None or not 0 <= j < band.centres.size:
            continue
        step = (band.medians[j] - band.medians[i]) * outward  # the change moving outwards
        if -window.direction * step > max(band.half_width[i], band.half_width[j]):
            ends.append(name)
    return ends


@dataclass(frozen=True)
class DopplerSweep:
    """A node swept over the values it takes: values: (m,) node values decoded; shifts: (m,) Doppler shift
    (km/s) of each decoded spectrum against the decoding of the unchanged code."""

    values: np.ndarray
    shifts: np.ndarray

    @property
    def span(self) -> float:
        """The range of velocities the sweep covers (km/s)."""
        return float(self.shifts.max() - self.shifts.min())


def doppler_sweep(decoder, code, node: int, node_values, wavelength: np.ndarray, valid: np.ndarray,
                  steps: int = 15, percentiles: tuple[float, float] = (2.0, 98.0)) -> DopplerSweep:
    """Decode ``code`` with ``node`` at ``steps`` values spread evenly between the ``percentiles`` of
    ``node_values`` (what the node takes over a data set) and measure each decoding's Doppler shift.

    decoder: callable (m, n_latent) → (m, 1, n_pix), e.g. ``model.decode``; code: (n_latent,) latent means of
    one spectrum; node_values: (n,); wavelength: (n_pix,) Å; valid: (n_pix,) bool pixels to compare.
    """
    code = torch.as_tensor(code, dtype=torch.float32)
    low, high = np.percentile(node_values, percentiles)
    values = np.linspace(low, high, steps)
    decoded = traverse(decoder, code, node, values).cpu().numpy()
    reference = traverse(decoder, code, node, [code[node].item()]).cpu().numpy()[0]
    return DopplerSweep(values=values, shifts=doppler_shift_kms(wavelength, reference, decoded, valid))
