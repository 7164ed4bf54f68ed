"""The capabilities a claim needs: a label is in the code when a ridge probe beats half its spread; a model
draws narrow lines when its line-core error beats PCA's."""

import numpy as np
import pytest
import torch
from astropy.table import Table

from specae.analysis.capabilities import LabelProbe, label_in_code, label_probe, lacking, narrow_lines
from specae.spectra.spectra_set import SpectraSet
from specae.training.split import Split


class Reader(torch.nn.Module):
    """A stand-in encoder whose μ is the first two pixels of the spectrum."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def encode(self, x):
        return x[:, 0, :2] + 0 * self.weight, None


def _survey(n_stars: int = 200, noise: float = 0.1) -> SpectraSet:
    """Two spectra per star; pixel 0 holds the star's RV / 30 km/s plus noise, pixel 1 pure noise."""
    rng = np.random.default_rng(3)
    rv = np.repeat(rng.normal(0, 30, n_stars), 2)
    flux = rng.normal(1, 0.01, (2 * n_stars, 16))
    flux[:, 0] = rv / 30 + noise * rng.normal(size=rv.size)
    flux[:, 1] = rng.normal(size=rv.size)
    labels = Table({"object_id": np.repeat(np.arange(n_stars), 2), "rv": rv, "teff": rng.normal(5500, 500, rv.size)})
    return SpectraSet(flux=torch.as_tensor(flux, dtype=torch.float32), mask=torch.ones(flux.shape, dtype=torch.bool),
                      degenerate=np.zeros(rv.size, bool), labels=labels)


def test_a_label_the_code_carries_is_found_and_one_it_does_not_is_not():
    data = _survey()
    split = Split(train=np.arange(300), validation=np.arange(300, 400))  # stars 0–149 and 150–199
    rv = label_probe(Reader(), data, split, "rv")
    # pixel 0 = RV / 30 + N(0, 0.1): the probe's RMSE is near 30 × 0.1 = 3 km/s against a spread near 30 km/s
    assert 2.0 < rv.rmse < 4.5 and 24 < rv.spread < 36 and label_in_code(rv).present
    teff = label_probe(Reader(), data, split, "teff")  # independent of both pixels: RMSE ≈ its spread
    assert teff.rmse > 0.9 * teff.spread and not label_in_code(teff).present


def test_each_claim_lacks_only_the_capabilities_it_needs():
    measured = {capability.name: capability for capability in (
        narrow_lines(0.104, 0.078), label_in_code(LabelProbe("rv", 28.0, 30.0)),
        label_in_code(LabelProbe("teff", 90.0, 600.0)))}
    assert [capability.present for capability in measured.values()] == [False, False, True]
    assert lacking("C1", measured) == ["narrow lines (line-core error 0.1040 against PCA's 0.0780)"]
    assert lacking("C5 RV", measured) == ["RV in the code (rv probe RMSE 28 against a spread of 30)"]
    assert lacking("C6", measured) == lacking("C5 RV", measured)
    assert lacking("C5 Teff", measured) == [] and lacking("C3", {}) == []
    assert narrow_lines(0.0779, 0.078).present  # strictly below PCA's
    with pytest.raises(ValueError, match="C2 needs the capabilities"):
        lacking("C2", {})
