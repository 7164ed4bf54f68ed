"""Study II's run states, fixed before its runs (docs/decisions.md, *Study II: rules fixed before its runs*).

Each run is exactly one of *collapsed* (a β-VAE whose final validation KL is below
:data:`~specae.analysis.claims.COLLAPSE_KL_NATS` or that has no active unit, a node of validation KL ≥
:data:`~specae.analysis.claims.ACTIVE_UNIT_NATS`), *converged* (not collapsed, and
:func:`~specae.analysis.convergence.convergence` passes) or *unconverged*. A collapsed run is never converged,
whatever its loss curve does: a code that carries nothing can stop improving early.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from specae.analysis.claims import ACTIVE_UNIT_NATS, COLLAPSE_KL_NATS
from specae.analysis.convergence import Convergence, convergence
from specae.analysis.latents import node_kl
from specae.spectra.spectra_set import SpectraSet
from specae.training.loop import TrainResult
from specae.training.reference_runs import ReferenceRun, find_reference_run
from specae.training.run_cache import cached_train
from specae.training.study_runs import run_name

COLLAPSED, CONVERGED, UNCONVERGED = "collapsed", "converged", "unconverged"


@dataclass(frozen=True)
class RunState:
    """state: one of COLLAPSED, CONVERGED, UNCONVERGED; reason: why, in a few words; convergence: the check on the
    validation curve; validation_kl, active_units: the collapse check's numbers (None for a deterministic model)."""

    state: str
    reason: str
    convergence: Convergence
    validation_kl: float | None = None
    active_units: int | None = None

    def to_dict(self) -> dict:
        """The state as a manifest records it (plain JSON)."""
        check = self.convergence
        return {"state": self.state, "reason": self.reason, "converged": check.converged,
                "late_gain": None if np.isnan(check.late_gain) else float(check.late_gain),
                "final_excess": float(check.final_excess), "validation_kl": self.validation_kl,
                "active_units": self.active_units}


def run_state(history: list[dict], node_kl: np.ndarray | None = None) -> RunState:
    """The state of a run from its per-epoch ``history`` and, for a β-VAE, its nodes' validation KL
    (``node_kl``, (latent_dim,) nats, from :func:`~specae.analysis.latents.node_kl`; None for a deterministic
    model)."""
    check = convergence(history)
    kl, active = None, None
    if node_kl is not None:
        kl, active = float(history[-1]["validation_kl"]), int((np.asarray(node_kl) >= ACTIVE_UNIT_NATS).sum())
        if kl < COLLAPSE_KL_NATS or active == 0:
            reason = (f"collapsed: validation KL {kl:.3f} nats (floor {COLLAPSE_KL_NATS:g}), {active} active "
                      f"unit{'s' if active != 1 else ''} (KL ≥ {ACTIVE_UNIT_NATS:g} nats)")
            return RunState(COLLAPSED, reason, check, kl, active)
    return RunState(CONVERGED if check.converged else UNCONVERGED, str(check), check, kl, active)


def state_of(result: TrainResult) -> RunState:
    """The state of a finished run: its history and, for a β-VAE, its nodes' KL on its validation spectra."""
    if not result.preset.model.variational:
        return run_state(result.history)
    if not isinstance(result.data, SpectraSet):
        raise TypeError("the run's spectra are streamed: load them into memory (a SpectraSet) to measure the "
                        "nodes' KL for its collapse check")
    return run_state(result.history, node_kl(result.model, result.data, result.split.validation))


def assess_run(result: TrainResult) -> dict:
    """The state of a finished run as a manifest records it (:func:`state_of`, as plain JSON)."""
    return state_of(result).to_dict()


def collapsed_sizes(by_size: Mapping[int, TrainResult]) -> list[int]:
    """The latent sizes (of size → β-VAE run) whose run collapsed: its code tells the decoder almost nothing."""
    return [size for size, run in by_size.items() if state_of(run).state == COLLAPSED]


def recorded_state(run: ReferenceRun) -> dict:
    """The state of a committed reference run as its manifest records it, or, for a run written before Study II
    recorded states, measured from the loaded run."""
    return run.manifest.get("run_state") or assess_run(cached_train(run.preset, device="cpu"))


def run_states(results: Iterable[TrainResult]) -> dict[str, str]:
    """Run name (:func:`~specae.training.study_runs.run_name`) → state of each run: the state its committed
    manifest records when the run is a reference run, else measured (:func:`state_of`)."""
    states = {}
    for result in results:
        committed = find_reference_run(result.preset)
        if committed is not None and committed.path == result.checkpoint.parent and "run_state" in committed.manifest:
            states[run_name(result.preset)] = committed.manifest["run_state"]["state"]
        else:
            states[run_name(result.preset)] = state_of(result).state
    return states
