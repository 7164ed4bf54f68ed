"""The first synthetic generator: determinism, labels, visibility and the physics it promises."""

import numpy as np
import pytest
import torch

from specae.grid import Grid
from specae.synthetic import SPEED_OF_LIGHT_KMS, SyntheticConfig, SyntheticSurvey, spectral_class_number


@pytest.fixture(scope="module")
def survey():
    return SyntheticSurvey(SyntheticConfig(n_objects=40, n_spectra=400, seed=3), Grid(40))


def test_spectrum_depends_only_on_seed_and_index(survey):
    alone = survey.render([17])
    in_batch = survey.render([3, 17, 250])
    assert torch.equal(alone[0], in_batch[1])
    again = SyntheticSurvey(SyntheticConfig(n_objects=40, n_spectra=400, seed=3), Grid(40)).render([17])
    assert torch.equal(alone, again)
    other_seed = SyntheticSurvey(SyntheticConfig(n_objects=40, n_spectra=400, seed=4), Grid(40)).render([17])
    assert not torch.equal(alone, other_seed)


def test_labels_table_has_units_and_heavy_tailed_visibility(survey):
    labels = survey.labels
    assert len(labels) == 400 and labels["teff"].unit == "K" and labels["rv"].unit == "km / s"
    n_obs = np.bincount(labels["object_id"])
    assert n_obs.min() >= 1 and n_obs.sum() == 400
    assert n_obs.max() >= 5 * np.median(n_obs)  # a few objects hold many spectra
    assert np.array_equal(labels["n_obs"], n_obs[labels["object_id"]])


def test_flux_is_zero_on_padding_and_ccd_gap(survey):
    flux = survey.render(np.arange(8))
    assert (flux[:, ~survey.grid.mask] == 0).all()
    assert (flux[:, survey.grid.mask] > 0).float().mean() > 0.99


def test_lines_move_with_radial_velocity():
    """Cross-correlate two noiseless-ish renderings of one star at different RVs: shift = λ·Δv/c."""
    config = SyntheticConfig(n_objects=1, n_spectra=2, seed=0, median_snr=2000.0)
    survey = SyntheticSurvey(config, Grid(1))
    survey.labels["rv"][:] = [0.0, 5.0]
    survey.labels["vsini"][:] = 2.0
    flux = survey.render([0, 1]).double()
    window = slice(200_000, 202_048)  # ≈ 5709–5730 Å
    a, b = (f[window] / f[window].median() for f in flux)
    lags = np.arange(-20, 21)
    cc = [float(torch.dot(a - 1, torch.roll(b, -lag) - 1)) for lag in lags]
    best = int(np.argmax(cc))
    # Parabolic refinement of the peak.
    offset = 0.5 * (cc[best - 1] - cc[best + 1]) / (cc[best - 1] - 2 * cc[best] + cc[best + 1])
    measured_px = lags[best] + offset
    expected_px = 5720.0 * 5.0 / SPEED_OF_LIGHT_KMS / 0.01  # ≈ 9.5 px
    assert measured_px == pytest.approx(expected_px, abs=0.1)


def test_metal_lines_deepen_toward_cool_stars():
    config = SyntheticConfig(n_objects=1, n_spectra=2, seed=0, median_snr=1000.0)
    survey = SyntheticSurvey(config, Grid(40))
    survey.labels["teff"][:] = [6_000.0, 4_500.0]
    flux = survey.render([0, 1])
    window = slice(6000, 6400)  # ≈ 6110–6270 Å, clear of the CCD gap
    # Mean line absorption below the local continuum (a pseudo equivalent width per pixel).
    absorption = [float(1 - f[window].mean() / f[window].quantile(0.95)) for f in flux]
    assert absorption[1] > absorption[0] + 0.02


def test_spectral_classes_follow_teff():
    assert spectral_class_number(np.array([3_000, 4_500, 5_800, 6_500, 9_000, 15_000, 35_000])).tolist() == [
        6, 5, 4, 3, 2, 1, 0]


def test_bad_survey_configuration_names_the_problem(survey):
    with pytest.raises(ValueError, match=r"n_spectra \(5\) must be ≥ n_objects \(10\)"):
        SyntheticConfig(n_objects=10, n_spectra=5)
    with pytest.raises(IndexError, match=r"must lie in \[0, 400\)"):
        survey.render([400])
