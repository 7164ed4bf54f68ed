"""Training: presets, the data a run reads, the balanced sampler and the object-disjoint split, the
loop (one process or several), checkpoints, and the run cache the chapters train through."""

from specae.training.balanced_sampler import BalancedSampler, visibility_weights
from specae.training.checkpoints import load_checkpoint
from specae.training.datasets import load_synthetic
from specae.training.devices import resolve_device
from specae.training.loop import TrainResult, train
from specae.training.options import TrainOptions
from specae.training.presets import PRESETS, DataConfig, Preset, TrainConfig, get_preset, preset_from_parameters
from specae.training.run_cache import CacheInfo, cache_info, cached_train
from specae.training.run_keys import run_key
from specae.training.run_sets import FAMILIES, RunSet, train_budget_runs, train_run_set
from specae.training.side_by_side import cached_train_many
from specae.training.split import Split, object_disjoint_split
from specae.training.survey_cache import cached_synthetic

__all__ = ["BalancedSampler", "CacheInfo", "DataConfig", "FAMILIES", "PRESETS", "Preset", "RunSet", "Split",
           "TrainConfig", "TrainOptions", "TrainResult", "cache_info", "cached_synthetic", "cached_train",
           "cached_train_many", "get_preset", "load_checkpoint", "load_synthetic", "object_disjoint_split",
           "preset_from_parameters", "resolve_device", "run_key", "train", "train_budget_runs", "train_run_set",
           "visibility_weights"]
