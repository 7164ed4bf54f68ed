"""Reconstruction against bottleneck size: the autoencoder's error, a PCA baseline at equal dimension, and
the error on fine features (line cores) apart from the smooth continuum."""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import maximum_filter1d
from sklearn.decomposition import PCA

from specae.analysis.analysis_cache import cached_result, model_weights
from specae.analysis.latents import one_per_star, usable
from specae.model.autoencoder import SpectrumAutoencoder
from specae.spectra.spectra_set import SpectraSet
from specae.training.run_sets import RunSet

# Spectra per forward pass when reconstructing: at 8,192 pixels, 32 runs 3.5-4x faster than 256 on a 2-core CPU
# (the activations stay in cache), with bit-identical results (each spectrum's pass is independent of the others).
_BATCH = 32


@torch.no_grad()
def reconstruct(model: SpectrumAutoencoder, data: SpectraSet, indices) -> np.ndarray:
    """(n, n_pix) float32 reconstructions with z = μ of spectra ``indices``, on the CPU: the model's forward pass in
    eval mode, so the Doppler-aware variant's rest-frame spectrum is moved by its v onto the observed grid."""
    model.eval()
    device = next(model.parameters()).device
    indices = np.asarray(indices, dtype=np.int64)
    parts = [model(data.flux[indices[s : s + _BATCH]].to(device)[:, None, :]).reconstruction.reshape(
        -1, data.flux.shape[1]).cpu() for s in range(0, indices.size, _BATCH)]
    return torch.cat(parts).numpy()


def pca_reconstructions(data: SpectraSet, train, test, sizes, seed: int = 0) -> dict[int, np.ndarray]:
    """Latent size → (n_test, n_pix) reconstructions of spectra ``test`` by the first ``size`` components of
    one PCA fitted on spectra ``train`` (the components are nested, so one fit serves every size). A fit has at
    most :func:`pca_rank` components; a larger size uses them all, which is all a PCA of these spectra can do."""
    sizes = sorted(set(sizes))
    train = np.asarray(train)
    pca = PCA(n_components=min(sizes[-1], pca_rank(len(train), data.n_pixels)), svd_solver="full", random_state=seed)
    pca.fit(data.flux[train].numpy().astype(np.float64))
    centred = data.flux[np.asarray(test)].numpy().astype(np.float64) - pca.mean_
    codes = centred @ pca.components_.T
    return {size: (codes[:, :size] @ pca.components_[:size] + pca.mean_).astype(np.float32) for size in sizes}


def pca_rank(n_train: int, n_pixels: int) -> int:
    """The most components a PCA fitted on ``n_train`` spectra of ``n_pixels`` can have."""
    return min(n_train, n_pixels)


def pca_note(n_train: int, n_pixels: int, sizes) -> str:
    """One sentence on how many components the PCA baseline, fitted on ``n_train`` spectra (one per training
    star) of ``n_pixels``, can have at the latent ``sizes`` compared."""
    rank, above = pca_rank(n_train, n_pixels), sorted(size for size in set(sizes) if size > pca_rank(n_train, n_pixels))
    fitted = f"PCA is fitted on one spectrum of each of the {n_train:,} training stars"
    if not above:
        return f"{fitted}, so it has up to {rank:,} components: enough for every size here."
    return (f"{fitted}, so it has at most {rank:,} components: at {', '.join(map(str, above))} latents it uses "
            "them all, which is all a linear code of these stars can do.")


def star_means(values: np.ndarray, object_ids: np.ndarray) -> np.ndarray:
    """(n_stars,) each star's mean of ``values`` (n,) (NaN left out), stars in increasing id order.
    object_ids: (n,)."""
    values, object_ids = np.asarray(values, dtype=np.float64), np.asarray(object_ids)
    kept = np.isfinite(values)
    stars, which = np.unique(object_ids[kept], return_inverse=True)
    if stars.size == 0:
        raise ValueError("no finite value to average")
    return np.bincount(which, weights=values[kept]) / np.bincount(which)


def star_mean(values: np.ndarray, object_ids: np.ndarray) -> float:
    """The mean over stars of each star's mean of ``values`` (n,) (NaN left out), so that a star observed 200
    times weighs as much as one observed once. object_ids: (n,)."""
    return float(np.mean(star_means(values, object_ids)))


