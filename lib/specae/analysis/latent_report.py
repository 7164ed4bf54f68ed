"""The paper's §6 on one β-VAE, on one spectrum per star: informative nodes, the RV and Teff nodes with their
mutual information, and the RV node's monotonic window with a bootstrap band and a decoder traversal.

What chapter 05 computes once per training seed, and C5 and C6 judge (docs/decisions.md, *The study*).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specae.analysis.bottleneck import example_star, star_errors
from specae.analysis.claims import ClaimCheck, check_c5, check_c6
from specae.analysis.informative import informative_nodes
from specae.analysis.latents import EncodedSet, encode_labelled, encode_means, one_per_star, usable
from specae.analysis.paper_comparison import PaperComparison, compare_with_paper
from specae.analysis.traversal import (
    DopplerSweep,
    MedianBand,
    MonotonicWindow,
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
    of the RV node across the window's node values."""

    indices: np.ndarray
    mu: np.ndarray
    labels: dict[str, np.ndarray]
    comparison: PaperComparison
    window: MonotonicWindow
    band: MedianBand
    turning: list[str]
    example: int
    sweep: DopplerSweep

    @property
    def rv_node(self) -> int:
        return self.comparison.nodes["rv"].node

    @property
    def teff_node(self) -> int:
        return self.comparison.nodes["teff"].node

    @property
    def window_bins(self) -> int:
        """Velocity bins inside the monotonic window."""
        centres = self.window.centres
        return int(np.count_nonzero((centres >= self.window.low) & (centres <= self.window.high)))

    def c5(self) -> ClaimCheck:
        return check_c5(self.comparison)

    def c6(self) -> ClaimCheck:
        rv = self.labels["rv"]
        return check_c6(self.window, self.window_bins, (float(rv.min()), float(rv.max())), self.turning,
                        self.sweep.shifts)

    def row(self) -> dict[str, object]:
        """The report as one table row (the keys of :data:`COLLAPSED_ROW`)."""
        rv, teff = self.comparison.nodes["rv"], self.comparison.nodes["teff"]
        return {"informative nodes": int(self.comparison.informative.size),
                "RV node, MI (nats)": f"z{rv.node}, {rv.ksg:.2f}",
                "Teff node, MI (nats)": f"z{teff.node}, {teff.ksg:.2f}",
                "C5 holds": self.c5().holds, "C6 holds": self.c6().holds}


# A collapsed code (validation KL below COLLAPSE_KL_NATS) has no node for anything: its row is not computed, since
# the nodes' MI would be noise on codes near zero.
COLLAPSED_ROW = {"informative nodes": 0, "RV node, MI (nats)": "collapsed", "Teff node, MI (nats)": "collapsed",
                 "C5 holds": False, "C6 holds": False}


def paper_comparison_of(model: SpectrumAutoencoder, data: SpectraSet, stars, names=("rv", "teff"),
                        seed: int = 0) -> tuple[EncodedSet, PaperComparison]:
    """``model``'s codes and labels ``names`` on spectra ``stars`` (one per star), and its §6 comparison."""
    encoded = encode_labelled(model, data, names, indices=stars)
    return encoded, compare_with_paper(encoded.mu, encoded.labels, seed=seed)


def informative_counts(models: dict[int, SpectrumAutoencoder], data: SpectraSet, stars,
                       threshold: float) -> dict[int, int]:
    """Latent size → how many of that model's nodes are informative (MAD of μ over spectra ``stars`` above
    ``threshold``), for models: latent size → model."""
    return {size: int(informative_nodes(encode_means(model, data, stars), threshold=threshold).size)
            for size, model in models.items()}


def latent_report(model: SpectrumAutoencoder, data: SpectraSet, stars, grid: Grid, rv_bin_width: float = 10.0,
                  seed: int = 0) -> LatentReport:
    """§6 of ``model`` on spectra ``stars`` (one per star, e.g. :func:`~specae.analysis.latents.one_per_star`).

    rv_bin_width: km/s per bin of the RV node's curve; seed: bootstrap, null and estimator seed. The traversal
    decodes the code of the highest-S/N G or K star with the RV node set to the window's binned medians.
    """
    encoded, comparison = paper_comparison_of(model, data, stars, LABELS, seed=seed)
    rv = encoded.labels["rv"]
    node = encoded.mu[:, comparison.nodes["rv"].node]
    window = monotonic_window(rv, node, bin_width=rv_bin_width, min_count=MIN_BIN_COUNT, around=0.0)
    band = median_band(rv, node, window.centres, rv_bin_width, seed=seed)
    inside = (window.centres >= window.low) & (window.centres <= window.high)
    example = example_star(encoded.labels["teff"], encoded.labels["snr"])
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
