"""Data-parallel training across processes (``torchrun``), and the one-process case as its trivial member.

``torchrun --nproc_per_node=K -m specae train …`` starts K processes with ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE`` set; :func:`start` joins them into one process group (NCCL on CUDA, gloo on CPU) and
gives each rank its device. Every rank draws the same global batch from the seeded sampler and works
on its own contiguous slice (:meth:`Ranks.shard`); the loss of each slice is normalised by the *global*
number of valid pixels and spectra, and DistributedDataParallel averages gradients over ranks, so K
ranks take the same optimisation step as one process with the whole batch (up to float summation
order). Without those variables (a plain ``python`` run) :func:`start` returns a single rank and no
collective is ever called.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job: ``rank`` of ``world_size``, training on ``device``."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def shard(self, indices: np.ndarray) -> tuple[np.ndarray, int]:
        """This rank's contiguous slice of a global batch ``indices`` and the slice's first position in it.

        Slices differ in length by at most one (``np.array_split``); every rank gets at least one row
        as long as the batch has ``world_size`` rows (checked by :func:`check_batch_size`).
        """
        if not self.distributed:
            return indices, 0
        bounds = np.cumsum([0] + [len(part) for part in np.array_split(indices, self.world_size)])
        return indices[bounds[self.rank] : bounds[self.rank + 1]], int(bounds[self.rank])

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise sum of ``values`` over all ranks (the tensor itself with one rank)."""
        if self.distributed:
            values = values.clone()
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def launched_by_torchrun() -> bool:
    """True inside a process started by ``torchrun`` (or any launcher that sets WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def start(device: torch.device) -> Ranks:
    """Join the process group when launched by torchrun, else one rank on ``device``.

    On CUDA each rank takes ``cuda:LOCAL_RANK``; on CPU every rank uses the CPU with the gloo backend.
    """
    if not launched_by_torchrun():
        return Ranks(rank=0, world_size=1, device=device)
    for name in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise RuntimeError(f"WORLD_SIZE is set but {name} is not; start distributed runs with torchrun")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise ValueError(f"distributed training runs on cuda or cpu, not {device.type}")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Ranks(rank=dist.get_rank(), world_size=dist.get_world_size(), device=device)


def stop(ranks: Ranks) -> None:
    """Leave the process group that :func:`start` joined (a no-op for one rank)."""
    if ranks.distributed and dist.is_initialized():
        dist.destroy_process_group()


def check_batch_size(batch_size: int, ranks: Ranks) -> None:
    """Every rank needs at least one spectrum of every global batch."""
    if batch_size < ranks.world_size:
        raise ValueError(f"batch_size {batch_size} is smaller than the {ranks.world_size} processes; "
                         f"use batch_size ≥ {ranks.world_size} or fewer processes")
