"""The autoencoder: the released layer table, shapes, the masked loss, input checks and the fast layers."""

import copy

import pytest
import torch

from specae import get_preset
from specae.model.autoencoder import (
    AutoencoderConfig,
    SpectrumAutoencoder,
    layer_table,
    masked_l1_kl_loss,
    paper_architecture,
)

# Parameter counts of the authors' released model (its layer table, quoted in docs/decisions.md).
PAPER_ENCODER_CONV_PARAMS = [128, 1296, 1296, 1568, 3104, 3104, 6208, 12352, 12352, 24704, 49280, 49280, 98560,
                             393728, 786944]
PAPER_DECODER_PARAMS = [786944, 524544, 131200, 65664, 65664, 32832, 16448, 16448, 8224, 4128, 4128, 2064, 1040,
                        1040, 65, 4]


@pytest.fixture(scope="module")
def paper_model():
    torch.manual_seed(0)
    return SpectrumAutoencoder(paper_architecture()).eval()


def test_paper_model_matches_the_released_layer_table(paper_model):
    assert paper_model.n_parameters == 7_046_997
    rows = {row["name"]: row for row in layer_table(paper_architecture())}
    assert [rows[f"conv{i}"]["params"] for i in range(1, 16)] == PAPER_ENCODER_CONV_PARAMS
    assert [rows[f"conv{i}"]["length"] for i in (1, 14, 15)] == [163_840, 20, 20]
    assert rows["flatten"]["length"] == 10_240
    assert rows["fc_mu"]["params"] == rows["fc_logvar"]["params"] == 1_310_848
    assert rows["fc_decode"]["params"] == 1_320_960
    decoder = [rows[f"deconv{i}"]["params"] for i in range(15, 0, -1)] + [rows["predict0"]["params"]]
    assert decoder == PAPER_DECODER_PARAMS
    assert rows["deconv1"]["length"] == rows["predict0"]["length"] == 327_680


@torch.no_grad()
def test_paper_model_maps_full_spectra_through_a_512_by_20_bottleneck(paper_model):
    x = torch.rand(2, 1, 327_680)
    assert paper_model.encoder(x).shape == (2, 512, 20)
    output = paper_model(x)
    assert output.reconstruction.shape == (2, 1, 327_680)
    assert output.mu.shape == output.logvar.shape == (2, 128)
    assert torch.equal(output.z, output.mu)  # eval mode decodes μ, as the released inference does


def _small(variational=True, latent_dim=4):
    return AutoencoderConfig(input_length=256, channels=(4, 8, 8), kernels=(5, 3, 3), strides=(2, 2, 1),
                             latent_dim=latent_dim, variational=variational)


def test_training_mode_samples_with_the_given_generator():
    model = SpectrumAutoencoder(_small()).train()
    x = torch.rand(3, 1, 256)
    a = model(x, generator=torch.Generator().manual_seed(1)).z
    b = model(x, generator=torch.Generator().manual_seed(1)).z
    c = model(x, generator=torch.Generator().manual_seed(2)).z
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_loss_ignores_masked_pixels():
    torch.manual_seed(0)
    model = SpectrumAutoencoder(_small()).eval()
    x = torch.rand(2, 1, 256)
    mask = torch.ones(2, 256, dtype=torch.bool)
    mask[:, :40] = False
    output = model(x)
    base = masked_l1_kl_loss(output, x, mask, beta=0.5)
    target = x.clone()
    target[:, :, :40] += 100.0  # wildly wrong values only where the mask is off
    moved = masked_l1_kl_loss(output, target, mask, beta=0.5)
    assert moved.total.item() == base.total.item()
    expected = ((output.reconstruction - x).abs()[:, 0, 40:]).mean()
    assert base.reconstruction.item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="every pixel in the batch is masked"):
        masked_l1_kl_loss(output, x, torch.zeros_like(mask), beta=0.5)


def test_kl_matches_the_closed_form_and_vanishes_for_deterministic_models():
    torch.manual_seed(0)
    model = SpectrumAutoencoder(_small()).eval()
    x = torch.rand(5, 1, 256)
    output = model(x)
    prior = torch.distributions.Normal(0.0, 1.0)
    posterior = torch.distributions.Normal(output.mu, torch.exp(0.5 * output.logvar))
    expected = torch.distributions.kl_divergence(posterior, prior).sum(1).mean()
    terms = masked_l1_kl_loss(output, x, torch.ones(5, 256, dtype=torch.bool), beta=0.25)
    assert terms.kl.item() == pytest.approx(expected.item(), rel=1e-5)
    assert terms.total.item() == pytest.approx(terms.reconstruction.item() + 0.25 * terms.kl.item(), rel=1e-6)
    deterministic = SpectrumAutoencoder(_small(variational=False)).eval()
    assert deterministic.fc_logvar is None
    det_terms = masked_l1_kl_loss(deterministic(x), x, torch.ones(5, 256, dtype=torch.bool), beta=0.25)
    assert det_terms.kl.item() == 0.0


