"""Checks of a chapter's papermill parameters: a bad value fails at the top of the chapter, saying what
is allowed, before anything is rendered or trained.

    from specae.book.parameters import check_parameters
    check_parameters(preset=preset, device=device, seed=seed, latent_sizes=latent_sizes)
"""

from __future__ import annotations

import numbers

from specae.training.devices import DEVICE_CHOICES, is_device_name
from specae.training.presets import PRESETS


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _preset(value):
    return None if value in PRESETS else f"choose one of {sorted(PRESETS)}"


def _device(value):
    return None if is_device_name(value) else f"use one of {', '.join(DEVICE_CHOICES)}"


def _seed(value):
    return None if _is_int(value) and value >= 0 else "use an integer ≥ 0"


def _optional(check):
    return lambda value: None if value is None else check(value)


def _positive_int(value):
    return None if _is_int(value) and value >= 1 else "use an integer ≥ 1"


def _non_negative(value):
    return None if _is_real(value) and value >= 0 else "use a number ≥ 0"


def _positive(value):
    return None if _is_real(value) and value > 0 else "use a number > 0"


def _flag(value):
    return None if isinstance(value, bool) else "use True or False"


def _sizes(value):
    ok = isinstance(value, (list, tuple)) and value and all(_is_int(size) and size >= 1 for size in value)
    return None if ok else ("use a non-empty list of integers ≥ 1, e.g. [4, 16] "
                            "(papermill: -y \"latent_sizes: [4, 16]\")")


def _seeds(value):
    ok = isinstance(value, (list, tuple)) and value and all(_is_int(seed) and seed >= 0 for seed in value)
    return None if ok else "use a non-empty list of integers ≥ 0, e.g. [0, 1, 2] (papermill: -y \"seeds: [0]\")"


def _betas(value):
    ok = isinstance(value, (list, tuple)) and value and all(_is_real(beta) and beta > 0 for beta in value)
    return None if ok else "use a non-empty list of numbers > 0, e.g. [1e-4, 1e-3, 1e-2]"


CHECKS = {
    "preset": _preset,
    "device": _device,
    "seed": _seed,
    "latent_dim": _optional(_positive_int),
    "latent_sizes": _sizes,
    "seeds": _seeds,
    "betas": _betas,
    "retrain": _flag,
    "epochs": _optional(_positive_int),
    "beta": _optional(_non_negative),
    "balanced": _flag,
    "mad_threshold": _positive,
    "rv_bin_width": _positive,
}


def check_parameters(**parameters) -> None:
    """Raise ValueError naming every parameter whose value is not allowed, and what is."""
    unknown = sorted(set(parameters) - set(CHECKS))
    if unknown:
        raise TypeError(f"no check for parameter(s) {unknown}; known: {sorted(CHECKS)}")
    problems = [f"{name} = {value!r}: {problem}" for name, value in parameters.items()
                if (problem := CHECKS[name](value)) is not None]
    if problems:
        raise ValueError("bad chapter parameter" + ("s" if len(problems) > 1 else "") + ": " + "; ".join(problems))
