"""The RV-spread experiment's rule (issue 23; docs/decisions.md, *The velocity: the RV-spread experiment's
prediction*), fixed before its runs.

Each survey is the study's with every velocity multiplied by ``rv_scale``; on one spectrum per star, the best RV
node's KSG MI against its best-node null, and the node's monotonic window (C6's machinery, 1 km/s bins). Only
surveys whose RV node beats its null enter. Over those with a spread of at least :data:`MIN_SPREAD_KMS`, the slope
of log(half-width) against log(spread) decides: below :data:`H1_MAX_SLOPE` with the half-width within a factor
:data:`H1_FACTOR` of the predicted :data:`H1_HALF_WIDTH_KMS` is **H1** (a first-order Doppler term of the lines),
above :data:`H2_MIN_SLOPE` is **H2** (a code spanning the training velocities), anything else *inconclusive*.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from specae.analysis.analysis_cache import cached_result, model_weights
from specae.analysis.claims import INCONCLUSIVE
from specae.analysis.informative import informative_nodes
from specae.analysis.latent_report import MIN_BIN_COUNT
from specae.analysis.latents import encode_labelled
from specae.analysis.paper_comparison import PAPER_MAD_THRESHOLD, label_node
from specae.analysis.traversal import TooFewBinsError, monotonic_window
from specae.model.autoencoder import SpectrumAutoencoder
from specae.spectra.spectra_set import SpectraSet
from specae.training.datasets import load_first_spectra
from specae.training.presets import DataConfig
from specae.training.run_keys import data_fingerprint

H1_HALF_WIDTH_KMS = 3.0  # √2 × the FGK lines' median CCF σ, 2.15 km/s (benchmarks/results/line_widths_study_*.json)
H1_FACTOR = 2.0
H1_MAX_SLOPE = 0.3
H2_MIN_SLOPE = 0.7
MIN_SPREAD_KMS = H1_HALF_WIDTH_KMS  # a survey narrower than H1's window cannot show it (decisions.md, amended)
WINDOW_BIN_KMS = 1.0  # the window's velocity bins in every survey
H1 = "H1: a first-order Doppler term of the lines"
H2 = "H2: the window follows the velocities' spread"


@dataclass(frozen=True)
class SpreadPoint:
    """One survey's (and seed's) measurement: its velocity spread (standard deviation, km/s, one spectrum per
    star), the best RV node's MI and the 95th percentile of its best-node null (nats), and the window's half-width
    (km/s; None when the node has no window)."""

    rv_scale: float
    spread_kms: float
    mi: float
    null: float
    half_width_kms: float | None

    @property
    def has_rv_node(self) -> bool:
        return self.mi > self.null


@dataclass(frozen=True)
class SpreadAnswer:
    """The rule's answer, the slope it read (NaN when too few surveys entered) and its reason."""

    answer: str
    slope: float
    reason: str


def spread_answer(points: Sequence[SpreadPoint], unconverged: Sequence[str] = ()) -> SpreadAnswer:
    """The pre-registered answer from every survey's (and seed's) point; *inconclusive* whatever the slope when a
    run it reads did not converge (``unconverged``: their names; Study II's rule for every claim)."""
    entering = [p for p in points if p.has_rv_node and p.half_width_kms is not None and p.spread_kms >= MIN_SPREAD_KMS]
    spreads = sorted({p.spread_kms for p in entering})
    if len(spreads) < 2:
        return SpreadAnswer(INCONCLUSIVE, float("nan"), f"{len(spreads)} survey(s) with a spread ≥ {MIN_SPREAD_KMS:g} "
                            "km/s have an RV node above its null and a window; the rule needs two")
    x = np.log([p.spread_kms for p in entering])
    widths = np.array([float(p.half_width_kms or 0.0) for p in entering])  # entering: every one has a window
    y = np.log(widths)
    slope = float(np.polyfit(x, y, 1)[0])
    near_h1 = bool(np.all((widths >= H1_HALF_WIDTH_KMS / H1_FACTOR) & (widths <= H1_HALF_WIDTH_KMS * H1_FACTOR)))
    numbers = (f"slope {slope:.2f} over {len(entering)} runs of {len(spreads)} surveys; half-widths "
               f"{widths.min():.1f}–{widths.max():.1f} km/s")
    if unconverged:
        return SpreadAnswer(INCONCLUSIVE, slope, f"{numbers}; not converged: {', '.join(unconverged)}")
    if slope < H1_MAX_SLOPE and near_h1:
        return SpreadAnswer(H1, slope, f"{numbers}, within × {H1_FACTOR:g} of {H1_HALF_WIDTH_KMS:g} km/s")
    if slope > H2_MIN_SLOPE:
        return SpreadAnswer(H2, slope, numbers)
    return SpreadAnswer(INCONCLUSIVE, slope, f"{numbers}: neither hypothesis's rule holds")


