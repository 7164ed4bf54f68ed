"""scripts/run_costs.py: the cost of a set of committed runs, read from their manifests."""

import json

import pytest


def _manifest(folder, name, steps, wall, written):
    (folder / name).mkdir(parents=True)
    (folder / name / "manifest.json").write_text(json.dumps({
        "format": 1, "name": name, "steps": steps, "wall_seconds": wall, "written": written,
        "device": {"threads": 1}, "run_state": {"state": "converged"}}))


def test_the_costs_add_process_time_and_span_from_first_start_to_last_written(load_script, tmp_path):
    _manifest(tmp_path, "a", 8_000, 600.0, "2026-12-05T07:00:00+00:00")  # started 06:50
    _manifest(tmp_path, "b", 16_000, 1_800.0, "2026-12-05T09:00:00+00:00")  # started 08:30
    _manifest(tmp_path, "d", 8_000, 1_200.0, "2026-12-05T08:50:00+00:00")  # 08:30–08:50, beside b
    costs = load_script("run_costs").run_costs(tmp_path, ["a", "b", "c"])
    assert costs["runs"] == 2 and costs["missing"] == ["c"]
    assert costs["process_hours"] == pytest.approx(40 / 60)
    assert costs["training_hours"] == pytest.approx(40 / 60)  # 06:50–07:00 and 08:30–09:00: the gap left out
    beside = load_script("run_costs").run_costs(tmp_path, ["a", "b", "d"])
    assert beside["process_hours"] == pytest.approx(1) and beside["training_hours"] == pytest.approx(40 / 60)
    assert costs["minutes_per_1000_steps"] == {"median": 1.5625, "min": 1.25, "max": 1.875}
    assert costs["first_start"] == "2026-12-05T06:50:00+00:00" and costs["span_hours"] == pytest.approx(130 / 60)
    with pytest.raises(SystemExit, match="none of the 1 runs"):
        load_script("run_costs").run_costs(tmp_path, ["c"])
