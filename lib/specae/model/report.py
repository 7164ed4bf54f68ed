"""What a model configuration costs and sees: receptive field, layer shapes, FLOPs and their split by part.

Everything is read off the modules of an actual :class:`SpectrumAutoencoder` (kernel, stride,
padding and dilation of each ``nn.Conv1d``), never off the config's lists, so the numbers follow the
model if the architecture code changes. Wavelength widths use the pixel width of the grid
(0.01 Å × grid factor) and velocities are c·Δλ/λ at a wavelength the caller names: one the grid covers,
such as its centre (:func:`grid_velocity_scale` gives the grid's wavelengths and pixel widths in km/s).
"""

from __future__ import annotations

import copy
import functools

import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from specae.constants import SPEED_OF_LIGHT_KMS
from specae.model.autoencoder import AutoencoderConfig, SpectrumAutoencoder, masked_l1_kl_loss
from specae.spectra.grid import Grid

# Layers that act on each sample alone: they leave the receptive field unchanged.
_POINTWISE = (nn.LeakyReLU, nn.ReLU, nn.Identity, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU)


def velocity_width_km_s(width_angstrom: float, wavelength_angstrom: float) -> float:
    """A wavelength interval (Å) as a Doppler velocity width c·Δλ/λ (km/s) at ``wavelength_angstrom``."""
    if not wavelength_angstrom > 0:
        raise ValueError(f"wavelength_angstrom must be > 0, got {wavelength_angstrom}")
    return SPEED_OF_LIGHT_KMS * width_angstrom / wavelength_angstrom


def grid_velocity_scale(grid: Grid) -> dict:
    """The wavelengths a grid covers and its pixel width in km/s over them.

    Returns ``blue_angstrom`` and ``red_angstrom`` (the centres of the grid's first and last valid pixels;
    padding is left out), ``centre_angstrom`` (their midpoint), ``step_angstrom``, and the pixel width
    c·Δλ/λ at the centre (``pixel_km_s``), at the red end (``pixel_km_s_low``) and at the blue end
    (``pixel_km_s_high``): every pixel of the grid is between the last two.
    """
    valid = grid.wavelength[grid.mask]
    if valid.size == 0:
        raise ValueError(f"the grid ({grid.describe()}) has no valid pixel")
    blue, red = float(valid[0]), float(valid[-1])
    centre, step = (blue + red) / 2, grid.step_angstrom
    return dict(blue_angstrom=blue, red_angstrom=red, centre_angstrom=centre, step_angstrom=step,
                pixel_km_s=velocity_width_km_s(step, centre), pixel_km_s_low=velocity_width_km_s(step, red),
                pixel_km_s_high=velocity_width_km_s(step, blue))


def receptive_field(config: AutoencoderConfig, step_angstrom: float, wavelength_angstrom: float) -> dict:
    """Receptive field of the encoder's last conv, in input pixels, Å and km/s at ``wavelength_angstrom``.

    step_angstrom: the input's pixel width (the preset's ``data.grid.step_angstrom``; a model's length alone
    does not fix it, since a grid may be a window of the lattice).
    wavelength_angstrom: where Å become km/s (c·Δλ/λ); one the grid covers, e.g. its centre,
    ``grid_velocity_scale(grid)["centre_angstrom"]``.

    Position p of a layer's output sees input pixels ``start + p·jump`` … ``start + p·jump + pixels − 1``
    (a negative start reaches into the convs' zero padding). Returns a dict with the last layer's
    ``layer``, ``pixels``, ``jump`` (pixels between neighbouring positions), ``start``, ``n_positions``,
    ``step_angstrom``, ``angstrom``, ``wavelength_angstrom``, ``km_s``, ``jump_angstrom``, ``jump_km_s``, and
    ``per_layer``: one such dict (layer, kernel, stride, padding, dilation, pixels, jump, start) per conv.
    """
    if not step_angstrom > 0:
        raise ValueError(f"step_angstrom must be > 0, got {step_angstrom}")
    field = _field_in_pixels(config)
    width, jump_width = field["pixels"] * step_angstrom, field["jump"] * step_angstrom
    return dict(layer=field["layer"], pixels=field["pixels"], jump=field["jump"], start=field["start"],
                n_positions=field["n_positions"], step_angstrom=step_angstrom, angstrom=width,
                wavelength_angstrom=wavelength_angstrom, km_s=velocity_width_km_s(width, wavelength_angstrom),
                jump_angstrom=jump_width, jump_km_s=velocity_width_km_s(jump_width, wavelength_angstrom),
                per_layer=field["per_layer"])


