"""Checks of a chapter's papermill parameters: a bad value fails at the top of the chapter, before anything is
rendered or trained, with a message that names the parameter, the value given, the allowed range and the fix.

    from specae.book.parameters import check_parameters
    check_parameters(preset=preset, device=device, seed=seed, latent_sizes=latent_sizes)

Each chapter's parameters cell documents the same ranges in its comments.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeGuard

from specae.training.devices import DEVICE_CHOICES, is_device_name, resolve_device
from specae.training.presets import PRESETS

MAX_SEED = 2**32 - 1  # seeds feed numpy's and torch's generators, and are stored in 32-bit fields


def _is_int(value: object) -> TypeGuard[int]:  # numpy's integers too (numbers.Integral), not bool
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> TypeGuard[float]:  # finite: NaN and ±inf are no setting
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_seed(value: object) -> bool:
    return _is_int(value) and 0 <= value <= MAX_SEED


def _list_of(item: Callable[[object], bool]) -> Callable[[object], str | None]:
    """A check of a non-empty list (or tuple) of distinct items that each pass ``item``: the problem, or None."""

    def check(value: object) -> str | None:
        if not isinstance(value, (list, tuple)):
            return "not a list"
        if not value:
            return "the list is empty"
        bad = [entry for entry in value if not item(entry)]
        if bad:
            return f"{', '.join(map(repr, bad))} not allowed"
        repeated = sorted({entry for entry in value if list(value).count(entry) > 1})
        return f"{', '.join(map(repr, repeated))} given more than once" if repeated else None

    return check


def _one(item: Callable[[object], bool], optional: bool = False) -> Callable[[object], str | None]:
    """A check of a single value that passes ``item`` (or is None when ``optional``): the problem, or None."""
    return lambda value: None if (optional and value is None) or item(value) else "not allowed"


@dataclass(frozen=True)
class Rule:
    """What one parameter allows: ``problem`` gives what is wrong with a value (None: nothing), ``allowed`` the
    documented range and ``fix`` an example of a good value, as a reader would write it for papermill."""

    problem: Callable[[object], str | None]
    allowed: str
    fix: str


RULES = {
    "preset": Rule(_one(lambda v: isinstance(v, str) and v in PRESETS),
                   f"one of {', '.join(map(repr, sorted(PRESETS)))}", "-p preset study"),
    "device": Rule(_one(is_device_name), f"one of {', '.join(DEVICE_CHOICES)}", "-p device auto"),
    "seed": Rule(_one(_is_seed), f"an integer from 0 to {MAX_SEED}", "-p seed 0"),
    "latent_dim": Rule(_one(lambda v: _is_int(v) and v >= 1, optional=True),
                       "None (the preset's) or an integer ≥ 1", "-p latent_dim 16"),
    "latent_sizes": Rule(_list_of(lambda v: _is_int(v) and v >= 1),
                         "a non-empty list of distinct integers ≥ 1", '-y "latent_sizes: [4, 16]"'),
    "seeds": Rule(_list_of(_is_seed), f"a non-empty list of distinct integers from 0 to {MAX_SEED}",
                  '-y "seeds: [0, 1, 2]"'),
    "budgets": Rule(_list_of(lambda v: _is_int(v) and v >= 1),
                    "a non-empty list of distinct integers ≥ 1 (multiples of the preset's steps)",
                    '-y "budgets: [1, 2, 4, 8]"'),
    "variant_budget": Rule(_one(lambda v: _is_int(v) and v >= 1),
                           "an integer ≥ 1 (a multiple of the preset's steps)", "-p variant_budget 2"),
    "betas": Rule(_list_of(lambda v: _is_real(v) and v > 0),
                  "a non-empty list of distinct finite numbers > 0", '-y "betas: [1e-4, 1e-3, 1e-2]"'),
    "rv_scales": Rule(_list_of(lambda v: _is_real(v) and 0 < v < 1),
                      "a non-empty list of distinct numbers between 0 and 1, both excluded (narrower spreads than the "
                      "survey's own, which is always read)", '-y "rv_scales: [0.03, 0.1, 0.3]"'),
    "spread_seeds": Rule(_list_of(_is_seed), f"a non-empty list of distinct integers from 0 to {MAX_SEED}",
                         '-y "spread_seeds: [0]"'),
    "retrain": Rule(_one(lambda v: isinstance(v, bool)), "True or False", "-p retrain True"),
    "epochs": Rule(_one(lambda v: _is_int(v) and v >= 1, optional=True),
                   "None (the preset's) or an integer ≥ 1", "-p epochs 20"),
    "beta": Rule(_one(lambda v: _is_real(v) and v >= 0, optional=True),
                 "None (the preset's) or a finite number ≥ 0 (0: the deterministic model)", "-p beta 0.001"),
    "balanced": Rule(_one(lambda v: isinstance(v, bool)), "True or False", "-p balanced False"),
    "mad_threshold": Rule(_one(lambda v: _is_real(v) and v > 0), "a finite number > 0",
                          "-p mad_threshold 0.02"),
    "rv_bin_width": Rule(_one(lambda v: _is_real(v) and v > 0),
                         "a finite number > 0 (km/s)", "-p rv_bin_width 10"),
}


def bad_parameters(problems: list[str]) -> ValueError:
    """The error a chapter's set-up raises for ``problems`` (one "name = value: problem; allowed: …; fix: …" each)."""
    return ValueError("bad chapter parameter" + ("s" if len(problems) > 1 else "") + ": " + " | ".join(problems))


def check_parameters(**parameters: object) -> None:
    """Raise ValueError naming every parameter whose value is not allowed: its value, the problem, the allowed
    range and a fix. A ``device`` must also be available on this machine."""
    unknown = sorted(set(parameters) - set(RULES))
    if unknown:
        raise TypeError(f"no check for parameter(s) {unknown}; known: {sorted(RULES)}")
    problems = []
    for name, value in parameters.items():
        rule = RULES[name]
        problem = rule.problem(value)
        if problem is None and name == "device":
            try:
                resolve_device(str(value))
            except ValueError as unavailable:
                problem = f"not available here ({unavailable})"
        if problem is not None:
            problems.append(f"{name} = {value!r}: {problem}; allowed: {rule.allowed}; fix: {rule.fix}")
    if problems:
        raise bad_parameters(problems)
