"""Figures of the latent space (chapter 05): dispersion stems, MI indicator, node scatters, the RV window."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from specae.analysis.traversal import DopplerSweep, MedianBand, MonotonicWindow
from specae.synth.population import SPECTRAL_CLASSES


def plot_dispersion_stems(dispersions: dict[str, np.ndarray], thresholds: dict[str, float | None]) -> Figure:
    """Median absolute deviation of each node, one panel per model. dispersions: name → (n_nodes,); thresholds:
    name → the MAD above which a node counts as informative (None: no cut, e.g. for a deterministic code, whose
    scale no prior fixes)."""
    fig, axes = plt.subplots(1, len(dispersions), figsize=(6.4, 2.8), layout="constrained", squeeze=False)
    for ax, (name, values) in zip(axes[0], dispersions.items(), strict=True):
        nodes, threshold = np.arange(values.size), thresholds.get(name)
        informative = values > threshold if threshold is not None else np.zeros(values.size, bool)
        colours = np.where(informative, "tab:blue", "0.6")
        ax.vlines(nodes, 0, values, color=colours)
        ax.scatter(nodes, values, s=12, color=colours, zorder=3)
        if threshold is not None:
            ax.axhline(threshold, color="tab:red", lw=0.8, ls="--")
        title = f"{name}: {informative.sum()} informative" if threshold is not None else f"{name} (no cut)"
        ax.set(yscale="log", xlabel="latent node", title=title)
    axes[0, 0].set_ylabel("median absolute deviation of μ")
    return fig


def plot_mi_indicator(mi: dict[str, np.ndarray], informative: np.ndarray) -> Figure:
    """Histogram MI (nats) of every node with each label, as an image. mi: label → (n_nodes,)."""
    names = list(mi)
    matrix = np.stack([mi[name] for name in names])
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(names) + 1.3), layout="constrained")
    image = ax.imshow(matrix, aspect="auto", cmap="viridis", vmin=0)
    ax.set_yticks(range(len(names)), names)
    starred = set(informative)
    ax.set_xticks(range(matrix.shape[1]), [f"z{i}" + ("*" if i in starred else "") for i in range(matrix.shape[1])],
                  rotation=90, fontsize="small")
    ax.set_xlabel("latent node (* informative)")
    fig.colorbar(image, ax=ax, label="MI, 40 bins (nats)")
    return fig


def plot_node_scatters(panels: dict[str, tuple[np.ndarray, np.ndarray, str]], spectral_class: np.ndarray) -> Figure:
    """Node value against its label, coloured by spectral class. panels: title → (label, node, axis label)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(6.4, 3.0), layout="constrained", squeeze=False)
    cmap = plt.get_cmap("coolwarm", len(SPECTRAL_CLASSES))
    for ax, (title, (label, node, xlabel)) in zip(axes[0], panels.items(), strict=True):
        points = ax.scatter(label, node, c=spectral_class, cmap=cmap, vmin=-0.5, vmax=len(SPECTRAL_CLASSES) - 0.5,
                            s=3, alpha=0.6, rasterized=True)
        ax.set(xlabel=xlabel, ylabel=title)
    bar = fig.colorbar(points, ax=axes[0, -1], ticks=range(len(SPECTRAL_CLASSES)))
    bar.ax.set_yticklabels(list(SPECTRAL_CLASSES))
    return fig


def plot_rv_window(window: MonotonicWindow, band: MedianBand, rv: np.ndarray, node: np.ndarray, sweep: DopplerSweep,
                   node_name: str) -> Figure:
    """Left: the RV node against true RV (one point per star), its binned median with the bootstrap band and the
    monotonic window (shaded). Right: the Doppler shift of one star's code decoded while the node sweeps the
    window's medians. rv, node: (n,)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(6.4, 2.9), layout="constrained")
    left.scatter(rv, node, s=2, color="0.7", rasterized=True)
    left.fill_between(band.centres, band.medians - band.half_width, band.medians + band.half_width,
                      color="tab:blue", alpha=0.3, lw=0)
    left.plot(band.centres, band.medians, "o-", color="tab:blue", ms=3)
    left.axvspan(window.low, window.high, color="tab:orange", alpha=0.2, lw=0)
    left.set(xlabel="true RV (km/s)", ylabel=node_name)
    right.plot(sweep.values, sweep.shifts, "o-", color="tab:blue", ms=3)
    right.set(xlabel=f"{node_name} (traversal)", ylabel="decoded shift (km/s)")
    return fig


def plot_real_on_node(label: np.ndarray, node: np.ndarray, real: dict[str, tuple[float, float]], xlabel: str,
                      ylabel: str) -> Figure:
    """Synthetic spectra (grey) and real ones (named stars) on a node-against-label plane.

    real: name → (label value, node value)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.2), layout="constrained")
    ax.scatter(label, node, s=2, color="0.7", rasterized=True, label="synthetic survey")
    for (name, (x, y)), colour in zip(real.items(), ("tab:red", "tab:blue", "tab:green", "tab:purple"), strict=False):
        ax.scatter([x], [y], marker="*", s=160, color=colour, edgecolor="k", zorder=3, label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(frameon=False, fontsize="small")
    return fig
