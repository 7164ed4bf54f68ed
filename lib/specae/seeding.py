"""Deterministic seeds for named random streams (the survey, its noise, the split, the weights, …).

Every seed is derived from a user seed, a :class:`Stream` and counters (epoch, step, spectrum index,
replicate, …). The stream is part of the derivation, so two streams never share a seed even when their
user seeds and counters are equal (with every default seed 0, the population draw, the initial weights,
epoch 1's sampler draws and spectrum 1's noise all used to start from the same seed).
"""

from __future__ import annotations

import enum

import numpy as np
import torch


class Stream(enum.IntEnum):
    """The random streams of the package; each value is used by exactly one kind of draw."""

    POPULATION = 1  # synth: the stars and the conditions of each observation
    SPECTRUM_NOISE = 2  # synth: photon and read noise, per spectrum index
    SPLIT = 3  # training: which stars are held out for validation
    WEIGHTS = 4  # training: the initial weights
    SAMPLER = 5  # training: the spectra drawn in each epoch
    VAE_NOISE = 6  # training: the β-VAE's ε, per step
    EVAL_VALIDATION = 7  # training: the validation subset measured after each epoch
    EVAL_TRAINING = 8  # training: the training subset measured like it
    MI_PAIR = 9  # analysis: the seed of one (label, node) pair of an MI table
    MI_JITTER = 10  # analysis: the KSG estimator's tie-breaking jitter
    MI_BOOTSTRAP = 11  # analysis: bootstrap (or subsample) replicates of an MI estimate
    MI_NULL = 12  # analysis: label permutations of the MI null distribution


def derive_seed(seed: int, stream: Stream, *counters: int) -> int:
    """A 63-bit seed for ``stream`` that depends only on ``seed``, the stream and ``counters``, stable
    across runs, machines and platforms."""
    if not isinstance(stream, Stream):
        raise TypeError(f"stream must be a specae.seeding.Stream, got {stream!r}")
    keys = (int(seed), int(stream), *(int(counter) for counter in counters))
    if any(key < 0 for key in keys):
        raise ValueError(f"seeds and counters must be non-negative integers, got seed {seed}, counters {counters}")
    state = np.random.SeedSequence(list(keys)).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(1))


def torch_generator(seed: int, stream: Stream, *counters: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch.Generator on ``device`` seeded with :func:`derive_seed` of ``seed``, ``stream`` and ``counters``."""
    return torch.Generator(device=device).manual_seed(derive_seed(seed, stream, *counters))
