"""A results cache for training runs: chapters train only what is missing, never reuse a stale model.

A configuration that has a committed reference run (:mod:`specae.training.reference_runs`, matched by the
configuration alone) is loaded from ``runs/`` before anything else; ``reference=False`` skips them, to
retrain from scratch.

``cached_train(preset)`` returns the run stored under ``cache_dir/<key>/`` when there is a finished one,
and otherwise trains it and stores it there. The key (:func:`run_key`) is the first 16 hex digits of
the SHA-256 of the canonical JSON (sorted keys) of :func:`key_inputs`, which holds exactly:

* ``cache_format``: the layout version of this module's entries (:data:`CACHE_FORMAT`);
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

An entry ``cache_dir/<key>/`` holds ``checkpoint.pt`` (see :mod:`specae.training.checkpoints`), ``split.npz`` (the
train/validation indices) and ``done.json`` (the key, its inputs, the history and the git commit it was
trained at), written last. A run
is trained in a sibling folder ``<key>.tmp-<pid>-<random>`` and published by one ``os.rename``, under an
exclusive ``fcntl.flock`` on ``<key>.lock``, so a second process asking for the same key waits and then
loads the first one's result. An entry without ``done.json`` or with an unreadable checkpoint is
removed with a warning and trained again; the temporary folder of an interrupted run is resumed from
its last checkpoint (bit for bit the same weights on CPU, see :mod:`specae.training.loop`).

Rendered synthetic surveys are cached too, so that chapters render each one once:
:func:`cached_synthetic` stores the normalised flux, mask and degenerate flags of a data configuration
in ``cache_dir/data/<first 16 hex digits of its data fingerprint>.npz`` (written atomically under the
same kind of lock; the labels, cheap and deterministic, are drawn again and checked against it).

The cache folder is ``cache_dir``, else ``$SPECAE_CACHE``, else ``<repo>/_build/cache`` when the package
runs from the book's repository (a ``_toc.yml`` two levels above ``lib/specae``), else
``~/.cache/specae/runs``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import secrets
import shutil
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

import specae._version as package_version  # read on each call, so a changed version is seen
from specae._files import PACKAGE_DIR, REPO_DIR, atomic_write, git_state, hash_files
from specae.spectra.spectra_set import SpectraSet
from specae.synth.survey import SyntheticSurvey
from specae.training.checkpoints import CHECKPOINT_NAME, load_checkpoint
from specae.training.datasets import load_synthetic
from specae.training.devices import resolve_device
from specae.training.loop import TrainResult, train
from specae.training.options import TrainOptions
from specae.training.presets import DataConfig, Preset
from specae.training.reference_runs import SPLIT_NAME, WEIGHTS_NAME, find_reference_run
from specae.training.split import Split

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # not POSIX: no lock, so two processes may both train (the rename still keeps entries whole)
    fcntl = None

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
                  "model/fast_layers.py")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheInfo:
    """Where a run's entry is and whether a finished one is there (``cached``)."""

    key: str
    path: Path
    cached: bool

    def __str__(self) -> str:
        return f"run {self.key}: {'from cache' if self.cached else 'not cached, will train'} ({self.path})"


class _UnusableEntryError(Exception):
    """An entry folder that exists but cannot be used (the message says why)."""


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


def key_inputs(preset: Preset, device: str = "auto", path: str | None = None) -> dict:
    """Everything the key of ``preset`` trained on ``device`` depends on (JSON-safe; see the module docstring)."""
    return {
        "cache_format": CACHE_FORMAT,
        "preset": preset.to_dict(),
        "data": data_fingerprint(preset),
        "library": library_fingerprint(),
        "environment": {"torch": str(torch.__version__), "numpy": np.__version__,
                        "device": resolve_device(device).type},
        "training_path": _options(path).record(resolve_device(device)),
    }


def run_key(preset: Preset, device: str = "auto", path: str | None = None) -> str:
    """The cache key of ``preset`` trained on ``device``: 16 hex digits of SHA-256 over :func:`key_inputs`."""
    return _digest(key_inputs(preset, device, path))


def trained_with(result: TrainResult) -> dict:
    """The fingerprints, git commit and training path a run of this cache was trained with, from its entry's done
    marker (``{"fingerprints": {"data": …, "training_code": …}, "git": {"commit": …, "dirty": …},
    "training_path": {"path": …, "autocast": …}}``)."""
    done = json.loads((result.checkpoint.parent / DONE_NAME).read_text())
    inputs = done["inputs"]
    return {"fingerprints": {"data": inputs["data"], "training_code": inputs["library"]["training_code"]},
            "git": done.get("git", {"commit": None, "dirty": None}), "training_path": inputs["training_path"]}


