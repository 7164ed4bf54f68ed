"""Where one epoch's draws go under visibility-balanced and under uniform sampling (the paper's §3.2):
how much of the training the best-observed objects take, and how many objects are never seen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from specae.training.balanced_sampler import BalancedSampler

SAMPLERS = {"uniform": False, "balanced": True}  # name → BalancedSampler's ``balanced``


@dataclass(frozen=True)
class DrawShares:
    """One epoch's draws per sampler ("uniform", "balanced") and where they go.

    draws: sampler → (n_ids,) how often each object id 0 … max is drawn;
    top_share: sampler → share of the draws that go to the best-observed objects (the top fraction);
    never: sampler → fraction of the object ids never drawn.
    """

    draws: dict[str, np.ndarray]
    top_share: dict[str, float]
    never: dict[str, float]


def draw_shares(object_ids: Sequence, seed: int = 0, epoch: int = 0, top_fraction: float = 0.05) -> DrawShares:
    """Draw epoch ``epoch`` of the uniform and the balanced sampler over spectra of ``object_ids`` ((n_spectra,),
    ids 0 … max) and measure the share of the ``top_fraction`` best-observed objects (at least one)."""
    ids = np.asarray(object_ids)
    n_obs = np.bincount(ids)
    top = np.argsort(n_obs)[::-1][: max(1, int(np.unique(ids).size * top_fraction))]
    draws = {name: BalancedSampler(ids, seed=seed, balanced=balanced).draws_per_object(epoch, ids)
             for name, balanced in SAMPLERS.items()}
    return DrawShares(draws=draws, top_share={name: float(d[top].sum() / d.sum()) for name, d in draws.items()},
                      never={name: float((d == 0).mean()) for name, d in draws.items()})
