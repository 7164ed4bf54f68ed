"""Model report: receptive field (analytic vs measured), layer shapes, FLOPs and the preset summary."""

import pytest
import torch

from specae.book import model_figures
from specae.book.model_figures import architecture_summary, format_summary
from specae.constants import SPEED_OF_LIGHT_KMS
from specae.model import report as model_report
from specae.model.autoencoder import AutoencoderConfig, SpectrumAutoencoder, paper_architecture
from specae.model.report import (
    flops_per_spectrum,
    grid_velocity_scale,
    layer_shapes,
    measured_receptive_field,
    positions_seeing,
    receptive_field,
)
from specae.training.presets import get_preset

# Small, irregular encoder: kernels 7/5/3/5, a stride-1 layer in the middle and at the end.
TINY = AutoencoderConfig(input_length=96, channels=(3, 4, 4, 5, 6), kernels=(7, 5, 3, 5, 3),
                         strides=(2, 2, 1, 2, 1), latent_dim=3)


def test_released_encoder_sees_65551_pixels_or_655_angstrom():
    field = receptive_field(paper_architecture(), step_angstrom=0.01, wavelength_angstrom=5_347.5)
    assert field["layer"] == "conv15"
    assert (field["pixels"], field["jump"], field["n_positions"]) == (65_551, 16_384, 20)
    assert [row["pixels"] for row in field["per_layer"][:4]] == [7, 15, 31, 47]
    assert field["step_angstrom"] == pytest.approx(0.01)
    assert field["angstrom"] == pytest.approx(655.51)
    assert field["jump_angstrom"] == pytest.approx(163.84)
    assert field["wavelength_angstrom"] == 5_347.5
    assert field["km_s"] == pytest.approx(SPEED_OF_LIGHT_KMS * 655.51 / 5_347.5)
    assert field["jump_km_s"] == pytest.approx(SPEED_OF_LIGHT_KMS * 163.84 / 5_347.5)


def test_the_pixel_width_scales_the_field_in_angstrom():
    with pytest.raises(ValueError, match="step_angstrom must be > 0"):
        receptive_field(TINY, step_angstrom=0.0, wavelength_angstrom=5_000.0)
    with pytest.raises(ValueError, match="wavelength_angstrom must be > 0"):
        receptive_field(TINY, step_angstrom=1.0, wavelength_angstrom=0.0)
    assert receptive_field(TINY, step_angstrom=0.5, wavelength_angstrom=5_000.0)["angstrom"] == pytest.approx(
        0.5 * receptive_field(TINY, step_angstrom=1.0, wavelength_angstrom=5_000.0)["pixels"])


def test_the_study_grids_pixels_are_2_27_to_2_42_km_s():
    """The study window (4,960–5,288 Å at 0.04 Å): c·Δλ/λ at its red end, centre and blue end."""
    scale = grid_velocity_scale(get_preset("study").data.grid)
    assert (scale["blue_angstrom"], scale["red_angstrom"]) == (pytest.approx(4_960.005), pytest.approx(5_287.645))
    assert scale["centre_angstrom"] == pytest.approx((4_960.005 + 5_287.645) / 2)
    for key, wavelength in (("pixel_km_s_low", 5_287.645), ("pixel_km_s", scale["centre_angstrom"]),
                            ("pixel_km_s_high", 4_960.005)):
        assert scale[key] == pytest.approx(SPEED_OF_LIGHT_KMS * 0.04 / wavelength), key
    assert (round(scale["pixel_km_s_low"], 2), round(scale["pixel_km_s_high"], 2)) == (2.27, 2.42)


@pytest.mark.parametrize("position", [0, 1, 6, 11])
def test_measured_receptive_field_matches_the_analytic_one(position):
    field = receptive_field(TINY, step_angstrom=1.0, wavelength_angstrom=5_000.0)
    first = field["start"] + position * field["jump"]
    last = first + field["pixels"] - 1
    measured = measured_receptive_field(TINY, position=position, seed=3)
    assert (measured["first"], measured["last"]) == (max(first, 0), min(last, TINY.input_length - 1))
    if first >= 0 and last < TINY.input_length:  # a field inside the input has its full width
        assert measured["pixels"] == field["pixels"]


