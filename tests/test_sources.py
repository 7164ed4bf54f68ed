"""Streaming sources: training on spectra streamed from an on-disk store, or rendered batch by batch,
takes exactly the steps of training on the same spectra held in memory (bit for bit on CPU)."""

import numpy as np
import pytest
import torch

from specae import get_preset, load_synthetic, train
from specae.io.store import SpectrumStore, add_spectra
from specae.synth.survey import SyntheticSurvey
from specae.training.feeds import RenderedSource, StoreSource, training_source
from specae.training.options import TrainOptions

PRESET = get_preset("smoke", epochs=1)


@pytest.fixture(scope="module")
def in_memory(tmp_path_factory, one_thread):
    return train(PRESET, tmp_path_factory.mktemp("memory"), device="cpu", progress=False,
                 data=load_synthetic(PRESET.data))


@pytest.fixture(scope="module")
def smoke_store(tmp_path_factory):
    """The smoke survey's raw spectra in a store, shards of 40; object names sort like their ids (same split)."""
    survey = SyntheticSurvey(PRESET.data.synthetic, PRESET.data.grid)
    raw = survey.render(np.arange(len(survey))).numpy()
    rows = [dict(source=f"synthetic/{i:05d}", object=f"star {object_id:05d}")
            for i, object_id in enumerate(survey.object_ids)]
    path = tmp_path_factory.mktemp("store")
    add_spectra(path, raw, rows, grid=PRESET.data.grid, shard_size=40)
    return path


def _assert_same_weights(a, b):
    for name, tensor in a.model.state_dict().items():
        assert torch.equal(tensor, b.model.state_dict()[name]), name


def test_store_holds_the_written_spectra(smoke_store):
    store = SpectrumStore(smoke_store)
    survey = SyntheticSurvey(PRESET.data.synthetic, PRESET.data.grid)
    indices = np.array([95, 3, 41, 40, 39, 3])  # across shards, unordered, repeated
    assert np.array_equal(store.flux(indices), survey.render(indices).numpy())
    assert len(store.manifest["shards"]) == 3
    assert list(store.labels["object"]) == [f"star {i:05d}" for i in survey.object_ids]


def test_training_from_the_store_equals_training_in_memory(tmp_path, in_memory, smoke_store, one_thread):
    streamed = train(PRESET, tmp_path, device="cpu", progress=False, data=StoreSource(smoke_store, PRESET.data))
    assert np.array_equal(streamed.split.train, in_memory.split.train)
    _assert_same_weights(streamed, in_memory)
    assert streamed.history[0]["validation_loss"] == in_memory.history[0]["validation_loss"]


def test_training_on_spectra_rendered_per_batch_equals_training_in_memory(tmp_path, in_memory, one_thread):
    rendered = train(PRESET, tmp_path, device="cpu", progress=False, data=training_source(PRESET.data, stream=True))
    _assert_same_weights(rendered, in_memory)


def test_the_paper_survey_is_rendered_per_batch_not_held_in_memory():
    assert isinstance(training_source(get_preset("paper").data), RenderedSource)


def test_a_store_on_another_grid_is_refused_with_the_fix(smoke_store):
    refused = r"on the grid \(factor 320\), the preset trains on \(factor 4, 4959.99–5287.66 Å\)"
    with pytest.raises(ValueError, match=refused):
        StoreSource(smoke_store, get_preset("study").data)


def test_spectra_already_in_the_store_are_refused(smoke_store):
    flux = np.ones((2, PRESET.data.grid.n_pixels), dtype=np.float32)
    with pytest.raises(ValueError, match=r"\['synthetic/00001'\] already stored or repeated"):
        add_spectra(smoke_store, flux, [dict(source="new", object="x"), dict(source="synthetic/00001", object="x")],
                    grid=PRESET.data.grid)
    assert len(SpectrumStore(smoke_store)) == 96  # nothing was added


def test_the_paper_preset_trains_end_to_end_on_rendered_spectra(tmp_path, one_thread):
    """The full 327,680-px preset (batch 2 to stay light), one step from spectra rendered on the fly,
    checkpointed on stopping; the 143k-spectrum validation set is never held in memory."""
    result = train(get_preset("paper", batch_size=2), tmp_path, device="cpu", progress=False,
                   options=TrainOptions(stop_at_step=1))
    state = torch.load(result.checkpoint, weights_only=True)
    assert isinstance(result.data, RenderedSource) and result.steps == state["step"] == 1
    assert state["data_summary"]["n_spectra"] == 267_361 and np.isfinite(state["epoch_sums"]).all()
    assert result.model.n_parameters == 7_046_997
