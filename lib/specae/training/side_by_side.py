"""Training the runs missing from the cache side by side: on a CPU, in spawned single-threaded processes."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Iterator, Sequence

import torch

from specae.spectra.spectra_set import SpectraSet
from specae.training.devices import resolve_device
from specae.training.loop import TrainResult
from specae.training.presets import Preset
from specae.training.reference_runs import find_reference_run
from specae.training.run_cache import cache_info, cache_root, cached_train
from specae.training.survey_cache import cached_synthetic


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
    root = cache_root(cache_dir)
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
    root = cache_root(cache_dir)
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
