"""The variant's convergence table: one row per budget, its run's history and state beside v's parts."""

from types import SimpleNamespace

import numpy as np
import pytest

import specae.analysis.variant_budgets as variant_budgets
from specae.analysis.velocity_comparison import ANCHOR, VelocityComparison
from specae.training.presets import get_preset


def test_each_budget_reads_its_own_run_and_velocities(monkeypatch):
    true = np.array([0.0, 10.0, 20.0, 30.0])
    anchor = true + np.array([0.3, -0.3, 0.3, -0.3])
    estimates = {"1×": anchor + np.array([4.5, 4.7, 4.6, 4.6]), "1×" + ANCHOR: anchor,
                 "4×": anchor + 1.0, "4×" + ANCHOR: anchor}  # at 4×, δv is exactly one offset
    velocities = VelocityComparison(true=true, estimates=estimates, limit=np.full(4, 0.004),
                                    classes=np.array(list("GKFG")), snr=np.full(4, 80.0))
    history = [{"step": step, "validation_reconstruction": 0.05 - step * 1e-6} for step in (100, 800, 900, 1000)]
    runs = {budget: SimpleNamespace(history=history, preset=get_preset("smoke", velocity=True, seed=budget),
                                    model=f"model {budget}") for budget in (1, 4)}
    monkeypatch.setattr(variant_budgets, "run_states", lambda runs: {variant_budgets.run_name(run.preset): "converged"
                                                                     for run in runs})
    monkeypatch.setattr(variant_budgets, "model_error_row", lambda model, data, stars, size: {
        "line_cores": {"model 1": 0.06, "model 4": 0.04}[model]})
    rows = variant_budgets.budget_rows(runs, velocities, None, np.arange(4), 16)
    assert list(rows) == ["1×", "4×"]
    assert rows["1×"]["steps"] == 1000 and rows["1×"]["validation L1"] == 0.049 and rows["1×"]["state"] == "converged"
    assert rows["1×"]["line cores"] == 0.06 and rows["4×"]["line cores"] == 0.04
    assert rows["1×"]["anchor alone (km/s)"] == pytest.approx(0.3) and rows["1×"]["δv median (km/s)"] == 4.6
    assert rows["4×"]["δv median (km/s)"] == 1.0 and rows["4×"]["δv scatter (km/s)"] == 0.0
    assert rows["4×"]["v RMSE, FGK at high S/N (km/s)"] == pytest.approx(0.3)  # an offset leaves the RMSE alone
    assert rows["1×"]["last-20 % gain"].endswith("%")
