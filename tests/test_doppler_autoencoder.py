"""The Doppler-aware variant (not the paper's model): its settings leave every existing configuration as it was, its
shapes and state, the label-free velocity anchor and template, the velocity head's start and gradient, and training
(bit-for-bit resume, the template in the checkpoint)."""

import copy
import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from specae import get_preset, load_checkpoint, load_synthetic, train
from specae.model.autoencoder import AutoencoderConfig, SpectrumAutoencoder, masked_l1_kl_loss
from specae.model.doppler import RestGrid, smallest_length
from specae.model.doppler_autoencoder import TEMPLATE_FILL, DopplerAutoencoder
from specae.model.factory import build_model
from specae.spectra.grid import Grid
from specae.training.feeds import RenderedSource
from specae.training.presets import ADDED_LATER, Preset

# Preset.config_hash() of the presets before the variant's settings existed (computed on the commit before them).
HASHES_BEFORE = {"smoke": "52b2353a5f7e0a8ec4407c4a61d1f5999d7f6f07e27de675efb5d7a1b578ba9d",
                 "study": "229ed39e7f880c23f875a984752fc99fd19bdfe8a4ac8885da0237fbc5e52ad3",
                 "paper": "ce7300ebf62d75bfd6031f7076493f1afff321148cfcf21a475174dcee56bba5"}
STUDY_MODEL_BEFORE = {"input_length": 8192, "channels": (16, 16, 16, 32, 32, 32, 64, 64, 64, 64),
                      "kernels": (7, 5, 5, 3, 3, 3, 3, 3, 3, 3), "strides": (2, 2, 2, 2, 2, 2, 2, 2, 2, 1),
                      "latent_dim": 16, "variational": True, "negative_slope": 0.1, "logvar_bias_init": -6.0,
                      "init": "he_normal"}
VELOCITY_DEFAULTS = {"velocity": False, "velocity_range_kms": 200.0, "velocity_step_kms": 1.0,
                     "velocity_head_kms": 5.0}
TINY = dict(n_spectra=48, n_objects=12)
# 1,024 pixels of 0.04 Å (2.4 km/s) from 4,960 Å, the study's pixels: lines a few pixels wide, as HARPS FGK lines are.
GRID = Grid(factor=4, start_pixel=125_088, fine_pixels=4 * 1_024)
LINE_SIGMA_KMS = 4.0


@pytest.fixture(scope="module", autouse=True)
def _one_thread_here(one_thread):
    """Every test of this module runs with one torch thread (see conftest.py)."""


def _config(**changes) -> AutoencoderConfig:
    return AutoencoderConfig(**{**dict(input_length=1_024, channels=(8, 8, 16, 16, 32, 32), kernels=(7, 5, 5, 3, 3, 3),
                                       strides=(2, 2, 2, 2, 2, 1), latent_dim=8, velocity=True), **changes})


def _variant(seed: int = 0, **changes) -> DopplerAutoencoder:
    torch.manual_seed(seed)
    return DopplerAutoencoder(_config(**changes), GRID)


def _line_template(model: DopplerAutoencoder, seed: int = 1) -> torch.Tensor:
    """(n_rest,) float32: 1 − 25 Gaussian lines of σ = 4 km/s and depths 0.2–0.7 at random rest wavelengths."""
    rng = np.random.default_rng(seed)
    wavelength = model.rest_grid.wavelength
    spectrum = np.ones_like(wavelength)
    for centre, depth in zip(rng.uniform(wavelength[0] + 5, wavelength[-1] - 5, 25), rng.uniform(0.2, 0.7, 25),
                             strict=True):
        sigma = centre * LINE_SIGMA_KMS / 299_792.458
        spectrum -= depth * np.exp(-0.5 * ((wavelength - centre) / sigma) ** 2)
    return torch.tensor(spectrum, dtype=torch.float32)


