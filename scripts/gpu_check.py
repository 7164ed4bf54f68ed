"""A short, prepared check of the GPU path, written as JSON (run through ``scripts/gpu_check.sh``).

1. machine: fp32 and bf16 GEMM FLOP/s and on-device copy bandwidth;
2. generator: spectra/s rendered on the device at 327,680 px, and the largest difference between CPU
   and device renderings of the same noise-free spectra;
3. smoke preset: trained end to end on the device (bf16 autocast, the CUDA default);
4. paper preset, training step on one batch held on the device, in fp32 and in bf16 autocast
   (optionally compiled): spectra/s, fraction of GEMM FLOP/s and of the bandwidth roofline, peak memory;
5. paper preset end to end: ``train`` streaming spectra rendered on the device, stopped after
   ``--paper-steps`` steps with a checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # throughput.py

from specae import get_preset, train
from specae.spectra.grid import Grid
from specae.synth.survey import SyntheticConfig, SyntheticSurvey
from specae.training.options import TrainOptions
from throughput import (
    activation_bytes_per_spectrum,
    copy_bandwidth,
    gemm_flops_per_second,
    step_throughput,
    timed,
    training_flops_per_spectrum,
)


def check_machine(device: torch.device) -> dict:
    return dict(gemm_fp32_tflops=gemm_flops_per_second(device) / 1e12,
                gemm_bf16_tflops=gemm_flops_per_second(device, torch.bfloat16) / 1e12,
                copy_bandwidth_gbs=copy_bandwidth(device) / 1e9)


def check_generator(device: torch.device, seconds: float) -> dict:
    survey = SyntheticSurvey(SyntheticConfig(n_objects=300, n_spectra=400, seed=0), Grid(1))
    calls, elapsed = timed(lambda: survey.render(range(64), device=device), seconds, device, warmup=1)
    on_cpu = survey.render([5, 6], noise=False)
    on_device = survey.render([5, 6], device=device, noise=False).cpu()
    return dict(spectra_per_s_327680px=64 * calls / elapsed,
                max_relative_difference_cpu_vs_device=float((on_device - on_cpu).abs().max() / on_cpu.abs().max()))


def check_smoke_training(device: torch.device) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        run = train(get_preset("smoke"), folder, device=str(device), progress=False)
        last = run.history[-1]
        return dict(epochs=last["epoch"], final_validation_reconstruction=last["validation_reconstruction"])


def check_paper_step(device: torch.device, seconds: float, machine: dict, compile_too: bool, batch: int) -> dict:
    preset = get_preset("paper", batch_size=batch)
    flops = training_flops_per_spectrum(preset.model)
    result = dict(gflop_per_spectrum=flops / 1e9)
    variants = [("fp32", False), ("bf16", False)] + ([("bf16", True)] if compile_too else [])
    for precision, compiled in variants:
        speed = step_throughput(preset, device, seconds, TrainOptions(precision=precision, compile=compiled))
        gemm = machine[f"gemm_{precision}_tflops"] * 1e12
        traffic = activation_bytes_per_spectrum(preset.model, 2 if precision == "bf16" else 4)
        result[precision + ("_compiled" if compiled else "")] = dict(
            **speed, fraction_of_gemm=flops * speed["spectra_per_s"] / gemm,
            fraction_of_bandwidth=traffic * speed["spectra_per_s"] / (machine["copy_bandwidth_gbs"] * 1e9))
    return result


def check_paper_training(device: torch.device, steps: int, batch: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        run = train(get_preset("paper", batch_size=batch), folder, device=str(device), progress=False,
                    options=TrainOptions(stop_at_step=steps))
        elapsed = time.perf_counter() - start
        return dict(steps=run.steps, spectra_per_s_including_start=steps * run.preset.train.batch_size / elapsed,
                    source=type(run.data).__name__, checkpoint_mb=run.checkpoint.stat().st_size / 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=15.0, help="timing per measurement")
    parser.add_argument("--paper-steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=32, help="paper-preset batch (the preset's own is 32)")
    parser.add_argument("--compile", action="store_true", help="also time the compiled bf16 step")
    parser.add_argument("--device", default="cuda", help="cuda, or cpu for a dry run")
    args = parser.parse_args()
    device = torch.device(args.device)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    report = dict(device=device_name, torch=torch.__version__)
    checks = (("machine", lambda: check_machine(device)),
              ("generator", lambda: check_generator(device, args.seconds)),
              ("smoke_training", lambda: check_smoke_training(device)),
              ("paper_step",
               lambda: check_paper_step(device, args.seconds, report["machine"], args.compile, args.batch)),
              ("paper_training", lambda: check_paper_training(device, args.paper_steps, args.batch)))
    for name, check in checks:
        start = time.perf_counter()
        try:
            report[name] = check()
        except Exception as error:  # noqa: BLE001 (report every check, even when one fails)
            report[name] = dict(error=f"{type(error).__name__}: {error}")
        report[name]["wall_s"] = round(time.perf_counter() - start, 1)
        print(name, json.dumps(report[name]), flush=True)
        (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
