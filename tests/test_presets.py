"""Presets: names, overrides, hashing and round-trips."""

import pytest

from specae.training.presets import PRESETS, Preset, get_preset


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_consistent_and_round_trip(name):
    preset = get_preset(name)
    assert preset.model.input_length == preset.data.grid.n_pixels
    assert Preset.from_dict(preset.to_dict()) == preset
    assert hash(preset) == hash(get_preset(name))
    assert len(preset.config_hash()) == 64


def test_paper_preset_is_the_released_model():
    preset = get_preset("paper")
    assert preset.model.input_length == 327_680 and preset.model.latent_dim == 128
    assert preset.model.bottleneck_shape == (512, 20) and preset.model.variational


def test_overrides_change_the_hash_and_only_what_they_name():
    study = get_preset("study")
    smaller = get_preset("study", latent_dim=4, epochs=3, data_seed=9, channels=[8] * 10)
    assert smaller.model.latent_dim == 4 and smaller.train.epochs == 3 and smaller.data.synthetic.seed == 9
    assert smaller.model.channels == (8,) * 10
    assert smaller.config_hash() != study.config_hash()
    assert smaller.model.kernels == study.model.kernels and smaller.train.batch_size == study.train.batch_size


def test_deterministic_override_drops_the_kl_weight():
    assert get_preset("study", variational=False).train.beta == 0.0
    with pytest.raises(ValueError, match="no KL term; set beta=0"):
        get_preset("study", variational=False, beta=0.1)


def test_bad_presets_and_overrides_name_the_problem():
    known = r"\['paper', 'smoke', 'study'\]"
    with pytest.raises(ValueError, match=rf"unknown preset 'fast'; choose one of {known}"):
        get_preset("fast")
    with pytest.raises(ValueError, match=r"unknown override\(s\) \['latent_size'\]; known keys"):
        get_preset("study", latent_size=4)
    with pytest.raises(ValueError, match="latent_dim must be an integer ≥ 1"):
        get_preset("smoke", latent_dim=0)
    with pytest.raises(ValueError, match="epochs must be an integer ≥ 0"):
        get_preset("smoke", epochs=-1)
    study, smoke = get_preset("study"), get_preset("smoke")
    with pytest.raises(ValueError, match=r"1024 pixels but this grid \(factor 4, 4959.99–5287.66 Å\) has 8192"):
        Preset(name="mismatched", data=study.data, model=smoke.model, train=smoke.train)


def test_a_setting_added_later_appears_only_when_set():
    """``init`` came after the first study's runs: at its default a configuration (and so the hash a committed run
    is found by) is what it was before the setting existed; Study II's He-normal weights appear in it."""
    study = get_preset("study")
    assert study.to_dict()["model"]["init"] == "he_normal"
    default = get_preset("study", init="default")
    assert "init" not in default.to_dict()["model"] and default.config_hash() != study.config_hash()
    assert Preset.from_dict(default.to_dict()) == default and Preset.from_dict(study.to_dict()) == study
    with pytest.raises(ValueError, match="init must be one of"):
        get_preset("study", init="xavier")
