"""Fresh memory on a CPU: keep freed blocks for reuse, and do not fill new tensors with NaN, so that a training step
does not page in and overwrite its activations again before computing them.

glibc's ``malloc`` hands every block above its mmap threshold (128 KiB at first, growing to the largest block
freed) to the kernel and back, and gives freed memory at the top of its heap back when more than its trim
threshold is free. A training step allocates its activations afresh (the study's largest: 8 MiB) and frees them
at the end, so every step pages them in again, and with deterministic algorithms on, each new block is also
filled with NaN first. Raising both thresholds keeps the blocks in the heap, where the next step reuses them.
The NaN fill is torch's guard, under deterministic algorithms, against a kernel that reads memory it did not
write; every kernel a training step runs writes its whole output (a run with the fill and one without it end
with the same weights, bit for bit: ``tests/test_train.py``), so :func:`reuse_memory` turns it off while the
steps run. Neither changes a number computed.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import platform
import warnings

import torch.utils.deterministic

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest (on 64-bit): blocks up to 32 MiB come from the heap
TRIM_THRESHOLD = 2**30  # up to 1 GiB freed at the top of the heap is kept
TOP_PAD = 64 * 2**20  # the heap grows 64 MiB at a time
_FILL = "fill_uninitialized_memory"  # torch.utils.deterministic's setting (a module property its stubs omit)


@functools.cache
def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (once); False where the C library is not glibc."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    return all(libc.mallopt(parameter, value) == 1 for parameter, value in (
        (_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD), (_M_TOP_PAD, TOP_PAD)))


@contextlib.contextmanager
def reuse_memory():
    """Within: glibc keeps freed blocks (:func:`tune_allocator`, for the rest of the process; elsewhere a one-line
    notice) and new tensors are not filled with NaN (restored afterwards)."""
    if not tune_allocator():
        warnings.warn("the C library here is not glibc: the fast training path runs without its allocator settings",
                      RuntimeWarning, stacklevel=3)
    previous = getattr(torch.utils.deterministic, _FILL)
    setattr(torch.utils.deterministic, _FILL, False)
    try:
        yield
    finally:
        setattr(torch.utils.deterministic, _FILL, previous)
