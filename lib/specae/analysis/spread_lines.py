"""Does the released family draw narrow lines when they barely move? (issue 23, chapter 08)

The RV-spread surveys differ from the study's only in how far their lines move (``rv_scale``). On each, the
line-core error (:func:`~specae.analysis.bottleneck.line_core_mask`) of a run's reconstructions (z = μ) and of
PCA's, on the first spectrum of every validation star: a decoder that cannot move a line draws the lines of a
survey whose lines stay within their own width and loses them as the spread grows (the decoder probe's rest frame
against observed, `docs/decisions.md`), while PCA, fitted on each survey's own training stars, is the reference on
the same spectra. Both are cached like the RV-spread points, by the model's weights and the survey's fingerprint,
so a reference run's numbers are read from the committed analyses without rendering its survey.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from specae.analysis.analysis_cache import cached_result, model_weights
from specae.analysis.bottleneck import line_core_mask, masked_l1, pca_reconstructions, reconstruct
from specae.analysis.latents import usable
from specae.analysis.rv_spread import rendered_first
from specae.model.autoencoder import SpectrumAutoencoder
from specae.spectra.spectra_set import SpectraSet
from specae.training.presets import DataConfig
from specae.training.run_keys import data_fingerprint

FirstSpectra = Callable[[], tuple[SpectraSet, np.ndarray]]


def survey_line_cores(model: SpectrumAutoencoder, survey: DataConfig, validation_objects,
                      first_spectra: FirstSpectra | None = None) -> float:
    """``model``'s line-core error (masked L1 over the line cores) on the first usable spectrum of every star of
    ``survey`` in ``validation_objects`` (their object ids). first_spectra: as for
    :func:`~specae.analysis.rv_spread.survey_point` (default: render the survey's first spectra)."""

    def compute() -> float:
        spectra, validation, _ = _first_of_each_star(survey, validation_objects, first_spectra)
        return _core_error(reconstruct(model, spectra, validation), spectra, validation)

    inputs = dict(weights=model_weights(model), survey=data_fingerprint(survey),
                  validation=np.asarray(validation_objects))
    return cached_result("survey_line_cores", inputs, compute)


def survey_pca_line_cores(survey: DataConfig, validation_objects, size: int,
                          first_spectra: FirstSpectra | None = None, seed: int = 0) -> float:
    """The same error for a PCA of ``size`` components fitted on the first usable spectrum of every other star of
    ``survey`` (its training stars, one spectrum each, as chapter 04's PCA)."""

    def compute() -> float:
        spectra, validation, train = _first_of_each_star(survey, validation_objects, first_spectra)
        return _core_error(pca_reconstructions(spectra, train, validation, [size], seed)[size], spectra, validation)

    inputs = dict(survey=data_fingerprint(survey), validation=np.asarray(validation_objects), size=size, seed=seed)
    return cached_result("survey_pca_line_cores", inputs, compute)


def _core_error(drawn: np.ndarray, spectra: SpectraSet, indices: np.ndarray) -> float:
    """Masked L1 of ``drawn`` (n, n_pix) against spectra ``indices`` over their line cores."""
    target, mask = spectra.flux[indices].numpy(), spectra.mask[indices].numpy()
    return masked_l1(drawn, target, line_core_mask(target, mask))


def _first_of_each_star(survey: DataConfig, validation_objects,
                        first_spectra: FirstSpectra | None) -> tuple[SpectraSet, np.ndarray, np.ndarray]:
    """The survey's first spectra, and the indices in them of the validation stars' usable ones and the others'."""
    spectra, indices = first_spectra() if first_spectra is not None else rendered_first(survey)
    indices = usable(spectra, indices)
    held = np.isin(spectra.object_ids[indices], np.asarray(validation_objects))
    if not held.any() or held.all():
        raise ValueError(f"{int(held.sum())} of the survey's {indices.size} stars are validation stars; the line "
                         "cores need both validation stars and training stars (pass the run's validation objects)")
    return spectra, indices[held], indices[~held]
