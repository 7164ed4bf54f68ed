"""A disk cache for costly analysis results of trained models, and the committed analyses of the reference runs.

The §6 comparison of one model's codes (:func:`~specae.analysis.latent_report.paper_comparison_of`, about 10 s: its
best-node null alone takes a thousand KSG estimates) is asked for by several chapters of the same runs, and the
RV-spread experiment's points (:func:`~specae.analysis.rv_spread.survey_point`) by chapter 08 for 24 runs.
:func:`cached_result` keys a result by the exact bytes of its inputs and by the source of the code that computes it
(:data:`ANALYSIS_FILES`). The callers key a model by its **weights** and the spectra by their bytes (or, for a
survey read from its configuration, by the survey's fingerprint), not by the codes a CPU's kernels compute from
them: the same committed run on the same spectra is the same analysis on any CPU.

Results live in two places, looked up in order:

* ``runs/analyses/<key>.pkl``, committed beside the reference runs: the analyses of the reference runs, recorded by
  ``make chapters`` (which sets :data:`RECORD_ENV`). A book build, and the notebook check of ``make test``, read
  them as they read the runs' weights, so neither recomputes what a reference run's analysis already gave; a
  changed run, spectrum, parameter or line of that code is another key, computed afresh.
  ``tests/test_analysis_cache.py`` recomputes one committed analysis on this CPU and compares it.
* ``<cache dir>/analysis/<key>.pkl`` beside the run cache (:func:`specae.training.run_cache.default_cache_dir`):
  everything else computed here, written atomically; an unreadable entry is computed again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import numpy as np

from specae._files import PACKAGE_DIR, REPO_DIR, atomic_write, hash_files
from specae.training.run_cache import default_cache_dir

T = TypeVar("T")
# The code whose results are cached, from the weights and spectra to the numbers: part of every key.
ANALYSIS_FILES = ("analysis/paper_comparison.py", "analysis/mutual_information.py", "analysis/informative.py",
                  "analysis/analysis_cache.py", "analysis/bottleneck.py", "analysis/latents.py",
                  "analysis/latent_report.py", "analysis/rv_spread.py", "analysis/traversal.py",
                  "analysis/velocity.py", "analysis/velocity_comparison.py",
                  "model/autoencoder.py", "model/fast_layers.py", "model/doppler_autoencoder.py", "model/doppler.py",
                  "model/factory.py", "training/datasets.py", "spectra/normalisation.py")
COMMITTED_DIR = REPO_DIR / "runs" / "analyses"  # the reference runs' analyses, recorded by `make chapters`
RECORD_ENV = "SPECAE_RECORD_ANALYSES"  # "1": also write every result looked up into COMMITTED_DIR


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


def model_weights(model) -> dict[str, object]:
    """A model's identity in a key: its class, its configuration (when it has one) and its state (parameters and
    buffers, e.g. the variant's template) as arrays."""
    config = getattr(model, "config", None)
    return {"class": f"{type(model).__module__}.{type(model).__qualname__}",
            "config": json.dumps(dataclasses.asdict(config), sort_keys=True) if dataclasses.is_dataclass(config)
            and not isinstance(config, type) else None,
            "state": {name: value.detach().cpu().numpy() for name, value in model.state_dict().items()}}


def cached_result(name: str, inputs: Mapping[str, object], compute: Callable[[], T],
                  cache_dir: str | os.PathLike | None = None, committed_dir: str | os.PathLike | None = None) -> T:
    """``compute()``, or its earlier result for the same ``name``, bit-identical ``inputs`` and analysis code: from
    the committed analyses (``committed_dir``, default :data:`COMMITTED_DIR`) or the local cache. With
    :data:`RECORD_ENV` set to "1", the result is also written to the committed analyses."""
    file_name = f"{result_key(name, inputs)[:32]}.pkl"
    committed = (COMMITTED_DIR if committed_dir is None else Path(committed_dir)) / file_name
    local = (default_cache_dir() if cache_dir is None else Path(cache_dir)) / "analysis" / file_name
    found = next((result for path in (committed, local) if (result := _load(path)) is not _MISSING), _MISSING)
    result = compute() if found is _MISSING else found
    targets = [local] if found is _MISSING else []
    if os.environ.get(RECORD_ENV) == "1" and not committed.is_file():
        targets.append(committed)
    for path in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda handle: pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL))
    return result  # type: ignore[return-value]


_MISSING = object()


def _load(path: Path) -> object:
    """The result stored at ``path``, or :data:`_MISSING` (absent, or written by other code or cut short)."""
    if not path.is_file():
        return _MISSING
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        return _MISSING
