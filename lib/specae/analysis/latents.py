"""Latent means of a data set under a trained model: the codes every analysis starts from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from specae.model.autoencoder import SpectrumAutoencoder
from specae.spectra.spectra_set import SpectraSet


def usable(data: SpectraSet, indices=None) -> np.ndarray:
    """(n,) int64: the spectra of ``indices`` (default: all) that are not degenerate, in their order."""
    indices = np.arange(len(data)) if indices is None else np.asarray(indices, dtype=np.int64)
    return indices[~np.asarray(data.degenerate)[indices]]


def one_per_star(data: SpectraSet, indices=None) -> np.ndarray:
    """(n_stars,) int64: the first usable spectrum (in survey order) of each star among ``indices`` (default:
    all), as the released §6 analysis used one spectrum per object; in order of those first spectra."""
    used = np.sort(usable(data, indices))
    _, first = np.unique(data.object_ids[used], return_index=True)
    return used[np.sort(first)]


@torch.no_grad()
def encode_means(model: SpectrumAutoencoder, data: SpectraSet, indices=None, batch_size: int = 32,
                 device: torch.device | str | None = None) -> np.ndarray:
    """(n, latent_dim) float64 latent means μ of spectra ``indices`` (default: every non-degenerate one).

    The model is put in eval mode; spectra are encoded in batches on ``device`` (default: the model's). Small
    batches keep the activations in cache (32 runs ≈ 3x faster than 256 at 8,192 pixels, with the same bits).
    """
    if indices is None:
        indices = np.flatnonzero(~np.asarray(data.degenerate))
    indices = np.asarray(indices, dtype=np.int64)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    parts = [model.encode(data.flux[indices[start : start + batch_size]].to(device)[:, None, :])[0].double().cpu()
             for start in range(0, indices.size, batch_size)]
    return torch.cat(parts).numpy() if parts else np.zeros((0, model.config.latent_dim))


@torch.no_grad()
def node_kl(model: SpectrumAutoencoder, data: SpectraSet, indices=None, batch_size: int = 32) -> np.ndarray:
    """(latent_dim,) float64: each node's KL(q(z|x) ‖ N(0, 1)) in nats, averaged over spectra ``indices`` (default:
    every non-degenerate one); their sum is the β-VAE's validation KL. A deterministic model has none: ValueError."""
    if model.fc_logvar is None:
        raise ValueError("a deterministic autoencoder has no posterior, so no per-node KL; use a β-VAE")
    if indices is None:
        indices = np.flatnonzero(~np.asarray(data.degenerate))
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        raise ValueError("no spectra to average the per-node KL over")
    device = next(model.parameters()).device
    model.eval()
    total = torch.zeros(model.config.latent_dim, dtype=torch.float64)
    for start in range(0, indices.size, batch_size):
        mu, logvar = model.encode(data.flux[indices[start : start + batch_size]].to(device)[:, None, :])
        assert logvar is not None
        total += (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).double().sum(dim=0).cpu()
    return (total / indices.size).numpy()


@dataclass(frozen=True)
class EncodedSet:
    """Spectra of a set encoded by a model, with their labels.

    indices: (n,) the spectra encoded; mu: (n, latent_dim) their latent means; labels: name → (n,) float64.
    """

    indices: np.ndarray
    mu: np.ndarray
    labels: dict[str, np.ndarray]


def encode_labelled(model: SpectrumAutoencoder, data: SpectraSet, names: Sequence[str] = ("rv", "teff"),
                    indices=None) -> EncodedSet:
    """Latent means and labels ``names`` of the non-degenerate spectra of ``indices`` (default: all)."""
    used = usable(data, indices)
    return EncodedSet(indices=used, mu=encode_means(model, data, used),
                      labels={name: np.asarray(data.labels[name], dtype=float)[used] for name in names})
