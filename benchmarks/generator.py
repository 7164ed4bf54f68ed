"""Synthetic generator throughput: spectra/s of ``SyntheticSurvey.render`` per grid, device and thread count.

Run by hand from the repository root (about a minute on 2 CPU cores; not part of the tests)::

    .venv/bin/python benchmarks/generator.py
    .venv/bin/python benchmarks/generator.py --device cuda --spectra 512 --json generator.json

Each case renders ``--spectra`` spectra of a HARPS-like survey (after one warm-up batch, which builds
the cached tables) in batches of ``--batch``, with noise. On CPU it runs once per torch thread count
(1 … all cores), since the renderer works one spectrum at a time with torch's intra-op threads.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from specae.spectra.grid import Grid
from specae.synth.survey import SyntheticConfig, SyntheticSurvey


def spectra_per_second(survey: SyntheticSurvey, n: int, batch: int, device: str) -> float:
    """Rendered spectra per second over ``n`` spectra (a warm-up batch first)."""
    survey.render(range(batch), device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for first in range(batch, batch + n, batch):
        survey.render(range(first, min(first + batch, batch + n)), device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--spectra", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 40], help="grid factors (1 = 327,680 px)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH")
    args = parser.parse_args()
    threads = [1, os.cpu_count()] if args.device == "cpu" else [torch.get_num_threads()]
    n_spectra = args.spectra + args.batch
    survey_config = SyntheticConfig(n_objects=max(1, n_spectra // 7), n_spectra=n_spectra, seed=0)  # quick-like mix
    results = []
    machine = platform.processor() or platform.machine()
    print(f"{'grid px':>8} {'threads':>7} {'spectra/s':>10}   device {args.device}, {machine}")
    for factor in args.factors:
        survey = SyntheticSurvey(survey_config, Grid(factor))
        for n_threads in sorted(set(threads)):
            torch.set_num_threads(n_threads)
            rate = spectra_per_second(survey, args.spectra, args.batch, args.device)
            results.append(dict(grid_pixels=survey.grid.n_pixels, threads=n_threads, device=args.device,
                                spectra_per_second=round(rate, 1)))
            print(f"{survey.grid.n_pixels:>8} {n_threads:>7} {rate:>10.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
