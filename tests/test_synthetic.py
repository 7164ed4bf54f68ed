"""The synthetic generator: determinism, population, and the physics each label promises.

Shifts are measured by cross-correlating noise-free spectra (parabolic peak refinement); S/N by
comparing a noisy rendering with its noise-free expectation.
"""

import numpy as np
import pytest
import torch
from astropy.io import fits

from specae.io.real_samples import sample_path
from specae.spectra.grid import Grid
from specae.spectra.quality import der_snr
from specae.synth.population import EARTH_ORBITAL_SPEED_KMS, MAX_AIRMASS
from specae.synth.survey import (
    ECHELLE_CONSTANT_ANGSTROM,
    SPEED_OF_LIGHT_KMS,
    SyntheticConfig,
    SyntheticSurvey,
    spectral_class_number,
)

FULL = Grid(1)


@pytest.fixture(scope="module")
def survey():
    return SyntheticSurvey(SyntheticConfig(n_objects=40, n_spectra=400, seed=3), Grid(40))


def controlled(n: int, **labels) -> SyntheticSurvey:
    """A one-star survey of ``n`` spectra on the full grid with the given labels (scalars or lists)."""
    defaults = dict(teff=5_770.0, logg=4.44, feh=0.0, vsini=2.0, rv=0.0, berv=0.0, airmass=1.0, pwv=2.0, snr=100.0)
    return SyntheticSurvey.single_star(FULL, n, **{**defaults, **labels})


def window(flux: torch.Tensor, start: float, stop: float) -> np.ndarray:
    """The flux between two wavelengths (Å), float64, divided by its median."""
    wavelength = FULL.wavelength
    part = flux.double().numpy()[(wavelength >= start) & (wavelength < stop)]
    return part / np.median(part)


def shift_pixels(reference: np.ndarray, moved: np.ndarray, max_lag: int = 150) -> float:
    """Shift (pixels) of ``moved`` relative to ``reference``: cross-correlation peak, parabola-refined."""
    a, b = reference - reference.mean(), moved - moved.mean()
    lags = np.arange(-max_lag, max_lag + 1)
    core = slice(max_lag, a.size - max_lag)
    cc = np.array([np.dot(a[core], b[max_lag + lag : a.size - max_lag + lag]) for lag in lags])
    best = int(np.argmax(cc))
    offset = 0.5 * (cc[best - 1] - cc[best + 1]) / (cc[best - 1] - 2 * cc[best] + cc[best + 1])
    return lags[best] + offset


def test_spectrum_depends_only_on_seed_and_index(survey):
    alone = survey.render([17])
    in_batch = survey.render([3, 17, 250])
    assert torch.equal(alone[0], in_batch[1])
    again = SyntheticSurvey(SyntheticConfig(n_objects=40, n_spectra=400, seed=3), Grid(40)).render([17])
    assert torch.equal(alone, again)
    other_seed = SyntheticSurvey(SyntheticConfig(n_objects=40, n_spectra=400, seed=4), Grid(40)).render([17])
    assert not torch.equal(alone, other_seed)


def test_population_is_harps_like(survey):
    labels = survey.labels
    assert len(labels) == 400 and labels["teff"].unit == "K" and labels["rv"].unit == "km / s"
    n_obs = np.bincount(labels["object_id"])
    assert n_obs.min() >= 1 and n_obs.sum() == 400
    assert n_obs.max() >= 5 * np.median(n_obs)  # a few objects hold many spectra
    assert np.array_equal(labels["n_obs"], n_obs[labels["object_id"]])
    assert np.all(np.abs(labels["berv"]) <= EARTH_ORBITAL_SPEED_KMS)
    assert labels["airmass"].min() >= 1.0 and labels["airmass"].max() <= MAX_AIRMASS
    # One object's observations share the star but not the night: BERV and airmass vary.
    busiest = labels[labels["object_id"] == np.argmax(n_obs)]
    assert np.ptp(busiest["teff"]) == 0 and np.ptp(busiest["berv"]) > 1.0 and np.ptp(busiest["airmass"]) > 0.01
    assert (np.asarray(labels["spec_type_no"]) == 4).any() and (np.asarray(labels["spec_type_no"]) == 6).any()