def _field_in_pixels(config: AutoencoderConfig) -> dict:
    """The receptive field of the encoder's last conv in input pixels: ``layer``, ``pixels``, ``jump``,
    ``start``, ``n_positions`` and ``per_layer`` (see :func:`receptive_field`)."""
    pixels, jump, start, per_layer = 1, 1, 0, []
    for name, module in meta_model(config).encoder.named_children():
        if isinstance(module, _POINTWISE):
            continue
        if not isinstance(module, nn.Conv1d):
            raise TypeError(f"encoder layer {name} is a {type(module).__name__}; only Conv1d and pointwise "
                            "layers have a known receptive field here")
        if not isinstance(module.padding, tuple):
            raise ValueError(f"encoder layer {name} uses padding={module.padding!r}; give explicit padding")
        kernel, stride = module.kernel_size[0], module.stride[0]
        padding, dilation = module.padding[0], module.dilation[0]
        start -= padding * jump
        pixels += dilation * (kernel - 1) * jump
        jump *= stride
        per_layer.append(dict(layer=name, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                              pixels=pixels, jump=jump, start=start))
    if not per_layer:
        raise ValueError("the encoder has no Conv1d layer")
    return dict(layer=per_layer[-1]["layer"], pixels=pixels, jump=jump, start=start,
                n_positions=config.bottleneck_shape[1], per_layer=per_layer)


