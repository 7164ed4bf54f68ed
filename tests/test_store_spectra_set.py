"""A store read into memory as a normalised SpectraSet: the same spectra, masks and degenerate flags as the
synthetic survey normalised in memory, and an object id per OBJECT name."""

import numpy as np
import pytest
import torch

from specae import get_preset, load_synthetic
from specae.io.store import SpectrumStore, add_spectra, object_ids
from specae.synth.survey import SyntheticSurvey
from specae.training.feeds import StoreSource

PRESET = get_preset("smoke")


@pytest.fixture(scope="module")
def smoke_store(tmp_path_factory):
    """The smoke survey's raw spectra in a store, shards of 40; object names sort like their ids."""
    survey = SyntheticSurvey(PRESET.data.synthetic, PRESET.data.grid)
    rows = [dict(source=f"synthetic/{i:05d}", object=f"star {object_id:05d}")
            for i, object_id in enumerate(survey.object_ids)]
    path = tmp_path_factory.mktemp("store")
    add_spectra(path, survey.render(np.arange(len(survey))).numpy(), rows, grid=PRESET.data.grid,
                shard_size=40)
    return path


def test_the_store_in_memory_equals_the_survey_normalised_in_memory(smoke_store):
    real = SpectrumStore(smoke_store).normalised(threshold=PRESET.data.median_threshold,
                                                 variant=PRESET.data.median_variant)
    synthetic = load_synthetic(PRESET.data)
    assert torch.equal(real.flux, synthetic.flux) and torch.equal(real.mask, synthetic.mask)
    np.testing.assert_array_equal(real.degenerate, synthetic.degenerate)
    np.testing.assert_array_equal(real.object_ids, synthetic.object_ids)
    assert len(real) == 96 and real.labels["source"][95] == "synthetic/00095"


def test_the_store_in_memory_equals_the_streamed_batches(smoke_store):
    real = SpectrumStore(smoke_store).normalised()
    flux, mask = StoreSource(smoke_store, PRESET.data).batch(np.array([5, 50, 90]), torch.device("cpu"))
    assert torch.equal(flux[:, 0], real.flux[[5, 50, 90]]) and torch.equal(mask, real.mask[[5, 50, 90]])


def test_a_spectrum_below_the_median_threshold_is_flagged_degenerate(tmp_path):
    n_pixels = PRESET.data.grid.n_pixels
    flux = np.stack([np.full(n_pixels, 200.0), np.full(n_pixels, 10.0), np.linspace(100.0, 300.0, n_pixels)])
    rows = [dict(source=name, object=star) for name, star in (("a", "HD 2"), ("b", "HD 1"), ("c", "HD 2"))]
    add_spectra(tmp_path, flux, rows, grid=PRESET.data.grid)
    real = SpectrumStore(tmp_path).normalised(threshold=50.0)
    np.testing.assert_array_equal(real.degenerate, [False, True, False])
    valid = PRESET.data.grid.mask
    assert torch.all(real.flux[0, valid] == 1.0) and not real.mask[1].any() and torch.all(real.flux[1] == 0.0)
    values = np.sort(flux[2, valid])
    median = values[(values.size - 1) // 2]  # the lower middle value, as torch.median takes
    np.testing.assert_allclose(real.flux[2, valid].numpy(), flux[2, valid] / median, rtol=1e-6)
    np.testing.assert_array_equal(real.object_ids, [1, 0, 1])  # HD 1 → 0, HD 2 → 1
    only_last = SpectrumStore(tmp_path).normalised(indices=[2])
    assert len(only_last) == 1 and only_last.labels["source"][0] == "c"


def test_object_ids_number_the_names_in_sorted_order():
    from astropy.table import Table

    np.testing.assert_array_equal(object_ids(Table({"object": ["b", "a", "b", "c"]})), [1, 0, 1, 2])
