"""Chapter 08's figures: the RV-spread experiment and the three velocity estimates side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from specae.analysis.rv_spread import H1_FACTOR, H1_HALF_WIDTH_KMS, SpreadPoint
from specae.analysis.velocity_comparison import VelocityScores


def plot_rv_spread(points: Mapping[str, Sequence[SpreadPoint]], line_cores: Mapping[str, Sequence[float]],
                   pca_line_cores: Mapping[float, float]) -> Figure:
    """Left: the best RV node's MI (KSG) against the survey's velocity spread, each run a point (family → its
    runs' points, one colour each), with the 95th percentile of its best-node null (open). Middle: the RV node's
    window half-width against the spread (log–log), for the runs whose node beats its null, with H1's prediction
    (its band: × or ÷ the factor) and the line a window equal to the spread would follow (H2's shape). Right: each
    run's line-core error (family → one per point, in the same order) and PCA's at the same size on each survey
    (spread in km/s → error)."""
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 3.8), layout="constrained")
    every = [p for family in points.values() for p in family]
    spreads = np.array([p.spread_kms for p in every])
    grid = np.geomspace(max(spreads.min(), 0.5), spreads.max() * 1.2, 50)
    middle.fill_between(grid, H1_HALF_WIDTH_KMS / H1_FACTOR, H1_HALF_WIDTH_KMS * H1_FACTOR, color="tab:blue",
                        alpha=0.15, label=f"H1: {H1_HALF_WIDTH_KMS:g} km/s × or ÷ {H1_FACTOR:g}")
    middle.plot(grid, grid, ":", color="0.4", label="half-width = spread (H2's shape)")
    pca = sorted(pca_line_cores.items())
    right.plot([spread for spread, _ in pca], [error for _, error in pca], "s--", color="0.3", label="PCA")
    for (family, runs), colour in zip(points.items(), ("tab:red", "tab:purple", "tab:orange"), strict=False):
        x = [p.spread_kms for p in runs]
        left.plot(x, [p.mi for p in runs], "o", color=colour, label=f"{family}: best RV node")
        left.plot(x, [p.null for p in runs], "o", mfc="none", color=colour, alpha=0.6,
                  label=f"{family}: best-node null, 95 %")
        node = [p for p in runs if p.has_rv_node and p.half_width_kms is not None]
        middle.plot([p.spread_kms for p in node], [p.half_width_kms for p in node], "o", color=colour,
                    label=f"{family}: runs with an RV node")
        right.plot(x, list(line_cores[family]), "o", color=colour, label=family)
    spread_axis = "velocity spread (km/s, standard deviation)"
    left.set(xscale="log", xlabel=spread_axis, ylabel="KSG MI with RV (nats)")
    middle.set(xscale="log", yscale="log", xlabel=spread_axis, ylabel="window half-width (km/s)")
    right.set(xscale="log", xlabel=spread_axis, ylabel="line-core error (masked L1)")
    for axis in (left, middle, right):
        axis.legend(frameon=False, fontsize="small")
    return fig


def plot_velocity_estimates(true: np.ndarray, estimates: Mapping[str, np.ndarray], scores: VelocityScores,
                            limit: np.ndarray) -> Figure:
    """Left: each estimate minus its global offset against the true RV (km/s), one point per spectrum. Right: the
    distribution of each estimate's residual after its offset, beside the spectra's photon-noise limits
    (``limit``, km/s), on a log scale."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    colours = iter(("tab:red", "tab:blue", "tab:green"))
    bins = np.geomspace(1e-4, 1e3, 71)
    for name, values in estimates.items():
        colour = next(colours)
        residual = np.asarray(values, dtype=float) - scores.offset[name] - np.asarray(true, dtype=float)
        left.plot(true, residual, ".", ms=2, color=colour, label=f"{name}: RMSE {scores.rmse[name]:.3g} km/s")
        right.hist(np.abs(residual[np.isfinite(residual)]), bins=bins, histtype="step", color=colour, label=name)
    right.hist(np.asarray(limit, dtype=float), bins=bins, histtype="stepfilled", color="0.85",
               label="photon-noise limit")
    left.axhline(0, color="0.4", lw=0.8)
    left.set(xlabel="true RV (km/s)", ylabel="estimate − offset − true (km/s)")
    left.legend(frameon=False, fontsize="small")
    right.set(xscale="log", xlabel="|residual| or limit (km/s)", ylabel="spectra")
    right.legend(frameon=False, fontsize="small")
    return fig