def positions_seeing(config: AutoencoderConfig, pixel: int) -> range:
    """Bottleneck positions whose receptive field contains input ``pixel`` (0 ≤ pixel < input_length)."""
    if not 0 <= pixel < config.input_length:
        raise ValueError(f"pixel {pixel} is outside the input (0 … {config.input_length - 1})")
    field = _field_in_pixels(config)
    first = -(-(pixel - field["start"] - field["pixels"] + 1) // field["jump"])  # ceiling division
    last = (pixel - field["start"]) // field["jump"]
    return range(max(first, 0), min(last, field["n_positions"] - 1) + 1)


def measured_receptive_field(config: AutoencoderConfig, position: int | None = None, seed: int = 0) -> dict:
    """Input pixels that reach one bottleneck position, found by back-propagation (CPU, float64).

    position: bottleneck position (default: the middle one). The gradient of that position's features
    (summed over channels) with respect to the (1, 1, L) input is non-zero exactly on the pixels it sees.
    Returns ``position``, ``first``, ``last`` (inclusive input indices) and ``pixels`` (their number).
    """
    n_positions = config.bottleneck_shape[1]
    position = n_positions // 2 if position is None else position
    if not 0 <= position < n_positions:
        raise ValueError(f"position {position} is outside the bottleneck (0 … {n_positions - 1})")
    encoder = _seeded_model(config, seed).encoder.double()
    x = torch.zeros(1, 1, config.input_length, dtype=torch.float64, requires_grad=True)
    encoder(x)[0, :, position].sum().backward()
    if x.grad is None:
        raise RuntimeError("back-propagation left no gradient on the input")
    seen = torch.nonzero(x.grad[0, 0]).flatten()
    if seen.numel() == 0:
        raise RuntimeError(f"no input pixel reaches position {position}; the gradient vanished")
    first, last = int(seen[0]), int(seen[-1])
    return dict(position=position, first=first, last=last, pixels=last - first + 1)


def layer_shapes(config: AutoencoderConfig) -> pd.DataFrame:
    """(channels, length) of every activation along the forward path, input to reconstruction.

    Rows: ``input``, each encoder conv, ``μ`` (the code: latent_dim channels at one position, since a
    fully connected layer sees the whole spectrum), ``fc_decode`` (reshaped to the bottleneck), each
    decoder layer. Columns: layer, part (encoder | code | decoder), channels, length, values (= channels × length).
    Lengths come from each module's kernel, stride, padding and dilation.
    """
    model = meta_model(config)
    rows, length = [dict(layer="input", part="encoder", channels=1, length=config.input_length)], config.input_length
    for part, sequence in (("encoder", model.encoder), ("decoder", model.decoder)):
        if part == "decoder":
            rows.append(dict(layer="μ", part="code", channels=config.latent_dim, length=1))
            length = config.bottleneck_shape[1]
            rows.append(dict(layer="fc_decode", part="code", channels=config.bottleneck_shape[0], length=length))
        for name, module in sequence.named_children():
            if isinstance(module, _POINTWISE):
                continue
            length = _output_length(module, length)
            rows.append(dict(layer=name, part=part, channels=module.out_channels, length=length))
    table = pd.DataFrame(rows)
    table["values"] = table["channels"] * table["length"]
    return table


def flops_per_spectrum(config: AutoencoderConfig, device: str | torch.device = "cpu") -> dict:
    """FLOPs for one spectrum (batch of 1), counted by ``torch.utils.flop_counter.FlopCounterMode``.

    The counter counts convolutions and matrix products only (a multiply-add is 2 FLOPs; biases,
    activations and the loss are not counted). ``forward``: inference (z = μ); ``backward``: the
    gradients of one training step (masked L1 + KL); ``training`` = forward + backward. Also returns
    ``parameters`` and ``forward_by_part`` (encoder, fc_mu, fc_logvar, fc_decode, decoder).
    The count is remembered per (config, device): counting the paper model takes seconds on a CPU.
    """
    return copy.deepcopy(_count_flops(config, str(torch.device(device))))


@functools.lru_cache(maxsize=16)
def _count_flops(config: AutoencoderConfig, device: str) -> dict:
    model = _seeded_model(config, seed=0).to(device)
    x = torch.rand(1, 1, config.input_length, generator=torch.Generator().manual_seed(0)).to(device)
    name = type(model).__name__
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(x)
    forward = counter.get_total_flops()
    counts = counter.get_flop_counts()
    parts = {part: sum(counts.get(f"{name}.{part}", {}).values())
             for part in ("encoder", "fc_mu", "fc_logvar", "fc_decode", "decoder")}
    if sum(parts.values()) != forward:
        raise RuntimeError(f"forward FLOPs by part {parts} do not add up to the total {forward}")
    mask = torch.ones(1, config.input_length, dtype=torch.bool, device=device)
    with FlopCounterMode(display=False) as counter:
        output = model.train()(x, generator=torch.Generator(device=x.device).manual_seed(0))
        masked_l1_kl_loss(output, x, mask, beta=1.0).total.backward()
    training = counter.get_total_flops()
    return dict(parameters=model.n_parameters, forward=forward, backward=training - forward, training=training,
                forward_by_part=parts)


def cost_by_part(config: AutoencoderConfig, device: str | torch.device = "cpu") -> pd.DataFrame:
    """Parameters and forward FLOPs of the encoder convs, the fully connected layers and the decoder.

    Rows: encoder, fully connected (μ, log σ² and decoder-input layers), decoder. Columns: parameters,
    forward GFLOP (per spectrum), and each as a percentage of the model's total.
    """
    model, flops = meta_model(config), flops_per_spectrum(config, device=device)["forward_by_part"]
    fully_connected = ("fc_mu", "fc_logvar", "fc_decode")
    parts = {"encoder": ("encoder",), "fully connected": fully_connected, "decoder": ("decoder",)}
    rows = {}
    for part, names in parts.items():
        modules = [getattr(model, name) for name in names if getattr(model, name) is not None]
        rows[part] = dict(parameters=sum(p.numel() for m in modules for p in m.parameters()),
                          forward_gflop=sum(flops[name] for name in names) / 1e9)
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("part")
    table["parameters (%)"] = 100 * table["parameters"] / table["parameters"].sum()
    table["forward FLOPs (%)"] = 100 * table["forward_gflop"] / table["forward_gflop"].sum()
    return table.rename(columns={"forward_gflop": "forward GFLOP"})


def meta_model(config: AutoencoderConfig) -> SpectrumAutoencoder:
    """The model's structure without allocating or initialising weights."""
    with torch.device("meta"):
        return SpectrumAutoencoder(config)


def _seeded_model(config: AutoencoderConfig, seed: int) -> SpectrumAutoencoder:
    """A CPU model with weights from ``seed``, leaving the global random state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SpectrumAutoencoder(config)


def _output_length(module: nn.Module, length: int) -> int:
    """Output length of a Conv1d or ConvTranspose1d for an input of ``length`` samples."""
    if not isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)) or not isinstance(module.padding, tuple):
        raise TypeError(f"cannot compute the output length of {module!r}")
    kernel, stride = module.kernel_size[0], module.stride[0]
    padding, dilation = module.padding[0], module.dilation[0]
    if isinstance(module, nn.ConvTranspose1d):
        return (length - 1) * stride - 2 * padding + dilation * (kernel - 1) + module.output_padding[0] + 1
    return (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
