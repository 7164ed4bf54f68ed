"""Data feed: how fast spectra reach the training step as tensors, against what the step consumes.

Run by hand from the repository root (not part of the tests; ≈ 2 minutes and 1.4 GB of disk)::

    .venv/bin/python benchmarks/data_feed.py
    .venv/bin/python benchmarks/data_feed.py --spectra 1024 --json data_feed.json

It writes a store of ``--spectra`` synthetic spectra on the paper's grid (64 rendered, repeated), then
times, in batches of 32 in random order (the sampler's access pattern):

* ``store.flux``: raw rows read from the store files into memory (page cache warm: the store was just
  written; on a cold disk the drive's read rate bounds it);
* ``StoreSource.batch``: rows read and median-normalised into (flux, mask) tensors;
* ``RenderedSource.batch``: spectra rendered and normalised on the device instead.

The training step's appetite comes from ``benchmarks/train_throughput.py`` (``--consumption`` names its
JSON; otherwise the paper preset's step is timed here at batch 4).
"""

from __future__ import annotations

import argparse
import datetime
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from specae import get_preset
from specae.spectra.grid import Grid
from specae.training.feeds import RenderedSource, StoreSource
from store_memory import build_store
from throughput import step_throughput, timed

BATCH = 32


def rate(read, n_spectra: int, device: torch.device, seconds: float) -> float:
    """Spectra/s of ``read(indices)`` over random batches of 32 for about ``seconds``."""
    rng = np.random.default_rng(0)
    calls, elapsed = timed(lambda: read(rng.integers(0, n_spectra, BATCH)), seconds, device, warmup=1)
    return calls * BATCH / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spectra", type=int, default=1024, help="stored spectra (a multiple of 64)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--consumption", type=Path, default=None, help="train_throughput.py JSON")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH")
    args = parser.parse_args()
    device = torch.device(args.device)
    preset = get_preset("paper")
    bytes_per_spectrum = Grid(1).n_pixels * 4
    with tempfile.TemporaryDirectory() as folder:
        build_store(Path(folder), args.spectra)
        source = StoreSource(folder, preset.data)
        rates = {"store.flux (raw rows)": rate(source.store.flux, len(source), device, args.seconds),
                 "StoreSource.batch (normalised tensors)": rate(lambda i: source.batch(i, device), len(source), device,
                                                                args.seconds)}
    rendered = RenderedSource(preset.data)
    rates["RenderedSource.batch"] = rate(lambda i: rendered.batch(i, device), len(rendered), device, args.seconds)
    if args.consumption:
        rows = json.loads(args.consumption.read_text())["rows"]
        consumed = max(row["spectra_per_s"] for row in rows if row["preset"] == "paper")
    else:
        consumed = step_throughput(preset, device, args.seconds, batch_size=4)["spectra_per_s"]
    report = dict(date=datetime.date.today().isoformat(), device=str(device), stored_spectra=args.spectra,
                  training_step_spectra_per_s=consumed, training_step_gb_per_s=consumed * bytes_per_spectrum / 1e9,
                  feeds={name: dict(spectra_per_s=value, gb_per_s=value * bytes_per_spectrum / 1e9,
                                    times_what_training_consumes=value / consumed) for name, value in rates.items()})
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
