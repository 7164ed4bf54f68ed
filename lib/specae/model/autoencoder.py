"""The 1-D convolutional autoencoder (deterministic or β-VAE) and its masked L1 + β·KL loss.

A plain hourglass as in the authors' released model: strided Conv1d + LeakyReLU(0.1) down to
(channels[-1], n_positions), flattened to a fully connected μ head (and a log σ² head for the
β-VAE); the decoder mirrors it with ConvTranspose1d (kernel 4, stride 2, padding 1 for each
stride-2 stage) and ends in a 1→1 conv without activation (``predict0``). ``paper_architecture()``
reproduces the released layer table exactly: 15 convs, 512 × 20 before the bottleneck, 7,046,997
parameters with 128 latents.

``SpectrumAutoencoder.set_fast_layers`` switches a model to the fast path's formulation of the same function
(same parameters and names; :mod:`specae.training.options` says when it is used).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812 (the usual name)
from torch import nn

from specae.spectra.grid import N_PADDED_PIXELS


@dataclass(frozen=True)
class AutoencoderConfig:
    """Architecture of a :class:`SpectrumAutoencoder`.

    input_length: samples per spectrum (must be divisible by the product of the strides).
    channels, kernels, strides: one entry per encoder conv (kernels odd, strides 1 or 2).
    latent_dim: size of the code (μ).
    variational: True for a β-VAE (μ and log σ² heads), False for a deterministic autoencoder.
    negative_slope: LeakyReLU slope after every conv and transposed conv (0.1 in the release).
    logvar_bias_init: initial bias of the log σ² head (None: PyTorch's default initialisation, as in the
    release). The study sets −6 (σ ≈ 0.05) so that the β-VAE starts as nearly the deterministic model;
    with the default, σ ≈ 1 noise on codes of order 0.05 left it at an L1 of 0.40 after 500 steps where
    the deterministic model reached 0.09 (docs/decisions.md, *The study*).
    """

    input_length: int
    channels: tuple[int, ...]
    kernels: tuple[int, ...]
    strides: tuple[int, ...]
    latent_dim: int
    variational: bool = True
    negative_slope: float = 0.1
    logvar_bias_init: float | None = None

    def __post_init__(self):
        if not isinstance(self.latent_dim, int) or self.latent_dim < 1:
            raise ValueError(f"latent_dim must be an integer ≥ 1, got {self.latent_dim!r}")
        if not (len(self.channels) == len(self.kernels) == len(self.strides) >= 1):
            raise ValueError(
                f"channels, kernels and strides need one entry per conv layer; got lengths "
                f"{len(self.channels)}, {len(self.kernels)}, {len(self.strides)}"
            )
        if any(k < 1 or k % 2 == 0 for k in self.kernels):
            raise ValueError(f"encoder kernels must be odd and ≥ 1, got {self.kernels}")
        if any(s not in (1, 2) for s in self.strides):
            raise ValueError(f"strides must be 1 or 2, got {self.strides}")
        if any(c < 1 for c in self.channels):
            raise ValueError(f"channels must be ≥ 1, got {self.channels}")
        reduction = math.prod(self.strides)
        if self.input_length < reduction or self.input_length % reduction:
            raise ValueError(
                f"input_length {self.input_length} must be a multiple of the total stride {reduction}"
            )

    @property
    def bottleneck_shape(self) -> tuple[int, int]:
        """(channels, positions) of the last conv's output, e.g. (512, 20) for the paper."""
        return self.channels[-1], self.input_length // math.prod(self.strides)


def paper_architecture(latent_dim: int = 128, variational: bool = True) -> AutoencoderConfig:
    """The layer table of the authors' released model, at 327,680 samples."""
    return AutoencoderConfig(
        input_length=N_PADDED_PIXELS,
        channels=(16, 16, 16, 32, 32, 32, 64, 64, 64, 128, 128, 128, 256, 512, 512),
        kernels=(7, 5, 5) + (3,) * 12,
        strides=(2,) * 14 + (1,),
        latent_dim=latent_dim,
        variational=variational,
    )


@dataclass
class AutoencoderOutput:
    """reconstruction: (batch, 1, L); mu, z: (batch, latent_dim); logvar: (batch, latent_dim) or None."""

    reconstruction: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor | None
    z: torch.Tensor