def _observed(model: DopplerAutoencoder, template: torch.Tensor, velocity: torch.Tensor, noise: float,
              seed: int = 2) -> torch.Tensor:
    """(n, n_obs): the template Doppler-shifted by each velocity (n,) km/s, plus Gaussian noise of σ ``noise``."""
    clean = model.rest_grid.shift(template.expand(len(velocity), -1), velocity).flux
    generator = torch.Generator().manual_seed(seed)
    return clean + noise * torch.randn(clean.shape, generator=generator)


# --- configuration -------------------------------------------------------------------------------------------------

def test_the_variant_settings_leave_every_existing_configuration_and_hash_unchanged():
    for name, digest in HASHES_BEFORE.items():
        preset = get_preset(name)
        assert preset.config_hash() == digest, name
        assert not {key for key in preset.to_dict()["model"] if key.startswith("velocity")}, name
    assert get_preset("study").to_dict()["model"] == STUDY_MODEL_BEFORE
    fields = {field.name: field.default for field in dataclasses.fields(AutoencoderConfig)}
    assert {key: fields[key] for key in VELOCITY_DEFAULTS} == VELOCITY_DEFAULTS
    assert {key: ADDED_LATER[("model", key)] for key in VELOCITY_DEFAULTS} == VELOCITY_DEFAULTS


def test_the_variant_settings_round_trip_through_a_checkpoints_dict():
    preset = get_preset("smoke", velocity=True, velocity_range_kms=150.0, velocity_step_kms=0.5,
                        velocity_head_kms=3.0)
    stored = json.loads(json.dumps(preset.to_dict()))  # as a manifest stores it: tuples become lists
    assert stored["model"]["velocity"] is True and stored["model"]["velocity_range_kms"] == 150.0
    assert Preset.from_dict(stored) == Preset.from_dict(preset.to_dict()) == preset
    assert Preset.from_dict(stored).config_hash() == preset.config_hash() != HASHES_BEFORE["smoke"]
    assert get_preset("smoke", velocity=True).to_dict()["model"]["velocity"] is True
    assert preset.summary()["model"] == "β-VAE, Doppler-aware (not the paper's)"
    assert get_preset("study").summary()["model"] == "β-VAE"


@pytest.mark.parametrize("changes, message", [
    (dict(velocity_range_kms=0.0), "velocity_range_kms must be in"),
    (dict(velocity_range_kms=40_000.0), r"velocity_range_kms must be in \(0, 29979"),
    (dict(velocity_range_kms=math.nan), "velocity_range_kms must be a finite number"),
    (dict(velocity_step_kms=0.0), "velocity_step_kms must be > 0"),
    (dict(velocity_head_kms=-1.0), "velocity_head_kms must be ≥ 0"),
    (dict(velocity_range_kms=10.0, velocity_head_kms=9.5), r"the anchor's grid ±\(velocity_range_kms"),
    (dict(velocity="yes"), "velocity must be True or False"),
    (dict(velocity=False, velocity_range_kms=100.0), "velocity_range_kms only apply to the Doppler-aware variant"),
])
def test_bad_variant_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        _config(**changes)


def test_each_model_is_built_only_from_a_configuration_it_implements():
    config = _config()
    with pytest.raises(ValueError, match="build it with specae.model.factory.build_model"):
        SpectrumAutoencoder(config)
    with pytest.raises(ValueError, match="needs the spectra's grid"):
        build_model(config)
    with pytest.raises(ValueError, match="has velocity=False"):
        DopplerAutoencoder(_config(velocity=False), GRID)
    with pytest.raises(ValueError, match="input_length is 1024"):
        DopplerAutoencoder(config, Grid(factor=4, start_pixel=125_088, fine_pixels=4 * 512))
    assert type(build_model(_config(velocity=False), GRID)) is SpectrumAutoencoder
    assert isinstance(build_model(config, GRID), DopplerAutoencoder)


# --- the model -----------------------------------------------------------------------------------------------------

