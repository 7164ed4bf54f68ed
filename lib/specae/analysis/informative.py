"""Informative latent nodes: per-node dispersion of the latent means over a data set (the paper's §6).

A node whose mean μ_j barely moves across the data carries no information: the decoder sees
(nearly) the same value for every spectrum. The authors' released §6 notebook ("Informative
Dimensions") measures the spread with the unscaled median absolute deviation and calls a node
informative when MAD_j > 0.02; its first public version used the mean absolute deviation with a
threshold of 0.2. Which estimator the paper itself used is not known.
"""

from __future__ import annotations

import numpy as np

from specae.analysis._inputs import latent_matrix

STATISTICS = ("median", "mean")


def node_dispersion(mu, statistic: str = "median") -> np.ndarray:
    """Spread of each latent node over the data set.

    Arguments:
        mu: latent means, shape (n_spectra, n_nodes); numpy array or torch tensor.
        statistic: ``"median"``: MAD_j = median_i |z_ij − median_i z_ij| (unscaled, like scipy's
            ``median_abs_deviation`` with ``scale=1``); ``"mean"``: mean_i |z_ij − mean_i z_ij|
            (the first code release, pandas' old ``DataFrame.mad``).

    Returns:
        float64 array, shape (n_nodes,).
    """
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
    z = latent_matrix(mu, min_rows=2)
    centre = np.median if statistic == "median" else np.mean
    return centre(np.abs(z - centre(z, axis=0)), axis=0)


def informative_nodes(mu, threshold: float = 0.02, statistic: str = "median") -> np.ndarray:
    """Sorted indices of the nodes whose :func:`node_dispersion` exceeds ``threshold``.

    Arguments:
        mu: latent means, shape (n_spectra, n_nodes).
        threshold: strict lower bound on the dispersion. The released notebook: 0.02 with
            ``"median"`` (6 nodes on the released latents); the first release: 0.2 with ``"mean"``.
        statistic: ``"median"`` or ``"mean"``, as in :func:`node_dispersion`.

    Returns:
        int64 array of node indices, shape (n_informative,), ascending.
    """
    threshold = float(threshold)
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a finite number ≥ 0, got {threshold}")
    return np.flatnonzero(node_dispersion(mu, statistic) > threshold).astype(np.int64)
