"""The capabilities a claim needs, measured before a failing claim is called contradicted (Study II,
docs/decisions.md, *Capabilities a claim needs*).

A model that lacks one cannot show the claim however the rule is worded, so a claim that fails on every seed
for want of it is *not reached at this budget*:

* *narrow lines* (C1, C2): the deterministic model's line-core error at the main size is below PCA's at equal
  dimension;
* *RV in the code* (C5's RV half, C6) and *Teff in the code* (C5's Teff half): a ridge probe from the β-VAE's μ
  to the label, fitted on one spectrum of each training star and scored on one of each validation star, has an
  RMSE below half the validation stars' standard deviation of the label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specae.analysis.latents import encode_means, one_per_star
from specae.analysis.probes import make_probe
from specae.model.autoencoder import SpectrumAutoencoder
from specae.spectra.spectra_set import SpectraSet
from specae.training.split import Split

NARROW_LINES, RV_IN_CODE, TEFF_IN_CODE = "narrow lines", "RV in the code", "Teff in the code"
PROBE_SPREAD_FRACTION = 0.5  # a label is in the code when the probe's RMSE is below this × the label's spread
NEEDS = {"C1": (NARROW_LINES,), "C2": (NARROW_LINES,), "C5 RV": (RV_IN_CODE,), "C5 Teff": (TEFF_IN_CODE,),
         "C6": (RV_IN_CODE,)}  # claim (or half) → the capabilities it needs


@dataclass(frozen=True)
class LabelProbe:
    """A ridge probe's RMSE on the validation stars and the spread (standard deviation) of their label."""

    label: str
    rmse: float
    spread: float

    @property
    def present(self) -> bool:
        """Whether the label is in the code: RMSE below :data:`PROBE_SPREAD_FRACTION` × its spread."""
        return self.rmse < PROBE_SPREAD_FRACTION * self.spread

    def __str__(self) -> str:
        return f"{self.label} probe RMSE {self.rmse:.3g} against a spread of {self.spread:.3g}"


def label_probe(model: SpectrumAutoencoder, data: SpectraSet, split: Split, label: str) -> LabelProbe:
    """Fit a ridge probe from μ to ``label`` on one spectrum of each training star and score it on one of each
    validation star (stars whose label is not finite are left out)."""
    sides = []
    for indices in (one_per_star(data, split.train), one_per_star(data, split.validation)):
        values = np.asarray(data.labels[label][indices], dtype=np.float64)
        kept = np.isfinite(values)
        if kept.sum() < 2:
            raise ValueError(f"fewer than 2 stars with a finite {label} on one side of the split: no probe")
        sides.append((encode_means(model, data, indices[kept]), values[kept]))
    (train_mu, train_label), (validation_mu, validation_label) = sides
    probe = make_probe("linear").fit(train_mu, train_label)
    rmse = float(np.sqrt(np.mean((probe.predict(validation_mu) - validation_label) ** 2)))
    return LabelProbe(label, rmse, float(np.std(validation_label)))


@dataclass(frozen=True)
class Capabilities:
    """What the seed-0 main runs can do: the line-core errors of the deterministic model and of PCA at the main
    size, and the β-VAE's RV and Teff probes."""

    line_cores: float
    pca_line_cores: float
    rv: LabelProbe
    teff: LabelProbe

    @property
    def present(self) -> dict[str, bool]:
        return {NARROW_LINES: self.line_cores < self.pca_line_cores, RV_IN_CODE: self.rv.present,
                TEFF_IN_CODE: self.teff.present}

    def lacking(self, claim: str) -> list[str]:
        """The capabilities ``claim`` (e.g. "C1", "C5 RV") needs that the model lacks, each with its numbers."""
        numbers = {NARROW_LINES: f"line-core error {self.line_cores:.4f} against PCA's {self.pca_line_cores:.4f}",
                   RV_IN_CODE: str(self.rv), TEFF_IN_CODE: str(self.teff)}
        return [f"{name} ({numbers[name]})" for name in NEEDS.get(claim, ()) if not self.present[name]]