def test_flux_is_zero_on_padding_and_ccd_gap(survey):
    flux = survey.render(np.arange(8))
    assert (flux[:, ~survey.grid.mask] == 0).all()
    assert (flux[:, survey.grid.mask] > 0).float().mean() > 0.99


@pytest.mark.parametrize("rv", [-30.0, 5.0, 60.0])
def test_stellar_lines_move_by_lambda_v_over_c(rv):
    flux = controlled(2, rv=[0.0, rv]).render([0, 1], noise=False)
    start, stop = 5_040.0, 5_060.0  # no telluric lines here
    measured = shift_pixels(window(flux[0], start, stop), window(flux[1], start, stop))
    expected = (start + stop) / 2 * rv / SPEED_OF_LIGHT_KMS / FULL.step_angstrom
    assert measured == pytest.approx(expected, abs=0.05)


def test_telluric_lines_move_with_berv_not_with_rv():
    # A hot, fast-rotating star: its own lines are negligible in the O₂ B band, tellurics dominate.
    hot = dict(teff=30_000.0, vsini=250.0)
    flux = controlled(3, rv=[0.0, 40.0, 0.0], berv=[0.0, 0.0, 20.0], **hot).render([0, 1, 2], noise=False)
    start, stop = 6_868.0, 6_905.0
    base, new_rv, new_berv = (window(f, start, stop) for f in flux)
    assert 1 - base.min() > 0.3  # deep O₂ lines are there
    assert shift_pixels(base, new_rv) == pytest.approx(0.0, abs=0.05)
    expected = (start + stop) / 2 * 20.0 / SPEED_OF_LIGHT_KMS / FULL.step_angstrom
    assert shift_pixels(base, new_berv) == pytest.approx(expected, abs=0.05)


def test_telluric_optical_depth_scales_with_airmass():
    hot = dict(teff=30_000.0, vsini=250.0)
    flux = controlled(2, airmass=[1.0, 2.0], **hot).render([0, 1], noise=False)
    low, high = (window(f, 6_885.0, 6_895.0) for f in flux)
    deep = low < 0.8
    assert deep.sum() > 10
    np.testing.assert_allclose(np.log(high[deep]) / np.log(low[deep]), 2.0, rtol=0.03)  # continuum slope < 3 %


def test_measured_snr_on_continuum_matches_the_label():
    # A hot fast rotator has a clean continuum; measure at the centre of the échelle order at 5,500 Å.
    order = round(ECHELLE_CONSTANT_ANGSTROM / 5_500.0)
    centre = ECHELLE_CONSTANT_ANGSTROM / order
    survey = controlled(8, teff=12_000.0, vsini=200.0, snr=[30.0, 30.0, 30.0, 30.0, 120.0, 120.0, 120.0, 120.0])
    noisy, expected = survey.render(range(8)), survey.render(range(8), noise=False)
    part = (FULL.wavelength > centre - 2) & (FULL.wavelength < centre + 2)
    for group, snr in ((slice(0, 4), 30.0), (slice(4, 8), 120.0)):
        signal = expected[group][:, part].double()
        noise = (noisy[group][:, part] - expected[group][:, part]).double()
        measured = float(signal.mean() / noise.std())
        assert measured == pytest.approx(snr, rel=0.10)


def test_snr_is_lower_in_the_blue_for_cool_stars_and_at_order_edges():
    survey = controlled(2, teff=[3_400.0, 3_400.0], snr=50.0)
    noisy, expected = survey.render([0, 1]), survey.render([0, 1], noise=False)
    sigma = (noisy - expected).std(dim=0)
    blue = (FULL.wavelength > 4_000) & (FULL.wavelength < 4_100)
    red = (FULL.wavelength > 6_400) & (FULL.wavelength < 6_500)
    snr_blue = float(expected[0, blue].mean() / sigma[blue].mean())
    snr_red = float(expected[0, red].mean() / sigma[red].mean())
    assert snr_blue < snr_red / 3  # an M dwarf has little blue flux


