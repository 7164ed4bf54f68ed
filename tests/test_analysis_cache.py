"""The analysis cache: a result is reused only for bit-identical inputs and the same analysis code."""

import pickle

import numpy as np
import pytest

from specae.analysis import analysis_cache
from specae.analysis.analysis_cache import cached_result, result_key


def test_a_result_is_reused_for_identical_inputs_and_computed_for_any_other(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"value": len(calls)}

    mu = np.arange(6.0).reshape(3, 2)
    first = cached_result("f", dict(mu=mu, seed=0), compute, tmp_path)
    assert cached_result("f", dict(mu=mu.copy(), seed=0), compute, tmp_path) == first == {"value": 1}
    mu_rounded = mu.copy()
    mu_rounded[0, 0] = np.nextafter(0.0, 1.0)  # one ulp: another CPU's rounding is another key
    assert cached_result("f", dict(mu=mu_rounded, seed=0), compute, tmp_path) == {"value": 2}
    assert cached_result("f", dict(mu=mu, seed=1), compute, tmp_path) == {"value": 3}
    assert cached_result("g", dict(mu=mu, seed=0), compute, tmp_path) == {"value": 4}
    assert cached_result("f", dict(mu=mu.astype(np.float32), seed=0), compute, tmp_path) == {"value": 5}  # dtype
    assert len(calls) == 5


def test_the_key_follows_the_analysis_code_and_a_broken_entry_is_computed_again(tmp_path, monkeypatch):
    key = result_key("f", dict(x=1.0))
    monkeypatch.setattr(analysis_cache, "ANALYSIS_FILES", analysis_cache.ANALYSIS_FILES[:-1])
    assert result_key("f", dict(x=1.0)) != key
    monkeypatch.undo()
    cached_result("f", dict(x=1.0), lambda: "stored", tmp_path)
    (entry,) = (tmp_path / "analysis").iterdir()
    entry.write_bytes(b"cut short")
    assert cached_result("f", dict(x=1.0), lambda: "again", tmp_path) == "again"
    with pytest.raises(TypeError, match="cannot key an analysis input of type object"):
        result_key("f", dict(x=object()))


def test_a_committed_analysis_is_read_before_the_local_cache_and_make_chapters_records_it(tmp_path, monkeypatch):
    from specae.analysis.analysis_cache import RECORD_ENV

    committed = tmp_path / "committed"
    monkeypatch.setenv(RECORD_ENV, "1")  # as `make chapters` runs the chapters
    assert cached_result("f", dict(x=1.0), lambda: "computed", tmp_path / "cache", committed) == "computed"
    assert len(list(committed.glob("*.pkl"))) == 1 and len(list((tmp_path / "cache").rglob("*.pkl"))) == 1
    monkeypatch.delenv(RECORD_ENV)
    # a fresh clone: an empty local cache, and the committed result is read, not computed
    assert cached_result("f", dict(x=1.0), lambda: pytest.fail("computed again"), tmp_path / "fresh",
                         committed) == "computed"
    assert not (tmp_path / "fresh").exists()
    # anything else is computed and kept locally only
    assert cached_result("f", dict(x=2.0), lambda: "other", tmp_path / "fresh", committed) == "other"
    assert len(list(committed.glob("*.pkl"))) == 1


@pytest.mark.slow
def test_a_committed_comparison_of_a_reference_run_is_what_this_cpu_computes():
    """The committed §6 comparison of the first-seed main β-VAE, against the comparison computed here from this
    CPU's codes of the same spectra: the same informative nodes and label nodes, and each MI within 0.02 nats (the
    codes differ by float rounding between CPUs, which can move a KSG neighbour count; seen: equal)."""
    from specae.analysis.analysis_cache import COMMITTED_DIR, result_key
    from specae.analysis.latent_report import comparison_inputs
    from specae.analysis.latents import encode_labelled, one_per_star
    from specae.analysis.paper_comparison import compare_with_paper
    from specae.training.reference_runs import find_reference_run
    from specae.training.study_runs import study_preset
    from specae.training.survey_cache import cached_synthetic

    run = find_reference_run(study_preset("vae16-seed0"))
    if run is None:
        pytest.skip("no committed run vae16-seed0 (train it with make reference-runs)")
    model, _, _ = run.load("cpu")
    data = cached_synthetic(run.preset.data)
    encoded = encode_labelled(model, data, ("rv", "teff"), one_per_star(data))  # this CPU's codes
    stars = one_per_star(data)
    entry = COMMITTED_DIR / f"{result_key('paper_comparison_of', comparison_inputs(model, data, stars))[:32]}.pkl"
    assert entry.is_file(), f"{entry} is not committed: run make chapters and commit runs/analyses/"
    committed = pickle.loads(entry.read_bytes())
    here = compare_with_paper(encoded.mu, encoded.labels, seed=0)
    assert committed.informative.tolist() == here.informative.tolist()
    for label in ("rv", "teff"):
        assert committed.nodes[label].node == here.nodes[label].node
        assert committed.nodes[label].ksg == pytest.approx(here.nodes[label].ksg, abs=0.02)
        assert committed.nodes[label].best_null == pytest.approx(here.nodes[label].best_null, abs=0.02)
