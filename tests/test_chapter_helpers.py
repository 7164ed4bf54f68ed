"""The chapters' set-up and glue helpers: parameters choose the preset, values are glued in order, figures are
published and closed."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import myst_nb
import pandas as pd
import pytest

from specae.analysis.claims import check_c3
from specae.book import chapter
from specae.training.presets import get_preset


@pytest.fixture
def glued(monkeypatch):
    """The (name, value, display) of every glue call, in order."""
    calls = []
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: calls.append((name, value, display)))
    return calls


def test_set_up_chapter_applies_the_preset_overrides_and_only_checks_the_rest():
    preset = chapter.set_up_chapter(dict(preset="study", device="cpu", seed=3, latent_dim=None, beta=0.5,
                                         latent_sizes=[4, 16], mad_threshold=0.02))
    assert preset == get_preset("study", seed=3, beta=0.5)
    assert preset.model.latent_dim == get_preset("study").model.latent_dim  # None keeps the preset's value


def test_set_up_chapter_adds_the_fixed_overrides():
    preset = chapter.set_up_chapter(dict(preset="smoke", device="auto", seed=0), balanced=False)
    assert preset == get_preset("smoke", seed=0, balanced=False) and preset.data.balanced is False


def test_set_up_chapter_refuses_a_bad_parameter_before_building_anything():
    with pytest.raises(ValueError, match=r"seed = -1: not allowed; allowed: an integer from 0 to 4294967295"):
        chapter.set_up_chapter(dict(preset="study", device="cpu", seed=-1))


def test_a_chapter_that_holds_its_survey_in_memory_refuses_a_preset_whose_survey_does_not_fit():
    # 267,361 spectra × 327,680 px × 5 bytes (float32 flux, bool mask) = 408 GiB, far above the 4 GiB limit
    with pytest.raises(ValueError, match=r"preset = 'paper': its survey \(267,361 spectra × 327,680 px, 408 GiB\) does "
                                         r"not fit in the 4 GiB .*; allowed: 'smoke', 'study'; fix: -p preset study"):
        chapter.set_up_chapter(dict(preset="paper", device="cpu"), survey_in_memory=True)
    assert chapter.set_up_chapter(dict(preset="paper", device="cpu")).name == "paper"  # it only describes it
    assert chapter.set_up_chapter(dict(preset="study", device="cpu"), survey_in_memory=True).name == "study"


def test_set_up_chapter_shows_whole_sentences_only_when_asked():
    with pd.option_context("display.max_colwidth", 50):
        chapter.set_up_chapter(dict(preset="smoke", device="cpu", seed=0))
        assert pd.get_option("display.max_colwidth") == 50
        chapter.set_up_chapter(dict(preset="smoke", device="cpu", seed=0), whole_text=True)
        assert pd.get_option("display.max_colwidth") is None


def test_glue_values_glues_each_value_in_order_without_display(glued):
    chapter.glue_values({"n_grid": 327_680, "gap_start": 5303.64, "name": "HD 1"}, prefix="paper_")
    assert glued == [("paper_n_grid", 327_680, False), ("paper_gap_start", 5303.64, False),
                     ("paper_name", "HD 1", False)]


def test_glue_claim_glues_the_scorecard_row(glued):
    check = check_c3(train_error=0.020, validation_error=0.021)
    chapter.glue_claim(check)
    assert [name for name, _, _ in glued] == ["c3_paper", "c3_ours", "c3_tolerance", "c3_verdict"]
    assert glued[1][1] == check.ours and glued[3][1] == "✓" and not any(display for _, _, display in glued)


def test_glue_claim_glues_a_verdicts_reason_and_deciding_range_under_the_halfs_name(glued):
    import numpy as np

    from specae.analysis import LabelNode, PaperComparison
    from specae.analysis.claims import check_c5
    from specae.analysis.verdicts import judge

    def comparison(rv_mi):
        nodes = {"rv": LabelNode("rv", 3, rv_mi, 0.01, rv_mi, 0.01, True, best_null=0.05),
                 "teff": LabelNode("teff", 11, 1.5, 0.01, 1.5, 0.01, True, best_null=0.05)}
        return PaperComparison(np.array([3, 11]), nodes, table=None)

    checks = {seed: check_c5(comparison(mi), "rv") for seed, mi in enumerate((0.03, 0.04))}
    chapter.glue_claim(judge("C5 RV", checks, {"vae16-seed0": "converged", "vae16-seed1": "converged"}))
    values = {name: value for name, value, _ in glued}
    assert list(values) == [f"c5_rv_{field}" for field in ("paper", "ours", "tolerance", "verdict", "reason",
                                                            "deciding")]
    assert values["c5_rv_deciding"] == "MI of the RV node (nats): 0.03 … 0.04"
    assert values["c5_rv_verdict"] == "inconclusive" and "no budget scaling" in values["c5_rv_reason"]


def test_publish_figure_publishes_closes_and_returns_nothing(monkeypatch):
    published = []
    monkeypatch.setattr(chapter, "publish", lambda *args, **kwargs: published.append((args, kwargs)) or {"id": 1})
    figure = plt.figure()
    parameters = dict(preset="smoke")
    assert chapter.publish_figure(figure, "fig-test", parameters) is None
    assert published == [((figure, "fig-test", parameters, None), {"close": True})]
    plt.close(figure)
