"""How far the validity probe of a reference run moves on another CPU's kernels, per training path (issue 21).

Run by hand from the repository root (not part of the tests); about 2 minutes on 2 CPU cores::

    .venv/bin/python benchmarks/probe_portability.py --json benchmarks/results/probe_portability_cpu2_DATE.json

The probe (:func:`specae.training.reference_runs.probe_losses`) sums the loss terms of the first 20 steps of a run's
configuration and takes the weights' L2 norm after them; ``tests/test_reference_runs.py`` recomputes it for every
committed run, within a relative tolerance. For the study runs named by ``--runs`` (default: the main β-VAE and
deterministic model, 16 latents, seed 0) and each training path, this computes the probe here and in a process
with torch, oneDNN and MKL capped at AVX2 (the caps the tests are also run under), on the same spectra, and
reports the largest relative difference.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from specae.training.devices import ISA_CAPS
from specae.training.reference_runs import probe_losses
from specae.training.study_runs import study_preset
from specae.training.survey_cache import cached_synthetic

RUNS = ("vae16-seed0", "ae16-seed0")
PATHS = ("plain", "fast")
AVX2_CAPS = dict(zip(ISA_CAPS, ("avx2", "AVX2", "AVX2"), strict=True))


def probes(runs: tuple[str, ...] = RUNS) -> dict:
    """Each run's probe on each path, computed in this process: {run: {path: probe}}."""
    results: dict = {}
    for name in runs:
        preset = study_preset(name)
        data = cached_synthetic(preset.data)
        results[name] = {path: probe_losses(preset, data, training_path={"path": path, "autocast": None})
                         for path in PATHS}
    return results


def largest_difference(ours: dict, theirs: dict) -> float:
    """The largest relative difference between two probes, over the loss sums and the weights' norm."""
    pairs = [(ours["loss_sums"][term], theirs["loss_sums"][term]) for term in ours["loss_sums"]]
    pairs.append((ours["weights_l2"], theirs["weights_l2"]))
    return max(abs(a - b) / abs(b) for a, b in pairs if b != 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--runs", nargs="+", default=list(RUNS), help=f"study runs to probe (default: {list(RUNS)})")
    args = parser.parse_args()
    runs = tuple(args.runs)
    if args.worker:
        args.worker.write_text(json.dumps({"cpu_capability": torch.backends.cpu.get_cpu_capability(),
                                           "probes": probes(runs)}))
        return
    for name in runs:
        cached_synthetic(study_preset(name).data)  # the same spectra for both processes (the cache is shared)
    native = {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "probes": probes(runs)}
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "capped.json"
        subprocess.run([sys.executable, __file__, "--worker", str(output), "--runs", *runs], check=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1", **AVX2_CAPS))
        capped = json.loads(output.read_text())
    differences = {name: {path: largest_difference(capped["probes"][name][path], native["probes"][name][path])
                          for path in PATHS} for name in runs}
    for name, by_path in differences.items():
        print(name, ", ".join(f"{path}: {value:.2e}" for path, value in by_path.items()))
    if args.json:
        args.json.write_text(json.dumps({
            "date": datetime.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
            "torch": str(torch.__version__), "native": native, "capped": capped, "caps": AVX2_CAPS,
            "largest_relative_difference": differences}, indent=1) + "\n")


if __name__ == "__main__":
    main()