@dataclass
class LossTerms:
    """Scalar loss tensors: total = reconstruction + beta · kl."""

    total: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


class SpectrumAutoencoder(nn.Module):
    """1-D convolutional autoencoder for spectra of shape (batch, 1, input_length)."""

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config
        n_channels, n_positions = config.bottleneck_shape
        n_flat = n_channels * n_positions
        self.encoder = _encoder(config)
        self.fc_mu = nn.Linear(n_flat, config.latent_dim)
        self.fc_logvar = nn.Linear(n_flat, config.latent_dim) if config.variational else None
        if self.fc_logvar is not None and config.logvar_bias_init is not None:
            nn.init.constant_(self.fc_logvar.bias, config.logvar_bias_init)
        self.fc_decode = nn.Linear(config.latent_dim, n_flat)
        self.decoder = _decoder(config)
        self.fast_layers = False

    def set_fast_layers(self, enabled: bool = True) -> SpectrumAutoencoder:
        """Compute the same function a faster way (``enabled``) or as the release does; returns the model.

        The fast formulation runs the edges in float32 even under autocast (the first conv, which sees the
        flux, and the last transposed conv and ``predict0``, which draw the reconstruction), and ``predict0``,
        a 1 → 1 channel convolution of 3 taps, as a sum of three shifted copies of its input: the same
        weights, an output equal within float rounding, and on a CPU a fifth of a step less than the
        convolution's kernel (``benchmarks/train_step_candidates.py``). Parameters and their names are
        unchanged, so the state dict loads into either.
        """
        self.fast_layers = enabled
        return self

    @property
    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (batch, 1, L) → μ (batch, latent_dim) and log σ² (batch, latent_dim) or None."""
        self._check_input(x)
        if self.fast_layers:
            rows = _in_float32(lambda flux: _activate(self.encoder[1], _first_conv_rows(self.encoder[0], flux)), x)
            features = _rows(self.encoder[2:], rows).squeeze(2).flatten(1)
        else:
            features = self.encoder(x).flatten(1)
        logvar = self.fc_logvar(features) if self.fc_logvar is not None else None
        return self.fc_mu(features), logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z: (batch, latent_dim) → reconstruction (batch, 1, L)."""
        if z.ndim != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"codes must have shape (batch, {self.config.latent_dim}), got {tuple(z.shape)}")
        n_channels, n_positions = self.config.bottleneck_shape
        hidden = self.fc_decode(z).view(-1, n_channels, n_positions)
        if not self.fast_layers:
            return self.decoder(hidden)
        last, activation, predict0 = self.decoder[-3:]
        rows = _rows(self.decoder[:-3], hidden.unsqueeze(2))
        return _in_float32(lambda h: _shifted_sum(activation(_last_deconv_rows(last, h)), predict0.weight,
                                                  predict0.bias), rows).squeeze(2)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None,
                noise: torch.Tensor | None = None) -> AutoencoderOutput:
        """Encode and decode x: (batch, 1, L).

        In training mode a β-VAE samples z = μ + ε·exp(½ log σ²) with ε = ``noise`` (batch, latent_dim)
        when given, else drawn from ``generator``; otherwise z = μ (the released model's deterministic
        inference).
        """
        mu, logvar = self.encode(x)
        z = mu
        if logvar is not None and self.training:
            if noise is None:
                noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            elif noise.shape != mu.shape:
                raise ValueError(f"noise must have shape {tuple(mu.shape)}, got {tuple(noise.shape)}")
            z = mu + noise * torch.exp(0.5 * logvar)
        return AutoencoderOutput(reconstruction=self.decode(z), mu=mu, logvar=logvar, z=z)

    def _check_input(self, x: torch.Tensor) -> None:
        length = self.config.input_length
        if x.ndim != 3 or x.shape[1] != 1 or x.shape[2] != length:
            raise ValueError(
                f"spectra must have shape (batch, 1, {length}) for this model, got {tuple(x.shape)}; "
                "check that the data grid matches the preset"
            )
        if x.shape[0] == 0:
            raise ValueError("empty batch: no spectra to encode")
        if not torch.isfinite(x).all():
            raise ValueError(
                "spectra contain NaN or infinite flux; run median_normalise first, which masks non-finite pixels"
            )


