"""Numbers the chapters glue into their text, gathered from library objects: name → value, in the order
the chapter glues them (``specae.book.chapter.glue_values`` glues such a mapping)."""

from __future__ import annotations

import pandas as pd

from specae.analysis.paper_comparison import (
    PAPER_INFORMATIVE_NODES,
    PAPER_LATENT_DIM,
    PAPER_MI_GMM,
    PAPER_MI_HISTOGRAM_40,
    PaperComparison,
)
from specae.io.fits import HarpsSpectrum
from specae.model.report import receptive_field
from specae.spectra.grid import CCD_GAP_INDICES, Grid, full_resolution_wavelength
from specae.training.presets import Preset


def grid_facts(grid: Grid, real: HarpsSpectrum) -> dict:
    """The grid's pixels (``n_grid``) and valid pixels (``n_valid``), the real product's pixels inside the
    analysis window (``n_window``), and the wavelengths (Å) where the CCD gap starts and stops."""
    gap = full_resolution_wavelength()[list(CCD_GAP_INDICES)]
    return {"n_grid": grid.n_pixels, "n_valid": int(grid.mask.sum()), "n_window": real.pixels_in_window(),
            "gap_start": float(gap[0]), "gap_stop": float(gap[1])}


def architecture_facts(summary: pd.DataFrame, preset: Preset) -> dict:
    """What chapter 02 says of a preset's network: pixels, receptive field, bottleneck, parameters, FLOPs.

    Velocities (km/s) are on the preset's own grid: ``pixel_km_s_low`` … ``pixel_km_s_high`` over its valid
    wavelengths ``blue_angstrom`` … ``red_angstrom``, the rest at its ``centre_angstrom``.
    summary: :func:`specae.book.model_figures.architecture_summary` tables side by side, one column per preset.
    """
    column = summary[preset.name]
    centre = float(column["centre wavelength (Å)"])
    field = receptive_field(preset.model, step_angstrom=preset.data.grid.step_angstrom, wavelength_angstrom=centre)
    n_channels, n_positions = preset.model.bottleneck_shape
    blue, red = column["wavelengths covered (Å)"]
    pixel_low, pixel_high = column["pixel width over the grid (km/s)"]
    return {
        "pixels": int(column["pixels per spectrum"]),
        "blue_angstrom": float(blue),
        "red_angstrom": float(red),
        "centre_angstrom": centre,
        "pixel_km_s_low": float(pixel_low),
        "pixel_km_s_high": float(pixel_high),
        "pixel_km_s": float(column["pixel width at the centre (km/s)"]),
        "convs": int(column["encoder convs"]),
        "bottleneck_channels": n_channels,
        "bottleneck_positions": n_positions,
        "flat": n_channels * n_positions,
        "latent_dim": int(column["latent dimensions"]),
        "parameters": int(column["parameters"]),
        "rf_px": int(column["receptive field (px)"]),
        "rf_angstrom": float(column["receptive field (Å)"]),
        "rf_km_s": float(column["receptive field at the centre (km/s)"]),
        "jump_px": field["jump"],
        "jump_angstrom": float(column["bottleneck position spacing (Å)"]),
        "jump_km_s": float(column["bottleneck position spacing at the centre (km/s)"]),
        "forward_gflop": float(column["forward GFLOP per spectrum"]),
        "training_gflop": float(column["training GFLOP per spectrum"]),
    }


def paper_latent_facts() -> dict:
    """The paper's §6 numbers: informative nodes, latent size, and the RV and Teff nodes' MI (nats) by a
    Gaussian mixture (with its error) and by 40-bin histograms."""
    facts: dict[str, float] = {"n_informative": len(PAPER_INFORMATIVE_NODES), "latent_dim": PAPER_LATENT_DIM}
    for name in ("rv", "teff"):
        facts |= {f"{name}_mi_gmm": PAPER_MI_GMM[name][0], f"{name}_mi_gmm_error": PAPER_MI_GMM[name][1],
                  f"{name}_mi_histogram": PAPER_MI_HISTOGRAM_40[name]}
    return facts


def label_node_facts(comparison: PaperComparison) -> dict:
    """Our node of each label (``rv_node`` …) and its KSG mutual information with the label and its error (nats)."""
    facts: dict[str, float] = {}
    for name, found in comparison.nodes.items():
        facts |= {f"{name}_node": found.node, f"{name}_mi_ksg": found.ksg, f"{name}_mi_ksg_error": found.ksg_error}
    return facts
