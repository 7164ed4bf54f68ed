"""A learned velocity against the classical answer and the physical limit (issue 23, item 3).

On one spectrum per validation star, three velocity estimates of the same spectra: the Doppler-aware variant's v
(:mod:`specae.model.doppler_autoencoder`), the HARPS cross-correlation RV (:func:`specae.analysis.velocity.ccf_rv`)
and, as the floor, each spectrum's photon-noise limit (:func:`specae.analysis.velocity.synthetic_photon_noise_rv`).
A label-free velocity is defined up to one zero point (the template's), so each estimate is scored by its RMSE
about the true RV after removing **one global offset** (its mean residual), overall and per spectral class.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from specae.analysis.analysis_cache import cached_result, model_weights
from specae.analysis.velocity import ccf_rv, harps_mask, harps_mask_type
from specae.spectra.spectra_set import SpectraSet
from specae.synth.population import SPECTRAL_CLASSES
from specae.training.run_keys import generator_code_hash


@dataclass(frozen=True)
class VelocityScores:
    """RMSE (km/s) after one global offset of each estimate, the offset removed, and the spectra scored."""

    rmse: dict[str, float]
    offset: dict[str, float]
    n: int

    def ratio(self, estimate: str, reference: str) -> float:
        """How many times ``reference``'s RMSE ``estimate``'s is (e.g. learned over CCF)."""
        return self.rmse[estimate] / self.rmse[reference]


def rmse_after_offset(estimate: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """(RMSE about the truth after removing the mean residual, that mean) of estimates (n,) of ``true`` (n,)
    km/s; non-finite estimates (a failed CCF fit) are left out, and with fewer than two left both are NaN (one
    residual has no scatter about its own offset: nothing measured)."""
    estimate, true = np.asarray(estimate, dtype=np.float64), np.asarray(true, dtype=np.float64)
    if estimate.shape != true.shape:
        raise ValueError(f"estimates {estimate.shape} and true velocities {true.shape} must have one shape")
    residual = (estimate - true)[np.isfinite(estimate) & np.isfinite(true)]
    if residual.size < 2:
        return float("nan"), float("nan")
    offset = float(residual.mean())
    return float(np.sqrt(np.mean((residual - offset) ** 2))), offset


def score_velocities(true: np.ndarray, estimates: Mapping[str, np.ndarray]) -> VelocityScores:
    """Each estimate (name → (n,) km/s) scored against ``true`` (n,) km/s after its own global offset."""
    scored = {name: rmse_after_offset(values, true) for name, values in estimates.items()}
    return VelocityScores(rmse={name: value[0] for name, value in scored.items()},
                          offset={name: value[1] for name, value in scored.items()}, n=int(np.size(true)))


def scores_by_class(true: np.ndarray, estimates: Mapping[str, np.ndarray], classes: np.ndarray,
                    limit: np.ndarray | None = None) -> dict[object, dict[str, float]]:
    """Spectral class → each estimate's RMSE after the *global* offsets (one zero point for every class, as a
    survey would use it; key: the estimate's name) and about the class's own mean (its scatter alone; key: the
    name + ", own offset": the two differ by how far the class sits from the survey's zero point), the number of
    spectra and, given ``limit`` (n,) km/s, the class's median photon-noise limit; classes: (n,) each spectrum's
    class (e.g. the labels' ``spec_type_no``)."""
    true, classes = np.asarray(true, dtype=np.float64), np.asarray(classes)
    offsets = score_velocities(true, estimates).offset
    table: dict[object, dict[str, float]] = {}
    for kind in np.unique(classes):
        members = classes == kind
        row: dict[str, float] = {"spectra": float(members.sum())}
        for name, values in estimates.items():
            residual = np.asarray(values, dtype=np.float64)[members] - true[members] - offsets[name]
            residual = residual[np.isfinite(residual)]
            row[name] = float(np.sqrt(np.mean(residual**2))) if residual.size else float("nan")
            row[f"{name}, own offset"] = rmse_after_offset(np.asarray(values, dtype=np.float64)[members],
                                                          true[members])[0]
        if limit is not None:
            row["photon limit"] = float(np.median(np.asarray(limit, dtype=np.float64)[members]))
        table[kind.item() if hasattr(kind, "item") else kind] = row
    return table


SURVEY_VELOCITIES = np.arange(-200.0, 200.25, 0.5)  # km/s: the label-free CCF's grid, the survey's whole span
CCF_FIT_HALF_WIDTH_KMS = 20.0  # the Gaussian is fitted within this of the CCF's minimum (the DRS fits the dip)
CCF_MIN_CONTRAST = 0.02  # a shallower dip is a chance alignment of lines, not the star's (velocity.ccf_rv)


@torch.no_grad()
def learned_velocities(model, data: SpectraSet, indices, batch_size: int = 32, anchor_only: bool = False) -> np.ndarray:
    """(n,) km/s: the Doppler-aware model's velocity v of spectra ``indices`` (their masks given), on the CPU; with
    ``anchor_only``, its cross-correlation anchor alone (v without the learned correction δv)."""
    indices = np.asarray(indices, dtype=np.int64)
    model.eval()
    device = next(model.parameters()).device
    velocity = model.velocity_anchor if anchor_only else model.velocity
    parts = [velocity(data.flux[chunk].to(device)[:, None, :], data.mask[chunk].to(device)).double().cpu()
             for chunk in np.array_split(indices, max(1, -(-indices.size // batch_size)))]
    return torch.cat(parts).numpy() if parts else np.zeros(0)


def ccf_velocities(flux: np.ndarray, mask: np.ndarray, wavelength: np.ndarray, teff: np.ndarray,
                   velocities: np.ndarray = SURVEY_VELOCITIES) -> np.ndarray:
    """(n,) km/s: the HARPS DRS CCF RV of spectra ``flux`` (n, n_pix) with ``mask`` (n, n_pix), each with the mask
    of nearest ``teff`` (n,) K, on a velocity grid spanning the survey (no catalogue RV to centre it: label-free);
    NaN where no dip is found."""
    types = harps_mask_type(teff)
    rv = np.full(len(flux), np.nan)
    for kind in np.unique(types):
        members = np.flatnonzero(types == kind)
        lines, weights = harps_mask(str(kind), (float(wavelength[0]), float(wavelength[-1])))
        result = ccf_rv(flux[members], mask[members], wavelength, lines, weights, velocities,
                        fit_half_width_kms=CCF_FIT_HALF_WIDTH_KMS, min_contrast=CCF_MIN_CONTRAST, on_failure="nan")
        rv[members] = result.rv
    return rv


TARGET_CLASSES = "FGK"  # issue 23's velocity target: FGK validation stars …
TARGET_MIN_SNR = 50.0  # … with S/N ≥ 50, …
TARGET_RMSE_KMS = 1.0  # … an RMSE after one global offset ≤ 1 km/s (under half a pixel)
ANCHOR = ", anchor alone"  # a model's anchor velocities in a comparison: the model's name + this


@dataclass(frozen=True)
class VelocityComparison:
    """The velocity estimates of the same spectra: true (n,) RV, estimates name → (n,) km/s, each spectrum's
    photon-noise limit (n,) km/s, its spectral class letter (n,) and S/N (n,)."""

    true: np.ndarray
    estimates: dict[str, np.ndarray]
    limit: np.ndarray
    classes: np.ndarray
    snr: np.ndarray

    @property
    def target(self) -> np.ndarray:
        """(n,) bool: the spectra the target is judged on (FGK stars with S/N ≥ 50)."""
        return np.isin(self.classes, list(TARGET_CLASSES)) & (self.snr >= TARGET_MIN_SNR)

    def scores(self, subset: np.ndarray | None = None) -> VelocityScores:
        """Each estimate's RMSE after its own global offset, over ``subset`` (bool (n,); default every spectrum)."""
        keep = np.ones(self.true.size, dtype=bool) if subset is None else np.asarray(subset, dtype=bool)
        return score_velocities(self.true[keep], {name: values[keep] for name, values in self.estimates.items()})

    def target_reading(self, learned: Sequence[str]) -> str:
        """The target subset's numbers in a sentence: the ``learned`` estimates' RMSE (its range over seeds), the CCF's,
        and both against the median photon-noise limit; or why they cannot be measured here."""
        target = self.target
        scores = self.scores(target)
        values = [scores.rmse[name] for name in learned]
        ccf = scores.rmse["CCF"]
        where = f"FGK spectra with S/N ≥ {TARGET_MIN_SNR:g}"
        if not np.isfinite([*values, ccf]).all():
            found = int(np.isfinite(self.estimates["CCF"][target]).sum())
            return (f"not testable: {int(target.sum())} of the {self.true.size} spectra are {where}, and the "
                    f"cross-correlation measured {found} of them (every estimate needs two)")
        limit = float(np.median(self.limit[target]))
        rmse = (f"{values[0]:.2f} km/s" if len(values) == 1
                else f"{min(values):.2f}–{max(values):.2f} km/s over {len(values)} seeds")
        return (f"on the {int(target.sum())} {where}, the variant's v has an RMSE of {rmse} after one global offset "
                f"and the cross-correlation {ccf:.3f} "
                f"km/s; their median photon-noise limit is {limit * 1000:.1f} m/s, so the variant is "
                f"{max(values) / limit:.0f} times it and the cross-correlation {ccf / limit:.0f} times")

    def overall_reading(self, learned: str) -> str:
        """Every spectrum's numbers in a sentence: the ``learned`` estimate's RMSE and the CCF's where it finds a
        dip, each after its one global offset."""
        scores = self.scores()
        found = int(np.isfinite(self.estimates["CCF"]).sum())
        ccf = (f"the cross-correlation's {scores.rmse['CCF']:.2f} km/s on the {found} where it finds a dip"
               if np.isfinite(scores.rmse["CCF"]) else f"the cross-correlation finds a dip in {found} of them")
        variant = (f"{scores.rmse[learned]:.1f} km/s" if np.isfinite(scores.rmse[learned])
                   else "not measured (fewer than two velocities)")
        return f"over all {self.true.size} spectra the variant's RMSE is {variant}, and {ccf}"

    def correction(self, learned: str) -> dict[str, float]:
        """On the target spectra: the anchor alone's RMSE after its own offset, and the learned correction
        δv = v − v_anchor's median and scatter (standard deviation), km/s; the comparison must hold the anchors
        (``compare_velocities(..., anchors=True)``). A δv that barely varies is an offset, not a velocity."""
        target = self.target
        correction = self.estimates[learned][target] - self.estimates[learned + ANCHOR][target]
        correction = correction[np.isfinite(correction)]
        if correction.size < 2:  # as for an RMSE after one offset: one spectrum measures no scatter
            return {"anchor": float("nan"), "median": float("nan"), "scatter": float("nan")}
        return {"anchor": self.scores(target).rmse[learned + ANCHOR], "median": float(np.median(correction)),
                "scatter": float(np.std(correction))}

    def correction_reading(self, learned: str, bound_kms: float) -> str:
        """:meth:`correction` in a sentence beside v's own RMSE on the target spectra (δv's bound ``bound_kms``), or
        why it cannot be measured here."""
        parts = self.correction(learned)
        if not np.isfinite(parts["anchor"]):
            return (f"not testable: {int(self.target.sum())} of the {self.true.size} spectra are FGK spectra with "
                    f"S/N ≥ {TARGET_MIN_SNR:g} (a scatter needs two)")
        return (f"the anchor alone has an RMSE of {parts['anchor']:.3f} km/s against v's "
                f"{self.scores(self.target).rmse[learned]:.3f} km/s, and δv is {parts['median']:+.2f} km/s (its bound "
                f"is ±{bound_kms:g} km/s) with a scatter of {parts['scatter']:.3f} km/s over the spectra")

    def by_class(self) -> dict[object, dict[str, float]]:
        """:func:`scores_by_class` of every estimate, with the classes' median photon-noise limits."""
        return scores_by_class(self.true, self.estimates, self.classes, self.limit)


def compare_velocities(models: Mapping[str, torch.nn.Module], data: SpectraSet, indices, survey,
                       wavelength: np.ndarray, anchors: bool = False) -> VelocityComparison:
    """Every Doppler-aware model's v (name → model), the label-free HARPS CCF RV and the photon-noise limit of the
    spectra ``indices`` of ``data`` (rendered by the synthetic ``survey``, whose noise model gives the limit) on
    the grid ``wavelength`` (n_pix,) Å; with ``anchors``, each model's anchor alone as well (its name +
    :data:`ANCHOR`)."""
    from specae.analysis.velocity import synthetic_photon_noise_rv

    indices = np.asarray(indices, dtype=np.int64)
    labels = data.labels[indices]
    teff = np.asarray(labels["teff"], dtype=np.float64)
    flux, mask = data.flux[indices].numpy(), data.mask[indices].numpy()
    # Every estimate is cached (analysis_cache): the learned ones by the model's weights and the spectra, so a reference
    # run's velocities are the same on any CPU; the classical answer and the limit by the spectra alone.
    estimates = {name: cached_result("learned_velocities", dict(weights=model_weights(model), flux=flux, mask=mask),
                                     functools.partial(learned_velocities, model, data, indices))
                 for name, model in models.items()}
    if anchors:
        estimates |= {name + ANCHOR: cached_result("anchor_velocities",
                                                   dict(weights=model_weights(model), flux=flux, mask=mask),
                                                   functools.partial(learned_velocities, model, data, indices,
                                                                     anchor_only=True))
                      for name, model in models.items()}
    estimates["CCF"] = cached_result("ccf_velocities", dict(flux=flux, mask=mask, wavelength=wavelength, teff=teff),
                                     lambda: ccf_velocities(flux, mask, wavelength, teff))
    survey_key = dict(config=json.dumps(dataclasses.asdict(survey.config), sort_keys=True),
                      grid=np.asarray(survey.grid.wavelength), generator=generator_code_hash())
    limit = cached_result("photon_noise_rv", dict(survey=survey_key, indices=indices),
                          lambda: synthetic_photon_noise_rv(survey, indices))
    classes = np.array([SPECTRAL_CLASSES[int(number)] for number in labels["spec_type_no"]])
    return VelocityComparison(true=np.asarray(labels["rv"], dtype=np.float64), estimates=estimates, limit=limit,
                              classes=classes, snr=np.asarray(labels["snr"], dtype=np.float64))