def masked_l1_kl_loss(output: AutoencoderOutput, target: torch.Tensor, mask: torch.Tensor, beta: float,
                      n_valid: torch.Tensor | None = None, n_spectra: int | None = None) -> LossTerms:
    """Masked L1 reconstruction plus β·KL(q(z|x) ‖ N(0, I)).

    target: (batch, 1, L); mask: (batch, L) or (batch, 1, L) bool, True on pixels that count.
    reconstruction: mean |target − output| over valid pixels of the batch (masked pixels are ignored).
    kl: summed over latent dimensions, averaged over the batch (0 for a deterministic model).
    n_valid, n_spectra: divide by these totals instead (valid pixels and spectra of a whole batch that
    is split across processes, this call seeing one slice), so the slices' terms add up to the batch's.
    """
    mask = mask.reshape(target.shape).to(target.dtype)
    n_valid = mask.sum() if n_valid is None else torch.as_tensor(n_valid, dtype=target.dtype, device=target.device)
    if n_valid == 0:
        raise ValueError("every pixel in the batch is masked; nothing to reconstruct")
    reconstruction = (mask * (output.reconstruction - target).abs()).sum() / n_valid
    if output.logvar is None:
        kl = torch.zeros((), dtype=target.dtype, device=target.device)
    else:
        per_spectrum = (1 + output.logvar - output.mu.pow(2) - output.logvar.exp()).sum(dim=1)
        kl = -0.5 * (per_spectrum.mean() if n_spectra is None else per_spectrum.sum() / n_spectra)
    return LossTerms(total=reconstruction + beta * kl, reconstruction=reconstruction, kl=kl)


def _in_float32(layers, x: torch.Tensor) -> torch.Tensor:
    """``layers(x)`` in float32, with autocast (if any) off."""
    with torch.autocast(x.device.type, enabled=False):
        return layers(x.float())


def _rows(layers: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``layers`` (1-D convs, transposed convs and activations) applied to x (b, C, 1, L) as 2-D layers of one
    row, in the channels-last memory layout, where oneDNN's kernels for a few channels are faster: (b, C', 1, L')."""
    x = x.contiguous(memory_format=torch.channels_last)
    for layer in layers:
        if isinstance(layer, nn.Conv1d | nn.ConvTranspose1d):
            weight = layer.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)
            stride, padding = (1, layer.stride[0]), (0, layer.padding[0])
            if isinstance(layer, nn.ConvTranspose1d):
                x = F.conv_transpose2d(x, weight, layer.bias, stride=stride, padding=padding)
            else:
                x = F.conv2d(x, weight, layer.bias, stride=stride, padding=padding)
            x = x.contiguous(memory_format=torch.channels_last)  # a layer of one input channel answers in the default
        else:
            x = _activate(layer, x)
        x = _ChannelsLastGradient.apply(x)
    return x


