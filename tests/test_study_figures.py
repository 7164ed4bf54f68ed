"""Study II's figures: the runs' states in the convergence figure, the seed spread at every bottleneck size."""

import matplotlib.pyplot as plt
from matplotlib.colors import to_rgba

from specae.analysis.convergence import convergence
from specae.book.figures import plot_convergence, plot_error_vs_bottleneck


def _history(curve):
    return [{"step": 500 * (i + 1), "validation_reconstruction": value} for i, value in enumerate(curve)]


def test_a_collapsed_run_is_grey_and_named_collapsed_though_its_curve_converged():
    flat = _history([0.2, 0.1, 0.08, 0.07, 0.065, 0.0649, 0.0648, 0.0648, 0.0648, 0.0648])
    falling = _history([0.2, 0.1, 0.08, 0.07, 0.065, 0.064, 0.063, 0.062, 0.058, 0.055])
    histories = {"vae8": flat, "ae8": flat, "vae16": falling}
    verdicts = {name: convergence(history) for name, history in histories.items()}
    states = {"vae8": "collapsed", "ae8": "converged", "vae16": "unconverged"}
    figure = plot_convergence(histories, verdicts, states, columns=2)
    axes = [ax for ax in figure.axes if ax.get_visible()]
    assert len(axes) == 3 and not figure.axes[3].get_visible()
    colours = {ax.get_title().split("\n")[0]: to_rgba(ax.lines[0].get_color()) for ax in axes}
    assert colours == {"vae8": to_rgba("0.55"), "ae8": to_rgba("tab:blue"), "vae16": to_rgba("tab:red")}
    titles = [ax.get_title().split("\n")[1] for ax in axes]
    assert titles[0].startswith("collapsed, ") and titles[1].startswith("converged, ")
    assert titles[2].startswith("unconverged, +")
    plt.close(figure)


def test_the_error_figure_shows_every_seeds_r_at_every_size():
    rows = [dict(size=size, stars=0.06 / size ** 0.1, line_cores=0.1, continuum=0.03) for size in (2, 4, 8)]
    spread = {"deterministic": {2: [0.058, 0.060, 0.061], 4: [0.055, 0.057, 0.056], 8: [0.050, 0.053, 0.052]}}
    figure = plot_error_vs_bottleneck({"deterministic": rows, "PCA": rows}, spread)
    left = figure.axes[0]
    bars = left.collections  # one range bar per size of the family with seeds, none for PCA
    assert len(bars) == 3
    assert [tuple(segment[:, 1]) for bar in bars for segment in bar.get_segments()] == [
        (0.058, 0.061), (0.055, 0.057), (0.050, 0.053)]
    ticks = [line for line in left.lines if line.get_marker() == "_"]
    assert [list(line.get_ydata()) for line in ticks] == [spread["deterministic"][size] for size in (2, 4, 8)]
    plt.close(figure)


def test_the_rv_spread_figure_plots_every_run_and_only_rv_nodes_windows():
    from specae.analysis.rv_spread import SpreadPoint
    from specae.book.velocity_figures import plot_rv_spread

    points = [SpreadPoint(0.1, 3.5, 0.9, 0.05, 3.1), SpreadPoint(0.3, 10.4, 0.7, 0.05, 3.4),
              SpreadPoint(1.0, 34.8, 0.03, 0.05, 12.0)]  # the last has no RV node: no window drawn
    figure = plot_rv_spread({"β-VAE": points[:2], "deterministic": points[2:]},
                            {"β-VAE": [0.05, 0.07], "deterministic": [0.09]}, {34.8: 0.08, 3.5: 0.06})
    left, middle, right = figure.axes
    by_label = {line.get_label(): line for axis in (left, middle) for line in axis.lines}
    assert list(by_label["β-VAE: best RV node"].get_ydata()) == [0.9, 0.7]
    assert list(by_label["deterministic: best RV node"].get_ydata()) == [0.03]
    assert list(by_label["deterministic: best-node null, 95 %"].get_ydata()) == [0.05]
    assert list(by_label["β-VAE: runs with an RV node"].get_xdata()) == [3.5, 10.4]
    assert list(by_label["β-VAE: runs with an RV node"].get_ydata()) == [3.1, 3.4]
    assert list(by_label["deterministic: runs with an RV node"].get_xdata()) == []
    cores = {line.get_label(): line for line in right.lines}
    assert list(cores["β-VAE"].get_xdata()) == [3.5, 10.4] and list(cores["β-VAE"].get_ydata()) == [0.05, 0.07]
    assert list(cores["PCA"].get_xdata()) == [3.5, 34.8] and list(cores["PCA"].get_ydata()) == [0.06, 0.08]
    plt.close(figure)


def test_the_velocity_figure_removes_each_estimates_offset():
    import numpy as np

    from specae.analysis.velocity_comparison import score_velocities
    from specae.book.velocity_figures import plot_velocity_estimates

    true = np.linspace(-50, 50, 11)
    estimates = {"learned": true + 2.0 + 0.1 * np.sin(true), "CCF": true - 0.3}
    scores = score_velocities(true, estimates)
    figure = plot_velocity_estimates(true, estimates, scores, limit=np.full(11, 0.005))
    learned, ccf = figure.axes[0].lines[:2]
    assert abs(np.mean(learned.get_ydata())) < 1e-12 and np.allclose(ccf.get_ydata(), 0.0)
    plt.close(figure)
