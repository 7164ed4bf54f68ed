"""Training throughput per preset against this machine's measured GEMM FLOP/s (and memory bandwidth).

Run by hand from the repository root (not part of the tests); a few minutes on 2 CPU cores::

    .venv/bin/python benchmarks/train_throughput.py
    .venv/bin/python benchmarks/train_throughput.py --device cuda --json results.json
    .venv/bin/python benchmarks/train_throughput.py --presets study --threads 1 2

For each preset it times training steps (forward, masked L1 + β·KL, backward, Adam; the function the
training loop calls) on one batch of the preset's spectra held on the device, counts the FLOPs of a
step with torch's flop counter and divides the achieved FLOP/s by the fp32 GEMM FLOP/s measured on
the same device and thread count (bf16 GEMM too where the step runs in bf16). The paper preset runs at
batch 4 on the CPU (a batch of 32 needs ≈ 20 GB of activations there). On CUDA the traffic estimate
of ``throughput.activation_bytes_per_spectrum`` gives the bandwidth-roofline fraction when
``--bandwidth-gbs`` names the device's memory bandwidth.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
from pathlib import Path

import torch

from specae import get_preset
from specae.training.options import PRECISIONS, TrainOptions
from throughput import (
    activation_bytes_per_spectrum,
    gemm_flops_per_second,
    step_throughput,
    training_flops_per_spectrum,
)

CPU_BATCH = {"paper": 4}


def measure(preset_name: str, device: torch.device, seconds: float, options: TrainOptions, gemm: dict) -> dict:
    preset = get_preset(preset_name)
    batch = CPU_BATCH.get(preset_name) if device.type == "cpu" else None
    speed = step_throughput(preset, device, seconds, options, batch_size=batch)
    flops = training_flops_per_spectrum(preset.model)
    achieved = flops * speed["spectra_per_s"]
    autocast = options.autocast_dtype(device)
    ceiling = gemm["bf16" if autocast == torch.bfloat16 else "fp32"]
    bytes_per_value = 2 if autocast == torch.bfloat16 else 4
    return dict(preset=preset_name, pixels=preset.model.input_length, precision=str(autocast or torch.float32),
                compile=options.compile, **speed, gflop_per_spectrum=flops / 1e9, achieved_gflops=achieved / 1e9,
                gemm_gflops=ceiling / 1e9, fraction_of_gemm=achieved / ceiling,
                activation_gb_per_spectrum=activation_bytes_per_spectrum(preset.model, bytes_per_value) / 1e9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--presets", nargs="+", default=["smoke", "study", "paper"])
    parser.add_argument("--seconds", type=float, default=10.0, help="timing per measurement")
    parser.add_argument("--threads", type=int, nargs="+", default=None, help="CPU thread counts (default: all cores)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--bandwidth-gbs", type=float, default=None, help="device memory bandwidth, for the roofline")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH")
    args = parser.parse_args()
    device = torch.device(args.device)
    options = TrainOptions(precision=args.precision, compile=args.compile)
    rows = []
    for threads in (args.threads or [os.cpu_count()]) if device.type == "cpu" else [torch.get_num_threads()]:
        torch.set_num_threads(threads)
        gemm = {"fp32": gemm_flops_per_second(device)}
        if options.autocast_dtype(device) == torch.bfloat16:
            gemm["bf16"] = gemm_flops_per_second(device, torch.bfloat16)
        for name in args.presets:
            row = dict(threads=threads, **measure(name, device, args.seconds, options, gemm))
            if args.bandwidth_gbs:
                gb_per_s = row["activation_gb_per_spectrum"] * row["spectra_per_s"]
                row["fraction_of_bandwidth"] = gb_per_s / args.bandwidth_gbs
            rows.append(row)
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({os.cpu_count()} cores)"
    report = dict(date=datetime.date.today().isoformat(), machine=platform.processor() or platform.machine(),
                  device=device_name,
                  torch=torch.__version__, rows=rows)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
