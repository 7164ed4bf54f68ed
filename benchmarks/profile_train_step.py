"""Where the study's training step spends its time on this CPU: the profile that chooses a faster training path.

Run by hand from the repository root (not part of the tests); about 3 minutes on 2 CPU cores (3 repeats)::

    .venv/bin/python benchmarks/profile_train_step.py --json benchmarks/results/profile_train_step_cpu2_DATE.json

Two layouts, as the study's runs could be trained: one process on 2 threads, and two processes on 1 thread each
side by side (how ``make reference-runs`` trains them). Each process trains the study preset's β-VAE as the
training loop does (``optimisation_step``'s parts, on batches of the in-memory survey drawn with a seeded
permutation) and splits every step into

* feed: the batch's flux and mask gathered from the survey (``SpectraSet.batch``) and the step's ε;
* forward: the model and the masked L1 + β·KL loss;
* backward: ``zero_grad`` and the backward pass;
* optimiser: gradient clipping (when the preset clips) and Adam's update;

timed with ``perf_counter`` over ``--steps`` steps after a warm-up. Then ``torch.profiler`` records a few steps and
lists each part's operators by self CPU time, and module hooks time each layer's forward and backward. FLOPs per
step come from torch's flop counter (convolutions and matrix products: element-wise work is not counted), and the
achieved FLOP/s is set against a square matrix product measured in the same process, on the same threads, while the
other process (if any) trains.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile, record_function
from torch.utils.flop_counter import FlopCounterMode

from specae import get_preset
from specae.model.autoencoder import SpectrumAutoencoder, masked_l1_kl_loss
from specae.seeding import Stream, torch_generator
from specae.training.devices import kernel_settings
from specae.training.survey_cache import cached_synthetic
from throughput import gemm_flops_per_second, side_by_side

PARTS = ("feed", "forward", "backward", "optimiser")
LAYOUTS = {"1 process × 2 threads": (1, 2), "2 processes × 1 thread": (2, 1)}  # name → (processes, threads each)
TOP_OPERATORS = 8


def step_flops(model: SpectrumAutoencoder, flux: torch.Tensor, mask: torch.Tensor, noise, beta: float) -> dict:
    """FLOPs of one step's forward (model and loss) and of the whole step (with backward)."""
    forward = FlopCounterMode(display=False)
    with forward:
        masked_l1_kl_loss(model(flux, noise=noise), flux, mask, beta)
    total = FlopCounterMode(display=False)
    with total:
        masked_l1_kl_loss(model(flux, noise=noise), flux, mask, beta).total.backward()
    model.zero_grad(set_to_none=True)
    return {"forward": forward.get_total_flops(), "step": total.get_total_flops()}


def worker(threads: int, steps: int, warmup: int, profiled: int, gemm_seconds: float) -> dict:
    """Profile the study's training step in this process on ``threads`` threads."""
    torch.set_num_threads(threads)
    preset = get_preset("study")
    device = torch.device("cpu")
    data = cached_synthetic(preset.data)
    usable = np.flatnonzero(~data.degenerate)
    order = np.random.default_rng(0).permutation(usable)
    batch = preset.train.batch_size
    torch.manual_seed(0)
    model = SpectrumAutoencoder(preset.model).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=preset.train.learning_rate)
    beta, clip = preset.train.beta, preset.train.grad_clip

    def step(number: int, times: dict | None = None, label=None) -> None:
        marks = [time.perf_counter()]
        indices = order[(number * batch) % (order.size - batch):][:batch]
        with label("feed"):
            flux, mask = data.batch(indices, device)
            generator = torch_generator(preset.train.seed, Stream.VAE_NOISE, number)
            noise = torch.randn((batch, preset.model.latent_dim), generator=generator)
        marks.append(time.perf_counter())
        with label("forward"):
            terms = masked_l1_kl_loss(model(flux, noise=noise), flux, mask, beta)
        marks.append(time.perf_counter())
        with label("backward"):
            optimizer.zero_grad(set_to_none=True)
            terms.total.backward()
        marks.append(time.perf_counter())
        with label("optimiser"):
            if clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
        marks.append(time.perf_counter())
        if times is not None:
            for part, start, end in zip(PARTS, marks[:-1], marks[1:], strict=True):
                times[part].append(end - start)

    def no_label(_name):
        return contextlib.nullcontext()

    with kernel_settings(device):
        for number in range(warmup):
            step(number, label=no_label)
        times: dict[str, list[float]] = defaultdict(list)
        started = time.perf_counter()
        for number in range(warmup, warmup + steps):
            step(number, times, label=no_label)
        elapsed = time.perf_counter() - started
        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            for number in range(warmup + steps, warmup + steps + profiled):
                step(number, label=record_function)
        first = warmup + steps + profiled
        layers = layer_times(model, lambda count: [step(first + i, label=no_label) for i in range(count)], profiled)
    flux, mask = data.batch(order[:batch], device)
    flops = step_flops(model, flux, mask, torch.zeros(batch, preset.model.latent_dim), beta)
    gemm = gemm_flops_per_second(device, seconds=gemm_seconds)
    seconds_per_step = elapsed / steps
    parts = {part: float(np.median(values)) for part, values in times.items()}
    return {
        "threads": threads, "steps": steps, "batch": batch, "seconds_per_step": seconds_per_step,
        "median_seconds_by_part": parts,
        "share_by_part": {part: value / sum(parts.values()) for part, value in parts.items()},
        "gflop_per_step": flops["step"] / 1e9, "forward_gflop_per_step": flops["forward"] / 1e9,
        "achieved_gflops": flops["step"] / seconds_per_step / 1e9,
        "forward_gflops": flops["forward"] / parts["forward"] / 1e9,
        "backward_gflops": (flops["step"] - flops["forward"]) / parts["backward"] / 1e9,
        "gemm_gflops": gemm / 1e9, "fraction_of_gemm": flops["step"] / seconds_per_step / gemm,
        "top_operators": operators_by_part(profiler, profiled),
        "layers": layers,
    }


