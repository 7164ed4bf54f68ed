"""The paper's §6 on one β-VAE, on one spectrum per star: informative nodes, the RV and Teff nodes with their
mutual information, and the RV node's monotonic window with a bootstrap band and a decoder traversal.

What chapter 05 computes once per training seed, and C5 and C6 judge (docs/decisions.md, *The study*).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specae.analysis.analysis_cache import cached_result, model_weights
from specae.analysis.bottleneck import example_star, star_errors
from specae.analysis.claims import (
    C6_PAPER,
    C6_TOLERANCE,
    COLLAPSE_KL_NATS,
    MIN_LABEL_MI_NATS,
    ClaimCheck,
    check_c5,
    check_c6,
    not_testable,
    unless_rv_node,
)
from specae.analysis.informative import node_dispersion
from specae.analysis.latents import EncodedSet, encode_labelled, encode_means, one_per_star, usable
from specae.analysis.paper_comparison import LabelNode, PaperComparison, compare_with_paper
from specae.analysis.traversal import (
    BAND_2_SIGMA,
    DopplerSweep,
    MedianBand,
    MonotonicWindow,
    TooFewBinsError,
    doppler_sweep,
    median_band,
    monotonic_window,
    turning_ends,
)
from specae.model.autoencoder import SpectrumAutoencoder
from specae.spectra.grid import Grid
from specae.spectra.spectra_set import SpectraSet
from specae.training.split import Split

LABELS = ("rv", "teff", "logg", "feh", "vsini", "snr", "berv", "airmass")
MIN_BIN_COUNT = 3  # stars a velocity bin needs to enter the RV node's curve


@dataclass(frozen=True)
class LatentReport:
    """One model's §6 numbers. indices: (n_stars,) the spectra analysed (one per star); mu: (n_stars, n_latent);
    labels: name → (n_stars,); comparison: informative nodes and the RV and Teff nodes; window: the RV node's
    monotonic window; band: its binned median with a bootstrap band over stars; turning: the window's ends where
    the median turns beyond the band; example: the spectrum whose code the traversal sweeps; sweep: the traversal
    of the RV node across the window's node values. window, band and sweep are None when too few velocity bins
    hold enough stars to read a window from (``no_window`` says why; C6 is then not testable)."""

    indices: np.ndarray
    mu: np.ndarray
    labels: dict[str, np.ndarray]
    comparison: PaperComparison
    window: MonotonicWindow | None
    band: MedianBand | None
    turning: list[str]
    example: int
    sweep: DopplerSweep | None
    no_window: str = ""

    @property
    def rv_node(self) -> int:
        return self.comparison.nodes["rv"].node

    @property
    def teff_node(self) -> int:
        return self.comparison.nodes["teff"].node

    @property
    def window_bins(self) -> int:
        """Velocity bins inside the monotonic window (0 without one)."""
        if self.window is None:
            return 0
        centres = self.window.centres
        return int(np.count_nonzero((centres >= self.window.low) & (centres <= self.window.high)))

    def c5(self, label: str) -> ClaimCheck:
        """C5's ``label`` half ("rv" or "teff")."""
        return check_c5(self.comparison, label)

    def c6(self) -> ClaimCheck:
        """C6, not testable without an RV node (C5's RV half) or a window."""
        rv = self.labels["rv"]
        if self.window is None or self.sweep is None:
            check = not_testable("C6", C6_PAPER, C6_TOLERANCE, f"no velocity window to read: {self.no_window}")
        else:
            check = check_c6(self.window, self.window_bins, (float(rv.min()), float(rv.max())), self.turning,
                             self.sweep.shifts)
        return unless_rv_node(check, self.c5("rv"))

    def seed_row(self) -> dict[str, object]:
        """The §6 numbers as one row of a table over seeds: informative nodes, the RV and Teff nodes with their MI
        and the runner-up's, the RV window (km/s) and the span of its traversal (km/s)."""
        rv, teff = self.comparison.nodes["rv"], self.comparison.nodes["teff"]
        window, span = ("none", "none") if self.window is None or self.sweep is None else (
            f"{self.window.low:.0f} … {self.window.high:+.0f}", round(self.sweep.span, 1))
        return {"informative nodes": ", ".join(f"z{i}" for i in self.comparison.informative) or "none",
                "RV node": f"z{rv.node}", "MI RV (nats)": round(rv.ksg, 2), "runner-up MI RV": round(rv.second_ksg, 2),
                "Teff node": f"z{teff.node}", "MI Teff (nats)": round(teff.ksg, 2),
                "runner-up MI Teff": round(teff.second_ksg, 2),
                "RV window (km/s)": window, "traversal span (km/s)": span}

    def window_reading(self, pixel_kms: float, figure: str = "fig-rv-window", subject: str = "The RV node") -> str:
        """One MyST sentence on the RV node's window and its traversal (or why there is none), citing ``figure``;
        pixel_kms: the grid's pixel (km/s); subject: how the sentence names the node."""
        if self.window is None or self.sweep is None:
            return f"{subject} has no velocity window to read: {self.no_window}."
        return (f"{subject} moves monotonically with the velocity from {self.window.low:.0f} to "
                f"{self.window.high:.0f} km/s ({{numref}}`{figure}`); sweeping it across that window shifts the "
                f"decoded spectrum by {self.sweep.span:.1f} km/s, against a pixel of {pixel_kms:.1f} km/s.")

    def row(self) -> dict[str, object]:
        """The report as one table row (the keys of :data:`COLLAPSED_ROW`)."""
        rv, teff = self.comparison.nodes["rv"], self.comparison.nodes["teff"]
        return {"informative nodes": int(self.comparison.informative.size),
                "RV node, MI (nats)": f"z{rv.node}, {rv.ksg:.2f}",
                "Teff node, MI (nats)": f"z{teff.node}, {teff.ksg:.2f}",
                "C5 RV": self.c5("rv").verdict, "C5 Teff": self.c5("teff").verdict, "C6": self.c6().verdict}


