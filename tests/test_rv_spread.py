"""The RV-spread rule: flat windows near 3 km/s are H1, windows growing with the spread are H2."""

import pytest

from specae.analysis.rv_spread import H1, H2, INCONCLUSIVE, SpreadPoint, spread_answer


def _points(half_widths, spreads=(3.5, 10.4, 34.8), mi=0.8, null=0.05):
    return [SpreadPoint(scale, spread, mi, null, width)
            for scale, spread, width in zip((0.1, 0.3, 1.0), spreads, half_widths, strict=True)]


def test_the_rule_reads_the_slope_over_surveys_with_an_rv_node():
    assert spread_answer(_points([3.0, 3.2, 2.9])).answer == H1
    study = _points([3.0, 3.2, 2.9], spreads=(3.48, 10.44, 34.81))  # the × 0.1, 0.3 and 1 surveys' spreads
    assert spread_answer(study).answer == H1 and "over 3 runs of 3 surveys" in spread_answer(study).reason
    growing = spread_answer(_points([2.0, 6.0, 20.0]))
    assert growing.answer == H2 and growing.slope == pytest.approx(1.0, abs=0.01)  # ln 10 / ln(34.8 / 3.5)
    assert spread_answer(_points([3.0, 4.0, 5.0])).answer == H1  # slope 0.22, every width within × 2 of 3
    assert spread_answer(_points([3.0, 5.4, 9.8])).answer == INCONCLUSIVE  # slope 0.52: between the two rules
    flat_but_wide = spread_answer(_points([15.0, 15.5, 16.0]))
    assert flat_but_wide.answer == INCONCLUSIVE and "neither" in flat_but_wide.reason  # flat, far from 3 km/s
    no_node = spread_answer(_points([3.0, 3.2, 2.9], mi=0.04))
    assert no_node.answer == INCONCLUSIVE and no_node.reason.startswith("0 survey(s)")
    narrow = [SpreadPoint(0.03, 1.0, 0.8, 0.05, 1.0)] + _points([3.0, None, None])
    assert spread_answer(narrow).answer == INCONCLUSIVE  # 1 km/s is below the floor; one survey left
    unconverged = spread_answer(_points([2.0, 6.0, 20.0]), unconverged=["ae16-rv0.1-seed2"])
    assert unconverged.answer == INCONCLUSIVE and unconverged.reason.endswith("not converged: ae16-rv0.1-seed2")


def test_a_point_reads_the_rv_nodes_window_in_1_kms_bins(tmp_path, monkeypatch):
    """A planted node responding as v·exp(−v²/4σ²) with σ = 3 km/s (a first-order Doppler term of Gaussian lines)
    peaks at ±√2·σ = ±4.2 km/s: its window's half-width, read in 1 km/s bins, lies within a bin of that."""
    import numpy as np

    from specae.analysis.rv_spread import spread_point

    monkeypatch.setenv("SPECAE_CACHE", str(tmp_path))
    rng = np.random.default_rng(0)
    n = 2_000
    rv, teff = rng.normal(0, 10, n), rng.uniform(4_000, 7_000, n)
    mu = rng.normal(0, 0.001, (n, 6))
    mu[:, 2] = rv * np.exp(-rv**2 / 36) / 5 + rng.normal(0, 0.02, n)
    mu[:, 4] = (teff - 5_500) / 1_000 + rng.normal(0, 0.05, n)
    point = spread_point(mu, {"rv": rv, "teff": teff}, rv_scale=0.3)
    assert point.has_rv_node and point.spread_kms == pytest.approx(10, rel=0.05)
    assert abs(point.half_width_kms - np.sqrt(2) * 3) <= 1.0
    from specae.analysis.paper_comparison import compare_with_paper

    node = compare_with_paper(mu, {"rv": rv, "teff": teff}).nodes["rv"]  # C5's RV node and null, in full
    assert (point.mi, point.null) == (node.ksg, node.best_null)


def test_a_runs_point_is_read_back_by_its_weights_and_survey_without_rendering(tmp_path, monkeypatch):
    import numpy as np
    import torch

    import specae.analysis.analysis_cache as analysis_cache
    from specae.analysis.rv_spread import survey_point
    from specae.model.factory import build_model
    from specae.training.datasets import load_first_spectra
    from specae.training.presets import get_preset

    monkeypatch.setenv("SPECAE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(analysis_cache, "COMMITTED_DIR", tmp_path / "committed")
    preset = get_preset("smoke", rv_scale=0.3)
    torch.manual_seed(0)
    model = build_model(preset.model, preset.data.grid).eval()
    rendered = []

    def first_spectra():
        rendered.append(1)
        spectra, _ = load_first_spectra(preset.data)
        return spectra, np.arange(len(spectra))

    point = survey_point(model, preset.data, 0, first_spectra)
    assert rendered == [1] and point.rv_scale == 0.3
    assert survey_point(model, preset.data, 0, first_spectra) == point and rendered == [1]  # read, not rendered
    assert survey_point(model, preset.data, 0) == point  # nor rendered by default
    survey_point(model, get_preset("smoke", rv_scale=0.1).data, 0, first_spectra)  # another survey: computed
    assert rendered == [1, 1]
