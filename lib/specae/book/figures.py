"""Figures that belong to no single chapter's module: the loss history and the runs' convergence (chapter
03), the error against bottleneck size (04), and reconstructions in the line windows :data:`LINE_WINDOWS`
(04 and 07)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from specae.analysis.convergence import Convergence


def plot_loss_history(history: list[dict]) -> Figure:
    """Train and validation loss per epoch (one row of ``history`` per epoch).

    Left: the reconstruction term (masked L1): running mean over the epoch's training steps, and the
    deterministic pass (z = μ) over validation spectra and an equal-sized probe of training spectra.
    Right: the KL term and its weight β.
    """
    epoch = [row["epoch"] for row in history]
    fig, (ax_rec, ax_kl) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    ax_rec.plot(epoch, [row["train_reconstruction"] for row in history], "o-", label="train (running, sampled z)")
    ax_rec.plot(epoch, [row["train_eval_reconstruction"] for row in history], "s--", label="train probe (z = μ)")
    ax_rec.plot(epoch, [row["validation_reconstruction"] for row in history], "^-", label="validation (z = μ)")
    ax_rec.set(xlabel="epoch", ylabel="masked L1 per pixel", yscale="log", title="reconstruction")
    ax_rec.legend(frameon=False, fontsize="small")
    ax_kl.plot(epoch, [row["train_kl"] for row in history], "o-", label="train KL")
    ax_kl.plot(epoch, [row["validation_kl"] for row in history], "^-", label="validation KL")
    ax_kl.set(xlabel="epoch", ylabel="KL (nats per spectrum)", title="KL term")
    ax_beta = ax_kl.twinx()
    ax_beta.plot(epoch, [row["beta"] for row in history], color="0.5", lw=1, ls=":", label="β")
    ax_beta.set_ylabel("β", color="0.4")
    ax_kl.legend(frameon=False, fontsize="small", loc="upper right")
    return fig


def plot_convergence(histories: dict[str, list[dict]], verdicts: dict[str, Convergence],
                     states: dict[str, str] | None = None, columns: int = 6) -> Figure:
    """Each run's validation L1 against step, the span the convergence criterion judges (its last 20 % of
    steps) shaded and the best value before it dashed; the panel's title gives the run's state.

    histories: run name → per-epoch history; verdicts: run name → :class:`~specae.analysis.convergence.Convergence`;
    states: run name → Study II's state (converged, unconverged or collapsed; default: from the verdicts). A
    collapsed run is grey whatever its curve does: its code carries nothing.
    """
    states = states or {name: "converged" if verdict.converged else "unconverged" for name, verdict in verdicts.items()}
    colours = {"converged": "tab:blue", "unconverged": "tab:red", "collapsed": "0.55"}
    rows = -(-len(histories) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.1 * columns, 1.9 * rows), layout="constrained", squeeze=False)
    for ax, (name, history) in zip(axes.flat, histories.items(), strict=False):  # spare panels hidden below
        steps = [record["step"] for record in history]
        values = [record["validation_reconstruction"] for record in history]
        verdict, state = verdicts[name], states[name]
        ax.axvspan(0.8 * steps[-1], steps[-1], color="0.9")
        ax.plot(steps, values, "o-", ms=2.5, lw=1, color=colours[state])
        ax.tick_params(labelsize="x-small")
        if not verdict.testable:  # no epoch before the last 20 %: nothing to compare the tail with
            ax.set_title(f"{name}\ntoo short to judge", fontsize="small")
            continue
        ax.axhline(verdict.best_before, color="0.4", lw=0.8, ls="--")
        ax.set_ylim(verdict.best_before * 0.97, values[len(values) // 4] if len(values) > 3 else max(values))
        ax.set_title(f"{name}\n{state}, {100 * verdict.late_gain:+.2f} %", fontsize="small")
    for ax in list(axes.flat)[len(histories):]:
        ax.set_visible(False)
    fig.supxlabel("step")
    fig.supylabel("validation masked L1 (z = μ)")
    return fig


def plot_error_vs_bottleneck(curves: dict[str, list[dict]],
                             seed_spread: dict[str, dict[int, list[float]]] | None = None) -> Figure:
    """Reconstruction error against latent size for each model family. Left: R, the mean over validation
    stars (``stars``), with each training seed's R at every size (ticks) and their range (bar); right: the pooled
    error in line cores (dashed) and in the continuum (dotted).

    curves: family name (e.g. "β-VAE", "deterministic", "PCA") → rows of
    :func:`specae.analysis.bottleneck.error_table` (the line drawn, e.g. the median over seeds); a family named
    "PCA" is grey. seed_spread: family → latent size → R of each seed's run.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.0), layout="constrained")
    colours = iter(("tab:blue", "tab:orange", "tab:green", "tab:purple"))
    sizes = sorted({row["size"] for rows in curves.values() for row in rows})
    for label, rows in curves.items():
        colour = "0.45" if label == "PCA" else next(colours)
        x = [row["size"] for row in rows]
        left.plot(x, [row["stars"] for row in rows], "-o", ms=4, color=colour, label=label)
        for size, spread in (seed_spread or {}).get(label, {}).items():
            left.vlines(size, min(spread), max(spread), color=colour, lw=3, alpha=0.5)
            left.plot([size] * len(spread), spread, "_", ms=9, color=colour)
        right.plot(x, [row["line_cores"] for row in rows], "--o", ms=4, color=colour, label=f"{label}, line cores")
        right.plot(x, [row["continuum"] for row in rows], ":o", ms=4, color=colour, label=f"{label}, continuum")
    left.set(ylabel="R: masked L1 per pixel, mean over validation stars")
    right.set(ylabel="masked L1 per pixel, pooled (validation)")
    for ax in (left, right):
        ax.set(xscale="log", yscale="log", xlabel="latent dimensions")
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.legend(frameon=False, fontsize="small")
    return fig


