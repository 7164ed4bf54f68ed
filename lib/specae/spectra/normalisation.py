"""Median normalisation of spectra, with masked and non-finite pixels handled explicitly.

Each spectrum is divided by one scalar, its median flux: no continuum fit, no log, no mean subtraction.
Which median the paper trained with is not known (see ``docs/decisions.md``, Normalisation). Two variants:

* ``"valid_pixels"`` (variant B, the default): the median over valid pixels only, as in the first author's
  later project (Sedaghat et al. 2023).
* ``"masked_as_zero"`` (variant A, the authors' released inference script): ``median(flux × mask)`` over
  all samples, so padding and the CCD gap enter as zeros and pull the median down.

A spectrum whose median is not finite or is ≤ ``threshold`` is *degenerate*: it is flagged, its
flux is set to zero and its mask cleared, and it is never divided. Non-finite flux values are
masked per spectrum (set to zero, mask False), never propagated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

MedianVariant = Literal["valid_pixels", "masked_as_zero"]
MEDIAN_VARIANTS = ("valid_pixels", "masked_as_zero")
DEFAULT_MEDIAN_THRESHOLD_ADU = 50.0  # the released §6 notebook calls spectra with a median below 50 ADU noise-only


@dataclass(frozen=True)
class NormalisedSpectra:
    """Output of :func:`median_normalise`.

    flux: (batch, n_pix) float32 normalised flux; 0 on masked pixels and degenerate spectra.
    mask: (batch, n_pix) bool, True where the pixel is valid for the loss.
    scale: (batch,) float32 median that each spectrum was divided by (NaN for degenerate ones).
    degenerate: (batch,) bool, True where the median was not finite or ≤ threshold.
    """

    flux: torch.Tensor
    mask: torch.Tensor
    scale: torch.Tensor
    degenerate: torch.Tensor


def median_normalise(
    flux: torch.Tensor,
    mask: torch.Tensor,
    threshold: float = DEFAULT_MEDIAN_THRESHOLD_ADU,
    variant: MedianVariant = "valid_pixels",
) -> NormalisedSpectra:
    """Divide each spectrum by its median flux.

    flux: (batch, n_pix) or (n_pix,) raw flux (ADU) on an analysis grid.
    mask: (n_pix,) or (batch, n_pix) bool, True on real pixels (padding and CCD gap False).
    threshold: spectra with median ≤ threshold (or ≤ 0, or non-finite) are flagged degenerate, and so
    are spectra whose division by the median would overflow float32.
    variant: "valid_pixels" (median over valid pixels) or "masked_as_zero" (released inference script).
    """
    if variant not in MEDIAN_VARIANTS:
        raise ValueError(f"unknown median variant {variant!r}; choose one of {MEDIAN_VARIANTS}")
    flux = torch.as_tensor(flux)
    if flux.ndim == 1:
        flux = flux.unsqueeze(0)
    if flux.ndim != 2:
        raise ValueError(f"flux must have shape (batch, n_pix) or (n_pix,), got {tuple(flux.shape)}")
    if flux.shape[0] == 0:
        raise ValueError("flux holds no spectra (batch size 0)")
    flux = flux.to(torch.float32)
    mask = torch.as_tensor(mask, dtype=torch.bool, device=flux.device)
    if mask.shape[-1] != flux.shape[-1]:
        raise ValueError(f"mask has {mask.shape[-1]} pixels but flux has {flux.shape[-1]}")
    valid = mask.expand_as(flux) & torch.isfinite(flux)
    clean = torch.where(valid, flux, torch.zeros((), dtype=flux.dtype, device=flux.device))

    if variant == "valid_pixels":
        nan = torch.full((), float("nan"), dtype=flux.dtype, device=flux.device)
        scale = torch.nanmedian(torch.where(valid, clean, nan), dim=1).values
    else:
        scale = torch.median(clean, dim=1).values

    degenerate = ~torch.isfinite(scale) | (scale <= threshold) | (scale <= 0)
    safe_scale = torch.where(degenerate, torch.ones_like(scale), scale)
    divided = clean / safe_scale.unsqueeze(1)
    degenerate |= ~torch.isfinite(torch.where(valid, divided, torch.zeros_like(divided))).all(dim=1)  # overflow
    keep = (~degenerate).unsqueeze(1)
    normalised = torch.where(keep & valid, divided, torch.zeros_like(clean))
    scale = torch.where(degenerate, torch.full_like(scale, float("nan")), scale)
    return NormalisedSpectra(flux=normalised, mask=valid & keep, scale=scale, degenerate=degenerate)


def normalised_with_nan(flux, mask: torch.Tensor) -> torch.Tensor:
    """One spectrum median-normalised, NaN on masked pixels (for plotting). flux: (n_pix,) → (n_pix,) float32."""
    result = median_normalise(torch.as_tensor(flux), mask)
    return torch.where(result.mask, result.flux, torch.nan).reshape(-1)