def test_metal_lines_deepen_toward_cool_and_metal_rich_stars():
    flux = controlled(3, teff=[6_000.0, 4_500.0, 6_000.0], feh=[0.0, 0.0, 0.4]).render([0, 1, 2], noise=False)
    absorption = [float(1 - window(f, 6_110.0, 6_270.0).mean()) for f in flux]
    assert absorption[1] > absorption[0] + 0.02
    assert absorption[2] > absorption[0] * 1.3


def test_rotation_makes_lines_shallower_and_wider():
    flux = controlled(2, vsini=[2.0, 25.0]).render([0, 1], noise=False)
    slow, fast = (window(f, 5_040.0, 5_060.0) for f in flux)
    assert fast.min() > slow.min() + 0.2
    # The autocorrelation width of the line pattern grows with vsini.
    def width(x):
        a = x - x.mean()
        cc = np.correlate(a, a, mode="full")[a.size - 1 :]
        return int(np.argmax(cc < cc[0] / 2))
    assert width(fast) > 3 * width(slow)


def test_synthetic_sun_looks_like_a_real_g2_dwarf():
    """The calibrated G2 mask against the real ESPRESSO spectrum of HD 41248 (G2 V), 6,100–6,200 Å."""
    with fits.open(sample_path("HD41248_1_1_S1D_A.fits")) as hdus:
        rv = hdus[0].header["HIERARCH ESO QC CCF RV"]
        real_wave = np.asarray(hdus[1].data["wavelength_air"], np.float64).ravel()
        real_flux = np.asarray(hdus[1].data["flux"], np.float64).ravel()
    synthetic = controlled(1, rv=rv, vsini=2.0).render([0], noise=False)[0]
    part = (FULL.wavelength >= 6_100) & (FULL.wavelength < 6_200)
    ours = window(synthetic, 6_100, 6_200)
    theirs = np.interp(FULL.wavelength[part], real_wave, real_flux)
    theirs = theirs / np.median(theirs)
    assert np.corrcoef(ours, theirs)[0, 1] > 0.8
    assert np.percentile(ours, 5) == pytest.approx(np.percentile(theirs, 5), abs=0.1)  # deepest lines alike


def test_spectral_classes_follow_teff():
    assert spectral_class_number(np.array([3_000, 4_500, 5_800, 6_500, 9_000, 15_000, 35_000])).tolist() == [
        6, 5, 4, 3, 2, 1, 0]


def test_bad_survey_configuration_names_the_problem(survey):
    with pytest.raises(ValueError, match=r"n_spectra \(5\) must be ≥ n_objects \(10\)"):
        SyntheticConfig(n_objects=10, n_spectra=5)
    with pytest.raises(IndexError, match=r"must lie in \[0, 400\)"):
        survey.render([400])
    with pytest.raises(KeyError, match="unknown label 'temperature'"):
        SyntheticSurvey.single_star(FULL, temperature=5_000)


def test_der_snr_agrees_with_the_requested_snr_on_a_clean_continuum():
    """The estimator astronomers apply to real spectra, on 12 Å at an order centre, mean of 8 spectra
    (one 1,200-pixel window scatters by ≈ 5 %)."""
    order = round(ECHELLE_CONSTANT_ANGSTROM / 5_500.0)
    centre = ECHELLE_CONSTANT_ANGSTROM / order
    flux = controlled(8, teff=12_000.0, vsini=200.0, snr=60.0).render(range(8)).numpy()
    part = (FULL.wavelength > centre - 6) & (FULL.wavelength < centre + 6)
    assert np.mean([der_snr(f[part]) for f in flux]) == pytest.approx(60.0, rel=0.10)


