"""Scoring velocity estimates: one global offset removed, per class with the same zero point."""

import numpy as np
import pytest

from specae.analysis.velocity_comparison import rmse_after_offset, score_velocities, scores_by_class


@pytest.fixture(scope="module")
def fresh_variant():
    """The study preset's Doppler-aware variant, untrained, with its template fitted on 12 study-grid spectra:
    (preset, survey, spectra, model)."""
    import torch

    from specae.model.factory import build_model
    from specae.spectra.normalisation import median_normalise
    from specae.spectra.spectra_set import SpectraSet
    from specae.synth.survey import SyntheticConfig, SyntheticSurvey
    from specae.training.presets import get_preset

    preset = get_preset("study", velocity=True)
    survey = SyntheticSurvey(SyntheticConfig(n_objects=12, n_spectra=12, seed=4), preset.data.grid)
    normalised = median_normalise(survey.render(np.arange(12)), preset.data.grid.mask_tensor())
    data = SpectraSet(flux=normalised.flux, mask=normalised.mask, degenerate=normalised.degenerate,
                      labels=survey.labels)
    torch.manual_seed(0)
    model = build_model(preset.model, preset.data.grid)
    model.fit_template(data.flux, data.mask)
    return preset, survey, data, model


def test_a_constant_offset_costs_nothing_and_scatter_is_measured():
    rng = np.random.default_rng(0)
    true = rng.normal(0, 30, 1_000)
    noise = rng.normal(0, 0.5, 1_000)
    rmse, offset = rmse_after_offset(true + 3.0 + noise, true)
    assert offset == pytest.approx(3.0 + noise.mean()) and rmse == pytest.approx(noise.std(), rel=1e-12)
    failed = true + 3.0
    failed[:10] = np.nan  # a failed fit is left out, not counted as zero
    assert rmse_after_offset(failed, true) == pytest.approx((0.0, 3.0), abs=1e-9)
    assert np.isnan(rmse_after_offset(np.full(3, np.nan), np.zeros(3))).all()  # nothing measured: no number
    assert np.isnan(rmse_after_offset(np.array([np.nan, 2.0]), np.zeros(2))).all()  # one residual: no scatter
    with pytest.raises(ValueError, match="one shape"):
        rmse_after_offset(np.zeros(3), np.zeros(4))


def test_scores_and_classes_share_one_zero_point():
    true = np.array([0.0, 10.0, 20.0, 30.0])
    estimates = {"learned": true + np.array([1.0, 1.0, 3.0, 3.0]), "ccf": true + 0.5}
    scores = score_velocities(true, estimates)
    assert scores.rmse == {"learned": 1.0, "ccf": 0.0} and scores.offset == {"learned": 2.0, "ccf": 0.5}
    assert scores.n == 4 and scores.ratio("ccf", "learned") == 0.0
    by_class = scores_by_class(true, estimates, np.array([4, 4, 5, 5]), limit=np.array([0.1, 0.3, 0.2, 0.2]))
    # each class is off the global zero point by 1 km/s: a per-class offset would hide that, one survey-wide does not
    assert by_class == {4: {"spectra": 2.0, "learned": 1.0, "learned, own offset": 0.0, "ccf": 0.0,
                            "ccf, own offset": 0.0, "photon limit": 0.2},
                        5: {"spectra": 2.0, "learned": 1.0, "learned, own offset": 0.0, "ccf": 0.0,
                            "ccf, own offset": 0.0, "photon limit": 0.2}}  # each class is tight about its own mean


def test_the_label_free_ccf_finds_each_stars_velocity_anywhere_in_the_survey():
    """Noise-free FGK dwarfs on the study's grid at velocities across the survey's span: the CCF over the whole
    span with each star's own mask recovers them within 0.3 km/s (the method's zero points, tested in
    test_velocity.py, are below that for slow rotators)."""
    from specae.analysis.velocity_comparison import ccf_velocities
    from specae.synth.survey import SyntheticSurvey
    from specae.training.presets import get_preset

    grid = get_preset("study").data.grid
    rv = [-150.0, -20.0, 35.0, 120.0]
    survey = SyntheticSurvey.single_star(grid, n_spectra=4, seed=2, rv=rv, teff=[5_770, 5_200, 6_100, 4_800],
                                         vsini=2.0, logg=4.4)
    flux = survey.render(np.arange(4), noise=False).numpy()
    found = ccf_velocities(flux, np.broadcast_to(grid.mask, flux.shape), grid.wavelength,
                           np.asarray(survey.labels["teff"], dtype=float))
    assert np.abs(found - rv).max() < 0.3


