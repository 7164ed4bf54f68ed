"""What identifies a trained run: the cache key of a configuration trained on a device, and its fingerprints.

The key (:func:`run_key`) is the first 16 hex digits of the SHA-256 of the canonical JSON (sorted keys) of
:func:`key_inputs`, which holds exactly:

* ``cache_format``: the layout version of the run cache's entries (:data:`CACHE_FORMAT`,
  :mod:`specae.training.run_cache`);
* ``preset``: ``preset.to_dict()``, the whole configuration (name, data, model, optimisation, epochs);
* ``data``: the data fingerprint, SHA-256 over the canonical JSON of ``preset.data`` (grid factor,
  synthetic survey, split, normalisation, sampling) and over the bytes of the code and data that
  generate the spectra, :data:`GENERATOR_FILES` (each hashed with its path in the package by
  :func:`specae._files.hash_files`);
* ``library``: ``specae.__version__`` (:mod:`specae._version`) and the SHA-256 of the training code,
  :data:`TRAINING_FILES` (each hashed with its path in the package);
* ``environment``: the torch and numpy versions and the device *type* (``cpu``, ``cuda``, ``mps``;
  ``"auto"`` is resolved first, ``cuda:1`` counts as ``cuda``), since they change the weights;
* ``training_path``: the path the steps take there and its autocast type (``TrainOptions(path=path).record(device)``;
  by default the fast path, or ``$SPECAE_TRAINING_PATH``), since it changes the weights' rounding.

So editing any of those files, moving one, bumping a version or changing one parameter gives a new key;
old entries are left in place (delete the folder to reclaim space). Not in the key: the Python version,
the CPU model and thread count, and every other module of the package (file helpers, the I/O of real
spectra, the analysis and the book).

A finished entry's done marker (:data:`DONE_NAME`) records its key and the key's inputs; :func:`trained_with`
reads a run's fingerprints back from it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import torch

import specae._version as package_version  # read on each call, so a changed version is seen
from specae._files import PACKAGE_DIR, hash_files
from specae.training.devices import resolve_device
from specae.training.loop import TrainResult
from specae.training.options import TrainOptions
from specae.training.presets import DataConfig, Preset

CACHE_FORMAT = 1
KEY_HEX_DIGITS = 16
DONE_NAME = "done.json"
GENERATOR_FILES = ("synth/survey.py", "synth/population.py", "synth/line_lists.py", "synth/line_profile.py",
                   "synth/tellurics.py", "spectra/grid.py", "spectra/normalisation.py", "training/datasets.py",
                   "seeding.py", "constants.py", "synth/data/harps_line_masks.npz")
TRAINING_FILES = ("training/loop.py", "training/checkpoints.py", "training/devices.py", "training/options.py",
                  "training/progress.py", "training/schedules.py", "model/autoencoder.py",
                  "training/balanced_sampler.py", "seeding.py", "training/presets.py", "training/feeds.py",
                  "training/distributed.py", "training/split.py", "spectra/spectra_set.py", "training/allocator.py",
                  "model/fast_layers.py", "model/factory.py", "model/doppler_autoencoder.py", "model/doppler.py")


def generator_code_hash() -> str:
    """SHA-256 of the code and data that render synthetic spectra (:data:`GENERATOR_FILES`)."""
    return hash_files(GENERATOR_FILES, PACKAGE_DIR)


def training_code_hash() -> str:
    """SHA-256 of the training code (:data:`TRAINING_FILES`)."""
    return hash_files(TRAINING_FILES, PACKAGE_DIR)


def data_fingerprint(source: Preset | DataConfig) -> str:
    """SHA-256 of a data configuration (``source``'s own, or a preset's) and of the generator's code and data."""
    data_config = source.data if isinstance(source, Preset) else source
    config = json.dumps(dataclasses.asdict(data_config), sort_keys=True)
    return hashlib.sha256(f"{config}\n{generator_code_hash()}".encode()).hexdigest()


def library_fingerprint() -> dict:
    """The package version and the hash of the training code."""
    return {"version": package_version.__version__, "training_code": training_code_hash()}


def run_options(path: str | None) -> TrainOptions:
    """The options a cached run trains with: the default ones, on ``path`` when given."""
    return TrainOptions() if path is None else TrainOptions(path=path)


def key_inputs(preset: Preset, device: str = "auto", path: str | None = None) -> dict:
    """Everything the key of ``preset`` trained on ``device`` depends on (JSON-safe; see the module docstring)."""
    return {
        "cache_format": CACHE_FORMAT,
        "preset": preset.to_dict(),
        "data": data_fingerprint(preset),
        "library": library_fingerprint(),
        "environment": {"torch": str(torch.__version__), "numpy": np.__version__,
                        "device": resolve_device(device).type},
        "training_path": run_options(path).record(resolve_device(device)),
    }


def run_key(preset: Preset, device: str = "auto", path: str | None = None) -> str:
    """The cache key of ``preset`` trained on ``device``: 16 hex digits of SHA-256 over :func:`key_inputs`."""
    return digest(key_inputs(preset, device, path))


def digest(inputs: dict) -> str:
    """First :data:`KEY_HEX_DIGITS` hex digits of SHA-256 over the canonical JSON of ``inputs``."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:KEY_HEX_DIGITS]


def trained_with(result: TrainResult) -> dict:
    """The fingerprints, git commit and training path a run of the cache was trained with, from its entry's done
    marker (``{"fingerprints": {"data": …, "training_code": …}, "git": {"commit": …, "dirty": …},
    "training_path": {"path": …, "autocast": …}}``)."""
    done = json.loads((result.checkpoint.parent / DONE_NAME).read_text())
    inputs = done["inputs"]
    return {"fingerprints": {"data": inputs["data"], "training_code": inputs["library"]["training_code"]},
            "git": done.get("git", {"commit": None, "dirty": None}), "training_path": inputs["training_path"]}
