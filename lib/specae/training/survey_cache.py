"""Rendered synthetic surveys, cached beside the trained runs so that chapters render each one once.

:func:`cached_synthetic` stores the normalised flux, mask and degenerate flags of a data configuration in
``cache_dir/data/<first 16 hex digits of its data fingerprint>.npz`` (written atomically under the same kind of
lock as the runs, :func:`~specae.training.run_cache.key_lock`; the labels, cheap and deterministic, are drawn
again and checked against it).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from specae._files import atomic_write
from specae.spectra.spectra_set import SpectraSet
from specae.synth.survey import SyntheticSurvey
from specae.training.datasets import load_synthetic
from specae.training.presets import DataConfig
from specae.training.run_cache import cache_root, describe_error, key_lock
from specae.training.run_keys import KEY_HEX_DIGITS, data_fingerprint


def cached_synthetic(config: DataConfig, cache_dir: str | os.PathLike | None = None) -> SpectraSet:
    """``load_synthetic(config)``, rendered once and then read from ``cache_dir/data/`` (same bits)."""
    root = cache_root(cache_dir) / "data"
    root.mkdir(parents=True, exist_ok=True)
    key = data_fingerprint(config)[:KEY_HEX_DIGITS]
    path = root / f"{key}.npz"
    labels = SyntheticSurvey(config.synthetic, config.grid).labels
    with key_lock(root, key):
        if path.is_file():
            try:
                with np.load(path) as arrays:
                    if not np.array_equal(arrays["object_id"], np.asarray(labels["object_id"])):
                        raise ValueError("its object ids differ from the survey's")
                    return SpectraSet(flux=torch.from_numpy(arrays["flux"]), mask=torch.from_numpy(arrays["mask"]),
                                      degenerate=arrays["degenerate"], labels=labels)
            except Exception as error:  # noqa: BLE001 (an unreadable file is rendered again)
                warnings.warn(f"cached spectra {path} are unusable ({describe_error(error)}); rendering them again",
                              RuntimeWarning, stacklevel=2)
        data = load_synthetic(config)
        atomic_write(path, lambda handle: np.savez(handle, flux=data.flux.numpy(), mask=data.mask.numpy(),
                                                     degenerate=data.degenerate, object_id=data.object_ids))
    return data
