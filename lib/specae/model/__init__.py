"""The 1-D convolutional autoencoder of the authors' released code (deterministic or β-VAE), its loss,
and what a configuration costs and sees (:mod:`specae.model.report`, loaded on first use: it needs pandas)."""

from specae.model.autoencoder import (
    AutoencoderConfig,
    AutoencoderOutput,
    LossTerms,
    SpectrumAutoencoder,
    layer_table,
    masked_l1_kl_loss,
    paper_architecture,
)

_REPORT = ("VELOCITY_REFERENCE_ANGSTROM", "cost_by_part", "flops_per_spectrum", "layer_shapes",
           "measured_receptive_field", "meta_model", "positions_seeing", "receptive_field", "velocity_width_km_s")

__all__ = ["AutoencoderConfig", "AutoencoderOutput", "LossTerms", "SpectrumAutoencoder", "layer_table",
           "masked_l1_kl_loss", "paper_architecture", *_REPORT]


def __getattr__(name: str):
    """The report's names, imported when first asked for, so that ``import specae`` does not load pandas."""
    if name in _REPORT:
        from specae.model import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
