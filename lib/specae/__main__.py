"""Command line of specae.

``python -m specae train --preset study --out my-runs/study-l8 --set latent_dim=8``
``torchrun --nproc_per_node=K -m specae train --preset paper --out runs/paper`` (same options, K processes)
``python -m specae ingest DIR --out STORE``
``python -m specae fetch --ids FILE --out DIR``
``python -m specae samples`` (fetch the real HARPS sample files)
``python -m specae figures verify`` (is each exported figure of the book still current?)
"""

from __future__ import annotations

import argparse
import ast
import os
import sys

from tqdm import tqdm

from specae.analysis.latent_report import scorecard_numbers
from specae.analysis.run_state import assess_run
from specae.io.fetch import ESO_DOWNLOAD_URL, fetch_products, read_product_ids
from specae.io.real_samples import fetch_samples, samples_dir
from specae.io.store import ingest
from specae.training.devices import DEVICE_CHOICES
from specae.training.feeds import training_source
from specae.training.loop import train
from specae.training.options import PATH_VARIABLE, PRECISIONS, TRAINING_PATHS, TrainOptions, default_training_path
from specae.training.presets import PRESETS, get_preset
from specae.training.study_runs import REFERENCE_RUNS, RUN_SETS, train_study_runs, verify_study_run

PATH_HELP = (f"training path: fast (the default; ${PATH_VARIABLE} sets another) or plain (the release's computation, "
             "as the runs before the fast path were trained; their weights differ by rounding)")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m specae`` and the ``specae`` script."""
    parser = argparse.ArgumentParser(prog="specae", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("train", help="train a preset on synthetic spectra or a store, resumable")
    run.add_argument("--preset", default="study", choices=sorted(PRESETS))
    run.add_argument("--out", required=True, help="run folder; an existing checkpoint there is resumed")
    run.add_argument("--device", default="auto", help=f"one of {DEVICE_CHOICES}")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a preset setting, e.g. --set latent_dim=8 --set beta=0 (repeatable)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument("--store", default=None, help="train on the spectra of this on-disk store (streamed)")
    run.add_argument("--stream", action="store_true",
                     help="render the synthetic spectra batch by batch on the device instead of holding them in memory")
    run.add_argument("--path", default=None, choices=TRAINING_PATHS, help=PATH_HELP)
    run.add_argument("--precision", default="auto", choices=PRECISIONS,
                     help="auto: bf16 autocast on CUDA, fp32 elsewhere")
    run.add_argument("--compile", action="store_true", help="run the training steps through torch.compile")
    run.add_argument("--checkpoint-every", type=int, default=0, metavar="STEPS",
                     help="also checkpoint every STEPS steps (default: at the end of each epoch only)")
    run.add_argument("--stop-at-step", type=int, default=None, metavar="STEP",
                     help="checkpoint and stop after STEP steps in all (run again to resume)")
    run.add_argument("--eval-spectra", type=int, default=TrainOptions.eval_spectra, metavar="N",
                     help="measure the validation error each epoch on at most N spectra (0: all)")
    store = commands.add_parser("ingest", help="build or extend an on-disk store from a folder of FITS files")
    store.add_argument("source", help="folder searched recursively for FITS files (.fits, .fits.gz, .fit, .fts)")
    store.add_argument("--out", required=True, help="store folder (created, or resumed if it exists)")
    store.add_argument("--grid-factor", type=int, default=1, help="pixels averaged per sample (default 1)")
    store.add_argument("--shard-size", type=int, default=256, help="spectra per shard file (default 256)")
    store.add_argument("--workers", type=int, default=None, help="reading processes (default: all cores)")
    download = commands.add_parser("fetch", help="download ESO archive products by id (resumable, checksummed)")
    download.add_argument("--ids", required=True, help="text file with one product id per line")
    download.add_argument("--out", required=True, help="download folder")
    download.add_argument("--url-template", default=ESO_DOWNLOAD_URL, help="URL with {product_id}")
    samples = commands.add_parser("samples", help="fetch and checksum the real HARPS sample files")
    samples.add_argument("--dest", default=None, help=f"cache folder (default: {samples_dir()})")
    study = commands.add_parser("reference-runs", help="train the reference runs missing from runs/ (resumable)")
    study.add_argument("--set", default="study", choices=list(RUN_SETS), dest="run_set",
                       help="which runs: the study's (default) or the velocity issue's")
    study.add_argument("--only", nargs="+", default=None, metavar="NAME", choices=list(REFERENCE_RUNS),
                       help="these runs only (default: all of the set, in its order)")
    study.add_argument("--device", default="auto", help=f"one of {DEVICE_CHOICES}")
    study.add_argument("--workers", type=int, default=None,
                       help="runs trained side by side (default: one per CPU core on a CPU, one on a GPU)")
    study.add_argument("--runs-dir", default=None, help="where reference runs are written (default: runs/)")
    study.add_argument("--path", default=None, choices=TRAINING_PATHS, help=PATH_HELP)
    verify = commands.add_parser("verify-run", help="retrain a committed reference run here and compare it with runs/")
    verify.add_argument("name", choices=list(REFERENCE_RUNS), metavar="NAME", help=f"one of {list(REFERENCE_RUNS)}")
    verify.add_argument("--device", default="auto", help=f"one of {DEVICE_CHOICES}")
    figures = commands.add_parser("figures", help="exported figures: is each still current?")
    figures.add_argument("action", choices=["verify"], help="verify: recompute each figure's provenance")
    figures.add_argument("--folder", default=None, help="exported figures (default: figures/ of the book)")
    args = parser.parse_args(argv)
    command = {"train": _train, "ingest": _ingest, "fetch": _fetch, "samples": _samples,
               "figures": _figures, "reference-runs": _reference_runs, "verify-run": _verify_run}[args.command]
    try:
        return command(args)
    except (ValueError, OSError, RuntimeError) as error:  # bad input or I/O: a message, not a traceback
        print(f"specae: error: {error}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace) -> int:
    preset = get_preset(args.preset, **dict(_parse_override(item) for item in args.set))
    options = TrainOptions(path=args.path or default_training_path(), precision=args.precision, compile=args.compile,
                           checkpoint_every=args.checkpoint_every, stop_at_step=args.stop_at_step,
                           eval_spectra=args.eval_spectra)
    data = training_source(preset.data, store=args.store, stream=args.stream)
    result = train(preset, args.out, device=args.device, progress=not args.no_progress, data=data, options=options)
    last = result.history[-1] if result.history else {}
    if os.environ.get("RANK", "0") == "0":  # one line per job, also under torchrun
        done = f"{result.checkpoint}: step {result.steps}, epoch {last.get('epoch', 0)} of {preset.train.epochs}"
        if last.get("step") != result.steps:
            print(f"{done} (stopped inside an epoch; run the same command again to resume)")
        else:
            print(f"{done}, validation reconstruction {last['validation_reconstruction']:.5f}")
    return 0


def _reference_runs(args: argparse.Namespace) -> int:
    names = args.only if args.only is not None else list(RUN_SETS[args.run_set])
    train_study_runs(names, device=args.device, workers=args.workers, runs_dir=args.runs_dir, path=args.path,
                     assess=assess_run)
    return 0


def _verify_run(args: argparse.Namespace) -> int:
    report = verify_study_run(args.name, device=args.device)
    print(f"{report['name']}: validation L1 per epoch, committed → retrained here")
    for epoch, (theirs, ours) in enumerate(zip(report["committed"], report["retrained"], strict=True), start=1):
        print(f"  epoch {epoch:2d}: {theirs:.6f} → {ours:.6f}")
    print(f"largest relative difference {report['max_relative_difference']:.2e}; largest weight difference "
          f"{report['max_weight_difference']:.2e}; retrained in {report['retrained_seconds'] / 60:.1f} min "
          f"(committed run: {report['committed_device']})")
    result = report["result"]
    numbers = {name: scorecard_numbers(model, result.data, result.split) for name, model in report["models"].items()}
    print("scorecard numbers, committed → retrained here:")
    for key, committed in numbers["committed"].items():
        print(f"  {key}: {committed} → {numbers['retrained'][key]}")
    return 0


def _ingest(args: argparse.Namespace) -> int:
    report = ingest(args.source, args.out, grid=args.grid_factor, shard_size=args.shard_size,
                    workers=args.workers, progress=lambda items: tqdm(items, desc="ingest", unit="file"))
    print(report.line())
    return 0


def _fetch(args: argparse.Namespace) -> int:
    report = fetch_products(read_product_ids(args.ids), args.out, url_template=args.url_template)
    for product_id, reason in report.failed.items():
        print(f"failed {product_id}: {reason}", file=sys.stderr)
    print(report.line())
    return 1 if report.failed else 0


def _figures(args: argparse.Namespace) -> int:
    from specae.book.provenance import verify

    statuses = verify(args.folder) if args.folder else verify()
    for status in statuses:
        print(status)
    stale = sum(not status.current for status in statuses)
    print(f"{len(statuses)} figures: {len(statuses) - stale} current, {stale} stale")
    return 1 if stale else 0


def _samples(args: argparse.Namespace) -> int:
    paths = fetch_samples(args.dest)
    print(f"{len(paths)} sample files verified in {paths[0].parent}")
    return 0


def _parse_override(item: str) -> tuple[str, object]:
    """'latent_dim=8' → ('latent_dim', 8); values are Python literals, anything else a string."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ValueError(f"override {item!r} must look like KEY=VALUE, e.g. latent_dim=8")
    try:
        return key, ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return key, text


if __name__ == "__main__":
    sys.exit(main())