def test_the_variant_reconstructs_on_the_observed_grid_from_a_longer_rest_frame():
    model = _variant().train()
    model.template.copy_(_line_template(model))
    rest = model.rest_grid
    assert rest.v_max_kms >= 200.0 and rest.n_pixels % 32 == 0
    needed = RestGrid.covering(GRID, 200.0).n_pixels  # 1,024 + 83 + 84 pixels of padding
    assert model.decoder_length == rest.n_pixels == smallest_length(needed, 32) == 1_216
    assert len(model.velocity_grid) == 391 and model.velocity_grid[-1] == 195.0  # ±(200 − 5) in 1 km/s steps
    x = _observed(model, model.template, torch.tensor([-30.0, 0.0, 70.0]), noise=0.01)[:, None, :]
    output = model(x, noise=torch.zeros(3, 8))
    assert output.reconstruction.shape == (3, 1, 1_024) and output.velocity.shape == (3,)
    assert output.mu.shape == output.logvar.shape == output.z.shape == (3, 8)
    assert model.decode(output.z).shape == (3, 1, 1_216)
    terms = masked_l1_kl_loss(output, x, torch.ones(3, 1_024, dtype=torch.bool), beta=1e-3)
    assert torch.isfinite(terms.total)
    assert SpectrumAutoencoder(_config(velocity=False)).eval()(x).velocity is None


def test_the_state_dict_holds_the_template_and_rebuilds_the_same_model():
    """A model loads another's state dict (template included) and then computes the same outputs exactly, even if
    it had already computed velocities with its own template (the shifted rows are made again)."""
    source = _variant(seed=0).eval()
    source.template.copy_(_line_template(source, seed=1))
    target = _variant(seed=5).eval()
    target.template.copy_(_line_template(target, seed=7))
    x = _observed(source, source.template, torch.tensor([-80.0, 12.5, 101.0]), noise=0.01)[:, None, :]
    target(x)  # its own template's rows, cached
    state = source.state_dict()
    assert "template" in state and "fc_velocity.weight" in state
    target.load_state_dict(state)
    ours, theirs = target(x), source(x)
    assert torch.equal(ours.velocity, theirs.velocity)
    assert torch.equal(ours.reconstruction, theirs.reconstruction)


def test_the_fast_layers_compute_the_same_variant():
    """Same weights, spectra and ε: the fast formulation of the encoder and decoder agrees within float32 rounding
    (1e-5 of the scale, as tests/test_autoencoder.py holds the paper's model to), and so does v, whose anchor does
    not depend on the layers and whose head reads the encoder's features (given non-zero weights here)."""
    plain = _variant().train()
    plain.template.copy_(_line_template(plain))
    with torch.no_grad():
        plain.fc_velocity.weight.normal_(0.0, 0.05)
    fast = copy.deepcopy(plain).set_fast_layers(True)
    x = _observed(plain, plain.template, torch.tensor([-60.0, 5.0, 44.0, 150.0]), noise=0.01)[:, None, :]
    noise = torch.randn(4, 8, generator=torch.Generator().manual_seed(3))
    ours, theirs = fast(x, noise=noise), plain(x, noise=noise)
    assert (ours.reconstruction - theirs.reconstruction).abs().max() <= 1e-5 * theirs.reconstruction.abs().max()
    assert (ours.mu - theirs.mu).abs().max() <= 1e-5 * theirs.mu.abs().max()
    assert (ours.velocity - theirs.velocity).abs().max() <= 1e-5 * theirs.velocity.abs().max()
    assert not torch.equal(theirs.velocity, plain.velocity_anchor(x))  # the head did contribute


# --- the anchor ----------------------------------------------------------------------------------------------------

