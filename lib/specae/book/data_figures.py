"""Figures of the data chapter: real vs synthetic spectra, the grid and its mask, the survey population
and what visibility-balanced sampling does to it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from astropy.table import Table
from matplotlib.figure import Figure

from specae.spectra.grid import CCD_GAP_INDICES, Grid, full_resolution_wavelength

REAL_COLOUR, SYNTHETIC_COLOUR = "0.15", "tab:orange"


def plot_spectrum_pair(wavelength: np.ndarray, real: np.ndarray, synthetic: np.ndarray,
                       zooms: dict[str, tuple[float, float]], labels: tuple[str, str]) -> Figure:
    """A real and a synthetic spectrum (median-normalised, valid pixels only): full range, then zooms.

    wavelength: (n,) Å; real, synthetic: (n,) normalised flux, NaN where masked. zooms: title → (start, stop) Å.
    """
    fig = plt.figure(figsize=(10, 6.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, squeeze=False, height_ratios=[1, 1.15])[:, 0]
    ax = top.subplots()
    ax.plot(wavelength, real, lw=0.3, color=REAL_COLOUR, label=labels[0])
    ax.plot(wavelength, synthetic - 1.0, lw=0.3, color=SYNTHETIC_COLOUR, label=f"{labels[1]} (offset −1)")
    ax.set(xlabel="air wavelength (Å)", ylabel="flux / median", xlim=(wavelength[np.isfinite(real)].min(),
                                                                     wavelength[np.isfinite(real)].max()))
    ax.legend(loc="lower right", frameon=False, fontsize="small")
    for (title, (start, stop)), zoom in zip(zooms.items(), bottom.subplots(1, len(zooms)), strict=True):
        part = (wavelength >= start) & (wavelength <= stop)
        for flux, colour in ((real, REAL_COLOUR), (synthetic, SYNTHETIC_COLOUR)):
            zoom.plot(wavelength[part], flux[part] / np.nanpercentile(flux[part], 98), lw=0.7, color=colour)
        zoom.set(title=title, xlabel="Å", xlim=(start, stop))
        zoom.tick_params(labelsize="small")
    bottom.axes[0].set_ylabel("flux / local 98th percentile")
    return fig


def plot_grid_and_mask(grid: Grid, flux: np.ndarray) -> Figure:
    """The padded analysis grid (left) and the CCD gap (right), with masked pixels shaded.

    flux: (grid.n_pixels,) a spectrum on ``grid`` (raw ADU).
    """
    wavelength, mask = grid.wavelength, grid.mask
    fig, (ax_all, ax_gap) = plt.subplots(1, 2, figsize=(10, 2.8), layout="constrained", width_ratios=[2, 1])
    full = full_resolution_wavelength()
    gap = (full[CCD_GAP_INDICES[0]], full[CCD_GAP_INDICES[1]])
    for ax in (ax_all, ax_gap):
        ax.plot(wavelength, flux, lw=0.4, color=REAL_COLOUR)
        _shade_masked(ax, wavelength, mask)
        ax.set(xlabel="air wavelength (Å)")
    ax_all.set(ylabel="flux (ADU)", title=f"{grid.n_pixels:,} pixels, {int(mask.sum()):,} valid")
    ax_gap.set(xlim=(gap[0] - 15, gap[1] + 15), title="CCD gap")
    return fig


def _shade_masked(ax, wavelength: np.ndarray, mask: np.ndarray) -> None:
    """Grey bands over runs of masked pixels."""
    step = wavelength[1] - wavelength[0]
    masked = (~mask).astype(np.int8)
    starts = np.flatnonzero(np.diff(np.concatenate([[0], masked])) == 1)
    stops = np.flatnonzero(np.diff(np.concatenate([masked, [0]])) == -1)
    for first, last in zip(starts, stops, strict=True):
        ax.axvspan(wavelength[first] - step / 2, wavelength[last] + step / 2, color="0.85", zorder=0, lw=0)


def plot_normalised_histograms(real: np.ndarray, synthetic: np.ndarray, labels: tuple[str, str]) -> Figure:
    """Histograms of median-normalised flux over valid pixels. real, synthetic: 1-D arrays."""
    fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    bins = np.linspace(-0.2, 2.2, 121)
    for values, colour, label in ((real, REAL_COLOUR, labels[0]), (synthetic, SYNTHETIC_COLOUR, labels[1])):
        ax.hist(values, bins=bins,  # type: ignore[arg-type]  # matplotlib's stub omits array bins, which it takes
                histtype="step", density=True, color=colour, label=label)
    ax.set(xlabel="flux / median", ylabel="density", yscale="log")
    ax.legend(frameon=False, fontsize="small")
    return fig


def plot_population(labels: Table) -> Figure:
    """The survey: HR diagram of the objects (colour: spectra per object), BERV through the year, and S/N."""
    objects = labels[np.unique(np.asarray(labels["object_id"]), return_index=True)[1]]
    fig, (ax_hr, ax_berv, ax_snr) = plt.subplots(1, 3, figsize=(10.5, 3.3), layout="constrained")
    points = ax_hr.scatter(objects["teff"], objects["logg"], c=np.log10(objects["n_obs"]), s=9, cmap="viridis")
    ax_hr.set(xlabel="Teff (K)", ylabel="log g (dex)", title="objects")
    ax_hr.invert_xaxis()
    ax_hr.invert_yaxis()
    fig.colorbar(points, ax=ax_hr, label="log₁₀ spectra per object")
    # BERV follows the Earth's orbit: show it against the day of the year for the best-observed stars.
    day_of_year = np.mod(np.asarray(labels["mjd"]) - 51_544.5, 365.25)
    for obj in np.argsort(np.bincount(labels["object_id"]))[::-1][:4]:
        mine = np.asarray(labels["object_id"]) == obj
        ax_berv.scatter(day_of_year[mine], np.asarray(labels["berv"])[mine], s=4, label=f"object {obj}")
    ax_berv.set(xlabel="day of the year", ylabel="BERV (km/s)", title="the 4 best-observed stars")
    ax_berv.legend(frameon=False, fontsize="x-small", markerscale=2)
    ax_snr.hist(np.asarray(labels["snr"]), bins=np.geomspace(3, 400, 40), color="0.5")
    ax_snr.set(xscale="log", xlabel="S/N per pixel at 5,500 Å", ylabel="spectra")
    return fig


def plot_visibility(n_obs: np.ndarray, draws_unbalanced: np.ndarray, draws_balanced: np.ndarray) -> Figure:
    """Left: how many objects have n spectra. Right: draws per object against n_obs, both samplers.

    n_obs, draws_*: (n_objects,) counts per object.
    """
    fig, (ax_hist, ax_draws) = plt.subplots(1, 2, figsize=(10, 3.3), layout="constrained")
    bins = np.unique(np.geomspace(1, n_obs.max() + 1, 25).astype(int))
    ax_hist.hist(n_obs, bins=bins, color="0.5")
    ax_hist.set(xscale="log", yscale="log", xlabel="spectra per object (n_obs)", ylabel="objects",
                title="visibility")
    ax_draws.scatter(n_obs, draws_unbalanced, s=8, color="tab:red", label="uniform over spectra")
    ax_draws.scatter(n_obs, draws_balanced, s=8, color="tab:blue", label="balanced, weight 1/n_obs")
    ax_draws.set(xscale="log", yscale="symlog", ylim=(0, None), xlabel="spectra per object (n_obs)",
                 ylabel="draws per object", title="one epoch of draws")
    ax_draws.legend(frameon=False, fontsize="small")
    return fig
