"""Where a run trains: the device named by the user, and the kernel settings training uses on it."""

from __future__ import annotations

import contextlib
import os

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
ISA_CAPS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")  # torch's, oneDNN's, MKL's


def cpu_kernels() -> dict[str, str]:
    """Which CPU kernels this process runs: torch's capability (e.g. "AVX512") and each instruction-set cap
    in the environment ("" where unset), since results can differ in their last bits between them."""
    return {"torch": torch.backends.cpu.get_cpu_capability()} | {name: os.environ.get(name, "") for name in ISA_CAPS}


def resolve_device(device: str) -> torch.device:
    """'auto' picks cuda > mps > cpu; explicit devices must be available."""
    if not is_device_name(device):
        raise ValueError(f"unknown device {device!r}; choose one of {DEVICE_CHOICES}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here; use 'auto' or 'cpu'")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' requested but MPS is not available here; use 'auto' or 'cpu'")
    return torch.device(device)


@contextlib.contextmanager
def kernel_settings(device: torch.device):
    """Deterministic kernels on CPU; on CUDA, cuDNN picks its fastest convolution algorithms by timing them
    (``cudnn.benchmark``: the shapes never change within a run). Both restored afterwards."""
    if device.type == "cuda":
        previous = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = True
        try:
            yield
        finally:
            torch.backends.cudnn.benchmark = previous
        return
    if device.type != "cpu":
        yield
        return
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def is_device_name(device) -> bool:
    """Whether ``device`` is one of :data:`DEVICE_CHOICES` ('cuda:N' with N a non-negative integer)."""
    if not isinstance(device, str):
        return False
    prefix, _, index = device.partition(":")
    return device in ("auto", "cpu", "cuda", "mps") or (prefix == "cuda" and index.isdigit())
