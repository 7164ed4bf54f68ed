"""The fast formulation of the autoencoder's encoder and decoder: the same function of the same parameters, computed
the way a CPU computes it fastest (the training path "fast", :mod:`specae.training.options`).

* Every 1-D layer runs as a 2-D layer of one row, (b, C, 1, L), in the channels-last memory layout, where oneDNN's
  kernels for a few channels are faster than in the default one; an activation runs on the same memory seen as a
  dense (b, 1, L, C) tensor, where it is vectorised.
* The edges run in float32 even under autocast: the first conv, which sees the flux, and the last transposed conv
  and ``predict0``, which draw the reconstruction.
* The first conv (one input channel) is a matrix product of its input's windows, and the last transposed conv (to
  one channel, kernel 4, stride 2) one matrix product and two sums of taps: both hand over the channels-last layout
  directly, where oneDNN's kernels for one channel answer in the default one.
* ``predict0``, a 1 → 1 channel convolution of 3 taps over every pixel, is a sum of three shifted copies.

Outputs agree with the release's formulation within float rounding (``tests/test_autoencoder.py``); what each
change gains is measured by ``benchmarks/train_step_candidates.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F  # noqa: N812 (the usual name)
from torch import nn


def encode(encoder: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """The encoder's output for spectra x (b, 1, L): (b, C, P)."""
    first, activation, *rest = encoder.children()
    rows = _in_float32(lambda flux: _activate(activation, _first_conv_rows(_conv(first), flux)), x)
    return _rows(rest, rows).squeeze(2)


def decode(decoder: nn.Sequential, hidden: torch.Tensor) -> torch.Tensor:
    """The decoder's reconstruction of hidden (b, C, P): (b, 1, L)."""
    *rest, last, activation, predict0 = decoder.children()
    rows = _rows(rest, hidden.unsqueeze(2))
    conv = _conv(predict0)
    return _in_float32(lambda h: _shifted_sum(_activate(activation, _last_deconv_rows(_conv(last), h)),
                                              conv.weight, _bias(conv)), rows).squeeze(2)


def _in_float32(layers: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``layers(x)`` in float32, with autocast (if any) off."""
    with torch.autocast(x.device.type, enabled=False):
        return layers(x.float())


def _rows(layers: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """``layers`` (1-D convs, transposed convs and activations) applied to x (b, C, 1, L) as 2-D layers of one row,
    in the channels-last layout: (b, C', 1, L')."""
    x = x.contiguous(memory_format=torch.channels_last)
    for layer in layers:
        if isinstance(layer, nn.Conv1d | nn.ConvTranspose1d):
            weight = layer.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)
            stride, padding = (1, layer.stride[0]), (0, _padding(layer))
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


def _first_conv_rows(conv: nn.Conv1d | nn.ConvTranspose1d, x: torch.Tensor) -> torch.Tensor:
    """A convolution of one input channel applied to x (b, 1, L) as a matrix product of its input's windows:
    (b, C, 1, L') in the channels-last layout."""
    kernel, stride, padding = conv.kernel_size[0], conv.stride[0], _padding(conv)
    windows = F.pad(x[:, 0], (padding, padding)).unfold(-1, kernel, stride)  # (b, L', kernel)
    rows = F.linear(windows, conv.weight[:, 0], conv.bias)  # (b, L', C)
    return rows.transpose(1, 2).unsqueeze(2)


def _last_deconv_rows(deconv: nn.Conv1d | nn.ConvTranspose1d, x: torch.Tensor) -> torch.Tensor:
    """A transposed convolution to one channel (kernel 4, stride 2, padding 1, as every stride-2 stage) of
    x (b, C, 1, L) in the channels-last layout, as one matrix product and two sums of taps: (b, 1, 1, 2L). Other
    shapes go through :func:`_rows`."""
    if (deconv.out_channels, deconv.kernel_size, deconv.stride, deconv.padding) != (1, (4,), (2,), (1,)):
        return _rows([deconv], x)
    batch, channels, _, length = x.shape
    taps = F.pad(x.permute(0, 2, 3, 1).reshape(batch, length, channels) @ deconv.weight[:, 0], (0, 0, 1, 1))
    even = taps[:, :-2, 3] + taps[:, 1:-1, 1]  # y[2m] = w₃·x[m−1] + w₁·x[m]
    odd = taps[:, 1:-1, 2] + taps[:, 2:, 0]  # y[2m+1] = w₂·x[m] + w₀·x[m+1]
    return torch.stack([even, odd], dim=-1).reshape(batch, 1, 1, 2 * length) + _bias(deconv)


def _shifted_sum(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A 1 → 1 channel, 3-tap, padding-1 convolution of x (b, 1, ..., L) by ``weight`` (1, 1, 3) and ``bias``
    (1,), as a sum of three shifted copies: (b, 1, ..., L)."""
    padded = F.pad(x, (1, 1))
    taps = weight[0, 0]
    return taps[0] * padded[..., :-2] + taps[1] * padded[..., 1:-1] + taps[2] * padded[..., 2:] + bias


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


def _conv(layer: nn.Module) -> nn.Conv1d | nn.ConvTranspose1d:
    """``layer``, checked to be a 1-D (transposed) convolution."""
    if not isinstance(layer, nn.Conv1d | nn.ConvTranspose1d):
        raise TypeError(f"expected a 1-D convolution, got {type(layer).__name__}")
    return layer


def _padding(layer: nn.Conv1d | nn.ConvTranspose1d) -> int:
    """The layer's padding on each side (the autoencoder's layers give it as a number)."""
    if isinstance(layer.padding, str):
        raise TypeError(f"padding {layer.padding!r} is not a number of samples")
    return layer.padding[0]


def _bias(layer: nn.Conv1d | nn.ConvTranspose1d) -> torch.Tensor:
    """The layer's bias (every layer of the autoencoder has one)."""
    if layer.bias is None:
        raise TypeError("the layer has no bias")
    return layer.bias
