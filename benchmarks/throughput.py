"""Training speed against the machine's limits (for ``benchmarks/`` and ``scripts/gpu_check.py``).

* :func:`gemm_flops_per_second`: what this device reaches on a large matrix product, the practical
  compute ceiling;
* :func:`training_flops_per_spectrum`: floating-point operations of one training step (forward, loss,
  backward) per spectrum, counted by ``torch.utils.flop_counter`` (convolutions and matrix products;
  element-wise work is not counted, so the fraction below is of useful work);
* :func:`activation_bytes_per_spectrum`: a lower bound on the memory traffic of a training step, for a
  bandwidth roofline against :func:`copy_bandwidth`: each layer's input and output read or written
  once forward and about twice backward;
* :func:`step_throughput`: spectra/s of :func:`specae.training.loop.optimisation_step` on one batch held on the
  device, the step the training loop runs;
* :func:`side_by_side`: a benchmark's worker run in several processes at once, as the study's runs train.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from specae.model.autoencoder import AutoencoderConfig, SpectrumAutoencoder, masked_l1_kl_loss
from specae.training.devices import kernel_settings
from specae.training.feeds import RenderedSource
from specae.training.loop import optimisation_step
from specae.training.options import TrainOptions
from specae.training.presets import Preset

_TRAFFIC_PASSES = 3  # forward, backward to the inputs, backward to the weights


def synchronise(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function, seconds: float, device: torch.device, warmup: int = 2) -> tuple[int, float]:
    """Call ``function`` for about ``seconds`` after ``warmup`` calls: (calls, elapsed s)."""
    for _ in range(warmup):
        function()
    synchronise(device)
    start, calls = time.perf_counter(), 0
    while calls == 0 or time.perf_counter() - start < seconds:
        function()
        calls += 1
    synchronise(device)
    return calls, time.perf_counter() - start


def gemm_flops_per_second(device: torch.device, dtype: torch.dtype = torch.float32,
                          sizes: tuple[int, ...] | None = None, seconds: float = 2.0) -> float:
    """Best FLOP/s of square matrix products (2 n³ FLOPs each) over ``sizes`` on ``device``
    (default 1,024 to 4,096 on the CPU, 4,096 and 8,192 on accelerators)."""
    generator = torch.Generator(device=device).manual_seed(0)
    best = 0.0
    for size in sizes or ((1024, 2048, 3072, 4096) if device.type == "cpu" else (4096, 8192)):
        a = torch.randn(size, size, generator=generator, device=device).to(dtype)
        b = torch.randn(size, size, generator=generator, device=device).to(dtype)
        calls, elapsed = timed(functools.partial(torch.mm, a, b), seconds, device)
        best = max(best, 2 * size**3 * calls / elapsed)
    return best


def copy_bandwidth(device: torch.device, megabytes: int = 512, seconds: float = 2.0) -> float:
    """Bytes/s of a large on-device copy (read + write), the practical memory-bandwidth ceiling."""
    source = torch.ones(megabytes * 2**18, device=device)
    target = torch.empty_like(source)
    calls, elapsed = timed(lambda: target.copy_(source), seconds, device)
    return 2 * source.numel() * source.element_size() * calls / elapsed


def training_flops_per_spectrum(config: AutoencoderConfig, batch: int = 2) -> float:
    """FLOPs of forward + masked L1/KL loss + backward per spectrum (counted on the CPU at ``batch``)."""
    model = SpectrumAutoencoder(config)
    flux = torch.ones(batch, 1, config.input_length)
    mask = torch.ones(batch, config.input_length, dtype=torch.bool)
    counter = FlopCounterMode(display=False)
    with counter:
        masked_l1_kl_loss(model(flux), flux, mask, beta=0.1).total.backward()
    return counter.get_total_flops() / batch


def activation_bytes_per_spectrum(config: AutoencoderConfig, bytes_per_value: int = 4) -> float:
    """Bytes a training step must move per spectrum at least: the inputs and outputs of every layer,
    ``bytes_per_value`` each, once forward and twice backward (weights, a few MB, are left out)."""
    model = SpectrumAutoencoder(config).eval()
    values: list[int] = []

    def count(module, inputs, output):
        values.append(inputs[0].numel() + output.numel())

    hooks = [module.register_forward_hook(count) for module in model.modules()
             if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d, nn.Linear, nn.LeakyReLU))]
    with torch.no_grad():
        model(torch.ones(1, 1, config.input_length))
    for hook in hooks:
        hook.remove()
    return float(sum(values) * bytes_per_value * _TRAFFIC_PASSES)


def step_throughput(preset: Preset, device: torch.device, seconds: float, options: TrainOptions = TrainOptions(),
                    batch_size: int | None = None) -> dict:
    """Spectra/s of training steps of ``preset``'s model on one batch of its spectra, rendered on ``device``.

    Returns spectra_per_s, seconds_per_step, steps, batch and, on CUDA, peak_memory_gib.
    """
    batch = batch_size or preset.train.batch_size
    source = RenderedSource(preset.data)
    flux, mask = source.batch(np.arange(batch) % len(source), device)
    torch.manual_seed(0)
    model = SpectrumAutoencoder(preset.model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=preset.train.learning_rate)
    stepper = torch.compile(model) if options.compile else model
    autocast = options.autocast_dtype(device)
    generator = torch.Generator(device=device).manual_seed(0)
    noise_shape = (batch, preset.model.latent_dim)

    def step():
        noise = torch.randn(noise_shape, generator=generator, device=device) if preset.model.variational else None
        optimisation_step(stepper, optimizer, flux, mask, beta=preset.train.beta, grad_clip=preset.train.grad_clip,
                          autocast=autocast, noise=noise)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with kernel_settings(device):  # as in training: deterministic kernels on CPU, cuDNN autotuning on CUDA
        calls, elapsed = timed(step, seconds, device)
    result = dict(batch=batch, steps=calls, seconds_per_step=elapsed / calls, spectra_per_s=batch * calls / elapsed)
    if device.type == "cuda":
        result["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return result


def add_worker_arguments(parser) -> None:
    """The hidden arguments a :func:`side_by_side` worker process is started with (``--worker OUT --threads N``)."""
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)


def serve_worker(args, job) -> bool:
    """In a worker process (``args.worker`` set): on ``args.threads`` threads, write ``job()``'s JSON to the worker's
    file and return True; elsewhere return False."""
    if not args.worker:
        return False
    torch.set_num_threads(args.threads)
    args.worker.write_text(json.dumps(job()))
    return True


def side_by_side(script: str | Path, count: int, threads: int, arguments: list[str],
                 per_worker: list[list[str]] | None = None) -> list[dict]:
    """Run ``script --worker OUT --threads N *arguments`` in ``count`` processes at once, each on ``threads`` threads
    (``OMP_NUM_THREADS``) and with its own further arguments from ``per_worker`` (if given); the JSON each wrote to
    its OUT."""
    extra = per_worker or [[] for _ in range(count)]
    if len(extra) != count:
        raise ValueError(f"per_worker needs one argument list per process ({count}), got {len(extra)}")
    with tempfile.TemporaryDirectory() as folder:
        outputs = [Path(folder) / f"worker{i}.json" for i in range(count)]
        environment = dict(os.environ, OMP_NUM_THREADS=str(threads))
        processes = [subprocess.Popen([sys.executable, str(script), "--worker", str(output), "--threads", str(threads),
                                       *arguments, *own], env=environment) for output, own in zip(outputs, extra,
                                                                                                  strict=True)]
        for process in processes:
            if process.wait() != 0:
                raise SystemExit(f"a worker of {script} failed with exit code {process.returncode}")
        return [json.loads(output.read_text()) for output in outputs]
