"""Budget scaling: the same numbers at every budget, and each claim's shortfall from its tolerance."""

from dataclasses import replace
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest

from specae import get_preset
from specae.analysis.bottleneck import star_errors
from specae.analysis.budget_scaling import budget_scaling, budget_trends
from specae.analysis.latents import usable
from specae.book.budget_figures import plot_budget_scaling
from specae.training.run_cache import cached_train

TINY = dict(epochs=2, n_spectra=48, n_objects=12)


def _point(budget, mi_rv, mi_teff=1.5, ratio=1.2, gap=0.02, informative=3):
    nodes = {"rv": SimpleNamespace(ksg=mi_rv), "teff": SimpleNamespace(ksg=mi_teff)}
    return SimpleNamespace(budget=budget, ratio=ratio, gap=gap, mi=lambda label: nodes[label].ksg,
                           comparison=SimpleNamespace(informative=np.arange(informative)))


def test_a_shortfall_that_shrinks_with_budget_moves_toward_the_tolerance_and_a_flat_one_does_not():
    rising = budget_trends([_point(1, 0.04), _point(2, 0.10), _point(4, 0.20), _point(8, 0.30)], n_factors=5)
    assert rising["C5 RV"].shortfalls == pytest.approx({1: 0.46, 2: 0.40, 4: 0.30, 8: 0.20})
    assert rising["C5 RV"].moves_toward  # 0.20 ≤ 0.75 × 0.46
    flat = budget_trends([_point(b, 0.04 - 0.001 * b) for b in (1, 2, 4, 8)], n_factors=5)
    assert not flat["C5 RV"].moves_toward  # 0.472 > 0.75 × 0.465
    assert all(value == 0 for value in flat["C5 Teff"].shortfalls.values())  # 1.5 nats ≥ 0.5: it holds
    many = budget_trends([_point(b, 1.0, ratio=0.9, gap=-0.15, informative=8) for b in (1, 2, 4, 8)], n_factors=5)
    assert many["C2"].shortfalls[1] == pytest.approx(0.1) and many["C3"].shortfalls[1] == pytest.approx(0.05)
    assert many["C4"].shortfalls[1] == 3  # 8 informative nodes against at most 5 factors
    with pytest.raises(ValueError, match="budgets"):
        budget_trends([_point(1, 0.1), _point(8, 0.1)], n_factors=5)


def test_budget_points_measure_each_budgets_runs(tmp_path):
    """Tiny smoke runs stand in for the budgets' runs (the same two at budgets 1 and 2, so the points are equal;
    budgets 4 and 8 copy them)."""
    runs = [cached_train(get_preset("smoke", variational=v, **TINY), device="cpu", cache_dir=tmp_path)
            for v in (True, False)]
    vae, deterministic = runs
    data = vae.data
    points = budget_scaling(dict.fromkeys((1, 2), (vae, deterministic)), data)
    points += [replace(points[0], budget=budget) for budget in (4, 8)]
    assert [p.budget for p in points] == [1, 2, 4, 8] and points[0].steps == vae.history[-1]["step"]
    assert points[1].mi("rv") == points[0].mi("rv") and points[1].errors == points[0].errors  # bit for bit
    first = points[0]
    validation = usable(data, vae.split.validation)
    assert first.errors["deterministic"]["stars"] == pytest.approx(
        star_errors(deterministic.model, data, validation)[0], rel=1e-6)
    train_error = star_errors(vae.model, data, usable(data, vae.split.train))[0]
    assert first.gap == pytest.approx(first.errors["β-VAE"]["stars"] / train_error - 1, rel=1e-6)
    assert first.errors["PCA"] is points[1].errors["PCA"] and first.errors["PCA"]["stars"] > 0
    assert all(node.best_null >= 0 for node in first.comparison.nodes.values())
    assert first.probes["rv"].spread > 0 and first.probes["rv"].rmse > 0
    trends = budget_trends(points, n_factors=5)
    assert trends["C5 RV"].shortfalls[1] == pytest.approx(max(0.0, 0.5 - first.mi("rv")))
    assert all(len(set(trend.shortfalls.values())) == 1 for trend in trends.values())  # equal runs, equal points
    figure = plot_budget_scaling(points)
    r_panel, _, mi_panel, probe_panel = figure.axes
    assert [line.get_label() for line in r_panel.lines] == ["β-VAE", "deterministic", "PCA"]
    assert list(r_panel.lines[1].get_ydata()) == [point.errors["deterministic"]["stars"] for point in points]
    assert list(mi_panel.lines[0].get_xdata()) == [point.steps for point in points]
    assert probe_panel.lines[0].get_ydata()[0] == pytest.approx(first.probes["rv"].rmse / first.probes["rv"].spread)
    plt.close(figure)
