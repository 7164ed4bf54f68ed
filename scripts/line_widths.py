"""The study survey's line widths and velocity spread, for the RV-spread prediction (issue 23; docs/decisions.md).

A first-order Doppler term, spectrum(v) ≈ T + (v − v₀)·∂T/∂v, gives a node that responds to the velocity as the
cross-correlation of a line with its own derivative: for Gaussian lines of width σ that response is
v·exp(−v²/4σ²), monotonic only within ±√2·σ of v₀. This script measures σ as the width of each star's HARPS DRS
cross-correlation dip (:func:`specae.analysis.velocity.ccf_rv`, each star with the mask of nearest Teff; the dip's
σ is the lines' σ broadened by the 0.82 km/s holes, a 1 % effect), on one spectrum per FGK star with S/N ≥ 50, and
the spread of the survey's velocities. Writes a JSON results file.

    .venv/bin/python scripts/line_widths.py --json benchmarks/results/line_widths_study_2026-12-05.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from specae.analysis.latents import one_per_star
from specae.analysis.velocity import ccf_rv, harps_mask, harps_mask_type
from specae.training.presets import get_preset
from specae.training.survey_cache import cached_synthetic

FGK_TEFF = (3_900.0, 7_200.0)  # K: the DRS masks' F9…K5 types
MIN_SNR = 50.0
VELOCITY_HALF_SPAN = 30.0  # km/s around each star's RV: the CCF grid (0.25 km/s steps)


def percentiles(values: np.ndarray) -> dict[str, float]:
    return {f"p{p}": float(np.percentile(values, p)) for p in (5, 16, 50, 84, 95)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    preset = get_preset("study")
    data = cached_synthetic(preset.data)
    stars = one_per_star(data)
    labels = {name: np.asarray(data.labels[name], dtype=np.float64)[stars] for name in ("teff", "snr", "rv")}
    chosen = stars[(labels["teff"] > FGK_TEFF[0]) & (labels["teff"] < FGK_TEFF[1]) & (labels["snr"] >= MIN_SNR)]
    wavelength = preset.data.grid.wavelength
    types = harps_mask_type(np.asarray(data.labels["teff"], dtype=np.float64)[chosen])
    sigma, by_type = {}, {}
    for kind in sorted(set(types)):
        members = chosen[types == kind]
        lines, weights = harps_mask(kind, (float(wavelength[0]), float(wavelength[-1])))
        rv = np.asarray(data.labels["rv"], dtype=np.float64)[members]
        # one velocity grid per star, centred on its RV: a shared grid would have to span the whole survey
        for index, centre in zip(members, rv, strict=True):
            grid = np.round(centre) + np.arange(-VELOCITY_HALF_SPAN, VELOCITY_HALF_SPAN + 0.125, 0.25)
            result = ccf_rv(data.flux[index].numpy()[None], data.mask[index].numpy(), wavelength, lines, weights,
                            grid, fit_half_width_kms=20.0, min_contrast=0.02, on_failure="nan")
            sigma[int(index)] = float(result.sigma[0])
        values = np.array([sigma[int(i)] for i in members])
        by_type[kind] = {"stars": int(members.size), **percentiles(values[np.isfinite(values)])}
    widths = np.array([value for value in sigma.values() if np.isfinite(value)])
    rv_all = np.asarray(data.labels["rv"], dtype=np.float64)[stars]
    results = {
        "preset": "study", "stars": int(chosen.size), "fitted": int(widths.size), "min_snr": MIN_SNR,
        "teff_range_k": FGK_TEFF, "ccf_sigma_kms": percentiles(widths), "ccf_sigma_by_mask_kms": by_type,
        "predicted_half_window_kms": {key: float(np.sqrt(2) * value) for key, value in percentiles(widths).items()},
        "rv_one_per_star_kms": {"std": float(np.std(rv_all)), **percentiles(rv_all)},
    }
    print(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
