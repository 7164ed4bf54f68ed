"""The runs a chapter compares: each model family at several latent sizes and training seeds, read from the
reference runs (or the run cache), trained side by side when missing.

Every (size, seed) cell is a run of its own (Study II trains three seeds of every configuration a verdict uses,
docs/decisions.md), so a claim judged for seed s reads seed s's runs at every size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from specae.spectra.spectra_set import SpectraSet
from specae.training.devices import resolve_device
from specae.training.feeds import RenderedSource
from specae.training.loop import TrainResult
from specae.training.presets import Preset
from specae.training.reference_runs import WEIGHTS_NAME, find_reference_run
from specae.training.side_by_side import cached_train_many

FAMILIES = {"β-VAE": dict(variational=True), "deterministic": dict(variational=False)}  # name → overrides


@dataclass(frozen=True)
class RunSet:
    """runs: family → (latent size, seed) → run, for every size and seed; main_size: the preset's own size;
    seeds: the training seeds, in the order asked (the first is the one a chapter shows)."""

    runs: dict[str, dict[tuple[int, int], TrainResult]]
    main_size: int
    seeds: tuple[int, ...]

    @property
    def sizes(self) -> list[int]:
        return sorted({size for family in self.runs.values() for size, _ in family})

    def by_size(self, family: str, seed: int | None = None) -> dict[int, TrainResult]:
        """Latent size → run of ``family`` trained with ``seed`` (default: the first seed)."""
        seed = self.seeds[0] if seed is None else seed
        return {size: self.runs[family][(size, seed)] for size in self.sizes}

    def by_seed(self, family: str, size: int | None = None) -> dict[int, TrainResult]:
        """Seed → run of ``family`` at latent size ``size`` (default: the main size)."""
        size = self.main_size if size is None else size
        return {seed: self.runs[family][(size, seed)] for seed in self.seeds}

    def all_runs(self, family: str | None = None) -> list[TrainResult]:
        """Every run (of ``family``, default all families)."""
        families = self.runs if family is None else {family: self.runs[family]}
        return [run for runs in families.values() for run in runs.values()]


def train_run_set(preset: Preset, sizes: Sequence[int] = (), seeds: Sequence[int] = (0,), device: str = "auto",
                  data: SpectraSet | None = None, retrain: bool = False,
                  families: dict[str, dict] | None = None) -> RunSet:
    """Each family of ``families`` (default :data:`FAMILIES`) at each of ``sizes`` and the preset's own latent
    size, with every seed of ``seeds``; reference runs are loaded unless ``retrain``, and the missing runs train
    side by side (:func:`~specae.training.side_by_side.cached_train_many`)."""
    families = FAMILIES if families is None else families
    seeds = tuple(dict.fromkeys(seeds))
    if not seeds:
        raise ValueError("give at least one training seed, e.g. seeds=[0, 1, 2]")
    main = preset.model.latent_dim
    cells = [(size, seed) for size in sorted({*sizes, main}) for seed in seeds]
    presets = [preset.with_overrides(latent_dim=size, seed=seed, **overrides)
               for overrides in families.values() for size, seed in cells]
    trained = iter(cached_train_many(presets, device=device, data=data, reference=not retrain))
    runs = {name: {cell: next(trained) for cell in cells} for name in families}
    return RunSet(runs=runs, main_size=main, seeds=seeds)


def train_budget_runs(preset: Preset, budgets: Sequence[int] = (1, 2, 4, 8), device: str = "auto",
                      data: SpectraSet | None = None, retrain: bool = False) -> dict[int, tuple[TrainResult, ...]]:
    """Budget → (β-VAE, deterministic) runs of ``preset`` trained for ``budget`` × its epochs, each with its own
    whole schedule (Study II's budget scaling); reference runs are loaded unless ``retrain``."""
    budgets = sorted(dict.fromkeys(budgets))
    if not budgets or any(isinstance(b, bool) or int(b) != b or b < 1 for b in budgets):
        raise ValueError(f"budgets must be integers ≥ 1 (multiples of the preset's steps), got {budgets}")
    presets = [preset.with_overrides(epochs=preset.train.epochs * budget, **overrides)
               for budget in budgets for overrides in FAMILIES.values()]
    trained = cached_train_many(presets, device=device, data=data, reference=not retrain)
    return {budget: tuple(trained[2 * i : 2 * i + 2]) for i, budget in enumerate(budgets)}


def runs_on_their_surveys(presets: Sequence[Preset], device: str = "auto", retrain: bool = False) -> list[TrainResult]:
    """The run of each preset, for presets whose surveys differ from the chapter's (e.g. the RV-spread
    experiment's): a committed reference run loads with its survey as a :class:`RenderedSource` (nothing rendered
    until a spectrum is asked for), so reading its model costs no survey; the others (all, when ``retrain``) train
    side by side from the run cache, each on its own rendered survey."""
    presets = list(presets)
    found = [None if retrain else find_reference_run(preset) for preset in presets]
    missing = [preset for preset, run in zip(presets, found, strict=True) if run is None]
    trained = iter(cached_train_many(missing, device=device, reference=False))
    results = []
    for preset, run in zip(presets, found, strict=True):
        if run is None:
            results.append(next(trained))
            continue
        model, history, split = run.load(str(resolve_device(device)))
        results.append(TrainResult(preset=preset, model=model, history=history, checkpoint=run.path / WEIGHTS_NAME,
                                   split=split, data=RenderedSource(preset.data), steps=run.manifest["steps"]))
    return results
