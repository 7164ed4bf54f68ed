"""A short, prepared check of the GPU path, written as JSON (run through ``scripts/gpu_check.sh``).

1. generator: spectra/s rendered on the device at 327,680 and 8,192 px, and the largest difference
   between CPU and device renderings of the same noise-free spectra;
2. smoke preset: trained end to end on the device;
3. paper architecture (7.0 M parameters, 327,680 px, β-VAE): training-step throughput (forward,
   backward, Adam) in fp32 and in bf16 autocast on spectra rendered on the device, with peak memory.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from specae import get_preset, train
from specae.autoencoder import SpectrumAutoencoder, masked_l1_kl_loss, paper_architecture
from specae.grid import Grid
from specae.normalization import median_normalise
from specae.synthetic import SyntheticConfig, SyntheticSurvey


def timed(function, seconds: float, device: torch.device) -> tuple[int, float]:
    """Call ``function`` repeatedly for about ``seconds`` (after one warm-up): (calls, elapsed s)."""
    synchronise = torch.cuda.synchronize if device.type == "cuda" else (lambda _: None)
    function()
    synchronise(device)
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        function()
        calls += 1
    synchronise(device)
    return calls, time.perf_counter() - start


def check_generator(device: torch.device, seconds: float) -> dict:
    survey_config = SyntheticConfig(n_objects=300, n_spectra=400, seed=0)
    result = {}
    for factor in (1, 40):
        survey = SyntheticSurvey(survey_config, Grid(factor))
        calls, elapsed = timed(lambda: survey.render(range(64), device=device), seconds, device)
        result[f"spectra_per_s_{survey.grid.n_pixels}px"] = round(64 * calls / elapsed, 1)
        on_cpu = survey.render([5, 6], noise=False)
        on_device = survey.render([5, 6], device=device, noise=False).cpu()
        result[f"max_relative_difference_cpu_vs_device_{survey.grid.n_pixels}px"] = float(
            ((on_device - on_cpu).abs().max() / on_cpu.abs().max()))
    return result


def check_smoke_training(device: torch.device) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        run = train(get_preset("smoke"), folder, device=str(device), progress=False)
        return dict(seconds=round(time.perf_counter() - start, 1), epochs=run.history[-1]["epoch"],
                    final_validation_reconstruction=run.history[-1]["validation_reconstruction"])


def check_paper_step(device: torch.device, seconds: float, batch: int) -> dict:
    grid = Grid(1)
    survey = SyntheticSurvey(SyntheticConfig(n_objects=min(batch, 64), n_spectra=batch, seed=0), grid)
    data = median_normalise(survey.render(range(batch), device=device), grid.mask_tensor(device))
    x, mask = data.flux[:, None, :], data.mask
    result = {"batch": batch}
    for precision in ("fp32", "bf16"):
        model = SpectrumAutoencoder(paper_architecture()).to(device)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
        generator = torch.Generator(device=device).manual_seed(0)

        def step():
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                output = model(x, generator=generator)
                loss = masked_l1_kl_loss(output, x, mask, beta=0.3).total
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        calls, elapsed = timed(step, seconds, device)
        result[precision] = dict(spectra_per_s=round(batch * calls / elapsed, 1), steps=calls)
        if device.type == "cuda":
            result[precision]["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=20.0, help="timing per measurement")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="cuda", help="cuda, or cpu for a dry run")
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    report = dict(device=name, torch=torch.__version__)
    for name, check in (("generator", lambda: check_generator(device, args.seconds)),
                        ("smoke_training", lambda: check_smoke_training(device)),
                        ("paper_step", lambda: check_paper_step(device, args.seconds, args.batch))):
        start = time.perf_counter()
        try:
            report[name] = check()
        except Exception as error:  # report every check, even when one fails
            report[name] = dict(error=f"{type(error).__name__}: {error}")
        report[name]["wall_s"] = round(time.perf_counter() - start, 1)
        print(name, json.dumps(report[name]), flush=True)
        (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
