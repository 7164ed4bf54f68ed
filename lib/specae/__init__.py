"""specae: convolutional autoencoders for HARPS spectra (Sedaghat et al. 2021, MNRAS 501, 6026)."""

__version__ = "0.1.0"

import warnings  # noqa: E402

# `python -m specae.train` (the torchrun entry) imports this package, which imports specae.train, before
# runpy executes the module as __main__; runpy then warns although only __main__'s main() runs. Harmless.
warnings.filterwarnings("ignore", message="'specae.train' found in sys.modules", category=RuntimeWarning)

from .autoencoder import (  # noqa: E402
    AutoencoderConfig,
    SpectrumAutoencoder,
    beta_schedule,
    layer_table,
    masked_l1_kl_loss,
    paper_architecture,
)
from .cache import CacheInfo, cache_info, cached_synthetic, cached_train, cached_train_many, run_key  # noqa: E402
from .data import SpectraSet, load_synthetic  # noqa: E402
from .fetch import FetchReport, fetch_products, read_product_ids  # noqa: E402
from .fits import HarpsSpectrum, read_spectrum, read_truth, write_adp  # noqa: E402
from .grid import Grid, place_on_grid  # noqa: E402
from .normalization import NormalisedSpectra, median_normalise  # noqa: E402
from .parameters import check_parameters  # noqa: E402
from .presets import PRESETS, DataConfig, Preset, TrainConfig, get_preset, preset_from_parameters  # noqa: E402
from .sampler import BalancedSampler, Split, object_disjoint_split, visibility_weights  # noqa: E402
from .store import IngestReport, SpectrumStore, ingest  # noqa: E402
from .synthetic import SyntheticConfig, SyntheticSurvey  # noqa: E402
from .train import TrainOptions, TrainResult, load_checkpoint, resolve_device, train  # noqa: E402

__all__ = [
    "AutoencoderConfig", "BalancedSampler", "CacheInfo", "DataConfig", "FetchReport", "Grid",
    "HarpsSpectrum", "IngestReport", "NormalisedSpectra", "PRESETS", "Preset", "SpectraSet",
    "SpectrumAutoencoder", "SpectrumStore", "Split", "SyntheticConfig", "SyntheticSurvey", "TrainConfig",
    "TrainOptions", "TrainResult", "beta_schedule", "cache_info", "cached_synthetic", "cached_train", "cached_train_many",
    "check_parameters", "fetch_products", "get_preset", "ingest",
    "layer_table", "load_checkpoint", "load_synthetic", "masked_l1_kl_loss", "median_normalise",
    "object_disjoint_split", "paper_architecture", "place_on_grid", "preset_from_parameters",
    "read_product_ids", "read_spectrum", "read_truth", "resolve_device", "run_key", "train",
    "visibility_weights", "write_adp",
]
