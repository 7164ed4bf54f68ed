"""Do two sets of spectra (training and validation stars) occupy the same latent space? Node by node,
the two-sample Kolmogorov–Smirnov distance between their latent means (the paper's §5.3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import ks_2samp

from specae.analysis._inputs import latent_matrix


@dataclass(frozen=True)
class LatentShift:
    """nodes: (k,) the nodes compared; distances: (k,) KS distance D of each between the two sets;
    widest: the nodes of ``nodes`` with the largest spread of μ, widest first (the ones worth plotting)."""

    nodes: np.ndarray
    distances: np.ndarray
    widest: np.ndarray

    @property
    def max_distance(self) -> float:
        """The largest KS distance over the compared nodes."""
        return float(self.distances.max())


def latent_shift(first, second, mu, informative, n_widest: int = 4) -> LatentShift:
    """Compare the latent means of two sets node by node.

    first: (n1, latent_dim) and second: (n2, latent_dim) μ of the two sets; mu: (n, latent_dim) μ of all
    spectra, which ranks the nodes by spread (standard deviation); informative: the nodes to compare
    (all nodes when empty, e.g. a model whose nodes all collapsed); n_widest: how many widest nodes to keep.
    """
    first, second, mu = latent_matrix(first, "first"), latent_matrix(second, "second"), latent_matrix(mu)
    nodes = np.asarray(informative, dtype=np.int64)
    if nodes.size == 0:
        nodes = np.arange(mu.shape[1])
    distances = np.array([ks_2samp(first[:, node], second[:, node]).statistic for node in nodes])
    widest = nodes[np.argsort(-mu[:, nodes].std(axis=0))][:n_widest]
    return LatentShift(nodes=nodes, distances=distances, widest=widest)
