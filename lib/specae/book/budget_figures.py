"""Study II's budget-scaling figure: what 1, 2, 4 and 8 × the study's steps buy the main configuration."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from specae.analysis.budget_scaling import BudgetNodes
from specae.analysis.capabilities import PROBE_SPREAD_FRACTION
from specae.analysis.claims import MIN_LABEL_MI_NATS

FAMILY_COLOURS = {"β-VAE": "tab:blue", "deterministic": "tab:orange", "PCA": "0.45"}
LABEL_COLOURS = {"rv": "tab:red", "teff": "tab:purple"}
LABEL_NAMES = {"rv": "RV", "teff": "Teff"}


def plot_budget_scaling(steps: Mapping[int, int], errors: Mapping[int, dict[str, dict]],
                        nodes: Mapping[int, BudgetNodes]) -> Figure:
    """Four panels against training steps (one point per budget, log scale): R and the line-core error of the
    β-VAE, the deterministic model and PCA at the same size (PCA does not train: a flat line); the KSG MI of the
    β-VAE's best RV and Teff nodes with the 95th percentile of their best-node null (dashed) and C5's 0.5 nats
    (dotted); and each label's ridge-probe RMSE over its spread, with the capability's threshold (dotted).

    steps, errors, nodes: budget → steps, :func:`~specae.analysis.budget_scaling.budget_errors` and
    :func:`~specae.analysis.budget_scaling.budget_nodes` of the same budgets."""
    budgets = sorted(steps)
    points = [nodes[budget] for budget in budgets]
    steps_trained = [steps[budget] for budget in budgets]
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4), layout="constrained")
    for ax, key, title in ((axes[0], "stars", "R (validation stars)"), (axes[1], "line_cores", "line-core error")):
        for family, colour in FAMILY_COLOURS.items():
            values = [errors[budget][family][key] for budget in budgets]
            ax.plot(steps_trained, values, "o-" if family != "PCA" else "--", color=colour, label=family)
        ax.set(title=title, ylabel="masked L1 per pixel")
    axes[0].legend(frameon=False, fontsize="small")
    for label, colour in LABEL_COLOURS.items():
        axes[2].plot(steps_trained, [point.mi(label) for point in points], "o-", color=colour, label=LABEL_NAMES[label])
        nulls = [point.comparison.nodes[label].best_null for point in points]
        axes[2].plot(steps_trained, nulls, "--", color=colour, lw=1)
        axes[3].plot(steps_trained, [point.probes[label].rmse / point.probes[label].spread for point in points], "o-",
                     color=colour, label=LABEL_NAMES[label])
    axes[2].axhline(MIN_LABEL_MI_NATS, color="0.3", ls=":", lw=1)
    axes[2].set(title="best node's MI (KSG)", ylabel="nats")
    axes[2].legend(frameon=False, fontsize="small")
    axes[3].axhline(PROBE_SPREAD_FRACTION, color="0.3", ls=":", lw=1)
    axes[3].set(title="ridge probe from μ", ylabel="RMSE / spread of the label", ylim=(0, None))
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks(steps_trained, [f"{s:,}" for s in steps_trained], fontsize="small")
        ax.set_xlabel("training steps")
    return fig
