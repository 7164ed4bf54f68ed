"""Ingest throughput: files/s and MB/s of ``specae.io.store.ingest`` with one worker and with all cores.

Run by hand from the repository root (about a minute with the defaults; not part of the tests)::

    .venv/bin/python benchmarks/ingest.py
    .venv/bin/python benchmarks/ingest.py --files 16 --json ingest.json

It writes ``--files`` full-resolution synthetic ADP files (5.2 MB each) to a temporary folder, then
times ``ingest`` into a fresh store once per worker count. files/s and MB/s (FITS bytes read) use the
whole call, which includes starting the worker processes (each imports torch, a few seconds) as a
real ingest does; "startup s" is the time to the first result and "steady files/s" the rate after it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from specae.io.fits import HarpsSpectrum, write_adp
from specae.io.store import ingest
from specae.spectra.grid import Grid, full_resolution_wavelength
from specae.synth.survey import SyntheticConfig, SyntheticSurvey

RENDER_BATCH = 16  # spectra rendered at once, to bound memory


def main() -> None:
    """Parse the options, write the files, time each worker count, print the table (and JSON)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=64, help="synthetic ADP files to ingest (default 64)")
    parser.add_argument("--grid-factor", type=int, default=1, help="store grid factor (default 1)")
    parser.add_argument("--shard-size", type=int, default=256, help="spectra per shard (default 256)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the results here")
    args = parser.parse_args()
    worker_counts = sorted({1, os.cpu_count() or 1})
    with tempfile.TemporaryDirectory(prefix="specae-ingest-bench-") as tmp:
        source = Path(tmp) / "source"
        write_synthetic_adps(source, args.files)
        megabytes = sum(path.stat().st_size for path in source.iterdir()) / 1e6
        results = [time_ingest(source, Path(tmp) / f"store-{workers}", workers, args) for workers in worker_counts]
    for result in results:
        result.update(files_per_s=args.files / result["seconds"], mb_per_s=megabytes / result["seconds"])
        result.update({key: round(value, 2) for key, value in result.items() if isinstance(value, float)})
    summary = dict(files=args.files, megabytes=round(megabytes, 1), grid_factor=args.grid_factor,
                   shard_size=args.shard_size, cpu_count=os.cpu_count(),
                   machine=platform.processor() or platform.machine(), results=results)
    print(format_table(summary))
    print(json.dumps(summary, indent=1))
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")


def write_synthetic_adps(folder: Path, n_files: int) -> None:
    """``n_files`` full-resolution synthetic ADP files in ``folder``."""
    folder.mkdir(parents=True)
    survey = SyntheticSurvey(SyntheticConfig(n_objects=max(1, n_files // 4), n_spectra=n_files, seed=0), Grid(1))
    wavelength = full_resolution_wavelength()
    for start in range(0, n_files, RENDER_BATCH):
        indices = range(start, min(start + RENDER_BATCH, n_files))
        for i, flux in zip(indices, survey.render(indices).numpy(), strict=True):
            spectrum = HarpsSpectrum(wavelength, flux, np.full_like(flux, np.nan), dict(object=f"SYN{i:05d}"))
            write_adp(folder / f"ADP.synthetic-{i:05d}.fits", spectrum)


def time_ingest(source: Path, store: Path, workers: int, args: argparse.Namespace) -> dict:
    """Time one ingest of ``source`` into a new ``store`` (deleted afterwards).

    seconds: the whole call; startup_s: until the first result (worker start-up and the first files);
    steady_files_per_s: results per second between the first and the last result.
    """
    arrivals = []

    def clock(results):
        for result in results:
            arrivals.append(time.perf_counter())
            yield result

    start = time.perf_counter()
    report = ingest(source, store, grid=args.grid_factor, shard_size=args.shard_size, workers=workers,
                    progress=clock)
    seconds = time.perf_counter() - start
    shutil.rmtree(store)
    if report.stored != args.files:
        raise RuntimeError(f"only {report.line()}; the benchmark expects every synthetic file stored")
    steady = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if arrivals[-1] > arrivals[0] else float("nan")
    return dict(workers=workers, seconds=seconds, startup_s=arrivals[0] - start, steady_files_per_s=steady)


def format_table(summary: dict) -> str:
    """The results as a small text table."""
    lines = [(f"ingest of {summary['files']} synthetic ADP files ({summary['megabytes']} MB), "
              f"grid factor {summary['grid_factor']}, {summary['cpu_count']} CPUs"),
             f"{'workers':>7} {'seconds':>8} {'files/s':>8} {'MB/s':>7} {'startup s':>10} {'steady files/s':>15}"]
    for result in summary["results"]:
        lines.append(f"{result['workers']:>7} {result['seconds']:>8.2f} {result['files_per_s']:>8.2f} "
                     f"{result['mb_per_s']:>7.1f} {result['startup_s']:>10.2f} {result['steady_files_per_s']:>15.2f}")
    return "\n".join(lines)


if __name__ == "__main__":  # the guard matters: ingest's worker processes re-import this file
    main()
