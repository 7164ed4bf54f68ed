"""Budget scaling (Study II, docs/decisions.md, *Budget scaling*): the main configuration trained for 1, 2, 4 and
8 × the study's steps, each run with its whole schedule, measured the same way at every budget.

At each budget: R and the line-core error of both models against PCA's at the main size; the β-VAE's best RV and
Teff nodes with their MI and the 95th percentile of their best-node null; the RV and Teff probes; the train /
validation gap (C3) and the informative nodes (C4). :func:`budget_trends` turns the points into each claim's
shortfall from its tolerance (:class:`~specae.analysis.verdicts.BudgetTrend`), which decides between *not
reached at this budget* and ✗ *contradicted* for a claim that fails on every seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from specae.analysis.bottleneck import error_table, line_core_mask, pca_reconstructions, reconstruct, star_errors
from specae.analysis.capabilities import LabelProbe, label_probe
from specae.analysis.claims import MIN_LABEL_MI_NATS, TRAIN_VALIDATION_TOLERANCE
from specae.analysis.latents import encode_means, one_per_star, usable
from specae.analysis.paper_comparison import PaperComparison, compare_with_paper
from specae.analysis.verdicts import BUDGETS, BudgetTrend
from specae.spectra.spectra_set import SpectraSet
from specae.training.loop import TrainResult


@dataclass(frozen=True)
class BudgetPoint:
    """One budget's numbers. errors: "β-VAE", "deterministic" and "PCA" → :func:`error_table` row at the main
    size on the validation stars; comparison: the β-VAE's §6 nodes (each with its best-node null); probes:
    label → ridge probe; gap: the β-VAE's (validation − training) / training R."""

    budget: int
    steps: int
    errors: dict[str, dict]
    comparison: PaperComparison
    probes: dict[str, LabelProbe]
    gap: float

    @property
    def ratio(self) -> float:
        """β-VAE R / deterministic R (C2 asks for > 1: the disentangled model needs more dimensions)."""
        return self.errors["β-VAE"]["stars"] / self.errors["deterministic"]["stars"]

    def mi(self, label: str) -> float:
        """KSG MI (nats) of ``label``'s best node."""
        return self.comparison.nodes[label].ksg


def budget_point(budget: int, vae: TrainResult, deterministic: TrainResult, data: SpectraSet,
                 pca_row: dict, seed: int = 0) -> BudgetPoint:
    """The numbers of one budget's β-VAE and deterministic runs (same split); ``pca_row``: PCA's error row at the
    main size on the same validation spectra."""
    split = vae.split
    validation = usable(data, split.validation)
    target, mask = data.flux[validation].numpy(), data.mask[validation].numpy()
    cores = line_core_mask(target, mask)
    errors = {name: error_table({0: reconstruct(run.model, data, validation)}, target, mask,
                                data.object_ids[validation], cores)[0]
              for name, run in (("β-VAE", vae), ("deterministic", deterministic))}
    stars = one_per_star(data)
    mu = encode_means(vae.model, data, stars)
    labels = {name: np.asarray(data.labels[name][stars], dtype=np.float64) for name in ("rv", "teff")}
    comparison = compare_with_paper(mu, labels, seed=seed)
    train_error = star_errors(vae.model, data, usable(data, split.train))[0]
    return BudgetPoint(budget=budget, steps=int(vae.history[-1]["step"]), errors={**errors, "PCA": pca_row},
                       comparison=comparison,
                       probes={name: label_probe(vae.model, data, split, name) for name in labels},
                       gap=(errors["β-VAE"]["stars"] - train_error) / train_error)


def budget_scaling(runs: Mapping[int, tuple[TrainResult, TrainResult]], data: SpectraSet,
                   seed: int = 0) -> list[BudgetPoint]:
    """budget → (β-VAE run, deterministic run) of the main configuration → one point per budget, in budget order;
    PCA (fitted once on one spectrum per training star) sets the same baseline at every budget."""
    first_vae = runs[min(runs)][0]
    split, size = first_vae.split, first_vae.preset.model.latent_dim
    validation = usable(data, split.validation)
    target, mask = data.flux[validation].numpy(), data.mask[validation].numpy()
    pca = pca_reconstructions(data, one_per_star(data, split.train), validation, [size], seed)
    pca_row = error_table(pca, target, mask, data.object_ids[validation])[0]
    return [budget_point(budget, *runs[budget], data, pca_row, seed) for budget in sorted(runs)]


def budget_trends(points: Sequence[BudgetPoint], n_factors: int) -> dict[str, BudgetTrend]:
    """Claim (or half) → its deciding number's shortfall from the tolerance at each budget (0 where it holds):
    C2 1 − the β-VAE / deterministic ratio; C3 |gap| − 10 %; C4 the informative count's distance from 1 … the
    number of true factors; C5's halves MIN_LABEL_MI_NATS − the best node's MI. C1, C6 and C7 have no trend: C1
    compares sizes, C6 needs an RV node and C7 uniform draws, none of which budget scaling trains."""
    by_budget = {point.budget: point for point in points}
    if set(by_budget) != set(BUDGETS):
        raise ValueError(f"budget trends need points at budgets {BUDGETS}, got {sorted(by_budget)}")

    def trend(shortfall) -> BudgetTrend:
        return BudgetTrend({budget: max(0.0, float(shortfall(point))) for budget, point in by_budget.items()})

    return {"C2": trend(lambda p: 1 - p.ratio),
            "C3": trend(lambda p: abs(p.gap) - TRAIN_VALIDATION_TOLERANCE),
            "C4": trend(lambda p: max(1 - p.comparison.informative.size, p.comparison.informative.size - n_factors)),
            "C5 RV": trend(lambda p: MIN_LABEL_MI_NATS - p.mi("rv")),
            "C5 Teff": trend(lambda p: MIN_LABEL_MI_NATS - p.mi("teff"))}
