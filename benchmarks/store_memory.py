"""Peak memory of training streamed from an on-disk store, at N and 10 N spectra (327,680 px each).

Run by hand from the repository root (not part of the tests; ≈ 11 minutes and 4 GB of disk on 2 CPU cores)::

    .venv/bin/python benchmarks/store_memory.py
    .venv/bin/python benchmarks/store_memory.py --spectra 256 --json store_memory.json

It writes two stores of synthetic spectra on the paper's grid (1.31 MB each): N and 10 N rows. To keep
the set-up short, 64 spectra are rendered and repeated under new object names; memory does not depend
on the values. For each store a fresh process trains one epoch (N or 10 N balanced draws, batch 32)
from the store with :class:`specae.training.feeds.StoreSource`, then reads every stored spectrum once more in
batches, and reports its peak resident set size (``ru_maxrss``). A small network on the full grid
(channels 4…16, the released kernels and strides) keeps the time in reading and normalising.
Goal: peak RSS at 10 N ≤ 1.2 × at N.
"""

from __future__ import annotations

import argparse
import datetime
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from specae import get_preset, train
from specae.io.store import add_spectra
from specae.spectra.grid import Grid
from specae.synth.survey import SyntheticConfig, SyntheticSurvey
from specae.training.feeds import StoreSource
from specae.training.options import TrainOptions

UNIQUE = 64
CHANNELS = (4,) * 9 + (8,) * 4 + (16, 16)


def streaming_preset(n_spectra: int):
    """The paper preset's grid and strides with a small network, one epoch of ``n_spectra`` draws."""
    return get_preset("paper", channels=list(CHANNELS), latent_dim=8, epochs=1, samples_per_epoch=n_spectra,
                      beta_warmup_start=0, beta_warmup_end=0, n_spectra=n_spectra, n_objects=n_spectra // 4)


def build_store(path: Path, n_spectra: int) -> None:
    survey = SyntheticSurvey(SyntheticConfig(n_objects=UNIQUE // 4, n_spectra=UNIQUE), Grid(1))
    unique = survey.render(np.arange(UNIQUE)).numpy()
    for first in range(0, n_spectra, UNIQUE):
        rows = [dict(source=f"synthetic/{i:07d}", object=f"star {i // 4:06d}") for i in range(first, first + UNIQUE)]
        add_spectra(path, unique, rows, grid=1)


def child(store: Path, run: Path) -> None:
    """Train one epoch from the store, read it all once more, print the peak RSS in MiB."""
    torch.manual_seed(0)
    source = StoreSource(store, get_preset("paper").data)
    preset = streaming_preset(len(source))
    start = time.perf_counter()
    train(preset, run, device="cpu", progress=False, data=source, options=TrainOptions())
    trained = time.perf_counter() - start
    for first in range(0, len(source), 32):
        source.batch(np.arange(first, min(first + 32, len(source))), torch.device("cpu"))
    print(json.dumps(dict(spectra=len(source), store_gb=len(source) * Grid(1).n_pixels * 4 / 1e9,
                          peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          train_seconds=trained, seconds=time.perf_counter() - start)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spectra", type=int, default=256, help="N (a multiple of 64)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH")
    parser.add_argument("--child", nargs=2, type=Path, metavar=("STORE", "RUN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n in (args.spectra, 10 * args.spectra):
            store = Path(folder) / f"store-{n}"
            build_store(store, n)
            done = subprocess.run([sys.executable, __file__, "--child", str(store), str(Path(folder) / f"run-{n}")],
                                  capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    report = dict(date=datetime.date.today().isoformat(), rows=rows,
                  ratio_10n_to_n=rows[1]["peak_rss_mib"] / rows[0]["peak_rss_mib"])
    print(f"peak RSS at 10 N / at N: {report['ratio_10n_to_n']:.3f} (goal ≤ 1.2)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
