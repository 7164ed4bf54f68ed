"""Study II's run states: a collapsed code is never converged; otherwise the convergence check decides."""

import numpy as np
import pytest

from specae.analysis.run_state import COLLAPSED, CONVERGED, UNCONVERGED, run_state


def _history(curve, kl=1.0):
    """A run of len(curve) epochs of 500 steps with this validation L1 and final validation KL."""
    return [{"step": 500 * (i + 1), "validation_reconstruction": value, "validation_kl": kl}
            for i, value in enumerate(curve)]


FLAT = [0.2, 0.1, 0.08, 0.07, 0.065, 0.0649, 0.0648, 0.0648, 0.0648, 0.0648]  # gains < 1 % after 80 %
FALLING = [0.2, 0.1, 0.08, 0.07, 0.065, 0.064, 0.063, 0.062, 0.058, 0.055]  # still falling 5 % late


@pytest.mark.parametrize("curve, kl, node_kl, state, words", [
    (FLAT, 2.0, [1.5, 0.5, 0.001], CONVERGED, "converged: last-20 % gain"),
    (FALLING, 2.0, [1.5, 0.5, 0.001], UNCONVERGED, "not converged: last-20 % gain"),
    (FLAT, 0.05, [0.04, 0.01, 0.0], COLLAPSED, "validation KL 0.050 nats (floor 0.1), 2 active units"),
    (FLAT, 0.12, [0.009, 0.009, 0.009], COLLAPSED, "0 active units (KL ≥ 0.01 nats)"),
    (FLAT, 0.05, [0.05, 0.0, 0.0], COLLAPSED, "1 active unit (KL"),
    (FLAT, 0.0, None, CONVERGED, "converged"),  # a deterministic model: no collapse check
])
def test_each_run_has_one_state_with_its_reason(curve, kl, node_kl, state, words):
    result = run_state(_history(curve, kl), None if node_kl is None else np.array(node_kl))
    assert result.state == state and words in result.reason
    record = result.to_dict()
    assert record["state"] == state and record["converged"] == result.convergence.converged
    assert (record["active_units"] is None) == (node_kl is None)


def test_a_collapsed_run_is_never_converged_whatever_its_curve():
    result = run_state(_history(FLAT, 0.001), np.zeros(4))
    assert result.convergence.converged and result.state == COLLAPSED


def test_a_written_run_records_its_state(tmp_path):
    """specae reference-runs writes each run's state into its manifest. A smoke β-VAE of 2 epochs collapses (its
    validation KL, 0.006 nats here, sits 16 × below the floor) while its curve passes the convergence check: its
    state is collapsed all the same. Its deterministic twin converges (a last-20 % gain of 0.22 % here, against
    the 1 % limit) and has no collapse check."""
    from specae import get_preset
    from specae.analysis.run_state import assess_run, collapsed_sizes
    from specae.training.reference_runs import write_reference_run
    from specae.training.run_cache import cached_train
    from specae.training.run_keys import trained_with

    states, results = {}, {}
    for variational in (True, False):
        preset = get_preset("smoke", epochs=2, n_spectra=48, n_objects=12, variational=variational)
        result = cached_train(preset, device="cpu", cache_dir=tmp_path / "cache", runs_dir=tmp_path / "runs")
        run = write_reference_run(f"smoke-{variational}", result, trained_with(result), tmp_path / "runs",
                                  state=assess_run(result))
        states[variational], results[variational] = run.manifest["run_state"], result
    assert states[True]["state"] == COLLAPSED and states[True]["converged"] and states[True]["active_units"] == 0
    assert "validation KL 0.006 nats (floor 0.1), 0 active units" in states[True]["reason"]
    assert states[False]["state"] == CONVERGED and states[False]["validation_kl"] is None
    assert collapsed_sizes({8: results[True]}) == [8]  # the same state, measured again from the run


def test_run_states_read_a_committed_runs_record_and_measure_any_other_run(tmp_path, monkeypatch):
    """A run loaded from runs/ takes the state its manifest records (no encoder pass); any other run is measured."""
    import importlib
    from types import SimpleNamespace

    from specae import get_preset
    from specae.training.run_cache import cached_train

    module = importlib.import_module("specae.analysis.run_state")  # the package's run_state is the function
    vae = cached_train(get_preset("smoke", epochs=2, n_spectra=48, n_objects=12), device="cpu", cache_dir=tmp_path)
    assert module.run_states([vae]) == {"vae8-beta1e-03-balanced-2ep-seed0 (smoke)": COLLAPSED}  # measured
    committed = SimpleNamespace(path=vae.checkpoint.parent, manifest={"run_state": {"state": "converged"}})
    monkeypatch.setattr(module, "find_reference_run", lambda preset: committed)
    assert module.run_states([vae]) == {"vae8-beta1e-03-balanced-2ep-seed0 (smoke)": CONVERGED}  # as recorded


def test_a_study_run_is_named_by_the_study_and_any_other_by_what_sets_it_apart():
    from specae import get_preset
    from specae.training.study_runs import run_name, study_preset

    assert run_name(study_preset("ae32-seed2")) == "ae32-seed2"
    assert run_name(study_preset("vae16-budget8x-seed0")) == "vae16-budget8x-seed0"
    assert run_name(get_preset("study", latent_dim=7)) == "vae7-beta1e-03-balanced-16ep-seed0 (study)"
    assert run_name(get_preset("smoke", variational=False, balanced=False)) == "ae8-uniform-2ep-seed0 (smoke)"
    assert run_name(study_preset("dvae4-budget2x-seed0")) == "dvae4-budget2x-seed0"
    assert run_name(study_preset("ae16-rv0.1-seed0")) == "ae16-rv0.1-seed0"
    smoke = {run_name(get_preset("smoke", **overrides)) for overrides in (
        {}, dict(velocity=True), dict(rv_scale=0.1), dict(velocity=True, rv_scale=0.1))}
    assert smoke == {"vae8-beta1e-03-balanced-2ep-seed0 (smoke)", "dvae8-beta1e-03-balanced-2ep-seed0 (smoke)",
                     "vae8-beta1e-03-balanced-rv0.1-2ep-seed0 (smoke)",
                     "dvae8-beta1e-03-balanced-rv0.1-2ep-seed0 (smoke)"}  # one name each: no run hides another