@torch.no_grad()
@pytest.mark.parametrize("pixel", [0, 1, 17, 48, 95])
def test_one_perturbed_pixel_changes_exactly_the_positions_that_see_it(pixel):
    torch.manual_seed(1)
    encoder = SpectrumAutoencoder(TINY).encoder.double()
    for module in encoder:
        if isinstance(module, torch.nn.Conv1d):
            module.bias.zero_()  # zero in → exactly zero out, so any change is the perturbation's
    x = torch.zeros(1, 1, TINY.input_length, dtype=torch.float64)
    assert not encoder(x).any()
    x[0, 0, pixel] = 1.0
    changed = torch.nonzero(encoder(x)[0].abs().sum(dim=0)).flatten().tolist()
    assert changed == list(positions_seeing(TINY, pixel))


def test_measured_and_positions_reject_out_of_range_indices():
    with pytest.raises(ValueError, match="outside the bottleneck"):
        measured_receptive_field(TINY, position=TINY.bottleneck_shape[1])
    with pytest.raises(ValueError, match="outside the input"):
        positions_seeing(TINY, TINY.input_length)


@torch.no_grad()
def test_layer_shapes_match_a_forward_pass():
    model = SpectrumAutoencoder(TINY).eval()
    seen = {}
    for name, module in list(model.encoder.named_children()) + list(model.decoder.named_children()):
        module.register_forward_hook(lambda m, i, o, name=name: seen.update({name: tuple(o.shape[1:])}))
    model(torch.rand(1, 1, TINY.input_length))
    shapes = layer_shapes(TINY).set_index("layer")
    for name, (channels, length) in seen.items():
        if name.startswith(("conv", "deconv", "predict")):
            assert (shapes.loc[name, "channels"], shapes.loc[name, "length"]) == (channels, length), name
    assert (shapes["values"] == shapes["channels"] * shapes["length"]).all()
    assert shapes.loc["μ", "values"] == TINY.latent_dim
    assert tuple(shapes.loc["fc_decode", ["channels", "length"]]) == TINY.bottleneck_shape


def test_released_layer_shapes_run_through_512_by_20():
    shapes = layer_shapes(paper_architecture()).set_index("layer")
    assert tuple(shapes.loc["conv15", ["channels", "length"]]) == (512, 20)
    assert tuple(shapes.loc["predict0", ["channels", "length"]]) == (1, 327_680)
    assert len(shapes) == 1 + 15 + 2 + 16


@pytest.mark.parametrize("variational", [True, False])
def test_flops_equal_the_hand_count(variational):
    config = AutoencoderConfig(input_length=64, channels=(2, 4, 4), kernels=(5, 3, 3), strides=(2, 2, 1),
                               latent_dim=3, variational=variational)
    counted = flops_per_spectrum(config)
    # Encoder convs: 2·C_in·C_out·K·L_out each.
    c_in, length, encoder = 1, config.input_length, 0
    for c_out, kernel, stride in zip(config.channels, config.kernels, config.strides, strict=True):
        length //= stride
        encoder += 2 * c_in * c_out * kernel * length
        c_in = c_out
    first_conv = 2 * 1 * 2 * 5 * 32
    assert encoder == first_conv + 2 * 2 * 4 * 3 * 16 + 2 * 4 * 4 * 3 * 16
    # Decoder: the counter charges a transposed conv 2·C_in·C_out·K per *input* sample.
    decoder = 2 * 4 * 4 * 3 * 16 + 2 * 4 * 2 * 4 * 16 + 2 * 2 * 1 * 4 * 32 + 2 * 1 * 1 * 3 * 64
    flat = 4 * 16
    fc = {"fc_mu": 2 * flat * 3, "fc_logvar": 2 * flat * 3 if variational else 0, "fc_decode": 2 * 3 * flat}
    assert counted["forward_by_part"] == dict(encoder=encoder, decoder=decoder, **fc)
    assert counted["forward"] == encoder + decoder + sum(fc.values())
    # Backward: grad of input and of weights, each as costly as the forward, except the input's own grad.
    assert counted["backward"] == 2 * counted["forward"] - first_conv
    assert counted["training"] == counted["forward"] + counted["backward"]
    assert counted["parameters"] == SpectrumAutoencoder(config).n_parameters
    counted["forward_by_part"].clear()  # the remembered count is handed out as a copy
    assert flops_per_spectrum(config)["forward_by_part"]["encoder"] == encoder


