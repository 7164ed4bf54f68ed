"""Chapter 02's views of a preset's model: the summary table of what it costs and sees, and the hourglass figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import torch
from matplotlib.figure import Figure

from specae.model.autoencoder import AutoencoderConfig
from specae.model.report import flops_per_spectrum, grid_velocity_scale, layer_shapes, meta_model, receptive_field
from specae.training.presets import Preset


def architecture_summary(preset: Preset, device: str | torch.device = "cpu") -> pd.DataFrame:
    """One row per preset-level quantity, one column named after the preset (exact numbers).

    Velocities are c·Δλ/λ on the preset's own grid: the pixel width as a (low, high) range over the grid's
    valid wavelengths (red end, blue end), the rest at the grid's centre wavelength.
    Pass the result (or several, concatenated along columns) to :func:`format_summary` for display.
    """
    config, scale = preset.model, grid_velocity_scale(preset.data.grid)
    field = receptive_field(config, step_angstrom=scale["step_angstrom"], wavelength_angstrom=scale["centre_angstrom"])
    flops = flops_per_spectrum(config, device=device)
    n_channels, n_positions = config.bottleneck_shape
    values = {
        "pixels per spectrum": config.input_length,
        "pixel width (Å)": scale["step_angstrom"],
        "wavelengths covered (Å)": (scale["blue_angstrom"], scale["red_angstrom"]),
        "centre wavelength (Å)": scale["centre_angstrom"],
        "pixel width over the grid (km/s)": (scale["pixel_km_s_low"], scale["pixel_km_s_high"]),
        "pixel width at the centre (km/s)": scale["pixel_km_s"],
        "encoder convs": len(field["per_layer"]),
        "channels at the bottleneck": n_channels,
        "bottleneck (channels × positions)": f"{n_channels} × {n_positions}",
        "latent dimensions": config.latent_dim,
        "parameters": meta_model(config).n_parameters,
        "receptive field (px)": field["pixels"],
        "receptive field (Å)": field["angstrom"],
        "receptive field at the centre (km/s)": field["km_s"],
        "bottleneck position spacing (Å)": field["jump_angstrom"],
        "bottleneck position spacing at the centre (km/s)": field["jump_km_s"],
        "forward GFLOP per spectrum": flops["forward"] / 1e9,
        "training GFLOP per spectrum": flops["training"] / 1e9,
    }
    return pd.DataFrame({preset.name: pd.Series(values, dtype=object)}).rename_axis("quantity")


# Display format of each summary row (rows not listed are shown with str()); a (low, high) pair fills both fields.
SUMMARY_FORMATS = {
    "pixels per spectrum": "{:,}", "pixel width (Å)": "{:.2f}", "wavelengths covered (Å)": "{:,.0f}–{:,.0f}",
    "centre wavelength (Å)": "{:,.0f}", "pixel width over the grid (km/s)": "{:.2f}–{:.2f}",
    "pixel width at the centre (km/s)": "{:.2f}", "parameters": "{:,}", "receptive field (px)": "{:,}",
    "receptive field (Å)": "{:,.2f}", "receptive field at the centre (km/s)": "{:,.0f}",
    "bottleneck position spacing (Å)": "{:,.2f}", "bottleneck position spacing at the centre (km/s)": "{:,.0f}",
    "forward GFLOP per spectrum": "{:.4f}", "training GFLOP per spectrum": "{:.4f}",
}


def format_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The same table as strings at a fixed precision (thousands separators, rounded floats)."""
    def cell(quantity: str, value) -> str:
        form = SUMMARY_FORMATS.get(quantity, "{}")
        return form.format(*value) if isinstance(value, tuple) else form.format(value)

    return pd.DataFrame({column: [cell(str(quantity), value) for quantity, value in table[column].items()]
                         for column in table.columns}, index=table.index)


def plot_architecture(configs: dict[str, AutoencoderConfig]) -> Figure:
    """The hourglass: channels, length and values (channels × length) per layer, one panel per config.

    configs: panel title → configuration, drawn left to right.
    """
    fig, axes = plt.subplots(1, len(configs), figsize=(5.2 * len(configs), 4.2), layout="constrained",
                             squeeze=False)
    for ax, (title, config) in zip(axes[0], configs.items(), strict=True):
        shapes = layer_shapes(config)
        x = range(len(shapes))
        ax.fill_between(x, 1, shapes["values"], color="0.85", step="mid", label="values (channels × length)")
        ax.plot(x, shapes["length"], "o-", ms=3, color="tab:blue", label="length (samples)")
        ax.plot(x, shapes["channels"], "s-", ms=3, color="tab:orange", label="channels")
        code = shapes.index[shapes["layer"] == "μ"][0]
        ax.axvline(code, color="tab:red", lw=0.8, ls=":", label="code μ")
        ax.set_yscale("log")
        ax.set_xticks(list(x), shapes["layer"], rotation=90, fontsize=6)
        ax.set(xlim=(-0.5, len(shapes) - 0.5), ylim=(0.7, shapes["values"].max() * 3))
        ax.set_title(f"{title}\n{config.input_length:,} px, latent {config.latent_dim}, "
                     f"{meta_model(config).n_parameters:,} parameters", fontsize="medium")
    axes[0, 0].set_ylabel("count (log scale)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False, fontsize="small")
    return fig