def test_the_anchor_recovers_known_shifts_and_ignores_masked_pixels():
    """200 spectra, the line template shifted by v ∈ ±150 km/s with 1 % noise per pixel: the anchor finds v within
    0.1 km/s (a tenth of the grid step). Measured: RMS 0.020 km/s, largest 0.048; without noise 0.015 and 0.033
    (the parabola through a peak sampled every 1 km/s, and linear interpolation of lines 1.7 pixels wide). The noise
    part matches the photon limit of these lines, 1/√Σ(∂F/∂v / σ)² ≈ 0.015 km/s. Masked pixels (a block of 120,
    holding some lines) take any value without moving it, and exact zeros count as masked when no mask is given."""
    model = _variant().eval()
    template = _line_template(model)
    model.template.copy_(template)
    truth = torch.tensor(np.random.default_rng(3).uniform(-150, 150, 200))
    x = _observed(model, template, truth, noise=0.01)
    error = model.velocity_anchor(x[:, None, :]).double() - truth
    assert error.abs().max() < 0.1 and error.pow(2).mean().sqrt() < 0.04
    clean = model.velocity_anchor(_observed(model, template, truth, noise=0.0)).double() - truth
    assert clean.abs().max() < 0.05

    mask = torch.ones_like(x, dtype=torch.bool)
    mask[:, 300:420] = False
    masked = []
    for fill in (7.0, -3.0, 0.0):
        filled = x.clone()
        filled[:, 300:420] = fill
        masked.append(model.velocity_anchor(filled, mask))
    assert torch.equal(masked[0], masked[1]) and torch.equal(masked[0], masked[2])
    zeros = x.clone()
    zeros[:, 300:420] = 0.0
    assert torch.equal(model.velocity_anchor(zeros), masked[0])  # no mask: exact zeros are masked
    assert (masked[0].double() - truth).abs().max() < 0.1
    assert torch.equal(model.velocity_anchor(torch.zeros(2, 1_024)), torch.zeros(2))  # nothing to correlate: 0


def test_velocities_need_a_template():
    model = _variant()
    with pytest.raises(ValueError, match="the template is flat: fit it"):
        model(torch.rand(2, 1, 1_024) + 0.5)


# --- the template --------------------------------------------------------------------------------------------------

def test_the_iterated_stack_recovers_velocities_up_to_one_offset_without_labels():
    """400 spectra of one line template shifted by v ∈ ±50 km/s with 2 % noise; fit_template sees only the flux.
    Against the final template the CCF peaks match v up to one global offset (the stack's frame): RMS about it
    below 0.06 km/s, largest below 0.25 (measured 0.031 and 0.093: twice the 1 % noise of the anchor test, so
    twice its photon limit). Against template₀, the mean of the spectra as observed, the RMS was 0.22 km/s; the
    stacks change the velocities by 0.43, 0.022, 0.0011 and 0.00006 km/s RMS, each a twentieth of the one before
    or less (bounds: each below a fifth of the one before, the last below 0.001). Rest pixels that no spectrum
    reaches hold the fill, 1.0."""
    model = _variant()
    template = _line_template(model)
    truth = torch.tensor(np.random.default_rng(4).uniform(-50, 50, 400))
    x = _observed(model, template, truth, noise=0.02, seed=5)
    fit = model.fit_template(x, torch.ones_like(x, dtype=torch.bool), iterations=4)
    assert fit.velocities.shape == (5, 400) and np.array_equal(fit.indices, np.arange(400))
    residual = fit.velocities[-1] - truth.numpy()
    residual -= residual.mean()
    assert np.sqrt(np.mean(residual**2)) < 0.06 and np.abs(residual).max() < 0.25
    assert fit.changes[0] > 0.1 and np.all(fit.changes[1:] < fit.changes[:-1] / 5) and fit.changes[-1] < 1e-3
    again = model.velocity_anchor(x).double().numpy()  # the model's anchor is the last row
    np.testing.assert_allclose(again, fit.velocities[-1], atol=1e-4)
    observed = model.rest_grid.observed_slice  # 50 km/s is 21 pixels: farther out no spectrum reaches
    assert torch.all(model.template[: observed.start - 30] == TEMPLATE_FILL)
    assert torch.all(model.template[observed.stop + 30 :] == TEMPLATE_FILL)