def test_flop_count_leaves_the_global_random_state_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    model_report._count_flops.cache_clear()  # count afresh, not from an earlier test's cache
    torch.manual_seed(5)
    flops_per_spectrum(TINY)
    measured_receptive_field(TINY)
    assert torch.equal(torch.rand(3), expected)


def test_smoke_summary_agrees_with_its_parts():
    preset = get_preset("smoke")
    table = architecture_summary(preset)["smoke"]
    scale = grid_velocity_scale(preset.data.grid)
    field = receptive_field(preset.model, preset.data.grid.step_angstrom, scale["centre_angstrom"])
    flops = flops_per_spectrum(preset.model)
    assert table["pixels per spectrum"] == 1_024
    assert table["bottleneck (channels × positions)"] == "32 × 32"
    assert table["parameters"] == SpectrumAutoencoder(preset.model).n_parameters
    assert table["receptive field (px)"] == field["pixels"]
    assert table["receptive field at the centre (km/s)"] == field["km_s"]
    assert table["pixel width over the grid (km/s)"] == (scale["pixel_km_s_low"], scale["pixel_km_s_high"])
    assert table["forward GFLOP per spectrum"] == flops["forward"] / 1e9
    assert table["training GFLOP per spectrum"] == flops["training"] / 1e9


def test_paper_summary_shows_the_released_totals(monkeypatch):
    # The FLOP count of the full model takes seconds on a CPU: stub it, the rest is exact.
    monkeypatch.setattr(model_figures, "flops_per_spectrum",
                        lambda config, device="cpu": dict(forward=1_393_950_720, training=4_145_152_000))
    shown = format_summary(architecture_summary(get_preset("paper")))["paper"]
    assert shown["parameters"] == "7,046,997"
    assert shown["pixels per spectrum"] == "327,680"
    assert shown["bottleneck (channels × positions)"] == "512 × 20"
    assert (shown["receptive field (px)"], shown["receptive field (Å)"]) == ("65,551", "655.51")
    assert (shown["wavelengths covered (Å)"], shown["centre wavelength (Å)"]) == ("3,785–6,910", "5,348")
    assert shown["pixel width over the grid (km/s)"] == "0.43–0.79"
    assert shown["pixel width at the centre (km/s)"] == "0.56"
    assert shown["receptive field at the centre (km/s)"] == "36,749"
    assert shown["bottleneck position spacing at the centre (km/s)"] == "9,185"
    assert (shown["forward GFLOP per spectrum"], shown["training GFLOP per spectrum"]) == ("1.3940", "4.1452")


def test_cost_by_part_adds_up_to_the_model():
    table = model_report.cost_by_part(TINY)
    flops = flops_per_spectrum(TINY)
    assert list(table.index) == ["encoder", "fully connected", "decoder"]
    assert table["parameters"].sum() == SpectrumAutoencoder(TINY).n_parameters
    assert table["forward GFLOP"].sum() * 1e9 == pytest.approx(flops["forward"])
    assert table["parameters (%)"].sum() == pytest.approx(100)
    assert table["forward FLOPs (%)"].sum() == pytest.approx(100)