def line_core_mask(flux: np.ndarray, mask: np.ndarray, depth: float = 0.05, width: int = 15) -> np.ndarray:
    """(n, n_pix) bool: valid pixels at least ``depth`` below their running maximum over ±``width`` pixels.

    A data-driven stand-in for "fine features": absorption line cores and blends, not the continuum.
    """
    flux = np.where(mask, flux, -np.inf)
    local_max = maximum_filter1d(flux, 2 * width + 1, axis=1, mode="constant", cval=-np.inf)
    return mask & (flux < local_max - depth)


def masked_l1(reconstruction: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Mean |target − reconstruction| over the pixels where ``mask`` is True (all arrays (n, n_pix))."""
    if not mask.any():
        raise ValueError("no pixel selected: the mask is all False")
    return float(np.abs(reconstruction - target)[mask].mean())


def error_table(reconstructions: dict[int, np.ndarray], target: np.ndarray, mask: np.ndarray,
                object_ids: np.ndarray, cores: np.ndarray | None = None) -> list[dict]:
    """One dict per latent size, sorted by size: ``stars``, the error R the claims use (the mean over stars of
    each star's mean masked L1, so a star observed 200 times weighs as much as one observed once); ``all``,
    the masked L1 pooled over every valid pixel; and pooled over line cores and over the continuum.

    reconstructions: latent size → (n, n_pix); target, mask: (n, n_pix); object_ids: (n,) each spectrum's star;
    cores: (n, n_pix) :func:`line_core_mask` of target and mask (computed when not given).
    """
    cores = line_core_mask(target, mask) if cores is None else cores
    continuum = mask & ~cores
    return [dict(size=size, stars=star_mean(per_spectrum_l1(r, target, mask), object_ids),
                 all=masked_l1(r, target, mask), line_cores=masked_l1(r, target, cores),
                 continuum=masked_l1(r, target, continuum))
            for size, r in sorted(reconstructions.items())]


def per_spectrum_l1(reconstruction: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(n,) mean |target − reconstruction| over each spectrum's valid pixels (NaN where it has none)."""
    counts = mask.sum(axis=1)
    totals = np.where(mask, np.abs(reconstruction - target), 0.0).sum(axis=1)
    return np.divide(totals, counts, out=np.full(counts.shape, np.nan), where=counts > 0)


def reconstruction_errors(model: SpectrumAutoencoder, data: SpectraSet, indices) -> tuple[float, np.ndarray]:
    """Masked L1 (z = μ) of spectra ``indices``: pooled over all their valid pixels, and (n,) per spectrum."""
    indices = np.asarray(indices, dtype=np.int64)
    target, mask = data.flux[indices].numpy(), data.mask[indices].numpy()
    reconstruction = reconstruct(model, data, indices)
    return masked_l1(reconstruction, target, mask), per_spectrum_l1(reconstruction, target, mask)


def star_errors(model: SpectrumAutoencoder, data: SpectraSet, indices) -> tuple[float, np.ndarray]:
    """R of spectra ``indices`` (the mean over their stars of each star's mean masked L1, z = μ) and (n,) each
    spectrum's masked L1; cached by the model's weights and the spectra (:mod:`specae.analysis.analysis_cache`)."""
    indices = np.asarray(indices, dtype=np.int64)
    target, mask = data.flux[indices].numpy(), data.mask[indices].numpy()

    def compute() -> tuple[float, np.ndarray]:
        per_spectrum = per_spectrum_l1(reconstruct(model, data, indices), target, mask)
        return star_mean(per_spectrum, data.object_ids[indices]), per_spectrum

    inputs = dict(weights=model_weights(model), flux=target, mask=mask, stars=data.object_ids[indices])
    return cached_result("star_errors", inputs, compute)


def model_error_row(model: SpectrumAutoencoder, data: SpectraSet, indices, size: int,
                    cores: np.ndarray | None = None) -> dict:
    """:func:`error_table`'s row (labelled ``size``) of ``model``'s reconstructions of spectra ``indices``; cached by
    the model's weights and the spectra (:mod:`specae.analysis.analysis_cache`). cores: their line-core mask, when
    already computed."""
    indices = np.asarray(indices, dtype=np.int64)
    target, mask = data.flux[indices].numpy(), data.mask[indices].numpy()
    stars = data.object_ids[indices]
    inputs = dict(weights=model_weights(model), flux=target, mask=mask, stars=stars, size=size)
    return cached_result("model_error_row", inputs, lambda: error_table(
        {size: reconstruct(model, data, indices)}, target, mask, stars, cores)[0])


def pca_error_rows(data: SpectraSet, train, test, sizes, seed: int = 0, cores: np.ndarray | None = None) -> list[dict]:
    """:func:`error_table`'s rows of :func:`pca_reconstructions` (fitted on spectra ``train``) of spectra ``test`` at
    each of ``sizes``; cached by the spectra, the sizes and the seed."""
    train, test = np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)
    target, mask = data.flux[test].numpy(), data.mask[test].numpy()
    stars = data.object_ids[test]
    inputs = dict(fitted=data.flux[train].numpy(), flux=target, mask=mask, stars=stars, sizes=sorted(set(sizes)),
                  seed=seed)
    return cached_result("pca_error_rows", inputs, lambda: error_table(
        pca_reconstructions(data, train, test, sizes, seed), target, mask, stars, cores))


def example_star(teff, snr, low: float = 4_500.0, high: float = 6_000.0) -> int:
    """Index of the highest-S/N star with ``low`` < Teff < ``high`` (a G or K star by default); 0 if none."""
    teff, snr = np.asarray(teff, dtype=float), np.asarray(snr, dtype=float)
    candidates = np.flatnonzero((teff > low) & (teff < high))
    return int(candidates[np.argmax(snr[candidates])]) if candidates.size else 0


def masked_flux(data: SpectraSet, index: int) -> np.ndarray:
    """(n_pix,) normalised flux of spectrum ``index`` with NaN where its mask is False (as plots show it)."""
    return np.where(data.mask[index].numpy(), data.flux[index].numpy(), np.nan)


def errors_by_seed(runs: RunSet, data: SpectraSet, train, validation, pca_seed: int = 0) -> dict[int, dict]:
    """Seed → family → :func:`error_table` rows (one per size) of the usable spectra of ``validation`` for that
    seed's runs, plus "PCA": one nested PCA fitted on one spectrum per star of ``train`` (so that, like the
    balanced sampler, it weighs every training star equally), the same for every seed. Each run reconstructs the
    spectra once."""
    validation = usable(data, validation)
    cores = line_core_mask(data.flux[validation].numpy(), data.mask[validation].numpy())
    rows = {(family, cell): model_error_row(run.model, data, validation, cell[0], cores)
            for family, cells in runs.runs.items() for cell, run in cells.items()}
    pca_rows = pca_error_rows(data, one_per_star(data, train), validation, runs.sizes, pca_seed, cores)
    return {seed: {**{family: [rows[(family, (size, seed))] for size in runs.sizes] for family in runs.runs},
                   "PCA": pca_rows} for seed in runs.seeds}


def median_rows(errors: dict[int, dict], family: str) -> list[dict]:
    """The rows of ``family`` with each error the median over the seeds of :func:`errors_by_seed`'s result."""
    by_seed = [errors[seed][family] for seed in errors]
    return [{key: row[key] if key == "size" else float(np.median([rows[i][key] for rows in by_seed]))
             for key in row} for i, row in enumerate(by_seed[0])]


def seed_spread(errors: dict[int, dict], family: str) -> dict[int, list[float]]:
    """Latent size → R of ``family``'s run of each seed, from :func:`errors_by_seed`'s result."""
    sizes = [row["size"] for row in next(iter(errors.values()))[family]]
    return {size: [errors[seed][family][i]["stars"] for seed in errors] for i, size in enumerate(sizes)}


def curve_reading(rows: list[dict], key: str = "stars") -> str:
    """One phrase on how ``key`` of :func:`error_table` rows (by increasing size) moves with size: every value,
    then whether it falls at every step or where it is lowest, e.g. "0.0669, 0.0655, 0.0642 and 0.0679 at 2, 4,
    16 and 32 latents: lowest at 16, not falling at every step"."""
    values = [row[key] for row in rows]
    sizes = [str(row["size"]) for row in rows]

    def listed(items: list[str]) -> str:
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

    text = f"{listed([f'{value:.4f}' for value in values])} at {listed(sizes)} latents"
    if len(values) < 2:
        return text
    if all(later < earlier for earlier, later in zip(values, values[1:], strict=False)):
        return f"{text}: falling at every step"
    return f"{text}: lowest at {rows[int(np.argmin(values))]['size']}, not falling at every step"
