"""A disk cache for costly analysis results that several chapters compute from the same inputs.

The §6 comparison of one model's codes (:func:`~specae.analysis.paper_comparison.compare_with_paper`, about
10 s: its best-node null alone takes a thousand KSG estimates) is asked for by chapters 03, 05, 06 and 07 of the
same runs; each chapter runs in its own kernel. :func:`cached_result` keys a result by the exact bytes of its
inputs (arrays and plain values) and by the source of the analysis modules that compute it, so a result is reused
only for bit-identical inputs and unchanged code: another CPU's rounding gives other codes, hence another key.
Entries live in ``<cache dir>/analysis/<key>.pkl`` beside the run cache (:func:`specae.training.run_cache.
default_cache_dir`), written atomically; an unreadable entry is computed again.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import numpy as np

from specae._files import PACKAGE_DIR, atomic_write, hash_files
from specae.training.run_cache import default_cache_dir

T = TypeVar("T")
ANALYSIS_FILES = ("analysis/paper_comparison.py", "analysis/mutual_information.py", "analysis/informative.py",
                  "analysis/analysis_cache.py")  # the code whose results are cached: part of every key


def _digest(value: object, digest) -> None:
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        digest.update(f"array {array.dtype.str} {array.shape}".encode())
        digest.update(array.tobytes())
    elif isinstance(value, Mapping):
        for key in sorted(value):
            digest.update(f"key {key!r}".encode())
            _digest(value[key], digest)
    elif isinstance(value, (list, tuple)):
        digest.update(f"sequence {len(value)}".encode())
        for item in value:
            _digest(item, digest)
    elif value is None or isinstance(value, (bool, int, float, str)):
        digest.update(f"value {type(value).__name__} {value!r}".encode())
    else:
        raise TypeError(f"cannot key an analysis input of type {type(value).__name__}; give arrays or plain values")


def result_key(name: str, inputs: Mapping[str, object]) -> str:
    """Hex key of analysis ``name`` on ``inputs`` (arrays, mappings, sequences and plain values), with its code."""
    digest = hashlib.sha256(f"{name} {hash_files(ANALYSIS_FILES, PACKAGE_DIR)}".encode())
    _digest(dict(inputs), digest)
    return digest.hexdigest()


def cached_result(name: str, inputs: Mapping[str, object], compute: Callable[[], T],
                  cache_dir: str | os.PathLike | None = None) -> T:
    """``compute()``, or its earlier result for the same ``name``, bit-identical ``inputs`` and analysis code."""
    folder = (default_cache_dir() if cache_dir is None else Path(cache_dir)) / "analysis"
    path = folder / f"{result_key(name, inputs)[:32]}.pkl"
    if path.is_file():
        try:
            with path.open("rb") as handle:
                return pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            pass  # written by other code or cut short: compute it again
    result = compute()
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda handle: pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL))
    return result
