"""The 1-D convolutional autoencoder of the authors' released code (deterministic or β-VAE), its loss,
and what a configuration costs and sees (:mod:`specae.model.report`)."""

from specae.model.autoencoder import (
    AutoencoderConfig,
    AutoencoderOutput,
    LossTerms,
    SpectrumAutoencoder,
    layer_table,
    masked_l1_kl_loss,
    paper_architecture,
)

__all__ = ["AutoencoderConfig", "AutoencoderOutput", "LossTerms", "SpectrumAutoencoder", "layer_table",
           "masked_l1_kl_loss", "paper_architecture"]