# A collapsed code (validation KL below COLLAPSE_KL_NATS) has no node for anything: its row is not computed, since
# the nodes' MI would be noise on codes near zero, and its claims are not testable.
COLLAPSED_ROW = {"informative nodes": 0, "RV node, MI (nats)": "collapsed", "Teff node, MI (nats)": "collapsed",
                 "C5 RV": "not testable", "C5 Teff": "not testable", "C6": "not testable"}


def beta_study_reading(collapsed: list[tuple[float, int]], reports: dict[tuple[float, int], LatentReport]) -> str:
    """One MyST paragraph on a β study over seeds: for which (β, seed) the code collapsed (Study II's collapse
    check) and, over the others ((β, seed) → report), the largest MI of the RV and Teff nodes against C5's
    :data:`~specae.analysis.claims.MIN_LABEL_MI_NATS`."""
    by_beta: dict[float, list[int]] = {}
    for beta, seed in collapsed:
        by_beta.setdefault(beta, []).append(seed)
    rule = f"validation KL below {COLLAPSE_KL_NATS:.1f} nats, or no active unit"
    if by_beta:
        text = f"The code collapses ({rule}) at " + "; ".join(
            f"β = {beta:g} (seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))})"
            for beta, seeds in by_beta.items()) + ". "
    else:
        text = f"No value of β collapses the code ({rule}). "
    if not reports:
        return text + "No other run was trained, so no code is left to read."
    rv = max(report.comparison.nodes["rv"].ksg for report in reports.values())
    teff = max(report.comparison.nodes["teff"].ksg for report in reports.values())
    others = f"{len(reports)} other run{'s' if len(reports) > 1 else ''}"
    return text + (f"Over the {others} the RV node's MI with the velocity is at most {rv:.2f} nats "
                   f"(C5 asks for {MIN_LABEL_MI_NATS:g}), while the Teff node reaches {teff:.2f} nats.")


def paper_comparison_of(model: SpectrumAutoencoder, data: SpectraSet, stars, names=("rv", "teff"),
                        seed: int = 0) -> tuple[EncodedSet, PaperComparison]:
    """``model``'s codes and labels ``names`` on spectra ``stars`` (one per star), and its §6 comparison
    (:func:`comparison_of`)."""
    encoded = encode_labelled(model, data, names, indices=stars)
    return encoded, comparison_of(model, data, stars, seed, encoded)


def comparison_of(model: SpectrumAutoencoder, data: SpectraSet, stars, seed: int = 0,
                  encoded: EncodedSet | None = None) -> PaperComparison:
    """``model``'s §6 comparison on spectra ``stars`` (one per star; degenerate ones left out): cached by the model's
    weights, the spectra's bytes and their labels (:mod:`specae.analysis.analysis_cache`), so the chapters that read
    one run share a computation, and a reference run's is read from the committed analyses without encoding.
    encoded: the codes of those spectra, when already computed."""
    inputs = comparison_inputs(model, data, stars, seed)

    def compute() -> PaperComparison:
        mu = (encoded if encoded is not None else encode_labelled(model, data, ("rv",), stars)).mu
        return compare_with_paper(mu, inputs["labels"], seed=seed)

    return cached_result("paper_comparison_of", inputs, compute)


def comparison_inputs(model: SpectrumAutoencoder, data: SpectraSet, stars, seed: int = 0) -> dict:
    """What identifies :func:`comparison_of`'s result: the weights, the usable spectra of ``stars`` and their RV and
    Teff labels, and the seed."""
    indices = usable(data, stars)
    labels = {name: np.asarray(data.labels[name], dtype=float)[indices] for name in ("rv", "teff")}
    return dict(weights=model_weights(model), flux=data.flux[indices].numpy(), labels=labels, seed=seed)


