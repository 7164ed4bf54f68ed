"""A screen of faster training paths for the study's step on this CPU, by steps per second (issue 21, item 2).

Run by hand from the repository root (not part of the tests); about 10 minutes on 2 CPU cores for all candidates::

    .venv/bin/python benchmarks/train_step_candidates.py --json benchmarks/results/train_step_candidates_cpu2_DATE.json

Each candidate changes one thing against today's path (eager fp32, ``torch.optim.Adam`` with its defaults, batch
32) and is timed as ``benchmarks/profile_train_step.py`` times the baseline: the study preset's β-VAE on batches of
the in-memory survey, in two processes on one thread each side by side (how ``make reference-runs`` trains), after
a warm-up that also absorbs ``torch.compile``'s compilation. A screen only: what it finds counts once a
time-to-quality benchmark confirms it (a batch size or precision changes what a step learns, not only its cost).

* ``adam-foreach``, ``adam-fused``: Adam's multi-tensor and fused implementations;
* ``bf16-autocast``: the forward under ``torch.autocast("cpu", torch.bfloat16)`` (the loss in fp32, as on CUDA);
  every candidate steps through the training loop's ``optimisation_step``;
* ``compile``: ``torch.compile`` (inductor, its own cache folder);
* ``predict0-shifted-sum``: the last layer, a 1 → 1 channel convolution of 3 taps over every pixel (4 weights,
  30 % of a step with ``decoder.deconv1`` in the profile), computed as a sum of three shifted copies of its input
  with the same weights, which vectorises over pixels; its output equals the convolution's within float rounding
  (checked before timing);
* ``batch-64``: 64 spectra per step (spectra/s compared, not steps/s);
* ``memory-reuse``: glibc's allocator kept from returning the activations and no NaN fill of new tensors
  (:func:`specae.training.allocator.reuse_memory`);
* ``fast-layers``: the model's fast formulation (:mod:`specae.model.fast_layers`: channels-last rows, the edges as
  matrix products, the shifted-sum ``predict0``);
* ``fast-path``: both, the training path "fast"; ``fast-path-bf16``: and bfloat16 autocast.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import tempfile
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the usual name)

from specae import get_preset
from specae.model.autoencoder import SpectrumAutoencoder
from specae.seeding import Stream, torch_generator
from specae.training.allocator import reuse_memory
from specae.training.devices import kernel_settings
from specae.training.loop import optimisation_step
from specae.training.survey_cache import cached_synthetic
from throughput import add_worker_arguments, serve_worker, side_by_side


@dataclass(frozen=True)
class Candidate:
    """One change against today's path."""

    adam: dict = field(default_factory=dict)
    autocast: bool = False
    compile: bool = False
    shifted_predict0: bool = False
    batch: int = 32
    fast_layers: bool = False
    reuse_memory: bool = False


CANDIDATES = {
    "baseline": Candidate(),
    "adam-foreach": Candidate(adam={"foreach": True}),
    "adam-fused": Candidate(adam={"fused": True}),
    "bf16-autocast": Candidate(autocast=True),
    "compile": Candidate(compile=True),
    "predict0-shifted-sum": Candidate(shifted_predict0=True),
    "batch-64": Candidate(batch=64),
    "memory-reuse": Candidate(reuse_memory=True),
    "fast-layers": Candidate(fast_layers=True),
    "fast-path": Candidate(fast_layers=True, reuse_memory=True),
    "fast-path-bf16": Candidate(fast_layers=True, reuse_memory=True, autocast=True),
}


def shifted_sum_forward(self: torch.nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """A 1 → 1 channel, 3-tap, padding-1 convolution of x (b, 1, L) as a sum of three shifted copies."""
    padded = F.pad(x, (1, 1))
    weight = self.weight[0, 0]
    return (weight[0] * padded[..., :-2] + weight[1] * padded[..., 1:-1] + weight[2] * padded[..., 2:]
            + self.bias)


def worker(name: str, steps: int, warmup: int) -> dict:
    """Seconds per step of candidate ``name`` in this process (on the threads ``OMP_NUM_THREADS`` gives)."""
    candidate = CANDIDATES[name]
    preset = get_preset("study")
    data = cached_synthetic(preset.data)
    order = np.random.default_rng(0).permutation(np.flatnonzero(~data.degenerate))
    torch.manual_seed(0)
    model = SpectrumAutoencoder(preset.model).train().set_fast_layers(candidate.fast_layers)
    check = None
    if candidate.shifted_predict0:
        layer = model.decoder.predict0
        probe = torch.randn(4, 1, preset.model.input_length, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            expected = layer(probe)
            layer.forward = types.MethodType(shifted_sum_forward, layer)
            check = float((layer(probe) - expected).abs().max())
    optimizer = torch.optim.Adam(model.parameters(), lr=preset.train.learning_rate, **candidate.adam)
    stepper = torch.compile(model) if candidate.compile else model
    batch, beta = candidate.batch, preset.train.beta

    def step(number: int) -> None:
        indices = order[(number * batch) % (order.size - batch):][:batch]
        flux, mask = data.batch(indices, torch.device("cpu"))
        noise = torch.randn((batch, preset.model.latent_dim),
                            generator=torch_generator(preset.train.seed, Stream.VAE_NOISE, number))
        optimisation_step(stepper, optimizer, flux, mask, beta, preset.train.grad_clip,
                          autocast=torch.bfloat16 if candidate.autocast else None, noise=noise)

    memory = reuse_memory() if candidate.reuse_memory else contextlib.nullcontext()
    with kernel_settings(torch.device("cpu")), memory:
        compiling = time.perf_counter()
        for number in range(warmup):
            step(number)
        warm_seconds = time.perf_counter() - compiling
        started = time.perf_counter()
        for number in range(warmup, warmup + steps):
            step(number)
        elapsed = time.perf_counter() - started
    return {"candidate": name, "batch": batch, "steps": steps, "seconds_per_step": elapsed / steps,
            "spectra_per_s": batch * steps / elapsed, "warmup_seconds": warm_seconds, "max_output_difference": check}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (compilation happens here)")
    parser.add_argument("--repeats", type=int, default=2, help="rounds over the candidates (default 2)")
    add_worker_arguments(parser)
    parser.add_argument("--candidate", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if serve_worker(args, lambda: worker(args.candidate, args.steps, args.warmup)):
        return
    cached_synthetic(get_preset("study").data)  # rendered once here, so that the workers only read it
    results: dict = {"date": datetime.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
                     "cpus": os.cpu_count(), "torch": str(torch.__version__),
                     "cpu_capability": torch.backends.cpu.get_cpu_capability(), "preset": "study",
                     "layout": "2 processes × 1 thread", "candidates": {name: [] for name in args.candidates}}
    with tempfile.TemporaryDirectory() as inductor:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = inductor  # a cache of its own (another ISA's kernels are wrong)
        for _ in range(args.repeats):  # rounds, so that a slow spell of the shared host hits every candidate
            for name in args.candidates:
                results["candidates"][name].append(side_by_side(__file__, 2, 1, [
                    "--candidate", name, "--steps", str(args.steps), "--warmup", str(args.warmup)]))
    totals = {name: [sum(w["spectra_per_s"] for w in rep) for rep in repeats]
              for name, repeats in results["candidates"].items()}
    baseline = float(np.median(totals["baseline"])) if "baseline" in totals else None
    for name, rates in totals.items():
        against = f", {np.median(rates) / baseline:.2f} × the baseline's median" if baseline else ""
        print(f"{name}: {min(rates):.0f}–{max(rates):.0f} spectra/s in all{against}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
