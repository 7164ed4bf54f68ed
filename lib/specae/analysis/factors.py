"""Which labels are factors of the spectra on a grid: the count C4 compares the informative nodes with.

A label is a *factor* of a window when changing it by its spread in the survey (one standard deviation
over the spectra) changes the median-normalised, noise-free spectrum of a typical star by more than that
spectrum's noise (one per-pixel σ) at some pixel. Typical means the median over ``n_stars`` survey
spectra of each label's largest change relative to σ. A label with no lines or continuum effect in the
window (BERV and water vapour where the window has no telluric lines) then does not count, and neither
does S/N, which changes the noise but not the spectrum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from specae.spectra.grid import Grid
from specae.spectra.normalisation import median_normalise
from specae.synth.survey import SyntheticConfig, SyntheticSurvey

SPECTRUM_LABELS = ("teff", "logg", "feh", "vsini", "rv", "berv", "airmass", "pwv")


@dataclass(frozen=True)
class FactorSensitivity:
    """labels: the labels tested; change_in_sigma: (n_labels,) median over stars of the largest change of the
    normalised spectrum for a one-σ change of each label, in units of the per-pixel noise σ."""

    labels: tuple[str, ...]
    change_in_sigma: np.ndarray

    @property
    def factors(self) -> tuple[str, ...]:
        """The labels whose change exceeds one σ of noise."""
        return tuple(name for name, change in zip(self.labels, self.change_in_sigma, strict=True) if change > 1)


def factor_sensitivity(config: SyntheticConfig, grid: Grid, n_stars: int = 24, seed: int = 0,
                       labels: tuple[str, ...] = SPECTRUM_LABELS) -> FactorSensitivity:
    """Measure each label's effect on the spectra of ``n_stars`` spectra of the survey (drawn with ``seed``)."""
    survey = SyntheticSurvey(config, grid)
    table = survey.labels
    rows = np.random.default_rng(seed).choice(len(survey), size=min(n_stars, len(survey)), replace=False)
    spread = {name: float(np.std(np.asarray(table[name], dtype=float))) for name in labels}
    mask = grid.mask_tensor()
    changes = np.zeros((len(rows), len(labels)))
    for i, row in enumerate(rows):
        base = {name: float(table[name][row]) for name in (*labels, "snr")}
        noisy = SyntheticSurvey.single_star(grid, 1, seed=config.seed, **base)
        noise = median_normalise(noisy.render([0]), mask).flux - median_normalise(noisy.render([0], noise=False),
                                                                                     mask).flux
        sigma = float(noise[0, mask].std())
        varied = [dict(base, **{name: base[name] + spread[name]}) for name in labels]
        clean = torch.cat([SyntheticSurvey.single_star(grid, 1, seed=config.seed, **values).render([0], noise=False)
                           for values in [base, *varied]])
        normalised = median_normalise(clean, mask).flux
        changes[i] = (normalised[1:] - normalised[:1])[:, mask].abs().amax(dim=1).numpy() / sigma
    return FactorSensitivity(labels=tuple(labels), change_in_sigma=np.median(changes, axis=0))