def informative_counts(models: dict[int, SpectrumAutoencoder], data: SpectraSet, stars,
                       threshold: float) -> dict[int, int]:
    """Latent size → how many of that model's nodes are informative (MAD of μ over spectra ``stars`` above
    ``threshold``), for models: latent size → model. Each model's MADs are cached by its weights and the spectra
    (:mod:`specae.analysis.analysis_cache`)."""
    stars = np.asarray(stars, dtype=np.int64)

    def dispersion(model: SpectrumAutoencoder) -> np.ndarray:
        inputs = dict(weights=model_weights(model), flux=data.flux[stars].numpy())
        return cached_result("node_dispersion", inputs, lambda: node_dispersion(encode_means(model, data, stars)))

    return {size: int(np.count_nonzero(dispersion(model) > threshold)) for size, model in models.items()}


def latent_report(model: SpectrumAutoencoder, data: SpectraSet, stars, grid: Grid, rv_bin_width: float = 10.0,
                  seed: int = 0) -> LatentReport:
    """§6 of ``model`` on spectra ``stars`` (one per star, e.g. :func:`~specae.analysis.latents.one_per_star`).

    rv_bin_width: km/s per bin of the RV node's curve; seed: bootstrap, null and estimator seed. The traversal
    decodes the code of the highest-S/N G or K star with the RV node set to the window's binned medians.
    """
    encoded, comparison = paper_comparison_of(model, data, stars, LABELS, seed=seed)
    rv = encoded.labels["rv"]
    node = encoded.mu[:, comparison.nodes["rv"].node]
    example = example_star(encoded.labels["teff"], encoded.labels["snr"])
    try:
        window = monotonic_window(rv, node, bin_width=rv_bin_width, min_count=MIN_BIN_COUNT, around=0.0,
                                  label_name="the stars' RV (km/s)")
    except TooFewBinsError as reason:  # the data cannot support a window at this bin width: C6 says so
        return LatentReport(indices=encoded.indices, mu=encoded.mu, labels=encoded.labels, comparison=comparison,
                            window=None, band=None, turning=[], example=example, sweep=None,
                            no_window=str(reason))
    band = median_band(rv, node, window.centres, rv_bin_width, seed=seed, percentiles=BAND_2_SIGMA)  # Study II
    inside = (window.centres >= window.low) & (window.centres <= window.high)
    sweep = doppler_sweep(model.decode, encoded.mu[example], comparison.nodes["rv"].node, window.medians[inside],
                          grid.wavelength, grid.mask, steps=max(3, 2 * int(inside.sum()) - 1),
                          percentiles=(0.0, 100.0))
    return LatentReport(indices=encoded.indices, mu=encoded.mu, labels=encoded.labels, comparison=comparison,
                        window=window, band=band, turning=turning_ends(window, band), example=example, sweep=sweep)


def scorecard_numbers(model: SpectrumAutoencoder, data: SpectraSet, split: Split, seed: int = 0) -> dict[str, object]:
    """What one run contributes to the scorecard, for setting a retrained run beside the committed one: R of
    the validation stars and, on one spectrum per star, the informative nodes and the RV and Teff nodes with
    their KSG mutual information (nats)."""
    error = star_errors(model, data, usable(data, split.validation))[0]
    comparison = paper_comparison_of(model, data, one_per_star(data), seed=seed)[1]
    rv, teff = comparison.nodes["rv"], comparison.nodes["teff"]
    return {"R, validation stars": round(error, 5), "informative nodes (MAD > 0.02)": int(comparison.informative.size),
            "RV node": f"z{rv.node}", "MI of the RV node (nats)": round(rv.ksg, 3),
            "Teff node": f"z{teff.node}", "MI of the Teff node (nats)": round(teff.ksg, 3)}


def rv_node_reading(node: LabelNode) -> str:
    """One sentence on what the RV node (``node``, from :func:`~specae.analysis.label_node`) can tell about a
    star's velocity: its MI against C5's floor and its best-node null."""
    numbers = (f"The RV node z{node.node} shares {node.ksg:.2f} nats with the velocity (KSG, one spectrum per star; "
               f"C5 asks for {MIN_LABEL_MI_NATS:g}, and shuffled velocities reach {node.best_null:.2f} on the best "
               "node)")
    if node.ksg >= MIN_LABEL_MI_NATS and node.above_best_null:
        return f"{numbers}, so where a star falls on it says something about its velocity."
    return (f"{numbers}: it is the node that knows most about the velocity, not one that "
            "reads it, so where a real star falls on it says next to nothing about its velocity.")
