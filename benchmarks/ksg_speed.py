"""KSG mutual information: scikit-learn's ``mutual_info_regression`` against its reimplementation ``_ksg``.

Run by hand from the repository root (about a minute on 2 CPU cores; not part of the tests)::

    .venv/bin/python benchmarks/ksg_speed.py --json benchmarks/results/ksg_speed_cpu2_DATE.json

One thread throughout. For n = 2,000 and 7,000 (a Gaussian pair with ρ = 0.6, the size of a subsample and of the
released latents), old and new calls alternate with the same inputs and jitter seed, so slow spells of a loaded
machine fall on both; each call's result is checked to be the same float. Then the best-node null (Study II's C5:
6 nodes × 20 shuffles at n = 2,000) end to end, with ``_ksg`` swapped for the scikit-learn call.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import scipy
import sklearn
from sklearn.feature_selection import mutual_info_regression
from threadpoolctl import threadpool_limits

from specae.analysis import mutual_information
from specae.analysis.mutual_information import (
    _count_within,
    _joint_radius,
    _ksg,
    _sklearn_jitter,
    _standardise,
    best_node_null,
)

T = TypeVar("T")
SIZES = {2000: 60, 7000: 30}  # n → timed calls of each
NULL = dict(n=2000, nodes=6, n_null=20, repeats=3)


def sklearn_ksg(x: np.ndarray, y: np.ndarray, k: int, random_state: int) -> float:
    """``_ksg`` as it was: scikit-learn's estimator on the standardised pair."""
    xs, ys = _standardise(x), _standardise(y)
    if xs is None or ys is None:
        return 0.0
    mi = mutual_info_regression(xs[:, None], ys, discrete_features=False, n_neighbors=k, random_state=random_state)
    return float(mi[0])


def timed(f: Callable[..., T], *args) -> tuple[float, T]:
    start = time.perf_counter()
    value = f(*args)
    return time.perf_counter() - start, value


def summary(seconds: list[float]) -> dict:
    p25, p50, p75 = np.percentile(np.asarray(seconds) * 1e3, [25, 50, 75])
    return {"median_ms": round(p50, 3), "p25_ms": round(p25, 3), "p75_ms": round(p75, 3)}


def per_call(n: int, calls: int, k: int = 3) -> dict:
    """Alternating old and new calls on one pair, each with its own jitter seed; every pair of results must agree."""
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n)
    y = 0.6 * x + 0.8 * rng.standard_normal(n)
    for seed in range(3):  # warm-up
        assert sklearn_ksg(x, y, k, seed) == _ksg(x, y, k, seed)
    old, new = [], []
    for seed in range(calls):
        t_old, v_old = timed(sklearn_ksg, x, y, k, seed)
        t_new, v_new = timed(_ksg, x, y, k, seed)
        if v_old != v_new:
            raise AssertionError(f"n = {n}, seed {seed}: scikit-learn {v_old!r}, reimplementation {v_new!r}")
        old.append(t_old)
        new.append(t_new)
    return {"n": n, "k": k, "calls": calls, "identical": True, "old_sklearn": summary(old), "new": summary(new),
            "speedup_of_medians": round(float(np.median(old) / np.median(new)), 2)}


def stages(n: int, calls: int, k: int = 3) -> dict:
    """Median time of each step of ``_ksg``: where the reimplementation's time goes."""
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n)
    y = 0.6 * x + 0.8 * rng.standard_normal(n)
    times: dict[str, list[float]] = {"standardise": [], "jitter": [], "joint_radius_ckdtree": [], "marginal_counts": []}
    for seed in range(calls):
        start = time.perf_counter()
        xs, ys = _standardise(x), _standardise(y)
        assert xs is not None and ys is not None
        times["standardise"].append(time.perf_counter() - start)
        start = time.perf_counter()
        xj, yj = _sklearn_jitter(xs, ys, seed)
        times["jitter"].append(time.perf_counter() - start)
        start = time.perf_counter()
        radius = _joint_radius(xj, yj, k)
        times["joint_radius_ckdtree"].append(time.perf_counter() - start)
        start = time.perf_counter()
        _count_within(xj, radius), _count_within(yj, radius)
        times["marginal_counts"].append(time.perf_counter() - start)
    medians = {name: float(np.median(ts)) for name, ts in times.items()}
    return {"n": n, **{name: round(t * 1e3, 3) for name, t in medians.items()}, "unit": "ms",
            "joint_radius_share": round(medians["joint_radius_ckdtree"] / sum(medians.values()), 2)}


def null_end_to_end() -> dict:
    """best_node_null with the reimplementation and with the scikit-learn call swapped in (the same shuffles)."""
    rng = np.random.default_rng(1)
    n = NULL["n"]
    label = rng.uniform(3_500.0, 7_000.0, n)
    mu = rng.standard_normal((n, NULL["nodes"]))
    mu[:, 0] += (label - 5_000.0) / 1_000.0
    run = lambda: best_node_null(mu, label, estimator="ksg", n_null=NULL["n_null"], seed=0)  # noqa: E731
    old, new = [], []
    for _ in range(NULL["repeats"]):
        t_new, v_new = timed(run)
        mutual_information._ksg = sklearn_ksg
        try:
            t_old, v_old = timed(run)
        finally:
            mutual_information._ksg = _ksg
        np.testing.assert_array_equal(v_new, v_old)
        old.append(t_old)
        new.append(t_new)
    return {**{key: NULL[key] for key in ("n", "nodes", "n_null", "repeats")}, "identical": True,
            "old_sklearn_s": round(float(np.median(old)), 3), "new_s": round(float(np.median(new)), 3),
            "speedup_of_medians": round(float(np.median(old) / np.median(new)), 2)}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with threadpool_limits(limits=1):
        sizes = [per_call(n, calls) for n, calls in SIZES.items()]
        for row in sizes:
            print(f"n = {row['n']}: scikit-learn {row['old_sklearn']['median_ms']:.2f} ms, "
                  f"reimplementation {row['new']['median_ms']:.2f} ms, {row['speedup_of_medians']}× (identical)")
        steps = [stages(n, calls) for n, calls in SIZES.items()]
        for row in steps:
            print(f"n = {row['n']}: " + ", ".join(f"{key} {value:.2f}" for key, value in row.items()
                                                  if key not in ("n", "unit", "joint_radius_share")) + " ms")
        null = null_end_to_end()
        print(f"best-node null ({null['nodes']} nodes × {null['n_null']} shuffles, n = {null['n']}): "
              f"{null['old_sklearn_s']:.2f} s → {null['new_s']:.2f} s, {null['speedup_of_medians']}× (identical)")
    load_after = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps({
            "date": datetime.date.today().isoformat(), "machine": cpu_model(), "cpus": os.cpu_count(),
            "threads": 1, "numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__,
            "load_average_1min": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)},
            "note": "Timings are noisy: both cores were busy with background training, so absolute times are "
                    "inflated and vary by tens of percent between runs; old and new calls alternate, so their "
                    "ratio is the more reliable number.",
            "per_call": sizes, "new_by_step": steps, "best_node_null": null}, indent=1) + "\n")


if __name__ == "__main__":
    main()