def test_a_window_renders_the_whole_grids_spectrum_there():
    """The study's window (4,960–5,288 Å at 0.04 Å) renders what the whole 0.04 Å grid renders there, for
    every kind of star (M dwarfs with TiO bands, giants, hot rotators), within float32 rounding of the
    line sums (relative 1e-6; observed 3e-7): the window computes the same FFT segments as the whole grid."""
    config = SyntheticConfig(n_objects=40, n_spectra=60, seed=3)
    window = Grid.window(4960.0, 8192, 4)
    whole = SyntheticSurvey(config, Grid(4)).render(np.arange(0, 60, 4), noise=False)
    part = SyntheticSurvey(config, window).render(np.arange(0, 60, 4), noise=False)
    first = window.start_pixel // 4
    np.testing.assert_allclose(part.numpy(), whole[:, first : first + 8192].numpy(), rtol=1e-6, atol=0)


def test_the_cap_on_spectra_per_star_keeps_the_total_and_the_heavy_tail():
    """Capped at 2 % (200 of 10,000 spectra), no star exceeds the cap, every star keeps ≥ 1 spectrum, the
    total is unchanged and the tail stays heavy (the top 1 % of stars hold ≥ 10 % of the spectra)."""
    capped = SyntheticSurvey(SyntheticConfig(n_objects=2_000, n_spectra=10_000, max_spectra_per_object=200), FULL)
    n_obs = np.bincount(capped.object_ids)
    assert n_obs.sum() == 10_000 and n_obs.min() >= 1 and n_obs.max() == 200
    assert np.sort(n_obs)[-20:].sum() >= 1_000
    uncapped = np.bincount(SyntheticSurvey(SyntheticConfig(n_objects=2_000, n_spectra=10_000), FULL).object_ids)
    assert uncapped.max() > 200  # the cap is doing something for this seed
    with pytest.raises(ValueError, match="max_spectra_per_object=4 cannot hold 10000 spectra of 2000 objects"):
        SyntheticConfig(n_objects=2_000, n_spectra=10_000, max_spectra_per_object=4)


def test_rv_scale_multiplies_every_velocity_and_changes_nothing_else():
    """The RV-spread experiment's surveys (issue 23): the same stars and observations, velocities scaled."""
    from specae.synth.population import draw_population

    base = draw_population(40, 120, seed=3, median_snr=40.0)
    scaled = draw_population(40, 120, seed=3, median_snr=40.0, rv_scale=0.1)
    assert np.array_equal(np.asarray(scaled["rv"]), 0.1 * np.asarray(base["rv"]))
    for name in base.colnames:
        if name != "rv":
            assert np.array_equal(np.asarray(scaled[name]), np.asarray(base[name])), name
    assert np.array_equal(np.asarray(draw_population(40, 120, seed=3, median_snr=40.0, rv_scale=1.0)["rv"]),
                          np.asarray(base["rv"]))  # 1 is the draw, bit for bit
    with pytest.raises(ValueError, match="rv_scale must be a finite number > 0"):
        SyntheticConfig(n_objects=2, n_spectra=4, rv_scale=0.0)


def test_rv_scale_appears_in_a_configuration_only_when_set():
    from specae.training.presets import Preset, get_preset

    study, narrow = get_preset("study"), get_preset("study", rv_scale=0.1)
    assert "rv_scale" not in study.to_dict()["data"]["synthetic"]
    assert narrow.to_dict()["data"]["synthetic"]["rv_scale"] == 0.1 and narrow.config_hash() != study.config_hash()
    assert Preset.from_dict(narrow.to_dict()) == narrow and Preset.from_dict(study.to_dict()) == study


def test_the_first_spectra_are_those_of_the_whole_survey():
    from specae.training.datasets import load_first_spectra, load_synthetic
    from specae.training.presets import get_preset

    config = get_preset("smoke").data
    whole = load_synthetic(config)
    first, indices = load_first_spectra(config)
    assert len(first) == len(set(whole.object_ids)) == indices.size
    assert np.array_equal(first.object_ids, np.unique(whole.object_ids))
    assert torch.equal(first.flux, whole.flux[indices]) and torch.equal(first.mask, whole.mask[indices])
    assert np.array_equal(first.degenerate, whole.degenerate[indices])
