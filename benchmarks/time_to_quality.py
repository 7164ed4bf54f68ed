"""Time to quality: the wall time the plain and the fast training paths take to reach a committed run's final
validation L1, trained side by side in one run (issue 21, item 3).

Run by hand from the repository root (not part of the tests); about an hour on 2 CPU cores::

    .venv/bin/python benchmarks/time_to_quality.py --json benchmarks/results/time_to_quality_cpu2_DATE.json

For each study run named (default: the main configuration's β-VAE and deterministic model, seed 0), two processes
on one thread each train it from scratch at once, one on each path, as ``make reference-runs`` trains two runs
side by side, each in one uninterrupted :func:`specae.training.loop.train` call. The loop measures the validation
L1 at the end of every epoch (500 steps), in float32 on the whole validation set on either path, and records each
epoch's seconds, its evaluations included. The time to quality is the summed seconds up to the first epoch whose L1
is at most the committed run's final one (the plain path reproduces the committed run bit for bit on the machine
that trained it), so it is resolved to an epoch. Whichever process finishes first leaves the other the whole
machine for its remaining epochs, which favours the slower path. Each process also measures a 1-thread matrix
product in float32, the ceiling its training FLOP/s are reported against.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from specae.training.loop import train
from specae.training.options import TrainOptions
from specae.training.reference_runs import find_reference_run
from specae.training.study_runs import study_preset
from specae.training.survey_cache import cached_synthetic
from throughput import (
    add_worker_arguments,
    gemm_flops_per_second,
    serve_worker,
    side_by_side,
    training_flops_per_spectrum,
)

PATHS = ("plain", "fast")


def worker(name: str, path: str, limit: int | None = None) -> dict:
    """Train study run ``name`` on ``path`` (``limit`` steps, default all): per epoch, its seconds and L1."""
    preset = study_preset(name)
    target = find_reference_run(preset).manifest["history"][-1]["validation_reconstruction"]
    data = cached_synthetic(preset.data)
    gemm = gemm_flops_per_second(torch.device("cpu"), torch.float32, seconds=1.0)
    with tempfile.TemporaryDirectory(prefix="specae-ttq-") as folder:
        result = train(preset, folder, device="cpu", progress=False, data=data,
                       options=TrainOptions(path=path, stop_at_step=limit))
    curve, seconds, reached = [], 0.0, None
    for record in result.history:
        seconds += record["seconds"]
        curve.append({"epoch": record["epoch"], "step": record["step"], "seconds": seconds,
                      "validation_l1": record["validation_reconstruction"]})
        if reached is None and record["validation_reconstruction"] <= target:
            reached = curve[-1]
    flops = training_flops_per_spectrum(preset.model) * preset.train.batch_size * curve[-1]["step"]
    return {"run": name, "path": path, "training_path": result.training_path, "target_l1": target,
            "reached": reached, "final_l1": curve[-1]["validation_l1"], "steps": curve[-1]["step"],
            "seconds": seconds, "achieved_gflops": flops / seconds / 1e9, "gemm_gflops": gemm / 1e9,
            "fraction_of_gemm": flops / seconds / gemm, "curve": curve}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", default=["vae16-seed0", "ae16-seed0"])
    parser.add_argument("--steps", type=int, help="stop after this many steps, a multiple of an epoch's 500 (a quick "
                        "check; default: all)")
    add_worker_arguments(parser)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--path", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if serve_worker(args, lambda: worker(args.run, args.path, args.steps)):
        return
    for name in args.runs:
        if find_reference_run(study_preset(name)) is None:
            raise SystemExit(f"{name} has no committed run to take the target from")
        cached_synthetic(study_preset(name).data)  # rendered once here, so that the workers only read it
    results: dict = {"date": datetime.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
                     "cpus": os.cpu_count(), "torch": str(torch.__version__),
                     "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                     "layout": "2 processes × 1 thread, one per path", "runs": {}}
    for name in args.runs:
        started = time.perf_counter()
        pair = side_by_side(__file__, 2, 1, [], per_worker=[
            ["--run", name, "--path", path] + (["--steps", str(args.steps)] if args.steps else []) for path in PATHS])
        by_path = {entry["path"]: entry for entry in pair}
        times = {path: entry["reached"]["seconds"] if entry["reached"] else None for path, entry in by_path.items()}
        speedup = times["plain"] / times["fast"] if all(times.values()) else None
        results["runs"][name] = {"paths": by_path, "seconds_to_target": times, "speedup": speedup,
                                 "elapsed_seconds": time.perf_counter() - started}
        steps = {path: entry["reached"]["step"] if entry["reached"] else None for path, entry in by_path.items()}
        rates = ", ".join(f"{path} {entry['achieved_gflops']:.1f} of a float32 GEMM's {entry['gemm_gflops']:.1f}"
                          for path, entry in by_path.items())
        print(f"{name}: target {by_path['plain']['target_l1']:.5f}; reached at steps {steps}, seconds {times}; "
              f"speedup {speedup}; GFLOP/s {rates}")
        if args.json:
            args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
