"""The analysis cache: a result is reused only for bit-identical inputs and the same analysis code."""

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
