"""specae: convolutional autoencoders for HARPS spectra (Sedaghat et al. 2021, MNRAS 501, 6026).

The package is layered; each layer imports only those listed before it:

* :mod:`specae.spectra`: the wavelength grid, its mask, median normalisation, sets of spectra;
* :mod:`specae.synth`: the synthetic HARPS-like survey with ground-truth labels;
* :mod:`specae.model`: the autoencoder and its loss;
* :mod:`specae.io`: real ESO products, the on-disk store, downloads;
* :mod:`specae.training`: presets, sampling, the loop, checkpoints, the run cache;
* :mod:`specae.analysis`: reconstruction, the latent analysis of the paper's §6, the claims;
* :mod:`specae.book`: what only the book's chapters use (figures, provenance, parameters).

The names below are the public API for scripts; the chapters import from the layer packages.
"""

from specae._version import __version__
from specae.io import (
    FetchReport,
    HarpsSpectrum,
    IngestReport,
    SpectrumStore,
    fetch_products,
    ingest,
    read_product_ids,
    read_spectrum,
    read_truth,
    write_adp,
)
from specae.model import AutoencoderConfig, SpectrumAutoencoder, layer_table, masked_l1_kl_loss, paper_architecture
from specae.spectra import Grid, NormalisedSpectra, SpectraSet, median_normalise, place_on_grid
from specae.synth import SyntheticConfig, SyntheticSurvey
from specae.training import (
    PRESETS,
    BalancedSampler,
    CacheInfo,
    DataConfig,
    Preset,
    Split,
    TrainConfig,
    TrainOptions,
    TrainResult,
    cache_info,
    cached_synthetic,
    cached_train,
    cached_train_many,
    get_preset,
    load_checkpoint,
    load_synthetic,
    object_disjoint_split,
    preset_from_parameters,
    resolve_device,
    run_key,
    train,
    train_run_set,
    visibility_weights,
)

__all__ = [
    "__version__", "AutoencoderConfig", "BalancedSampler", "CacheInfo", "DataConfig", "FetchReport", "Grid",
    "HarpsSpectrum",
    "IngestReport", "NormalisedSpectra", "PRESETS", "Preset", "SpectraSet", "SpectrumAutoencoder", "SpectrumStore",
    "Split", "SyntheticConfig", "SyntheticSurvey", "TrainConfig", "TrainOptions", "TrainResult", "cache_info",
    "cached_synthetic", "cached_train", "cached_train_many", "fetch_products", "get_preset", "ingest", "layer_table",
    "load_checkpoint", "load_synthetic", "masked_l1_kl_loss", "median_normalise", "object_disjoint_split",
    "paper_architecture", "place_on_grid", "preset_from_parameters", "read_product_ids", "read_spectrum",
    "read_truth", "resolve_device", "run_key", "train", "train_run_set", "visibility_weights", "write_adp",
]