def test_bad_configurations_and_inputs_name_the_problem():
    with pytest.raises(ValueError, match="latent_dim must be an integer ≥ 1, got 0"):
        _small(latent_dim=0)
    with pytest.raises(ValueError, match="multiple of the total stride 4"):
        AutoencoderConfig(input_length=250, channels=(4, 4), kernels=(3, 3), strides=(2, 2), latent_dim=2)
    with pytest.raises(ValueError, match="one entry per conv layer"):
        AutoencoderConfig(input_length=256, channels=(4,), kernels=(3, 3), strides=(2, 2), latent_dim=2)
    model = SpectrumAutoencoder(_small())
    with pytest.raises(ValueError, match=r"shape \(batch, 1, 256\).*got \(2, 1, 300\)"):
        model(torch.zeros(2, 1, 300))
    bad = torch.zeros(2, 1, 256)
    bad[0, 0, 7] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite flux"):
        model(bad)


FAST_LAYER_CONFIGS = {
    "study": lambda: get_preset("study").model,
    "smoke": lambda: get_preset("smoke").model,
    "first stride 1": lambda: AutoencoderConfig(input_length=256, channels=(4, 8, 8), kernels=(5, 3, 3),
                                                strides=(1, 2, 2), latent_dim=4),  # a last layer of kernel 5, stride 1
}


@pytest.mark.parametrize("name", FAST_LAYER_CONFIGS)
def test_the_fast_layers_compute_the_same_function_and_gradient(name):
    """Same weights, spectra and ε: the fast formulation (channels-last rows, the edges as matrix products, predict0
    as a shifted sum) sums the same products in another order, so outputs agree within float32 rounding: at most
    1e-5 of their scale for the reconstruction and μ. The study's He-normal weights carry signals of order one
    through all twenty layers, where each layer's rounding (float32 ε = 6e-8 on sums of hundreds of products)
    compounds: observed 2.1e-6 for the reconstruction, against 7e-8 with PyTorch's default weights, whose signal
    shrinks layer by layer. A change to what a layer computes moves the output by its own scale. Each parameter's
    gradient agrees within 1e-3 of its norm (observed 1.3e-4 on the study model): the L1 loss's gradient is the
    residual's sign, which flips on the few pixels whose residual is within rounding of 0. The state dicts are the
    same."""
    config = FAST_LAYER_CONFIGS[name]()
    torch.manual_seed(0)
    plain = SpectrumAutoencoder(config).train()
    fast = copy.deepcopy(plain).set_fast_layers(True)
    generator = torch.Generator().manual_seed(1)
    flux = torch.rand(4, 1, config.input_length, generator=generator) + 0.5
    noise = torch.randn(4, config.latent_dim, generator=generator)
    mask = torch.ones(4, config.input_length, dtype=torch.bool)
    outputs = {}
    for label, model in (("plain", plain), ("fast", fast)):
        outputs[label] = model(flux, noise=noise)
        masked_l1_kl_loss(outputs[label], flux, mask, beta=1e-3).total.backward()
    for field, tolerance in (("reconstruction", 1e-5), ("mu", 1e-5)):
        ours, theirs = getattr(outputs["fast"], field), getattr(outputs["plain"], field)
        assert ours.shape == theirs.shape and ours.dtype == torch.float32
        assert (ours - theirs).abs().max() <= tolerance * theirs.abs().max(), field
    for (key, ours), (_, theirs) in zip(fast.named_parameters(), plain.named_parameters(), strict=True):
        assert (ours.grad - theirs.grad).norm() <= 1e-3 * theirs.grad.norm(), key
    assert list(fast.state_dict()) == list(plain.state_dict())


def test_the_fast_layers_keep_the_edges_in_float32_under_autocast():
    """Under bf16 autocast the interior computes in bfloat16 but the reconstruction is drawn in float32."""
    config = get_preset("smoke").model
    torch.manual_seed(0)
    model = SpectrumAutoencoder(config).train().set_fast_layers(True)
    flux = torch.rand(2, 1, config.input_length) + 0.5
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(flux, noise=torch.zeros(2, config.latent_dim))
        hidden = model.fc_decode(output.z)
    assert hidden.dtype == torch.bfloat16 and output.reconstruction.dtype == torch.float32


def test_he_normal_weights_keep_the_decoders_signal():
    """From a unit-variance input at the bottleneck, the study decoder's output keeps 0.34 of its standard deviation
    with He-normal weights and 0.0024 with PyTorch's default (each transposed convolution shrinks it); the bounds
    0.1 and 0.01 sit a factor 3–4 from each."""
    ratios = {}
    for init in ("default", "he_normal"):
        config = get_preset("study", init=init).model
        torch.manual_seed(0)
        decoder = SpectrumAutoencoder(config).eval().decoder[:-1]  # up to the last activation, before predict0
        hidden = torch.randn(64, *config.bottleneck_shape, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            ratios[init] = float(decoder(hidden).std() / hidden.std())
    assert ratios["he_normal"] > 0.1 and ratios["default"] < 0.01