def default_cache_dir() -> Path:
    """``$SPECAE_CACHE``, else ``<repo>/_build/cache`` inside the book's repository, else ``~/.cache/specae/runs``."""
    if os.environ.get("SPECAE_CACHE"):
        return Path(os.environ["SPECAE_CACHE"]).expanduser()
    repo = REPO_DIR
    if (repo / "_toc.yml").is_file():
        return repo / "_build" / "cache"
    return Path.home() / ".cache" / "specae" / "runs"


def cache_info(preset: Preset, device: str = "auto", cache_dir: str | os.PathLike | None = None,
               path: str | None = None) -> CacheInfo:
    """Whether a finished run of ``preset`` on ``device`` is cached (a quick look at its done marker only)."""
    key = run_key(preset, device, path)
    entry = _root(cache_dir) / key
    try:
        _read_done(entry, key)
    except _UnusableEntryError:
        return CacheInfo(key=key, path=entry, cached=False)
    return CacheInfo(key=key, path=entry, cached=True)


def cached_train(
    preset: Preset,
    device: str = "auto",
    cache_dir: str | os.PathLike | None = None,
    data: SpectraSet | None = None,
    progress: bool = False,
    reference: bool = True,
    runs_dir: str | os.PathLike | None = None,
    path: str | None = None,
) -> TrainResult:
    """The run of ``preset`` on ``device``: its reference run when one is committed (and ``reference``), else
    loaded from the cache when finished there, else trained and stored.

    data: the spectra of ``preset.data`` if already loaded (rendered otherwise; they are not in the key).
    runs_dir: where reference runs are looked up (default ``runs/`` of the book).
    path: the training path, "fast" or "plain" (default: :func:`~specae.training.options.default_training_path`).
    A loaded run equals the trained one: same history, split and weights (``result.checkpoint`` is in the
    entry). Waits while another process trains the same key, then loads its result.
    """
    if preset.train.epochs < 1:
        raise ValueError(f"epochs must be ≥ 1 to cache a run, got {preset.train.epochs}; "
                         "call specae.train (specae.training.loop.train) instead")
    _check_data(preset, data)
    device_name = str(resolve_device(device))
    run = find_reference_run(preset, runs_dir) if reference else None
    if run is not None:
        model, history, split = run.load(device_name)
        data = cached_synthetic(preset.data, cache_dir) if data is None else data
        return TrainResult(preset=preset, model=model, history=history, checkpoint=run.path / WEIGHTS_NAME,
                           split=split, data=data, steps=run.manifest["steps"])
    inputs = key_inputs(preset, device, path)
    key = _digest(inputs)
    root = _root(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    entry = root / key
    with key_lock(root, key, progress):
        stored = _usable_entry(entry, key, preset, device_name)
        if stored is None:
            result = _train_into(root, key, preset, device_name, data, progress, _options(path))
            if _publish(result, inputs, entry):
                return dataclasses.replace(result, checkpoint=entry / CHECKPOINT_NAME)
            stored = _load_entry(entry, key, preset, device_name)  # another process published first
    model, history, split = stored
    data = cached_synthetic(preset.data, cache_dir) if data is None else data
    if max(split.train.max(initial=-1), split.validation.max(initial=-1)) >= len(data):
        raise ValueError(f"the cached split of {entry} indexes beyond the {len(data)} spectra given")
    return TrainResult(preset=preset, model=model, history=history, checkpoint=entry / CHECKPOINT_NAME,
                       split=split, data=data)


def cached_synthetic(config: DataConfig, cache_dir: str | os.PathLike | None = None) -> SpectraSet:
    """``load_synthetic(config)``, rendered once and then read from ``cache_dir/data/`` (same bits)."""
    root = _root(cache_dir) / "data"
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
                warnings.warn(f"cached spectra {path} are unusable ({_describe(error)}); rendering them again",
                              RuntimeWarning, stacklevel=2)
        data = load_synthetic(config)
        atomic_write(path, lambda handle: np.savez(handle, flux=data.flux.numpy(), mask=data.mask.numpy(),
                                                     degenerate=data.degenerate, object_id=data.object_ids))
    return data


def cached_train_many(
    presets,
    device: str = "auto",
    cache_dir: str | os.PathLike | None = None,
    data: SpectraSet | None = None,
    workers: int | None = None,
    reference: bool = True,
    runs_dir: str | os.PathLike | None = None,
    path: str | None = None,
) -> list[TrainResult]:
    """``[cached_train(p, device, cache_dir, data, reference=reference, runs_dir=runs_dir, path=path) for p in
    presets]``, training the missing runs (neither a reference run nor cached) side by side.

    On a CPU, small models use the cores better as separate single-threaded processes than as one
    multi-threaded one (2 cores: 1.4 × the throughput), so the missing runs are trained by ``workers``
    spawned processes (default: one per missing run, at most one per core), each with one thread;
    accelerators train them one after another. The spectra are rendered once into the cache first. A
    lone missing run trains in this process, also with one thread: a CPU's weights depend on the thread
    count, and this way a run's bits do not depend on which other runs were already cached. As
    everywhere in the cache, the thread count is not in the key.
    """
    presets = list(presets)
    root = _root(cache_dir)
    missing = [p for p in dict.fromkeys(presets) if not cache_info(p, device, root, path).cached
               and not (reference and find_reference_run(p, runs_dir))]
    cores = os.cpu_count() or 1
    on_cpu = resolve_device(device).type == "cpu"
    if workers is None:
        workers = min(len(missing), cores) if on_cpu else 1
    if workers > 1 and len(missing) > 1:
        for _ in train_side_by_side(missing, device, root, workers, path):
            pass
    with _torch_threads(1 if on_cpu else None):
        return [cached_train(p, device=device, cache_dir=root, data=data, reference=reference, runs_dir=runs_dir,
                             path=path) for p in presets]


@contextlib.contextmanager
def _torch_threads(count: int | None):
    """Train with ``count`` torch threads (restored afterwards): a lone missing run on a CPU gets the same
    thread count as runs trained side by side, so its weights do not depend on which ones were cached."""
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train_side_by_side(presets: Sequence[Preset], device: str, cache_dir: str | os.PathLike | None, workers: int,
                       path: str | None = None) -> Iterator[int]:
    """Train ``presets`` into the cache ``workers`` at a time, each in a spawned process (with one thread on a CPU),
    yielding each one's index as soon as its run is cached (in the order they finish), so that a caller can use
    a finished run while the others train. The spectra are rendered once into the cache first."""
    root = _root(cache_dir)
    for config in dict.fromkeys(p.data for p in presets):
        cached_synthetic(config, root)
    on_cpu = resolve_device(device).type == "cpu"
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=torch.set_num_threads if on_cpu else None,
                      initargs=(1,) if on_cpu else ()) as pool:
        yield from pool.imap_unordered(_train_in_worker, [(index, p.to_dict(), device, str(root), path)
                                                         for index, p in enumerate(presets)], chunksize=1)


