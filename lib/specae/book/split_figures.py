"""Figures of chapter 06: training against validation stars, and balanced against uniform sampling."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def plot_error_distributions(errors: dict[str, np.ndarray]) -> Figure:
    """Histograms (log-spaced bins) of per-spectrum masked L1. errors: set name → (n,)."""
    finite = np.concatenate([e[np.isfinite(e)] for e in errors.values()])
    bins = np.geomspace(finite.min(), finite.max(), 40)
    fig, ax = plt.subplots(figsize=(6.4, 3.0), layout="constrained")
    for (name, values), colour in zip(errors.items(), ("tab:blue", "tab:orange", "tab:green"), strict=False):
        ax.hist(values[np.isfinite(values)], bins=bins,  # type: ignore[arg-type]  # the stub omits array bins
                density=True, histtype="step", lw=1.5, color=colour,
                label=f"{name} (median {np.nanmedian(values):.4f})")
    ax.set(xscale="log", xlabel="masked L1 per pixel of one spectrum", ylabel="density")
    ax.legend(frameon=False, fontsize="small")
    return fig


def plot_latent_distributions(codes: dict[str, np.ndarray], nodes) -> Figure:
    """Histograms of the latent means of ``nodes`` for each set. codes: set name → (n, n_nodes)."""
    nodes = list(nodes)
    fig, axes = plt.subplots(1, len(nodes), figsize=(6.4, 2.4), layout="constrained", squeeze=False)
    for ax, node in zip(axes[0], nodes, strict=True):
        pooled = np.concatenate([c[:, node] for c in codes.values()])
        low, high = np.percentile(pooled, [0.5, 99.5])
        bins = np.linspace(low, high, 30)
        for (name, values), colour in zip(codes.items(), ("tab:blue", "tab:orange"), strict=False):
            ax.hist(values[:, node], bins=bins, density=True, histtype="step", lw=1.3, color=colour, label=name)
        ax.set(xlabel=f"μ of z{node}", yticks=[])
    axes[0, 0].legend(frameon=False, fontsize="x-small")
    return fig


def plot_error_vs_visibility(n_obs: np.ndarray, errors: dict[str, np.ndarray]) -> Figure:
    """Median per-spectrum error of training spectra against their star's number of spectra, per sampler."""
    edges = np.unique(np.geomspace(1, n_obs.max() + 1, 9).astype(int))
    which = np.digitize(n_obs, edges) - 1
    fig, ax = plt.subplots(figsize=(6.4, 3.0), layout="constrained")
    for (name, values), colour in zip(errors.items(), ("tab:blue", "tab:orange"), strict=False):
        centres, medians = [], []
        for b in range(edges.size - 1):
            members = values[which == b]
            if members.size >= 5:
                centres.append(np.sqrt(edges[b] * edges[b + 1]))
                medians.append(np.median(members))
        ax.plot(centres, medians, "o-", color=colour, ms=4, label=name)
    ax.set(xscale="log", xlabel="spectra of the star in the survey", ylabel="median masked L1 (training spectra)")
    ax.legend(frameon=False, fontsize="small")
    return fig
