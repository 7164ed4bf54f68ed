"""The 1-D convolutional autoencoder (deterministic or β-VAE) and its masked L1 + β·KL loss.

A plain hourglass as in the authors' released model: strided Conv1d + LeakyReLU(0.1) down to
(channels[-1], n_positions), flattened to a fully connected μ head (and a log σ² head for the
β-VAE); the decoder mirrors it with ConvTranspose1d (kernel 4, stride 2, padding 1 for each
stride-2 stage) and ends in a 1→1 conv without activation (``predict0``). ``paper_architecture()``
reproduces the released layer table exactly: 15 convs, 512 × 20 before the bottleneck, 7,046,997
parameters with 128 latents.

``SpectrumAutoencoder.set_fast_layers`` switches a model to the fast path's formulation of the same function
(:mod:`specae.model.fast_layers`: same parameters and names; :mod:`specae.training.options` says when it is used).

A configuration with ``velocity=True`` asks for the Doppler-aware variant, which is not the paper's model
(:mod:`specae.model.doppler_autoencoder`); build models with :func:`specae.model.factory.build_model`, which
returns whichever the configuration asks for.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from specae.constants import SPEED_OF_LIGHT_KMS
from specae.model import fast_layers
from specae.spectra.grid import N_PADDED_PIXELS

INITS = ("default", "he_normal")
MAX_VELOCITY_RANGE_KMS = SPEED_OF_LIGHT_KMS / 10  # the classical Doppler factor errs by (v/c)²/2 ≈ 0.5 % beyond


@dataclass(frozen=True)
class AutoencoderConfig:
    """Architecture of a :class:`SpectrumAutoencoder`.

    input_length: samples per spectrum (must be divisible by the product of the strides).
    channels, kernels, strides: one entry per encoder conv (kernels odd, strides 1 or 2).
    latent_dim: size of the code (μ).
    variational: True for a β-VAE (μ and log σ² heads), False for a deterministic autoencoder.
    negative_slope: LeakyReLU slope after every conv and transposed conv (0.1 in the release).
    init: the convolutions' initial weights: "default" (PyTorch's, as the release runs: it imports Kaiming
    initialisation and never applies it) or "he_normal" (normal with variance 2 / ((1 + slope²) · fan-in), the
    fan-in of a transposed convolution being in_channels · kernel / stride, the terms each output sums; biases 0).
    logvar_bias_init: initial bias of the log σ² head (None: PyTorch's default initialisation, as in the
    release). The study sets −6 (σ ≈ 0.05) so that the β-VAE starts as nearly the deterministic model;
    with the default, σ ≈ 1 noise on codes of order 0.05 left it at an L1 of 0.40 after 500 steps where
    the deterministic model reached 0.09 (docs/decisions.md, *The study*).

    The Doppler-aware variant (not the paper's model; :mod:`specae.model.doppler_autoencoder`), off by default:
    velocity: True to draw each spectrum in its rest frame and move it onto the observed grid by a velocity
    v = v_anchor(x) + δv(x), the anchor a cross-correlation with a template stacked from the data (no labels).
    velocity_range_kms: the largest |v| (km/s) the model can represent: the decoder draws a rest grid that covers the
    observed one for every |v| ≤ this (:meth:`specae.model.doppler.RestGrid.covering`); at most c/10.
    velocity_step_kms: the step (km/s) of the anchor's cross-correlation grid, which spans
    ±(velocity_range_kms − velocity_head_kms); a parabola through the peak gives the anchor between steps.
    velocity_head_kms: the bound (km/s) of the learned correction, δv = velocity_head_kms · tanh(·); 0 turns the
    head off (v = v_anchor).
    These settings must keep their defaults when ``velocity`` is False.
    """

    input_length: int
    channels: tuple[int, ...]
    kernels: tuple[int, ...]
    strides: tuple[int, ...]
    latent_dim: int
    variational: bool = True
    negative_slope: float = 0.1
    logvar_bias_init: float | None = None
    init: str = "default"
    velocity: bool = False
    velocity_range_kms: float = 200.0
    velocity_step_kms: float = 1.0
    velocity_head_kms: float = 5.0

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
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if any(c < 1 for c in self.channels):
            raise ValueError(f"channels must be ≥ 1, got {self.channels}")
        reduction = math.prod(self.strides)
        if self.input_length < reduction or self.input_length % reduction:
            raise ValueError(
                f"input_length {self.input_length} must be a multiple of the total stride {reduction}"
            )
        self._check_velocity()

    def _check_velocity(self) -> None:
        """ValueErrors for the Doppler-aware variant's settings (see the class docstring)."""
        if not isinstance(self.velocity, bool):
            raise ValueError(f"velocity must be True or False, got {self.velocity!r}")
        defaults = {field.name: field.default for field in dataclasses.fields(self)
                    if field.name.startswith("velocity_")}
        if not self.velocity:
            changed = sorted(name for name, default in defaults.items() if getattr(self, name) != default)
            if changed:
                raise ValueError(f"{', '.join(changed)} only apply to the Doppler-aware variant; set velocity=True "
                                 "or leave them at their defaults")
            return
        for name in defaults:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number of km/s, got {value!r}")
        if not 0 < self.velocity_range_kms <= MAX_VELOCITY_RANGE_KMS:
            raise ValueError(f"velocity_range_kms must be in (0, {MAX_VELOCITY_RANGE_KMS:g}] km/s (c/10), got "
                             f"{self.velocity_range_kms!r}")
        if self.velocity_step_kms <= 0:
            raise ValueError(f"velocity_step_kms must be > 0 km/s, got {self.velocity_step_kms!r}")
        if self.velocity_head_kms < 0:
            raise ValueError(f"velocity_head_kms must be ≥ 0 km/s (0: no learned correction), got "
                             f"{self.velocity_head_kms!r}")
        if self.velocity_range_kms - self.velocity_head_kms < self.velocity_step_kms:
            raise ValueError(
                f"the anchor's grid ±(velocity_range_kms − velocity_head_kms) = ±"
                f"{self.velocity_range_kms - self.velocity_head_kms:g} km/s needs at least one step of "
                f"velocity_step_kms = {self.velocity_step_kms:g} km/s on each side of 0; widen velocity_range_kms or "
                "shrink velocity_head_kms or velocity_step_kms"
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
    """reconstruction: (batch, 1, L); mu, z: (batch, latent_dim); logvar: (batch, latent_dim) or None;
    velocity: (batch,) km/s for the Doppler-aware variant, None for the paper's model."""

    reconstruction: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor | None
    z: torch.Tensor
    velocity: torch.Tensor | None = None


@dataclass
class LossTerms:
    """Scalar loss tensors: total = reconstruction + beta · kl."""

    total: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


class SpectrumAutoencoder(nn.Module):
    """1-D convolutional autoencoder for spectra of shape (batch, 1, input_length).

    decoder_length: the length the decoder draws (default ``config.input_length``; a multiple of the total
    stride): the Doppler-aware variant, a subclass, draws a longer rest-frame spectrum. Only the size of
    ``fc_decode`` depends on it, the decoder's convolutions do not.
    """

    handles_velocity = False  # True for a subclass that implements config.velocity

    def __init__(self, config: AutoencoderConfig, *, decoder_length: int | None = None):
        super().__init__()
        if config.velocity and not self.handles_velocity:
            raise ValueError("this configuration asks for the Doppler-aware variant (velocity=True); build it with "
                             "specae.model.factory.build_model(config, grid)")
        self.config = config
        self.decoder_length = config.input_length if decoder_length is None else decoder_length
        reduction = math.prod(config.strides)
        if self.decoder_length < reduction or self.decoder_length % reduction:
            raise ValueError(f"decoder_length {self.decoder_length} must be a multiple of the total stride "
                             f"{reduction}")
        n_channels, n_positions = config.bottleneck_shape
        n_flat = n_channels * n_positions
        self.encoder = _encoder(config)
        self.fc_mu = nn.Linear(n_flat, config.latent_dim)
        self.fc_logvar = nn.Linear(n_flat, config.latent_dim) if config.variational else None
        if self.fc_logvar is not None and config.logvar_bias_init is not None:
            nn.init.constant_(self.fc_logvar.bias, config.logvar_bias_init)
        self.fc_decode = nn.Linear(config.latent_dim, n_channels * self.decoder_length // reduction)
        self.decoder = _decoder(config)
        if config.init == "he_normal":
            _he_normal(self, config.negative_slope)
        self.fast_layers = False

    def set_fast_layers(self, enabled: bool = True) -> SpectrumAutoencoder:
        """Compute the same function a faster way (``enabled``) or as the release does; returns the model.

        The fast formulation (:mod:`specae.model.fast_layers`) uses the same parameters, whose names are
        unchanged, so the state dict loads into either; outputs agree within float rounding.
        """
        self.fast_layers = enabled
        return self

    @property
    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, 1, L) → the encoder's flattened output (batch, channels[-1] · L / total stride)."""
        self._check_input(x)
        return (fast_layers.encode(self.encoder, x) if self.fast_layers else self.encoder(x)).flatten(1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (batch, 1, L) → μ (batch, latent_dim) and log σ² (batch, latent_dim) or None."""
        return self._heads(self.features(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z: (batch, latent_dim) → reconstruction (batch, 1, decoder_length)."""
        if z.ndim != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"codes must have shape (batch, {self.config.latent_dim}), got {tuple(z.shape)}")
        n_channels = self.config.channels[-1]
        hidden = self.fc_decode(z).view(-1, n_channels, self.decoder_length // math.prod(self.config.strides))
        if not self.fast_layers:
            return self.decoder(hidden)
        return fast_layers.decode(self.decoder, hidden)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None,
                noise: torch.Tensor | None = None) -> AutoencoderOutput:
        """Encode and decode x: (batch, 1, L).

        In training mode a β-VAE samples z = μ + ε·exp(½ log σ²) with ε = ``noise`` (batch, latent_dim)
        when given, else drawn from ``generator``; otherwise z = μ (the released model's deterministic
        inference).
        """
        mu, logvar = self.encode(x)
        z = self._sample(mu, logvar, generator, noise)
        return AutoencoderOutput(reconstruction=self.decode(z), mu=mu, logvar=logvar, z=z)

    def _heads(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """μ and log σ² (or None) of the encoder's flattened features (batch, n_flat)."""
        logvar = self.fc_logvar(features) if self.fc_logvar is not None else None
        return self.fc_mu(features), logvar

    def _sample(self, mu: torch.Tensor, logvar: torch.Tensor | None, generator: torch.Generator | None,
                noise: torch.Tensor | None) -> torch.Tensor:
        """z (batch, latent_dim): μ + ε·exp(½ log σ²) for a β-VAE in training mode (see :meth:`forward`), else μ."""
        if logvar is None or not self.training:
            return mu
        if noise is None:
            noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        elif noise.shape != mu.shape:
            raise ValueError(f"noise must have shape {tuple(mu.shape)}, got {tuple(noise.shape)}")
        return mu + noise * torch.exp(0.5 * logvar)

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


def _he_normal(model: nn.Module, negative_slope: float) -> None:
    """He-normal weights and zero biases for every (transposed) convolution of ``model``, in place."""
    gain = math.sqrt(2.0 / (1.0 + negative_slope**2))
    for layer in model.modules():
        if isinstance(layer, nn.Conv1d | nn.ConvTranspose1d):
            kernel = layer.kernel_size[0]
            fan_in = (layer.in_channels * kernel / layer.stride[0] if isinstance(layer, nn.ConvTranspose1d)
                      else layer.in_channels * kernel)
            with torch.no_grad():
                layer.weight.normal_(0.0, gain / math.sqrt(fan_in))
                if layer.bias is not None:
                    layer.bias.zero_()


def _row(name: str, module: nn.Conv1d | nn.ConvTranspose1d, length: int) -> dict:
    return dict(name=name, kind=type(module).__name__, channels=f"{module.in_channels}→{module.out_channels}",
                kernel=module.kernel_size[0], stride=module.stride[0], length=length, params=_count(module))


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
