"""Budget scaling: the same numbers at every budget, and each claim's shortfall from its tolerance."""

from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest

from specae import get_preset
from specae.analysis.bottleneck import star_errors
from specae.analysis.budget_scaling import (
    budget_errors,
    budget_gaps,
    budget_nodes,
    budget_steps,
    c2_trend,
    c3_trend,
    c4_trend,
    c5_trends,
)
from specae.analysis.latents import usable
from specae.book.budget_figures import plot_budget_scaling
from specae.training.run_cache import cached_train

TINY = dict(epochs=2, n_spectra=48, n_objects=12)
BUDGETS = (1, 2, 4, 8)


def _nodes(mi_rv, mi_teff=1.5, informative=3):
    nodes = {"rv": SimpleNamespace(ksg=mi_rv), "teff": SimpleNamespace(ksg=mi_teff)}
    return SimpleNamespace(mi=lambda label: nodes[label].ksg,
                           comparison=SimpleNamespace(informative=np.arange(informative)))


def test_a_shortfall_that_shrinks_with_budget_moves_toward_the_tolerance_and_a_flat_one_does_not():
    rising = c5_trends(dict(zip(BUDGETS, [_nodes(0.04), _nodes(0.10), _nodes(0.20), _nodes(0.30)], strict=True)))
    assert rising["C5 RV"].shortfalls == pytest.approx({1: 0.46, 2: 0.40, 4: 0.30, 8: 0.20})
    assert rising["C5 RV"].moves_toward  # 0.20 ≤ 0.75 × 0.46
    flat = c5_trends({b: _nodes(0.04 - 0.001 * b) for b in BUDGETS})
    assert not flat["C5 RV"].moves_toward  # 0.472 > 0.75 × 0.465
    assert all(value == 0 for value in flat["C5 Teff"].shortfalls.values())  # 1.5 nats ≥ 0.5: it holds
    rows = {"β-VAE": {"stars": 0.045}, "deterministic": {"stars": 0.05}}
    assert c2_trend(dict.fromkeys(BUDGETS, rows)).shortfalls[1] == pytest.approx(0.1)  # ratio 0.9
    assert c3_trend(dict.fromkeys(BUDGETS, -0.15)).shortfalls[8] == pytest.approx(0.05)
    assert c4_trend(dict.fromkeys(BUDGETS, _nodes(1.0, informative=8)), n_factors=5).shortfalls[1] == 3
    assert c3_trend({1: 0.2, 8: 0.1}) is None  # budget scaling needs 1, 2, 4 and 8 ×


def test_budget_measurements_read_each_budgets_runs(tmp_path):
    """Tiny smoke runs stand in for the budgets' runs (the same two at budgets 1 and 2, so both are equal)."""
    vae, deterministic = (cached_train(get_preset("smoke", variational=v, **TINY), device="cpu", cache_dir=tmp_path)
                          for v in (True, False))
    data, runs = vae.data, dict.fromkeys((1, 2), (vae, deterministic))
    assert budget_steps(runs) == {1: vae.history[-1]["step"], 2: vae.history[-1]["step"]}
    errors, nodes, gaps = budget_errors(runs, data), budget_nodes(runs, data), budget_gaps(runs, data)
    validation = usable(data, vae.split.validation)
    assert errors[1]["deterministic"]["stars"] == pytest.approx(
        star_errors(deterministic.model, data, validation)[0], rel=1e-6)
    assert errors[1] == errors[2] and errors[1]["PCA"] is errors[2]["PCA"] and errors[1]["PCA"]["stars"] > 0
    train_error = star_errors(vae.model, data, usable(data, vae.split.train))[0]
    assert gaps[1] == pytest.approx(errors[1]["β-VAE"]["stars"] / train_error - 1, rel=1e-6)
    assert nodes[1].mi("rv") == nodes[2].mi("rv")  # the same run, bit for bit
    assert all(node.best_null >= 0 for node in nodes[1].comparison.nodes.values())
    assert nodes[1].probes["rv"].spread > 0 and nodes[1].probes["rv"].rmse > 0
    figure = plot_budget_scaling(budget_steps(runs), errors, nodes)
    r_panel, _, mi_panel, probe_panel = figure.axes
    assert [line.get_label() for line in r_panel.lines] == ["β-VAE", "deterministic", "PCA"]
    assert list(r_panel.lines[1].get_ydata()) == [errors[b]["deterministic"]["stars"] for b in (1, 2)]
    assert list(mi_panel.lines[0].get_ydata()) == [nodes[b].mi("rv") for b in (1, 2)]
    assert probe_panel.lines[0].get_ydata()[0] == pytest.approx(nodes[1].probes["rv"].rmse
                                                                / nodes[1].probes["rv"].spread)
    plt.close(figure)
