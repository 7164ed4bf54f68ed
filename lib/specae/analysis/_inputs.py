"""Private input checks shared by the analysis modules: torch/masked/list input → float64 numpy."""

from __future__ import annotations

import numpy as np


def to_float_array(values, name: str) -> np.ndarray:
    """``values`` (numpy, torch tensor, masked array or sequence) as a float64 array; masked → NaN."""
    if hasattr(values, "detach"):  # torch.Tensor, without importing torch
        values = values.detach().cpu().numpy()
    if isinstance(values, np.ma.MaskedArray):
        values = np.ma.asarray(values, dtype=np.float64).filled(np.nan)
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be numeric, got {type(values).__name__}: {err}") from None


def latent_matrix(mu, name: str = "mu", min_rows: int = 1) -> np.ndarray:
    """``mu`` as a finite float64 array of shape (n_spectra, n_nodes) with at least ``min_rows`` rows."""
    arr = to_float_array(mu, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n_spectra, n_nodes), got shape {arr.shape}")
    if arr.shape[0] < min_rows or arr.shape[1] == 0:
        raise ValueError(f"{name} needs at least {min_rows} spectra and 1 node, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contains NaN or inf (first at row {bad[0]}, node {bad[1]})")
    return arr


def vector(values, name: str) -> np.ndarray:
    """``values`` as a 1-D float64 array of shape (n,) (NaN allowed; callers decide)."""
    arr = to_float_array(values, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D with shape (n,), got shape {arr.shape}")
    return arr


def finite_pair(x, y, min_points: int) -> tuple[np.ndarray, np.ndarray]:
    """``x``, ``y`` as finite 1-D float64 arrays of one length n ≥ ``min_points``."""
    x, y = vector(x, "x"), vector(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    if x.size < min_points:
        raise ValueError(f"need at least {min_points} (x, y) pairs, got {x.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite: drop NaN rows first (see sigma_clip_label)")
    return x, y
