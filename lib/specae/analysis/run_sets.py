"""The runs a chapter compares: each model family at several latent sizes, and the main size over several
training seeds, read from the reference runs (or the run cache) or trained when missing.

A claim is judged once per seed (docs/decisions.md, *The study*): seed s uses the main size's run of seed s
and, at the other sizes, the runs of the first seed, which is what the study trains.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from specae.analysis.bottleneck import error_table, line_core_mask, pca_reconstructions, reconstruct
from specae.analysis.claims import COLLAPSE_KL_NATS
from specae.analysis.convergence import convergence
from specae.analysis.latents import one_per_star, usable
from specae.spectra.spectra_set import SpectraSet
from specae.training.loop import TrainResult
from specae.training.presets import Preset
from specae.training.run_cache import cached_train_many

FAMILIES = {"β-VAE": dict(variational=True), "deterministic": dict(variational=False)}  # name → overrides


@dataclass(frozen=True)
class RunSet:
    """runs: family → (latent size, seed) → run; main_size: the size trained over every seed; seeds: the
    training seeds, the first of which also trains the other sizes."""

    runs: dict[str, dict[tuple[int, int], TrainResult]]
    main_size: int
    seeds: tuple[int, ...]

    @property
    def sizes(self) -> list[int]:
        return sorted({size for family in self.runs.values() for size, _ in family})

    def cell(self, size: int, seed: int) -> tuple[int, int]:
        """The (size, training seed) of the run that judges ``seed``'s claims at ``size``: the main size trained
        with that seed, the other sizes with the first seed."""
        return size, seed if size == self.main_size else self.seeds[0]

    def by_size(self, family: str, seed: int | None = None) -> dict[int, TrainResult]:
        """Latent size → run of ``family`` that judges seed ``seed``'s claims (default: the first seed)."""
        seed = self.seeds[0] if seed is None else seed
        return {size: self.runs[family][self.cell(size, seed)] for size in self.sizes}

    def by_seed(self, family: str) -> dict[int, TrainResult]:
        """Seed → run of ``family`` at the main size."""
        return {seed: self.runs[family][(self.main_size, seed)] for seed in self.seeds}

    def converged(self, family: str | None = None) -> bool:
        """Whether every run (of ``family``, default all) meets the convergence criterion."""
        families = self.runs if family is None else {family: self.runs[family]}
        return all(convergence(run.history).converged for runs in families.values() for run in runs.values())


def train_run_set(preset: Preset, sizes: Sequence[int] = (), seeds: Sequence[int] = (0,), device: str = "auto",
                  data: SpectraSet | None = None, retrain: bool = False,
                  families: dict[str, dict] | None = None) -> RunSet:
    """Each family of ``families`` (default :data:`FAMILIES`) at each of ``sizes`` with the first seed, and at
    the preset's latent size with every seed of ``seeds``; reference runs are loaded unless ``retrain``, and
    the missing runs train side by side (:func:`~specae.training.run_cache.cached_train_many`)."""
    families = FAMILIES if families is None else families
    seeds = tuple(dict.fromkeys(seeds))
    if not seeds:
        raise ValueError("give at least one training seed, e.g. seeds=[0, 1, 2]")
    main = preset.model.latent_dim
    cells = sorted({(size, seeds[0]) for size in sizes} | {(main, seed) for seed in seeds})
    presets = [preset.with_overrides(latent_dim=size, seed=seed, **overrides)
               for overrides in families.values() for size, seed in cells]
    trained = iter(cached_train_many(presets, device=device, data=data, reference=not retrain))
    runs = {name: {cell: next(trained) for cell in cells} for name in families}
    return RunSet(runs=runs, main_size=main, seeds=seeds)


def errors_by_seed(runs: RunSet, data: SpectraSet, train, validation, pca_seed: int = 0) -> dict[int, dict]:
    """Seed → family → :func:`~specae.analysis.bottleneck.error_table` rows (one per size) of the usable
    spectra of ``validation``, for the runs that judge that seed's claims (:meth:`RunSet.cell`), plus "PCA":
    one nested PCA fitted on one spectrum per star of ``train`` (so that, like the balanced sampler, it weighs
    every training star equally), the same for every seed. Each run reconstructs the spectra once."""
    validation = usable(data, validation)
    target, mask, stars = data.flux[validation].numpy(), data.mask[validation].numpy(), data.object_ids[validation]
    cores = line_core_mask(target, mask)

    def row(size: int, reconstruction: np.ndarray) -> dict:
        return error_table({size: reconstruction}, target, mask, stars, cores)[0]

    rows = {(family, cell): row(cell[0], reconstruct(run.model, data, validation))
            for family, cells in runs.runs.items() for cell, run in cells.items()}
    pca = pca_reconstructions(data, one_per_star(data, train), validation, runs.sizes, pca_seed)
    pca_rows = [row(size, reconstruction) for size, reconstruction in pca.items()]
    return {seed: {**{family: [rows[(family, runs.cell(size, seed))] for size in runs.sizes] for family in runs.runs},
                   "PCA": pca_rows} for seed in runs.seeds}


def collapsed_sizes(by_size: dict[int, TrainResult]) -> list[int]:
    """The latent sizes (of size → β-VAE run) whose final validation KL is below :data:`COLLAPSE_KL_NATS`: the
    posterior has collapsed to the prior, so the code tells the decoder almost nothing about the spectrum."""
    return [size for size, run in by_size.items() if run.history[-1]["validation_kl"] < COLLAPSE_KL_NATS]