def _train_in_worker(task: tuple[int, dict, str, str, str | None]) -> int:
    index, preset, device, cache_dir, path = task
    cached_train(Preset.from_dict(preset), device=device, cache_dir=cache_dir, path=path)
    return index


def _options(path: str | None) -> TrainOptions:
    """The options a cached run trains with: the default ones, on ``path`` when given."""
    return TrainOptions() if path is None else TrainOptions(path=path)


def _digest(inputs: dict) -> str:
    """First :data:`KEY_HEX_DIGITS` hex digits of SHA-256 over the canonical JSON of ``inputs``."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:KEY_HEX_DIGITS]


def _root(cache_dir: str | os.PathLike | None) -> Path:
    return default_cache_dir() if cache_dir is None else Path(cache_dir)


def _check_data(preset: Preset, data: SpectraSet | None) -> None:
    """Refuse spectra that cannot come from ``preset.data`` (the key assumes they do)."""
    if data is None:
        return
    expected = (preset.data.synthetic.n_spectra, preset.data.grid.n_pixels)
    if tuple(data.flux.shape) != expected:
        raise ValueError(f"data holds {tuple(data.flux.shape)} spectra × pixels but preset {preset.name!r} describes "
                         f"{expected}; pass data=load_synthetic(preset.data) or data=None")


@contextlib.contextmanager
def key_lock(root: Path, key: str, progress: bool = False):
    """Hold an exclusive lock on ``root/<key>.lock`` (waits while another process holds it)."""
    if fcntl is None:
        yield
        return
    with open(root / f"{key}.lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            message = f"waiting for another process to finish {key} in {root}"
            _log.info(message)
            if progress:
                print(message, file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _usable_entry(entry: Path, key: str, preset: Preset, device: str):
    """(model, history, split) of a finished entry; None if absent or unusable (then removed, with a warning)."""
    if not entry.exists():
        return None
    try:
        return _load_entry(entry, key, preset, device)
    except _UnusableEntryError as reason:
        warnings.warn(f"cache entry {entry} is unusable ({reason}); removing it and training again",
                      RuntimeWarning, stacklevel=3)
        _remove(entry)
        return None


def _load_entry(entry: Path, key: str, preset: Preset, device: str):
    """(model, history, split) of the entry; raises _UnusableEntryError when it is partial or corrupt."""
    _read_done(entry, key)
    try:
        stored_preset, model, state = load_checkpoint(entry / CHECKPOINT_NAME, device)
    except Exception as error:
        raise _UnusableEntryError(f"unreadable checkpoint: {_describe(error)}") from error
    if stored_preset.to_dict() != preset.to_dict():
        raise _UnusableEntryError("its checkpoint holds another configuration")
    if state.get("epoch") != preset.train.epochs:
        raise _UnusableEntryError(f"its checkpoint holds {state.get('epoch')} of {preset.train.epochs} epochs")
    try:
        with np.load(entry / SPLIT_NAME) as arrays:
            split = Split(train=arrays["train"], validation=arrays["validation"])
    except Exception as error:
        raise _UnusableEntryError(f"unreadable {SPLIT_NAME}: {_describe(error)}") from error
    return model, state["history"], split


def _read_done(entry: Path, key: str) -> dict:
    """The done marker of ``entry``; raises _UnusableEntryError when missing, unreadable or for another key."""
    try:
        done = json.loads((entry / DONE_NAME).read_text())
    except FileNotFoundError as error:
        raise _UnusableEntryError(f"no {DONE_NAME} marker: the run did not finish") from error
    except (OSError, ValueError) as error:
        raise _UnusableEntryError(f"unreadable {DONE_NAME}: {_describe(error)}") from error
    if not isinstance(done, dict) or done.get("key") != key:
        raise _UnusableEntryError(f"{DONE_NAME} belongs to another key")
    return done


def _train_into(root: Path, key: str, preset: Preset, device: str, data: SpectraSet | None,
                progress: bool, options: TrainOptions) -> TrainResult:
    """Train in a new temporary folder or resume an interrupted one (kept on failure if it has a checkpoint)."""
    tmp = root / f"{key}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    if not _adopt_interrupted(root, key, preset, tmp):
        tmp.mkdir()
    data = cached_synthetic(preset.data, root) if data is None else data
    try:
        return train(preset, tmp, device=device, resume=True, progress=progress, data=data, options=options)
    except BaseException:
        if not (tmp / CHECKPOINT_NAME).is_file():
            _remove(tmp)
        raise


def _adopt_interrupted(root: Path, key: str, preset: Preset, tmp: Path) -> bool:
    """Rename the most advanced leftover ``<key>.tmp-*`` folder to ``tmp`` and remove the others.

    Only called under the key's lock, so no live process is writing to them.
    """
    best, best_epoch = None, 0
    for leftover in sorted(root.glob(f"{key}.tmp-*")):
        epoch = _resumable_epoch(leftover / CHECKPOINT_NAME, preset)
        if epoch > best_epoch:
            if best is not None:
                _remove(best)
            best, best_epoch = leftover, epoch
        else:
            _remove(leftover)
    if best is None:
        return False
    _log.info("resuming the interrupted run %s from epoch %d", key, best_epoch)
    os.rename(best, tmp)
    return True


def _resumable_epoch(path: Path, preset: Preset) -> int:
    """Epochs done in a checkpoint of ``preset``; 0 when it is missing, unreadable or of another configuration."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        epoch = int(state["epoch"])
        same = state["config_hash"] == preset.config_hash()
    except Exception:  # noqa: BLE001
        return 0
    return epoch if same and epoch <= preset.train.epochs else 0


def _publish(result: TrainResult, inputs: dict, entry: Path) -> bool:
    """Write the split and the done marker (last), then rename the run folder to ``entry``.

    Returns False, discarding this run, when a finished entry is already there.
    """
    tmp = result.checkpoint.parent
    atomic_write(tmp / SPLIT_NAME, lambda handle: np.savez(handle, train=np.asarray(result.split.train),
                                                             validation=np.asarray(result.split.validation)))
    done = dict(key=entry.name, inputs=inputs, history=result.history, git=git_state(),
                published=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    atomic_write(tmp / DONE_NAME, lambda handle: handle.write(json.dumps(done, indent=1, sort_keys=True).encode()))
    _fsync_dir(tmp)
    try:
        os.rename(tmp, entry)
    except OSError:
        if not (entry / DONE_NAME).is_file():
            raise
        _remove(tmp)
        return False
    _fsync_dir(entry.parent)
    return True


def _fsync_dir(path: Path) -> None:
    """Flush a folder's entries to disk (best effort where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        handle = os.open(path, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _describe(error: BaseException) -> str:
    """The error's type and the first line of its message, at most 160 characters (torch's run long)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:160] if lines else ''}"


def _remove(path: Path) -> None:
    """Delete a folder (or a stray file) if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
