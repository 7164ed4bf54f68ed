"""Figures shared by the chapters, drawn with one style."""

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
