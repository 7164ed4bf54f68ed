"""A results cache for training runs: chapters train only what is missing, never reuse a stale model.

A configuration that has a committed reference run (:mod:`specae.training.reference_runs`, matched by the
configuration alone) is loaded from ``runs/`` before anything else; ``reference=False`` skips them, to
retrain from scratch.

``cached_train(preset)`` returns the run stored under ``cache_dir/<key>/`` when there is a finished one,
and otherwise trains it and stores it there. The key and what it holds: :mod:`specae.training.run_keys`.

An entry ``cache_dir/<key>/`` holds ``checkpoint.pt`` (see :mod:`specae.training.checkpoints`), ``split.npz`` (the
train/validation indices) and ``done.json`` (the key, its inputs, the history and the git commit it was
trained at), written last. A run
is trained in a sibling folder ``<key>.tmp-<pid>-<random>`` and published by one ``os.rename``, under an
exclusive ``fcntl.flock`` on ``<key>.lock``, so a second process asking for the same key waits and then
loads the first one's result. An entry without ``done.json`` or with an unreadable checkpoint is
removed with a warning and trained again; the temporary folder of an interrupted run is resumed from
its last checkpoint (bit for bit the same weights on CPU, see :mod:`specae.training.loop`).

Rendered synthetic surveys are cached too, in ``cache_dir/data/`` (:mod:`specae.training.survey_cache`), and
the missing runs of a list are trained side by side by :mod:`specae.training.side_by_side`.

The cache folder is ``cache_dir``, else ``$SPECAE_CACHE``, else ``<repo>/_build/cache`` when the package
runs from the book's repository (a ``_toc.yml`` two levels above ``lib/specae``), else
``~/.cache/specae/runs``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import secrets
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from specae._files import REPO_DIR, atomic_write, git_state
from specae.spectra.spectra_set import SpectraSet
from specae.training.checkpoints import CHECKPOINT_NAME, load_checkpoint
from specae.training.devices import resolve_device
from specae.training.loop import TrainResult, train
from specae.training.options import TrainOptions
from specae.training.presets import Preset
from specae.training.reference_runs import SPLIT_NAME, WEIGHTS_NAME, find_reference_run
from specae.training.run_keys import DONE_NAME, digest, key_inputs, run_key, run_options
from specae.training.split import Split

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # not POSIX: no lock, so two processes may both train (the rename still keeps entries whole)
    fcntl = None

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
    entry = cache_root(cache_dir) / key
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
        data = _spectra(preset, data, cache_dir)
        return TrainResult(preset=preset, model=model, history=history, checkpoint=run.path / WEIGHTS_NAME,
                           split=split, data=data, steps=run.manifest["steps"])
    inputs = key_inputs(preset, device, path)
    key = digest(inputs)
    root = cache_root(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    entry = root / key
    with key_lock(root, key, progress):
        stored = _usable_entry(entry, key, preset, device_name)
        if stored is None:
            result = _train_into(root, key, preset, device_name, data, progress, run_options(path))
            if _publish(result, inputs, entry):
                return dataclasses.replace(result, checkpoint=entry / CHECKPOINT_NAME)
            stored = _load_entry(entry, key, preset, device_name)  # another process published first
    model, history, split = stored
    data = _spectra(preset, data, cache_dir)
    if max(split.train.max(initial=-1), split.validation.max(initial=-1)) >= len(data):
        raise ValueError(f"the cached split of {entry} indexes beyond the {len(data)} spectra given")
    return TrainResult(preset=preset, model=model, history=history, checkpoint=entry / CHECKPOINT_NAME,
                       split=split, data=data)


def cache_root(cache_dir: str | os.PathLike | None) -> Path:
    """``cache_dir``, else :func:`default_cache_dir`."""
    return default_cache_dir() if cache_dir is None else Path(cache_dir)


def _spectra(preset: Preset, data: SpectraSet | None, cache_dir: str | os.PathLike | None) -> SpectraSet:
    """``data``, else the spectra of ``preset.data`` from the survey cache."""
    from specae.training.survey_cache import cached_synthetic  # here: the survey cache uses this module's locks

    return cached_synthetic(preset.data, cache_dir) if data is None else data


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
        raise _UnusableEntryError(f"unreadable checkpoint: {describe_error(error)}") from error
    if stored_preset.to_dict() != preset.to_dict():
        raise _UnusableEntryError("its checkpoint holds another configuration")
    if state.get("epoch") != preset.train.epochs:
        raise _UnusableEntryError(f"its checkpoint holds {state.get('epoch')} of {preset.train.epochs} epochs")
    try:
        with np.load(entry / SPLIT_NAME) as arrays:
            split = Split(train=arrays["train"], validation=arrays["validation"])
    except Exception as error:
        raise _UnusableEntryError(f"unreadable {SPLIT_NAME}: {describe_error(error)}") from error
    return model, state["history"], split


def _read_done(entry: Path, key: str) -> dict:
    """The done marker of ``entry``; raises _UnusableEntryError when missing, unreadable or for another key."""
    try:
        done = json.loads((entry / DONE_NAME).read_text())
    except FileNotFoundError as error:
        raise _UnusableEntryError(f"no {DONE_NAME} marker: the run did not finish") from error
    except (OSError, ValueError) as error:
        raise _UnusableEntryError(f"unreadable {DONE_NAME}: {describe_error(error)}") from error
    if not isinstance(done, dict) or done.get("key") != key:
        raise _UnusableEntryError(f"{DONE_NAME} belongs to another key")
    return done


def _train_into(root: Path, key: str, preset: Preset, device: str, data: SpectraSet | None,
                progress: bool, options: TrainOptions) -> TrainResult:
    """Train in a new temporary folder or resume an interrupted one (kept on failure if it has a checkpoint)."""
    tmp = root / f"{key}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    if not _adopt_interrupted(root, key, preset, tmp):
        tmp.mkdir()
    data = _spectra(preset, data, root)
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


def describe_error(error: BaseException) -> str:
    """The error's type and the first line of its message, at most 160 characters (torch's run long)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:160] if lines else ''}"


def _remove(path: Path) -> None:
    """Delete a folder (or a stray file) if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