def layer_times(model: torch.nn.Module, run_steps, steps: int) -> list[dict]:
    """Forward and backward milliseconds per step of each layer with weights (convolutions, transposed
    convolutions, fully connected), timed by module hooks over ``steps`` steps run by ``run_steps(steps)``. A
    layer's backward runs from the gradient of its output to that of its input; the first layer's input needs no
    gradient, so its backward (the weight gradient alone) is not timed (None)."""
    layers = [(name, module) for name, module in model.named_modules()
              if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d, torch.nn.Linear))]
    totals = {name: {"forward": 0.0, "backward": 0.0} for name, _ in layers}
    started: dict[tuple[str, str], float] = {}
    handles = []
    for name, module in layers:
        def start(key, *_):
            started[key] = time.perf_counter()

        def stop(key, *_):
            totals[key[0]][key[1]] += time.perf_counter() - started.pop(key)

        handles += [module.register_forward_pre_hook(lambda *a, k=(name, "forward"): start(k)),
                    module.register_forward_hook(lambda *a, k=(name, "forward"): stop(k)),
                    module.register_full_backward_pre_hook(lambda *a, k=(name, "backward"): start(k)),
                    module.register_full_backward_hook(lambda *a, k=(name, "backward"): stop(k))]
    with warnings.catch_warnings():  # the first layer's hook fires without an input gradient: said above
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        run_steps(steps)
    for handle in handles:
        handle.remove()
    return [{"layer": name, "kind": type(module).__name__,
             "forward_ms": round(1e3 * totals[name]["forward"] / steps, 3),
             "backward_ms": round(1e3 * totals[name]["backward"] / steps, 3) if i else None}
            for i, (name, module) in enumerate(layers)]


def operators_by_part(profiler, steps: int) -> dict[str, list[dict]]:
    """Each part's operators by self CPU time (ms per step), attributed by the part's time span on its thread."""
    events = profiler.events()
    spans = [(event.name, event.thread, event.time_range.start, event.time_range.end) for event in events
             if event.name in PARTS]
    totals: dict[str, dict[str, float]] = {part: defaultdict(float) for part in PARTS}
    for event in events:
        if event.name in PARTS:
            continue
        for part, thread, start, end in spans:
            if event.thread == thread and start <= event.time_range.start < end:
                totals[part][event.name] += event.self_cpu_time_total / 1e3 / steps
                break
    return {part: [{"operator": name, "ms_per_step": round(ms, 3)}
                   for name, ms in sorted(by_name.items(), key=lambda item: -item[1])[:TOP_OPERATORS]]
            for part, by_name in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60, help="timed steps per process (default 60)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--profiled", type=int, default=5, help="steps recorded by torch.profiler (default 5)")
    parser.add_argument("--gemm-seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each layout, alternating (default 3)")
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if args.worker:
        args.worker.write_text(json.dumps(worker(args.threads, args.steps, args.warmup, args.profiled,
                                                 args.gemm_seconds)))
        return
    cached_synthetic(get_preset("study").data)  # rendered once here, so that the workers only read it
    results = {
        "date": datetime.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(), "torch": str(torch.__version__),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "preset": "study", "repeats": args.repeats, "layouts": {layout: [] for layout in LAYOUTS},
    }
    for _ in range(args.repeats):  # the layouts alternate, so that a slow spell of the host hits both
        for layout, (processes, threads) in LAYOUTS.items():
            results["layouts"][layout].append(side_by_side(__file__, processes, threads, [
                "--steps", str(args.steps), "--warmup", str(args.warmup), "--profiled", str(args.profiled),
                "--gemm-seconds", str(args.gemm_seconds)]))
    for layout, repeats in results["layouts"].items():
        totals = [sum(w["batch"] / w["seconds_per_step"] for w in workers) for workers in repeats]
        fractions = [w["fraction_of_gemm"] for workers in repeats for w in workers]
        shares = repeats[0][0]["share_by_part"].items()
        print(f"{layout}: {min(totals):.0f}–{max(totals):.0f} spectra/s in all over {len(repeats)} repeats; "
              f"{100 * min(fractions):.0f}–{100 * max(fractions):.0f} % of the GEMM FLOP/s per process; first "
              "repeat's shares: " + ", ".join(f"{part} {100 * share:.0f} %" for part, share in shares))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