def test_the_stack_uses_a_seeded_subset():
    model = _variant()
    template = _line_template(model)
    truth = torch.tensor(np.random.default_rng(6).uniform(-50, 50, 300))
    x = _observed(model, template, truth, noise=0.02, seed=7)
    mask = torch.ones_like(x, dtype=torch.bool)
    fit = model.fit_template(x, mask, max_spectra=100, iterations=2, seed=11)
    assert len(fit.indices) == 100 and np.all(np.diff(fit.indices) > 0)
    assert np.array_equal(_variant().fit_template(x, mask, max_spectra=100, iterations=2, seed=11).indices,
                          fit.indices)
    residual = model.velocity_anchor(x).double().numpy() - truth.numpy()
    assert np.std(residual) < 0.1  # the other 200 spectra too
    with pytest.raises(ValueError, match="iterations must be an integer ≥ 0"):
        model.fit_template(x, mask, iterations=-1)
    with pytest.raises(ValueError, match="mask a bool"):
        model.fit_template(x, mask[:, :10])


# --- the velocity head ---------------------------------------------------------------------------------------------

def test_training_starts_at_the_anchor_and_one_step_moves_the_head():
    """δv's head is zero at initialisation, so v = v_anchor exactly; the gradient of the masked L1 loss reaches it
    through the Doppler shift, so one Adam step changes its weights and v."""
    model = _variant().train()
    model.template.copy_(_line_template(model))
    x = _observed(model, model.template, torch.tensor([-20.0, 3.0, 35.0, 90.0]), noise=0.01)[:, None, :]
    noise = torch.zeros(4, 8)
    output = model(x, noise=noise)
    assert torch.equal(output.velocity, model.velocity_anchor(x))
    assert torch.count_nonzero(model.fc_velocity.weight) == 0
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    masked_l1_kl_loss(output, x, torch.ones(4, 1_024, dtype=torch.bool), beta=1e-3).total.backward()
    assert model.fc_velocity.weight.grad.abs().sum() > 0 and model.fc_velocity.bias.grad.abs() > 0
    optimizer.step()
    assert torch.count_nonzero(model.fc_velocity.weight) > 0
    assert not torch.equal(model(x, noise=noise).velocity, output.velocity)
    with torch.no_grad():
        model.fc_velocity.bias.fill_(100.0)  # saturated: δv at its bound, 5 km/s
        assert torch.allclose(model.velocity(x) - model.velocity_anchor(x), torch.full((4,), 5.0))


# --- training ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_data():
    return load_synthetic(get_preset("smoke", **TINY).data)


def test_the_variant_trains_resumes_bit_for_bit_and_checkpoints_its_template(tmp_path, tiny_data, monkeypatch):
    two = get_preset("smoke", velocity=True, epochs=2, **TINY)
    whole = train(two, tmp_path / "whole", device="cpu", progress=False, data=tiny_data)
    assert isinstance(whole.model, DopplerAutoencoder)
    assert not torch.all(whole.model.template == TEMPLATE_FILL)
    train(get_preset("smoke", velocity=True, epochs=1, **TINY), tmp_path / "parts", device="cpu", progress=False,
          data=tiny_data)

    def refit(*args, **kwargs):
        raise AssertionError("a resumed run loads its template from the checkpoint")

    monkeypatch.setattr(DopplerAutoencoder, "fit_template", refit)
    resumed = train(two, tmp_path / "parts", device="cpu", progress=False, data=tiny_data)
    for name, tensor in whole.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in resumed.history] == \
        [{k: v for k, v in h.items() if k != "seconds"} for h in whole.history]
    preset, model, state = load_checkpoint(whole.checkpoint)
    assert preset == two and isinstance(model, DopplerAutoencoder)
    assert torch.equal(state["model"]["template"], whole.model.template)
    x = tiny_data.flux[:3].unsqueeze(1)
    with torch.no_grad():
        assert torch.equal(model(x).reconstruction, whole.model(x).reconstruction)


def test_the_variant_refuses_streamed_spectra_for_now(tmp_path):
    preset = get_preset("smoke", velocity=True, epochs=1, **TINY)
    with pytest.raises(ValueError, match="fits its template to the training spectra held in memory"):
        train(preset, tmp_path, device="cpu", progress=False, data=RenderedSource(preset.data))
