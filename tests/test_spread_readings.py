"""The RV-spread experiment read on every run: own-survey runs first, each run's point beside its line cores,
PCA's on each survey once, and medians over seeds per survey."""

from types import SimpleNamespace

import numpy as np
import pytest

import specae.analysis.spread_readings as spread_readings
from specae.analysis.rv_spread import SpreadPoint
from specae.analysis.spread_readings import SpreadReadings, read_spread_surveys
from specae.training.presets import get_preset


def _run(scale: float, seed: int, family: str):
    """A stand-in run: its 'model' names it, its preset carries its survey."""
    return SimpleNamespace(model=(scale, seed, family), preset=get_preset("smoke", rv_scale=scale, seed=seed))


def test_every_run_is_read_in_order_with_its_line_cores_and_pca_once_per_survey(monkeypatch):
    config = get_preset("smoke")
    read_on = []

    def point(model, survey, seed, first_spectra=None):
        read_on.append(("point", survey.synthetic.rv_scale, first_spectra is not None))
        return SpreadPoint(survey.synthetic.rv_scale, 30.0 * survey.synthetic.rv_scale, 0.1 * seed, 0.05, None)

    def cores(model, survey, held_out, first_spectra=None):
        scale, seed, family = model
        return scale + seed / 100 + (family == "deterministic") / 1000

    def pca(survey, held_out, size, first_spectra=None):
        read_on.append(("pca", survey.synthetic.rv_scale, first_spectra is not None, size))
        return 10 * survey.synthetic.rv_scale

    monkeypatch.setattr(spread_readings, "survey_point", point)
    monkeypatch.setattr(spread_readings, "survey_line_cores", cores)
    monkeypatch.setattr(spread_readings, "survey_pca_line_cores", pca)
    families = ("β-VAE", "deterministic")
    own = {family: {seed: _run(1.0, seed, family) for seed in (0, 1, 2)} for family in families}
    spread = {(scale, seed, family): _run(scale, seed, family)
              for scale in (0.1, 0.03) for seed in (0, 1) for family in families}
    readings = read_spread_surveys(config, own, spread, np.array([1, 2]), lambda: None)
    assert [p.rv_scale for p in readings.points["β-VAE"]] == [1.0, 1.0, 1.0, 0.1, 0.1, 0.03, 0.03]
    assert readings.line_cores["deterministic"][:4] == pytest.approx([1.001, 1.011, 1.021, 0.101])
    assert readings.pca_cores == pytest.approx({1.0: 10.0, 0.1: 1.0, 0.03: 0.3})
    # The own survey is read on the first spectra given; the narrower ones render their own; PCA at the main size.
    assert read_on.count(("pca", 1.0, True, config.model.latent_dim)) == 1
    assert ("pca", 0.1, False, config.model.latent_dim) in read_on and len([r for r in read_on if r[0] == "pca"]) == 3
    assert ("point", 1.0, True) in read_on and ("point", 0.1, False) in read_on and ("point", 1.0, False) not in read_on
    assert readings.narrowest == 0.03 and readings.spreads == pytest.approx({1.0: 30.0, 0.1: 3.0, 0.03: 0.9})
    assert readings.median_cores("β-VAE", 1.0) == pytest.approx(1.01)  # seeds 0–2: 1.00, 1.01, 1.02
    assert readings.median_cores("deterministic", 0.03) == pytest.approx(0.036)  # seeds 0, 1: 0.031, 0.041
    by_spread = readings.pca_by_spread()  # spread (km/s) → PCA's error
    assert list(by_spread) == pytest.approx([30.0, 3.0, 0.9])
    assert list(by_spread.values()) == pytest.approx([10, 1, 0.3])
    rows = readings.rows()
    assert len(rows) == 14 and rows[-1]["model"] == "deterministic" and rows[-1]["PCA line cores"] == pytest.approx(0.3)
    assert rows[1]["MI (nats)"] == pytest.approx(0.1) and rows[1]["RV node"]  # seed 1: MI 0.1 beats the 0.05 null


def test_a_family_without_runs_on_a_survey_has_no_median():
    readings = SpreadReadings({"β-VAE": [SpreadPoint(1.0, 30.0, 0.2, 0.1, None)]}, {"β-VAE": [0.1]}, {1.0: 0.08})
    assert readings.median_cores("β-VAE", 1.0) == 0.1
    with pytest.raises(ValueError, match=r"no β-VAE run on the survey with velocities × 0.1 \(read: 1\)"):
        readings.median_cores("β-VAE", 0.1)
