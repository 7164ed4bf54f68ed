"""The velocity runs (issue 23; docs/decisions.md, *The velocity*): their names and configurations.

Each is the ``study`` preset with a few overrides, beside the study's runs (:mod:`specae.training.study_runs`):

* the Doppler-aware variant (not the paper's model: :mod:`specae.model.doppler_autoencoder`), a β-VAE trained for
  :data:`VARIANT_BUDGET` × the study's steps at every latent size of the study with seed 0 and at the main size with
  seeds 1 and 2 (``dvae<size>-budget2x-seed<seed>``), and once at the study's own steps (``dvae16-seed0``: the run
  that found 8,000 steps too few for it to converge, docs/decisions.md);
* the RV-spread experiment: the main configuration (β-VAE and deterministic, 16 latents) with seeds 0, 1 and 2 on
  surveys whose velocities are the study's times ``rv_scale`` (``vae16-rv<scale>-seed<seed>``,
  ``ae16-rv<scale>-seed<seed>``; the study's own runs are its ``rv_scale`` = 1).

:data:`VELOCITY_RUNS` lists them in training order: the first seed's RV-spread runs, the variant at the main size,
its other sizes and seeds, then the RV-spread runs' other seeds.
"""

from __future__ import annotations

from specae.training.presets import get_preset

MAIN_LATENT_DIM = get_preset("study").model.latent_dim  # the study's main size
VARIANT_SIZES = (2, 4, 8, 16, 32)
VARIANT_SEEDS = (0, 1, 2)
VARIANT_BUDGET = 2  # the variant's runs: 2 × the study's steps (at 1 ×, dvae16-seed0 had not converged)
RV_SCALES = (0.03, 0.1, 0.3)  # besides the study's 1: the velocities' spread × 0.03, 0.1 and 0.3
SPREAD_SEEDS = (0, 1, 2)  # every survey's main runs, with three seeds as the study's own (docs/decisions.md)


def variant_run_name(size: int, seed: int) -> str:
    """The name of the variant's reference run at ``size`` latents with ``seed`` (at :data:`VARIANT_BUDGET`)."""
    return f"dvae{size}-budget{VARIANT_BUDGET}x-seed{seed}"


def _runs() -> dict[str, dict]:
    """Run name → overrides of the study preset, in training order."""
    runs: dict[str, dict] = {}

    def spread_runs(seed: int) -> None:
        for scale in RV_SCALES:
            runs[f"vae{MAIN_LATENT_DIM}-rv{scale:g}-seed{seed}"] = dict(rv_scale=scale, seed=seed)
            runs[f"ae{MAIN_LATENT_DIM}-rv{scale:g}-seed{seed}"] = dict(rv_scale=scale, variational=False, seed=seed)

    runs[f"dvae{MAIN_LATENT_DIM}-seed0"] = dict(velocity=True)  # the study's budget: trained first
    spread_runs(SPREAD_SEEDS[0])
    variant = dict(velocity=True, epochs=get_preset("study").train.epochs * VARIANT_BUDGET)
    for size in sorted(VARIANT_SIZES, key=lambda size: size != MAIN_LATENT_DIM):
        runs[variant_run_name(size, 0)] = variant | ({} if size == MAIN_LATENT_DIM else dict(latent_dim=size))
    for seed in VARIANT_SEEDS[1:]:
        runs[variant_run_name(MAIN_LATENT_DIM, seed)] = variant | dict(seed=seed)
    for seed in SPREAD_SEEDS[1:]:
        spread_runs(seed)
    return runs


VELOCITY_RUNS: dict[str, dict] = _runs()