def test_learned_velocities_do_not_depend_on_the_batch(fresh_variant):
    """The variant's v of a spectrum is its own: batches of 1 and of 32 agree within 1e-3 km/s (matrix products of
    other shapes round differently, which moves a parabola's peak on the study grid by far less than that). On the
    smoke grid, whose pixels are 180 km/s wide, no anchor is defined to that precision, so the study grid is used."""
    from specae.analysis.velocity_comparison import learned_velocities

    preset, survey, data, model = fresh_variant
    indices = np.arange(12)
    one_by_one = learned_velocities(model, data, indices, batch_size=1)
    assert one_by_one.shape == (12,) and np.isfinite(one_by_one).all()
    assert np.abs(learned_velocities(model, data, indices, batch_size=32) - one_by_one).max() < 1e-3


def test_the_comparison_scores_every_estimate_on_the_same_spectra_and_judges_fgk_at_high_snr(fresh_variant, tmp_path,
                                                                                             monkeypatch):
    """A fresh variant (its template fitted on the spectra) beside the CCF and the photon limit on 12 study-grid
    spectra: every estimate covers every spectrum, the CCF of noisy spectra at S/N ≈ 40 is within 1 km/s
    (its photon limits are tens of m/s), and the target subset is exactly the FGK spectra at S/N ≥ 50. A second
    comparison of the same model and spectra reads every estimate from the cache."""
    import specae.analysis.analysis_cache as analysis_cache
    import specae.analysis.velocity_comparison as velocity_comparison
    from specae.analysis.velocity_comparison import TARGET_MIN_SNR, compare_velocities

    monkeypatch.setenv("SPECAE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(analysis_cache, "COMMITTED_DIR", tmp_path / "committed")
    preset, survey, data, model = fresh_variant
    comparison = compare_velocities({"v": model}, data, np.arange(12), survey, preset.data.grid.wavelength)
    assert set(comparison.estimates) == {"v", "CCF"}
    assert all(values.shape == (12,) for values in comparison.estimates.values())
    assert np.array_equal(comparison.true, np.asarray(survey.labels["rv"], dtype=float))
    assert (comparison.limit > 0).all() and np.median(comparison.limit) < 0.2
    fgk = np.isin(comparison.classes, list("FGK"))
    assert np.array_equal(comparison.target, fgk & (comparison.snr >= TARGET_MIN_SNR))
    good = fgk & np.isfinite(comparison.estimates["CCF"])
    assert comparison.scores(good).rmse["CCF"] < 1.0
    assert set(comparison.by_class()) == set(comparison.classes)
    monkeypatch.setattr(velocity_comparison, "learned_velocities", lambda *args: pytest.fail("v computed again"))
    monkeypatch.setattr(velocity_comparison, "ccf_velocities", lambda *args: pytest.fail("CCF computed again"))
    again = compare_velocities({"v": model}, data, np.arange(12), survey, preset.data.grid.wavelength)
    assert all(np.array_equal(again.estimates[name], values, equal_nan=True)
               for name, values in comparison.estimates.items())


def test_a_fresh_variants_v_is_its_anchor(fresh_variant, tmp_path, monkeypatch):
    """The head δv starts at zero (zero-initialised), so a fresh variant's v is exactly its anchor; the comparison
    holds the anchors only when asked."""
    import specae.analysis.analysis_cache as analysis_cache
    from specae.analysis.velocity_comparison import ANCHOR, compare_velocities

    monkeypatch.setenv("SPECAE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(analysis_cache, "COMMITTED_DIR", tmp_path / "committed")
    preset, survey, data, model = fresh_variant
    comparison = compare_velocities({"v": model}, data, np.arange(12), survey, preset.data.grid.wavelength,
                                    anchors=True)
    assert set(comparison.estimates) == {"v", "v" + ANCHOR, "CCF"}
    assert np.array_equal(comparison.estimates["v"], comparison.estimates["v" + ANCHOR])
    assert np.isfinite(comparison.estimates["v" + ANCHOR]).all()


def test_the_correction_reads_how_much_the_head_adds_to_the_anchor_on_the_target_spectra():
    from specae.analysis.velocity_comparison import ANCHOR, VelocityComparison

    true = np.array([0.0, 10.0, 20.0, 30.0, 40.0])
    anchor = true + np.array([0.3, -0.3, 0.3, -0.3, 50.0])  # the last (off target) is far off: not read
    v = anchor + np.array([4.5, 4.7, 4.6, 4.6, -9.0])  # a near-constant δv: an offset, not a velocity
    comparison = VelocityComparison(true=true, estimates={"v": v, "v" + ANCHOR: anchor}, limit=np.full(5, 0.004),
                                    classes=np.array(list("GKFGA")), snr=np.full(5, 80.0))
    correction = comparison.correction("v")
    assert correction["anchor"] == pytest.approx(0.3)  # residuals ±0.3 about their mean, 0
    assert correction["median"] == pytest.approx(4.6) and correction["scatter"] == pytest.approx(np.sqrt(0.005))
    assert comparison.correction_reading("v", 5.0) == (
        "the anchor alone has an RMSE of 0.300 km/s against v's 0.255 km/s, and δv is +4.60 km/s "
        "(its bound is ±5 km/s) with a scatter of 0.071 km/s over the spectra")
    one = VelocityComparison(true=true, estimates={"v": v, "v" + ANCHOR: anchor}, limit=np.full(5, 0.004),
                             classes=np.array(list("GAAAA")), snr=np.full(5, 80.0))  # one target spectrum
    assert np.isnan(one.correction("v")["scatter"])
    assert one.correction_reading("v", 5.0) == ("not testable: 1 of the 5 spectra are FGK spectra with S/N ≥ 50 "
                                                "(a scatter needs two)")


def test_the_target_reading_gives_the_numbers_or_says_why_there_are_none():
    from specae.analysis.velocity_comparison import VelocityComparison

    true = np.array([0.0, 10.0, 20.0, 30.0, 40.0])
    comparison = VelocityComparison(
        true=true, estimates={"v0": true + np.array([1, -1, 1, -1, 0.0]), "CCF": true + 5.0},
        limit=np.full(5, 0.004), classes=np.array(list("GKFMG")), snr=np.array([60, 80, 55, 90, 20.0]))
    assert comparison.target.tolist() == [True, True, True, False, False]
    assert comparison.target_reading(["v0"]) == (
        "on the 3 FGK spectra with S/N ≥ 50, the variant's v has an RMSE of 0.94 km/s after one global offset and "
        "the cross-correlation 0.000 km/s; their median photon-noise limit is 4.0 m/s, so the variant is 236 times it "
        "and the cross-correlation 0 times")
    comparison.estimates["v1"] = true + np.array([2, -2, 2, -2, 0.0])  # a second seed, twice as far off
    assert comparison.target_reading(["v0", "v1"]).startswith(
        "on the 3 FGK spectra with S/N ≥ 50, the variant's v has an RMSE of 0.94–1.89 km/s over 2 seeds after one "
        "global offset")
    assert comparison.overall_reading("v0") == ("over all 5 spectra the variant's RMSE is 0.9 km/s, and the "
                                                "cross-correlation's 0.00 km/s on the 5 where it finds a dip")
    failed = VelocityComparison(true=true, estimates={"v0": true, "CCF": np.full(5, np.nan)}, limit=np.full(5, 0.004),
                                classes=np.array(list("GKFMG")), snr=np.full(5, 60.0))
    assert failed.target_reading(["v0"]) == ("not testable: 4 of the 5 spectra are FGK spectra with S/N ≥ 50, and the "
                                             "cross-correlation measured 0 of them (every estimate needs two)")
    assert failed.overall_reading("v0") == ("over all 5 spectra the variant's RMSE is 0.0 km/s, and the "
                                            "cross-correlation finds a dip in 0 of them")
