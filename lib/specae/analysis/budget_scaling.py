"""Budget scaling (Study II, docs/decisions.md, *Budget scaling*): the main configuration trained for 1, 2, 4 and
8 × the study's steps, each run with its whole schedule, measured the same way at every budget.

The measurements come in three parts, so that each chapter computes only what its claims read: the errors
(:func:`budget_errors`: R and the line-core error of both models against PCA's at the main size), the nodes
(:func:`budget_nodes`: the β-VAE's §6 comparison, whose best RV and Teff nodes carry their MI and best-node null,
and the RV and Teff probes) and the train / validation gap (:func:`budget_gaps`). The ``*_trend`` functions turn
them into a claim's shortfall from its tolerance at each budget (:class:`~specae.analysis.verdicts.BudgetTrend`),
which decides between *not reached at this budget* and ✗ *contradicted* for a claim that fails on every seed.

``runs`` is always budget → (β-VAE run, deterministic run), as
:func:`~specae.training.run_sets.train_budget_runs` gives it; every run shares one split.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from specae.analysis.bottleneck import line_core_mask, model_error_row, pca_error_rows, star_errors
from specae.analysis.capabilities import LabelProbe, label_probe
from specae.analysis.claims import MIN_LABEL_MI_NATS, TRAIN_VALIDATION_TOLERANCE
from specae.analysis.latent_report import comparison_of
from specae.analysis.latents import one_per_star, usable
from specae.analysis.paper_comparison import PaperComparison
from specae.analysis.verdicts import BUDGETS, BudgetTrend
from specae.spectra.spectra_set import SpectraSet
from specae.training.loop import TrainResult

Runs = Mapping[int, tuple[TrainResult, ...]]  # budget → (β-VAE, deterministic)
LABELS = ("rv", "teff")


@dataclass(frozen=True)
class BudgetNodes:
    """One budget's β-VAE nodes: its §6 comparison (each label's best node with its MI and best-node null) and
    each label's ridge probe from μ."""

    comparison: PaperComparison
    probes: dict[str, LabelProbe]

    def mi(self, label: str) -> float:
        """KSG MI (nats) of ``label``'s best node."""
        return self.comparison.nodes[label].ksg


def budget_steps(runs: Runs) -> dict[int, int]:
    """Budget → the steps its β-VAE trained."""
    return {budget: int(pair[0].history[-1]["step"]) for budget, pair in sorted(runs.items())}


def budget_errors(runs: Runs, data: SpectraSet, seed: int = 0) -> dict[int, dict[str, dict]]:
    """Budget → "β-VAE", "deterministic" and "PCA" → :func:`~specae.analysis.bottleneck.error_table` row at the
    main size on the validation stars; PCA (fitted once on one spectrum per training star) is the same row at
    every budget."""
    split, size = runs[min(runs)][0].split, runs[min(runs)][0].preset.model.latent_dim
    validation = usable(data, split.validation)
    cores = line_core_mask(data.flux[validation].numpy(), data.mask[validation].numpy())
    pca = pca_error_rows(data, one_per_star(data, split.train), validation, [size], seed, cores)[0]
    return {budget: {"β-VAE": model_error_row(vae.model, data, validation, size, cores),
                     "deterministic": model_error_row(deterministic.model, data, validation, size, cores), "PCA": pca}
            for budget, (vae, deterministic) in sorted(runs.items())}


def budget_nodes(runs: Runs, data: SpectraSet, seed: int = 0) -> dict[int, BudgetNodes]:
    """Budget → the β-VAE's nodes on one spectrum per star (as C5 reads them) and its label probes."""
    stars = one_per_star(data)
    return {budget: BudgetNodes(comparison_of(vae.model, data, stars, seed=seed),
                                {name: label_probe(vae.model, data, vae.split, name) for name in LABELS})
            for budget, (vae, _) in sorted(runs.items())}


def budget_gaps(runs: Runs, data: SpectraSet) -> dict[int, float]:
    """Budget → the β-VAE's (validation − training) / training R (C3's number)."""
    gaps = {}
    for budget, (vae, _) in sorted(runs.items()):
        train, validation = (star_errors(vae.model, data, usable(data, side))[0]
                             for side in (vae.split.train, vae.split.validation))
        gaps[budget] = (validation - train) / train
    return gaps


def _trend(values: Mapping[int, object], shortfall: Callable) -> BudgetTrend | None:
    """The trend of ``shortfall(value)`` (clipped at 0) over :data:`BUDGETS`; None unless every one was trained."""
    if not set(BUDGETS) <= set(values):
        return None
    return BudgetTrend({budget: max(0.0, float(shortfall(values[budget]))) for budget in BUDGETS})


def c2_trend(errors: Mapping[int, dict[str, dict]]) -> BudgetTrend | None:
    """C2: 1 − the β-VAE / deterministic ratio of R (C2 asks for a ratio above 1)."""
    return _trend(errors, lambda rows: 1 - rows["β-VAE"]["stars"] / rows["deterministic"]["stars"])


def c3_trend(gaps: Mapping[int, float]) -> BudgetTrend | None:
    """C3: |gap| less the tolerance."""
    return _trend(gaps, lambda gap: abs(gap) - TRAIN_VALIDATION_TOLERANCE)


def c4_trend(nodes: Mapping[int, BudgetNodes], n_factors: int) -> BudgetTrend | None:
    """C4: the informative count's distance from 1 … ``n_factors``."""
    return _trend(nodes, lambda point: max(1 - point.comparison.informative.size,
                                           point.comparison.informative.size - n_factors))


def c5_trends(nodes: Mapping[int, BudgetNodes]) -> dict[str, BudgetTrend | None]:
    """C5's halves: MIN_LABEL_MI_NATS less the KSG MI of the label's best node."""
    return {f"C5 {'RV' if label == 'rv' else 'Teff'}": _trend(nodes, lambda point, label=label: MIN_LABEL_MI_NATS
                                                             - point.mi(label))
            for label in LABELS}