def _activate(activation: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``activation`` of x (b, C, 1, L) in the channels-last layout, applied to the same memory seen as a dense
    (b, 1, L, C) tensor, where it runs 2.5 × faster than on the 4-D layout."""
    return activation(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _first_conv_rows(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """A convolution of one input channel applied to x (b, 1, L) as a matrix product of its input's windows:
    (b, C, 1, L') in the channels-last layout (which oneDNN's kernel leaves in the default one)."""
    (kernel,), (stride,), (padding,) = conv.kernel_size, conv.stride, conv.padding
    windows = F.pad(x[:, 0], (padding, padding)).unfold(-1, kernel, stride)  # (b, L', kernel)
    rows = F.linear(windows, conv.weight[:, 0], conv.bias)  # (b, L', C)
    return rows.transpose(1, 2).unsqueeze(2)


def _last_deconv_rows(deconv: nn.ConvTranspose1d, x: torch.Tensor) -> torch.Tensor:
    """A transposed convolution to one channel (kernel 4, stride 2, padding 1, as every stride-2 stage) of
    x (b, C, 1, L) in the channels-last layout, as one matrix product and two sums of taps: (b, 1, 1, 2L). Other
    shapes go through :func:`_rows`."""
    if (deconv.out_channels, deconv.kernel_size, deconv.stride, deconv.padding) != (1, (4,), (2,), (1,)):
        return _rows(nn.Sequential(deconv), x)
    batch, channels, _, length = x.shape
    taps = F.pad(x.permute(0, 2, 3, 1).reshape(batch, length, channels) @ deconv.weight[:, 0], (0, 0, 1, 1))
    even = taps[:, :-2, 3] + taps[:, 1:-1, 1]  # y[2m] = w₃·x[m−1] + w₁·x[m]
    odd = taps[:, 1:-1, 2] + taps[:, 2:, 0]  # y[2m+1] = w₂·x[m] + w₀·x[m+1]
    return torch.stack([even, odd], dim=-1).reshape(batch, 1, 1, 2 * length) + deconv.bias


class _ChannelsLastGradient(torch.autograd.Function):
    """The identity, whose gradient is made channels-last: a layer of one channel may hand back its input's gradient
    in the default layout, and an activation's backward given its input and gradient in two layouts runs 15 ×
    slower than given one."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> torch.Tensor:
        return gradient.contiguous(memory_format=torch.channels_last)


def _shifted_sum(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A 1 → 1 channel, 3-tap, padding-1 convolution of x (b, 1, ..., L) by ``weight`` (1, 1, 3) and ``bias``
    (1,), as a sum of three shifted copies: (b, 1, ..., L)."""
    padded = F.pad(x, (1, 1))
    taps = weight[0, 0]
    return taps[0] * padded[..., :-2] + taps[1] * padded[..., 1:-1] + taps[2] * padded[..., 2:] + bias


def layer_table(config: AutoencoderConfig) -> list[dict]:
    """One row per layer: name, kind, in/out channels, kernel, stride, output length, parameters."""
    model = SpectrumAutoencoder(config)
    rows, length = [], config.input_length
    for name, module in list(model.encoder.named_children()) + [("flatten", None)]:
        if isinstance(module, nn.Conv1d):
            length = length // module.stride[0]
            rows.append(_row(name, module, length))
        elif name == "flatten":
            n_channels, n_positions = config.bottleneck_shape
            rows.append(dict(name="flatten", kind="Flatten", channels=f"{n_channels}×{n_positions}",
                             kernel="", stride="", length=n_channels * n_positions, params=0))
    for name in ("fc_mu", "fc_logvar", "fc_decode"):
        layer = getattr(model, name)
        if layer is not None:
            rows.append(dict(name=name, kind="Linear", channels=f"{layer.in_features}→{layer.out_features}",
                             kernel="", stride="", length=layer.out_features, params=_count(layer)))
    length = config.bottleneck_shape[1]
    for name, module in model.decoder.named_children():
        if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
            length = length * (module.stride[0] if isinstance(module, nn.ConvTranspose1d) else 1)
            rows.append(_row(name, module, length))
    return rows


def _encoder(config: AutoencoderConfig) -> nn.Sequential:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    in_channels = 1
    stages = zip(config.channels, config.kernels, config.strides, strict=True)
    for i, (out_channels, kernel, stride) in enumerate(stages, 1):
        layers[f"conv{i}"] = nn.Conv1d(in_channels, out_channels, kernel, stride=stride, padding=(kernel - 1) // 2)
        layers[f"act{i}"] = nn.LeakyReLU(config.negative_slope)
        in_channels = out_channels
    return nn.Sequential(layers)


def _decoder(config: AutoencoderConfig) -> nn.Sequential:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    in_channels = (1,) + config.channels[:-1]
    for i in range(len(config.channels), 0, -1):
        stride, kernel = config.strides[i - 1], config.kernels[i - 1]
        if stride == 2:
            deconv = nn.ConvTranspose1d(config.channels[i - 1], in_channels[i - 1], 4, stride=2, padding=1)
        else:
            deconv = nn.ConvTranspose1d(config.channels[i - 1], in_channels[i - 1], kernel, padding=(kernel - 1) // 2)
        layers[f"deconv{i}"] = deconv
        layers[f"act{i}"] = nn.LeakyReLU(config.negative_slope)
    layers["predict0"] = nn.Conv1d(1, 1, 3, padding=1)
    return nn.Sequential(layers)


def _row(name: str, module: nn.Conv1d | nn.ConvTranspose1d, length: int) -> dict:
    return dict(name=name, kind=type(module).__name__, channels=f"{module.in_channels}→{module.out_channels}",
                kernel=module.kernel_size[0], stride=module.stride[0], length=length, params=_count(module))


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