LINE_WINDOWS = {  # Å
    "Fe I 5,006 Å": (4_998.0, 5_014.0), "Mg b": (5_165.0, 5_190.0), "Fe I, Ca I 5,270 Å": (5_262.0, 5_276.0),
    "Fe I, Ca I 6,150 Å": (6_120.0, 6_180.0), "Hα": (6_540.0, 6_585.0),
}


def line_windows(wavelength: np.ndarray, at_most: int = 3) -> dict[str, tuple[float, float]]:
    """The first ``at_most`` windows of :data:`LINE_WINDOWS` inside ``wavelength`` (Å, (n,))."""
    inside = {name: (start, stop) for name, (start, stop) in LINE_WINDOWS.items()
              if start >= wavelength[0] and stop <= wavelength[-1]}
    if not inside:
        raise ValueError(f"none of the line windows {list(LINE_WINDOWS)} lies within the grid's "
                         f"{wavelength[0]:.1f}–{wavelength[-1]:.1f} Å; add one to LINE_WINDOWS")
    return dict(list(inside.items())[:at_most])


def _in_order(reconstructions: dict) -> list:
    """Items by latent size when every key is a size, else in the order given."""
    items = list(reconstructions.items())
    return sorted(items) if all(isinstance(key, int) for key, _ in items) else items


def plot_reconstructions(wavelength, original, reconstructions: dict, zooms: dict) -> Figure:
    """One spectrum and its reconstruction at each latent size (or by each named model), in a few wavelength windows.

    wavelength: (n,) Å; original: (n,) normalised flux (NaN where masked); reconstructions: size → (n,), drawn in
    order of size, or name → (n,), drawn in the order given; zooms: title → (start, stop) Å.
    """
    fig, axes = plt.subplots(1, len(zooms), figsize=(10, 3.6), layout="constrained", squeeze=False)
    colours = plt.cm.viridis([i / max(1, len(reconstructions) - 1) for i in range(len(reconstructions))])
    for ax, (title, (start, stop)) in zip(axes[0], zooms.items(), strict=True):
        part = (wavelength >= start) & (wavelength <= stop)
        ax.plot(wavelength[part], original[part], color="k", lw=1.6, label="input")
        for colour, (key, flux) in zip(colours, _in_order(reconstructions), strict=True):
            ax.plot(wavelength[part], flux[part], color=colour, lw=0.9,
                    label=f"{key} latents" if isinstance(key, int) else str(key))
        ax.set(title=title, xlabel="Å", xlim=(start, stop))
        ax.xaxis.set_major_locator(MaxNLocator(4, integer=True))  # whole ångströms, labels that do not overlap
    axes[0][0].set_ylabel("flux / median")
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside right upper", frameon=False, fontsize="small")
    return fig
