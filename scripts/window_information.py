"""Which stretch of the HARPS range carries most information about the stellar labels (run by hand).

For a sample of synthetic stars, renders noiseless spectra on the 0.04 Å grid (factor 4) and again with
one label nudged (Teff +50 K, log g +0.1 dex, [Fe/H] +0.1 dex, RV +0.5 km/s). In every candidate window
of ``--pixels`` pixels each spectrum is divided by its median over the window's valid pixels, as
training does, and the Fisher information of a label is Σ (∂f/∂θ)² / σ² over the window's pixels, with
σ² per pixel the generator's own noise variance (photon and read noise after deblazing: the mean squared
difference of ``--draws`` noisy renders from the noiseless one, in the same normalisation). The window's
telluric depth (O₂ and H₂O lines at airmass 1.5) says whether BERV and airmass stay factors there.

``python scripts/window_information.py --stars 40 --json window_information.json``
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from scipy.ndimage import maximum_filter1d

from specae.spectra.grid import Grid
from specae.synth.survey import SyntheticConfig, SyntheticSurvey

NUDGES = {"teff": 50.0, "logg": 0.1, "feh": 0.1, "rv": 0.5}


def window_information(n_stars: int, n_pixels: int, stride_angstrom: float, draws: int = 8, seed: int = 0) -> dict:
    """Per window start (Å): Fisher information per label (median over stars) and the telluric depth."""
    grid = Grid(4)
    survey = SyntheticSurvey(SyntheticConfig(n_objects=n_stars, n_spectra=n_stars, seed=seed), grid)
    base = survey.render(np.arange(n_stars), noise=False).double()
    variance = torch.zeros_like(base)
    for draw in range(draws):  # the same stars, noise from other survey seeds
        noisy = SyntheticSurvey(SyntheticConfig(n_objects=n_stars, n_spectra=n_stars, seed=seed + 1 + draw), grid)
        noisy.__dict__["labels"] = survey.labels
        variance += (noisy.render(np.arange(n_stars)).double() - base) ** 2 / draws
    derivatives = {}
    for label, step in NUDGES.items():
        original = np.array(survey.labels[label], dtype=float)
        survey.labels[label][:] = original + step
        derivatives[label] = (survey.render(np.arange(n_stars), noise=False).double(), step)
        survey.labels[label][:] = original
    telluric = _telluric_transmission(grid)
    wavelength, valid = grid.wavelength, torch.from_numpy(grid.mask)
    starts = np.arange(wavelength[valid.numpy()].min(), wavelength[valid.numpy()].max() - n_pixels * 0.04,
                       stride_angstrom)
    rows = {}
    for start in starts:
        first = int(np.searchsorted(wavelength, start))
        window = slice(first, first + n_pixels)
        keep = valid[window]
        median = base[:, window][:, keep].median(dim=1).values[:, None]
        flux = base[:, window] / median
        noise = (variance[:, window] / median**2).clamp(min=1e-12)
        info = {}
        for label, (nudged, step) in derivatives.items():
            slope = (_normalised(nudged[:, window], keep) - flux) / step
            fisher = (slope**2 / noise * keep).sum(dim=1)
            info[label] = float(fisher.median())
        ratio = telluric[window][keep.numpy()]
        depth = 1.0 - ratio / maximum_filter1d(ratio, 251)  # line depth below the local (10 Å) extinction
        rows[f"{start:.0f}"] = dict(info, telluric_depth=float(depth.max(initial=0.0)))
    return rows


def _normalised(flux: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """(n, L) flux divided by each spectrum's median over the window's valid pixels."""
    median = flux[:, keep].median(dim=1).values
    return flux / median[:, None]


def _telluric_transmission(grid: Grid) -> np.ndarray:
    """(n_pixels,) flux at airmass 1.5 over flux without atmosphere, same star (its lines cancel)."""
    survey = SyntheticSurvey.single_star(grid, teff=9_500.0, logg=4.0, feh=0.0, vsini=300.0, airmass=1.5)
    with_atmosphere = survey.render([0], noise=False)[0].double()
    survey.labels["airmass"][:] = 1.0e-6
    without = survey.render([0], noise=False)[0].double()
    return (with_atmosphere / without.clamp(min=1e-9)).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stars", type=int, default=40)
    parser.add_argument("--pixels", type=int, default=8_192)
    parser.add_argument("--stride", type=float, default=25.0, help="Å between window starts")
    parser.add_argument("--draws", type=int, default=8, help="noisy renders that estimate each pixel's variance")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rows = window_information(args.stars, args.pixels, args.stride, args.draws)
    best = {label: max(float(row[label]) for row in rows.values()) for label in NUDGES}
    for start, row in rows.items():
        shares = " ".join(f"{label} {row[label] / best[label]:.2f}" for label in NUDGES)
        print(f"{start} Å: {shares}  telluric depth {row['telluric_depth']:.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(dict(stars=args.stars, pixels=args.pixels, draws=args.draws, nudges=NUDGES, windows=rows), handle,
                      indent=1)


if __name__ == "__main__":
    main()
