"""Figures that belong to no single chapter's module: the loss history and the runs' convergence (chapter
03), the error against bottleneck size (04), and reconstructions in the line windows :data:`LINE_WINDOWS`
(04 and 07)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


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


def plot_convergence(histories: dict[str, list[dict]], verdicts: dict[str, object], columns: int = 6) -> Figure:
    """Each run's validation L1 against step, the span the convergence criterion judges (its last 20 % of
    steps) shaded and the best value before it dashed; the panel's title gives the verdict.

    histories: run name → per-epoch history; verdicts: run name → :class:`~specae.analysis.convergence.Convergence`.
    """
    rows = -(-len(histories) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.1 * columns, 1.9 * rows), layout="constrained", squeeze=False)
    for ax, (name, history) in zip(axes.flat, histories.items(), strict=False):  # spare panels hidden below
        steps = [record["step"] for record in history]
        values = [record["validation_reconstruction"] for record in history]
        verdict = verdicts[name]
        ax.axvspan(0.8 * steps[-1], steps[-1], color="0.9")
        ax.axhline(verdict.best_before, color="0.4", lw=0.8, ls="--")
        ax.plot(steps, values, "o-", ms=2.5, lw=1, color="tab:blue" if verdict.converged else "tab:red")
        ax.set_ylim(verdict.best_before * 0.97, values[len(values) // 4] if len(values) > 3 else max(values))
        ax.set_title(f"{name}\n{'converged' if verdict.converged else 'NOT converged'}, "
                     f"{100 * verdict.late_gain:+.2f} %", fontsize="small")
        ax.tick_params(labelsize="x-small")
    for ax in list(axes.flat)[len(histories):]:
        ax.set_visible(False)
    fig.supxlabel("step")
    fig.supylabel("validation masked L1 (z = μ)")
    return fig


def plot_error_vs_bottleneck(curves: dict[str, list[dict]]) -> Figure:
    """Masked L1 against latent size for each model family: all pixels, line cores, continuum.

    curves: family name (e.g. "β-VAE", "deterministic", "PCA") → rows of
    :func:`specae.analysis.bottleneck.error_table` (size, all, line_cores, continuum). A family named "PCA" is grey.
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    styles = {"all": "-", "line_cores": "--", "continuum": ":"}
    names = {"all": "all pixels", "line_cores": "line cores", "continuum": "continuum"}
    colours = iter(("tab:blue", "tab:orange", "tab:green", "tab:purple"))
    sizes = set()
    for label, rows in curves.items():
        colour = "0.45" if label == "PCA" else next(colours)
        sizes |= {row["size"] for row in rows}
        for key, style in styles.items():
            ax.plot([row["size"] for row in rows], [row[key] for row in rows], style, marker="o", ms=4,
                    color=colour, label=f"{label}, {names[key]}")
    ax.set(xscale="log", yscale="log", xlabel="latent dimensions", ylabel="masked L1 per pixel (validation)")
    ax.set_xticks(sorted(sizes), [str(s) for s in sorted(sizes)])
    ax.legend(frameon=False, fontsize="small", ncol=len(curves))
    return fig


LINE_WINDOWS = {"Mg b": (5_160.0, 5_200.0), "Fe I, Ca I": (6_120.0, 6_180.0), "Hα": (6_540.0, 6_585.0)}  # Å


def plot_reconstructions(wavelength, original, reconstructions: dict, zooms: dict) -> Figure:
    """One spectrum and its reconstruction at each latent size, in a few wavelength windows.

    wavelength: (n,) Å; original: (n,) normalised flux (NaN where masked); reconstructions: size → (n,);
    zooms: title → (start, stop) Å.
    """
    fig, axes = plt.subplots(1, len(zooms), figsize=(10, 3.6), layout="constrained", squeeze=False)
    colours = plt.cm.viridis([i / max(1, len(reconstructions) - 1) for i in range(len(reconstructions))])
    for ax, (title, (start, stop)) in zip(axes[0], zooms.items(), strict=True):
        part = (wavelength >= start) & (wavelength <= stop)
        ax.plot(wavelength[part], original[part], color="k", lw=1.6, label="input")
        for colour, (size, flux) in zip(colours, sorted(reconstructions.items()), strict=True):
            ax.plot(wavelength[part], flux[part], color=colour, lw=0.9, label=f"{size} latents")
        ax.set(title=title, xlabel="Å", xlim=(start, stop))
    axes[0][0].set_ylabel("flux / median")
    axes[0][-1].legend(frameon=False, fontsize="small")
    return fig