def spread_point(mu: np.ndarray, labels: dict[str, np.ndarray], rv_scale: float, seed: int = 0) -> SpreadPoint:
    """One survey's point from its codes ``mu`` (n, d) and labels (at least "rv": (n,)) on one spectrum per star:
    the spread of the velocities, the best RV node (C5's: the informative node of highest KSG MI, with its
    best-node null; only the RV half of :func:`~specae.analysis.paper_comparison.compare_with_paper`, at half its
    cost) and its window in 1 km/s bins (C6's machinery; None when fewer than three bins hold enough stars)."""
    mu = np.asarray(mu, dtype=np.float64)
    rv = np.asarray(labels["rv"], dtype=np.float64)
    informative = informative_nodes(mu, threshold=PAPER_MAD_THRESHOLD)
    node = label_node(mu, rv, "rv", seed, candidates=informative if informative.size else None)  # C5's RV node
    try:
        window = monotonic_window(rv, np.asarray(mu)[:, node.node], bin_width=WINDOW_BIN_KMS,
                                  min_count=MIN_BIN_COUNT, around=0.0, label_name="the stars' RV (km/s)")
        half_width: float | None = (window.high - window.low) / 2
    except TooFewBinsError:
        half_width = None
    return SpreadPoint(rv_scale, float(np.std(rv)), node.ksg, node.best_null, half_width)


def survey_point(model: SpectrumAutoencoder, survey: DataConfig, seed: int = 0,
                 first_spectra: Callable[[], tuple[SpectraSet, np.ndarray]] | None = None) -> SpreadPoint:
    """A trained run's point on its ``survey``: its codes of the first spectrum of every star (degenerate ones left
    out) through :func:`spread_point`. Cached by the model's weights and the survey's fingerprint
    (:mod:`specae.analysis.analysis_cache`), so a reference run's point is read from the committed analyses without
    rendering the survey. first_spectra: gives (spectra, indices of the first spectrum of every star in them)
    when the point must be computed (default: :func:`~specae.training.datasets.load_first_spectra`, rendering
    them; pass the survey in memory to spare that)."""

    def compute() -> SpreadPoint:
        spectra, indices = first_spectra() if first_spectra is not None else _rendered_first(survey)
        encoded = encode_labelled(model, spectra, ("rv",), indices)
        return spread_point(encoded.mu, encoded.labels, survey.synthetic.rv_scale, seed)

    inputs = dict(weights=model_weights(model), survey=data_fingerprint(survey), seed=seed)
    return cached_result("survey_point", inputs, compute)


@functools.lru_cache(maxsize=2)
def _rendered_first(survey: DataConfig) -> tuple[SpectraSet, np.ndarray]:
    """The first spectrum of every star of ``survey``, rendered once for all the runs on it (a survey's 2,000 take
    about 30 s on one core; the last two surveys are kept, ~65 MB each at the study's grid)."""
    spectra, _ = load_first_spectra(survey)
    return spectra, np.arange(len(spectra))
