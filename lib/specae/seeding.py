"""Deterministic seeds derived from several integer keys (seed, epoch, step, spectrum index, …)."""

from __future__ import annotations

import numpy as np
import torch


def derive_seed(*keys: int) -> int:
    """A 63-bit seed that depends only on ``keys``, stable across runs, machines and platforms."""
    if any(int(k) < 0 for k in keys):
        raise ValueError(f"seed keys must be non-negative integers, got {keys}")
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(1))


def torch_generator(*keys: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch.Generator on ``device`` seeded with :func:`derive_seed` of ``keys``."""
    return torch.Generator(device=device).manual_seed(derive_seed(*keys))
