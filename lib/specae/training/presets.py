"""Named run configurations (``smoke``, ``study``, ``paper``) as frozen, hashable dataclasses.

A :class:`Preset` holds everything that determines a training run: the data (grid and synthetic
survey), the architecture and the optimisation. ``get_preset(name, **overrides)`` applies flat
overrides such as ``latent_dim=16`` or ``beta=0``; an unknown key is an error that lists the known
ones. ``Preset.config_hash()`` is a stable content hash, and ``Preset.to_dict()`` is what every
checkpoint stores.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from specae.model.autoencoder import AutoencoderConfig, paper_architecture
from specae.spectra.grid import N_PADDED_PIXELS, Grid
from specae.spectra.normalisation import DEFAULT_MEDIAN_THRESHOLD_ADU, MEDIAN_VARIANTS, MedianVariant
from specae.synth.survey import SyntheticConfig


@dataclass(frozen=True)
class DataConfig:
    """Where spectra come from and how they are prepared.

    grid_factor: pixels averaged per sample (1 = the paper's 327,680-sample grid).
    grid_start_pixel, grid_fine_pixels: the window of the padded 0.01 Å lattice the grid covers (first
    fine pixel and number of fine pixels; the default is the whole lattice).
    synthetic: the synthetic survey to draw.
    validation_fraction: fraction of *objects* held out for validation.
    split_seed: seed of the object-disjoint split.
    median_variant, median_threshold: median normalisation (see specae.spectra.normalisation).
    balanced: draw training spectra with visibility weights 1/n_obs (True) or uniformly (False).
    """

    grid_factor: int
    synthetic: SyntheticConfig
    grid_start_pixel: int = 0
    grid_fine_pixels: int = N_PADDED_PIXELS
    validation_fraction: float = 0.1
    split_seed: int = 42
    median_variant: MedianVariant = "valid_pixels"
    median_threshold: float = DEFAULT_MEDIAN_THRESHOLD_ADU
    balanced: bool = True

    def __post_init__(self):
        Grid(self.grid_factor, self.grid_start_pixel, self.grid_fine_pixels)  # validates the factor and the window
        if self.median_variant not in MEDIAN_VARIANTS:
            raise ValueError(f"median_variant must be one of {MEDIAN_VARIANTS}, got {self.median_variant!r}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")

    @property
    def grid(self) -> Grid:
        """The analysis grid of this data."""
        return Grid(self.grid_factor, self.grid_start_pixel, self.grid_fine_pixels)


LR_SCHEDULES = ("constant", "cosine", "cosine_hold", "cosine_hold10")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation.

    epochs: passes, each of ``samples_per_epoch`` draws (None: the number of training spectra).
    batch_size: spectra per step; learning_rate: Adam's (peak) step size.
    lr_schedule: "constant", or "cosine": linear warm-up over ``lr_warmup_steps`` to ``learning_rate``,
    then cosine decay to 2 % of it at the last configured step (so growing ``epochs`` on resume changes
    the decay of the steps still to come), or "cosine_hold": the same decay ending at 80 % of the steps,
    then held at 2 %, or "cosine_hold10": the same, decaying to and held at 10 % (Study II: the held
    tail, where convergence is judged, still trains; see specae.training.schedules).
    grad_clip: largest global gradient norm per step (0 = no clipping); guards the high peak step sizes
    of short schedules against the collapse to a flat output seen without it.
    beta: KL weight after warm-up (ignored by deterministic models); the weight is 0 before step
    ``beta_warmup_start`` and rises linearly to ``beta`` at ``beta_warmup_end``.
    seed: initial weights, sampler draws and VAE noise.
    """

    epochs: int
    batch_size: int
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    lr_warmup_steps: int = 0
    grad_clip: float = 0.0
    beta: float = 0.0
    beta_warmup_start: int = 0
    beta_warmup_end: int = 0
    seed: int = 0
    samples_per_epoch: int | None = None

    def __post_init__(self):
        if not isinstance(self.epochs, int) or self.epochs < 0:
            raise ValueError(f"epochs must be an integer ≥ 0, got {self.epochs!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {self.batch_size}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not isinstance(self.lr_warmup_steps, int) or self.lr_warmup_steps < 0:
            raise ValueError(f"lr_warmup_steps must be an integer ≥ 0, got {self.lr_warmup_steps!r}")
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip must be ≥ 0 (0 = off), got {self.grad_clip}")
        if self.beta < 0:
            raise ValueError(f"beta must be ≥ 0, got {self.beta}")
        if not 0 <= self.beta_warmup_start <= self.beta_warmup_end:
            raise ValueError(
                f"need 0 ≤ beta_warmup_start ≤ beta_warmup_end, got {self.beta_warmup_start}, {self.beta_warmup_end}"
            )
        if self.samples_per_epoch is not None and self.samples_per_epoch < 1:
            raise ValueError(f"samples_per_epoch must be ≥ 1 or None, got {self.samples_per_epoch}")


@dataclass(frozen=True)
class Preset:
    """A complete, hashable run configuration."""

    name: str
    data: DataConfig
    model: AutoencoderConfig
    train: TrainConfig

    def __post_init__(self):
        self.data.grid.check_length(self.model.input_length)

    def config_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of this configuration."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict:
        """Plain nested dict (JSON- and checkpoint-safe). A setting added after runs were committed
        (:data:`ADDED_LATER`) appears only when it differs from its default, so the configurations and hashes of
        the runs trained before it stay as they were."""
        d = dataclasses.asdict(self)
        for (*sections, key), default in ADDED_LATER.items():
            node = d
            for section in sections:
                node = node[section]
            if node[key] == default:
                del node[key]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Preset:
        """Inverse of :meth:`to_dict`."""
        data = dict(d["data"], synthetic=SyntheticConfig(**d["data"]["synthetic"]))
        model = dict(d["model"], **{k: tuple(d["model"][k]) for k in ("channels", "kernels", "strides")})
        return cls(name=d["name"], data=DataConfig(**data), model=AutoencoderConfig(**model),
                   train=TrainConfig(**d["train"]))

    def summary(self) -> dict:
        """The settings a reader checks first, as a flat dict (for tables in the book)."""
        return {
            "preset": self.name, "pixels per spectrum": self.model.input_length,
            "pixel width (Å)": self.data.grid.step_angstrom, "spectra": self.data.synthetic.n_spectra,
            "objects": self.data.synthetic.n_objects, "latent dimensions": self.model.latent_dim,
            "model": ("β-VAE" if self.model.variational else "deterministic")
            + (", Doppler-aware (not the paper's)" if self.model.velocity else ""), "β": self.train.beta,
            "epochs": self.train.epochs, "draws per epoch": self.train.samples_per_epoch or "the training set",
            "batch size": self.train.batch_size, "learning rate": self.train.learning_rate,
            "learning-rate schedule": f"{self.train.lr_schedule}, warm-up {self.train.lr_warmup_steps} steps",
            "gradient norm clip": self.train.grad_clip or "none",
            "β warm-up (steps)": f"{self.train.beta_warmup_start:,}–{self.train.beta_warmup_end:,}",
            "initial log σ² bias": "PyTorch default" if self.model.logvar_bias_init is None
            else self.model.logvar_bias_init,
            "balanced sampling": self.data.balanced,
            "seed": self.train.seed, "config hash": self.config_hash()[:12],
        }

    def with_overrides(self, **overrides) -> Preset:
        """A copy with flat overrides applied (see :data:`OVERRIDES` for the keys)."""
        unknown = sorted(set(overrides) - set(OVERRIDES))
        if unknown:
            raise ValueError(f"unknown override(s) {unknown}; known keys: {sorted(OVERRIDES)}")
        sections: dict[str, dict[str, Any]] = {"data": {}, "synthetic": {}, "model": {}, "train": {}}
        for key, value in overrides.items():
            section, field = OVERRIDES[key]
            sections[section][field] = tuple(value) if isinstance(value, list) else value
        if sections["model"].get("variational") is False and "beta" not in overrides:
            sections["train"]["beta"] = 0.0
        variational = sections["model"].get("variational", self.model.variational)
        if not variational and sections["train"].get("beta", self.train.beta) != 0:
            raise ValueError("a deterministic autoencoder (variational=False) has no KL term; set beta=0")
        synthetic = dataclasses.replace(self.data.synthetic, **sections["synthetic"])
        data = dataclasses.replace(self.data, synthetic=synthetic, **sections["data"])
        if "grid_factor" in sections["data"]:
            sections["model"].setdefault("input_length", data.grid.n_pixels)
        return Preset(name=self.name, data=data, model=dataclasses.replace(self.model, **sections["model"]),
                      train=dataclasses.replace(self.train, **sections["train"]))


# Settings added after reference runs were committed, with the default those runs were trained with.
ADDED_LATER = {("model", "init"): "default", ("model", "velocity"): False, ("model", "velocity_range_kms"): 200.0,
               ("model", "velocity_step_kms"): 1.0, ("model", "velocity_head_kms"): 5.0,
               ("data", "synthetic", "rv_scale"): 1.0}  # (section, …, field) → default

# Flat override key → (section, field).
OVERRIDES = {
    "grid_factor": ("data", "grid_factor"),
    "validation_fraction": ("data", "validation_fraction"),
    "split_seed": ("data", "split_seed"),
    "median_variant": ("data", "median_variant"),
    "median_threshold": ("data", "median_threshold"),
    "balanced": ("data", "balanced"),
    "n_objects": ("synthetic", "n_objects"),
    "rv_scale": ("synthetic", "rv_scale"),
    "n_spectra": ("synthetic", "n_spectra"),
    "data_seed": ("synthetic", "seed"),
    "median_snr": ("synthetic", "median_snr"),
    "latent_dim": ("model", "latent_dim"),
    "variational": ("model", "variational"),
    "init": ("model", "init"),
    "channels": ("model", "channels"),
    "kernels": ("model", "kernels"),
    "strides": ("model", "strides"),
    "velocity": ("model", "velocity"),
    "velocity_range_kms": ("model", "velocity_range_kms"),
    "velocity_step_kms": ("model", "velocity_step_kms"),
    "velocity_head_kms": ("model", "velocity_head_kms"),
    "epochs": ("train", "epochs"),
    "batch_size": ("train", "batch_size"),
    "learning_rate": ("train", "learning_rate"),
    "lr_schedule": ("train", "lr_schedule"),
    "lr_warmup_steps": ("train", "lr_warmup_steps"),
    "grad_clip": ("train", "grad_clip"),
    "beta": ("train", "beta"),
    "beta_warmup_start": ("train", "beta_warmup_start"),
    "beta_warmup_end": ("train", "beta_warmup_end"),
    "seed": ("train", "seed"),
    "samples_per_epoch": ("train", "samples_per_epoch"),
}


def _smoke() -> Preset:
    """Unit tests: 1,024 samples (3.2 Å pixels), 96 spectra, seconds on one CPU core."""
    return Preset(
        name="smoke",
        data=DataConfig(grid_factor=320, synthetic=SyntheticConfig(n_objects=24, n_spectra=96),
                        validation_fraction=0.25),
        model=AutoencoderConfig(input_length=1_024, channels=(8, 8, 16, 16, 32, 32), kernels=(7, 5, 5, 3, 3, 3),
                                strides=(2, 2, 2, 2, 2, 1), latent_dim=8, variational=True),
        train=TrainConfig(epochs=2, batch_size=16, learning_rate=1e-3, beta=1e-3, beta_warmup_start=0,
                          beta_warmup_end=6),
    )


STUDY_WINDOW_START_PIXEL = 125_088  # 4,959.99 Å: 4,959.99–5,287.66 Å holds Mg b and ends before the CCD gap


def _study() -> Preset:
    """The book's default: the paper's velocity resolution on a window, at a size that converges on a laptop.

    8,192 samples of 0.04 Å (2.2–2.4 km/s) over 4,960–5,288 Å, chosen for its information on Teff, log g,
    [Fe/H] and RV (docs/decisions.md, *The study*); 10,000 spectra of 2,000 stars, none with more than 2 %
    of them; 12 % of the stars held out. Study II's conditioning (docs/decisions.md, *Study II*): He-normal
    weights (the release imports Kaiming initialisation and never applies it) and a peak step size of 10⁻³,
    the conditioning screen's best cell whose runs converge. 8,000 steps: a warm-up, a cosine decay over 80 % of
    them to 10 % of the peak, and the last 20 % held there, still training, where the convergence check looks;
    the KL weight off for the first 1,000 steps and then raised over 2,000, as in the released schedule's β = 0
    phase; the β-VAE's log σ² head starts at −6, so that it starts as nearly the deterministic model.
    """
    return Preset(
        name="study",
        data=DataConfig(grid_factor=4, grid_start_pixel=STUDY_WINDOW_START_PIXEL, grid_fine_pixels=32_768,
                        synthetic=SyntheticConfig(n_objects=2_000, n_spectra=10_000, max_spectra_per_object=200),
                        validation_fraction=0.12),
        model=AutoencoderConfig(input_length=8_192, channels=(16, 16, 16, 32, 32, 32, 64, 64, 64, 64),
                                kernels=(7, 5, 5) + (3,) * 7, strides=(2,) * 9 + (1,), latent_dim=16, variational=True,
                                logvar_bias_init=-6.0, init="he_normal"),
        train=TrainConfig(epochs=16, samples_per_epoch=16_000, batch_size=32, learning_rate=1e-3,
                          lr_schedule="cosine_hold10", lr_warmup_steps=200, grad_clip=1.0, beta=1e-3,
                          beta_warmup_start=1_000, beta_warmup_end=3_000),
    )


def _paper() -> Preset:
    """The released architecture at the full 327,680-sample grid; optimisation as in a later re-analysis.

    β = 0.3 reached linearly over steps 50k → 100k, Adam 1e-3, batch 32: the settings of Cvrček,
    Romaniello et al.'s released code, proxies for the paper's own (see docs/decisions.md). The
    synthetic survey matches the released ID list in size (267,361 spectra) and is rendered on the fly
    at this scale; epochs × spectra ≈ the checkpoint's 1.5 M iterations.
    """
    return Preset(
        name="paper",
        data=DataConfig(grid_factor=1, synthetic=SyntheticConfig(n_objects=7_007, n_spectra=267_361),
                        validation_fraction=0.05),
        model=paper_architecture(latent_dim=128, variational=True),
        train=TrainConfig(epochs=182, batch_size=32, learning_rate=1e-3, beta=0.3,
                          beta_warmup_start=50_000, beta_warmup_end=100_000),
    )


PRESETS = {"smoke": _smoke, "study": _study, "paper": _paper}


def get_preset(name: str, **overrides) -> Preset:
    """The named preset with flat ``overrides`` applied, e.g. ``get_preset("study", latent_dim=8)``."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    preset = PRESETS[name]()
    return preset.with_overrides(**overrides) if overrides else preset


def preset_from_parameters(name: str, **parameters) -> Preset:
    """A notebook's parameters cell → preset: values left as None keep the preset's own setting."""
    return get_preset(name, **{key: value for key, value in parameters.items() if value is not None})
