"""What a set of committed reference runs cost, read from their manifests (run by hand; the numbers README and
reproduce.md quote come from its results file).

For each run: its steps, its wall time (the manifest's ``wall_seconds``: the training process's own time, summed
over the sessions a resumed run trained in) and when it was written. For the set: the number of runs, the total
process time, minutes per 1,000 steps (median and range), and the span from the earliest start (written minus wall
time) to the last run written. The span includes the hours between sessions when no run trained; the training hours
(the union of the runs' intervals, each from its start to when it was written) leave those out. A run resumed in
a later session counts its whole process time just before it was written, so the union is then approximate.

    .venv/bin/python scripts/run_costs.py --set study --json benchmarks/results/run_costs_study_DATE.json
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import numpy as np

from specae.training.reference_runs import reference_runs
from specae.training.study_runs import RUN_SETS


def run_costs(runs_dir: str | Path | None, names: list[str]) -> dict:
    """The costs of the committed runs named ``names`` (those committed; the missing ones are listed)."""
    runs = {run.name: run for run in reference_runs(runs_dir)}
    found = [runs[name] for name in names if name in runs]
    if not found:
        raise SystemExit(f"none of the {len(names)} runs is committed in {runs_dir or 'runs/'}")
    per_run = {}
    for run in found:
        written = datetime.datetime.fromisoformat(run.manifest["written"])
        wall = float(run.manifest["wall_seconds"])
        per_run[run.name] = {"steps": run.manifest["steps"], "wall_minutes": wall / 60,
                             "minutes_per_1000_steps": wall / 60 / (run.manifest["steps"] / 1000),
                             "started": (written - datetime.timedelta(seconds=wall)).isoformat(),
                             "written": written.isoformat(), "threads": run.manifest["device"].get("threads"),
                             "state": run.manifest.get("run_state", {}).get("state")}
    rates = np.array([run["minutes_per_1000_steps"] for run in per_run.values()])
    start = min(datetime.datetime.fromisoformat(run["started"]) for run in per_run.values())
    end = max(datetime.datetime.fromisoformat(run["written"]) for run in per_run.values())
    return {"runs": len(per_run), "missing": [name for name in names if name not in runs],
            "process_hours": sum(run["wall_minutes"] for run in per_run.values()) / 60,
            "minutes_per_1000_steps": {"median": float(np.median(rates)), "min": float(rates.min()),
                                       "max": float(rates.max())},
            "first_start": start.isoformat(), "last_written": end.isoformat(),
            "span_hours": (end - start).total_seconds() / 3600, "training_hours": _union_hours(per_run.values()),
            "per_run": per_run}


def _union_hours(runs) -> float:
    """Hours during which at least one of ``runs`` (each with ISO ``started`` and ``written``) was training."""
    read = datetime.datetime.fromisoformat
    intervals = sorted((read(run["started"]), read(run["written"])) for run in runs)
    total, (start, end) = 0.0, intervals[0]
    for begin, finish in intervals[1:]:
        if begin > end:
            total, start = total + (end - start).total_seconds(), begin
        end = max(end, finish)
    return (total + (end - start).total_seconds()) / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=sorted(RUN_SETS), default="study", help="which runs (default: the study's)")
    parser.add_argument("--runs-dir", help="where the runs are committed (default: runs/)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    costs = run_costs(args.runs_dir, list(RUN_SETS[args.set]))
    print(f"{costs['runs']} runs ({len(costs['missing'])} missing): {costs['process_hours']:.1f} h of process time, "
          f"{costs['minutes_per_1000_steps']['median']:.2f} min per 1,000 steps (median; "
          f"{costs['minutes_per_1000_steps']['min']:.2f}–{costs['minutes_per_1000_steps']['max']:.2f}); "
          f"from {costs['first_start']} to {costs['last_written']} ({costs['span_hours']:.1f} h, "
          f"{costs['training_hours']:.1f} h with a run training)")
    if args.json:
        args.json.write_text(json.dumps({"date": datetime.date.today().isoformat(), "set": args.set, **costs},
                                        indent=1) + "\n")


if __name__ == "__main__":
    main()
