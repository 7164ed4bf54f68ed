"""The capabilities a claim needs, measured before a failing claim is called contradicted (Study II,
docs/decisions.md, *Capabilities a claim needs*).

A model that lacks one cannot show the claim however the rule is worded, so a claim that fails on every seed
for want of it is *not reached at this budget*:

* *narrow lines* (C1, C2): the deterministic model's line-core error at the main size is below PCA's at equal
  dimension (:func:`narrow_lines`);
* *RV in the code* (C5's RV half, C6) and *Teff in the code* (C5's Teff half): a ridge probe from the β-VAE's μ
  to the label, fitted on one spectrum of each training star and scored on one of each validation star, has an
  RMSE below half the validation stars' standard deviation of the label (:func:`label_in_code`).
"""

from __future__ import annotations

from collections.abc import Mapping
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
LABEL_CAPABILITIES = {"rv": RV_IN_CODE, "teff": TEFF_IN_CODE}


@dataclass(frozen=True)
class Capability:
    """name: one of the capabilities above; present: whether the model has it; numbers: the measurement, in words."""

    name: str
    present: bool
    numbers: str


@dataclass(frozen=True)
class LabelProbe:
    """A ridge probe's RMSE on the validation stars and the spread (standard deviation) of their label."""

    label: str
    rmse: float
    spread: float

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


def label_in_code(probe: LabelProbe) -> Capability:
    """*RV* or *Teff in the code*: the probe's RMSE is below :data:`PROBE_SPREAD_FRACTION` × the label's spread."""
    return Capability(LABEL_CAPABILITIES[probe.label], probe.rmse < PROBE_SPREAD_FRACTION * probe.spread, str(probe))


def narrow_lines(line_cores: float, pca_line_cores: float) -> Capability:
    """*Narrow lines*: the deterministic model's line-core error at the main size is below PCA's."""
    return Capability(NARROW_LINES, line_cores < pca_line_cores,
                      f"line-core error {line_cores:.4f} against PCA's {pca_line_cores:.4f}")


def lacking(claim: str, capabilities: Mapping[str, Capability]) -> list[str]:
    """The capabilities ``claim`` (e.g. "C1", "C5 RV") needs that the model lacks, each with its numbers;
    ``capabilities``: name → measured capability, holding every one the claim needs."""
    missing = [name for name in NEEDS.get(claim, ()) if name not in capabilities]
    if missing:
        raise ValueError(f"{claim} needs the capabilities {missing} measured (see specae.analysis.capabilities)")
    return [f"{name} ({capabilities[name].numbers})" for name in NEEDS.get(claim, ())
            if not capabilities[name].present]
