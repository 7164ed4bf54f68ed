"""The Doppler-aware variant: a rest-frame decoder whose spectrum a velocity moves onto the observed grid.

**Not the paper's model.** Sedaghat et al. (2021) train a plain hourglass whose decoder draws each spectrum on the
observed grid, where a convolutional decoder cannot move a line with the star's radial velocity (it can only fade
one in and another out; the project's notes on learning radial velocities, "the notes" below). This variant does
what spender (Melchior et al. 2023, AJ 166, 74), AESTRA (Liang, Winn & Melchior 2024, AJ 167, 23) and wobble
(Bedell et al. 2019, AJ 158, 164) do: the network draws the spectrum in the star's rest frame and an explicit
Doppler shift moves it.

* The encoder (the released family's, built from the same :class:`AutoencoderConfig`) gives the code z (μ and
  log σ²) and a velocity v (km/s).
* The decoder (the released family's; only ``fc_decode`` is wider) draws a rest-frame spectrum (b, 1, n_rest) on
  the padded rest grid that covers the observed one for every |v| ≤ ``velocity_range_kms``
  (:meth:`RestGrid.covering`, its length rounded up to a multiple of the total stride by :func:`smallest_length`:
  8,704 = 17 × 512 for the study's 8,192 pixels at 200 km/s).
* :func:`~specae.model.doppler.doppler_shift` moves it onto the observed grid (gather + lerp, differentiable in
  the flux and in v): the reconstruction (b, 1, n_obs) that :func:`masked_l1_kl_loss` compares, unchanged.

The velocity is learned **without labels**: v = v_anchor(x) + δv(x).

* ``v_anchor`` (:meth:`DopplerAutoencoder.velocity_anchor`, no gradient) is the peak of the cross-correlation of
  the input with the model's rest-frame **template** (the buffer ``template``, in the state dict) over the grid
  ±(velocity_range_kms − velocity_head_kms) in steps of ``velocity_step_kms`` (391 velocities at the defaults): the
  template shifted to every grid velocity is a precomputed (n_v, n_obs) matrix, so a batch's CCF is three matrix
  products (a Pearson correlation over each spectrum's unmasked pixels), then a parabola through the peak and its
  two neighbours places it between steps. It gives the starting point and the basin that a gradient cannot find:
  linear interpolation's gradient sees only about a pixel, the notes' shift-consistency probe left v − RV
  scattered by 32 km/s, and wobble and the classical grid searches start the same way.
* ``δv`` = ``velocity_head_kms`` · tanh(w · features + b), a linear head on the encoder's flattened features,
  zero-initialised so that training starts at the anchor (v = v_anchor, and tanh's slope 1 at 0 lets the first
  step move it). The bound, 5 km/s by default, is about two pixels of the study grid (2.2–2.4 km/s) and an FGK
  line's σ (CCF FWHM 7–10 km/s): large enough for the anchor's error from one template for every spectral type
  (the notes measured median offsets between Teff ranges of up to 3.8 km/s; a probe of this anchor on 1,000
  study-survey spectra, −0.5 km/s for M stars to +0.5 for F stars), and no larger, since beyond a line's width the
  interpolation's gradient carries no information and the head could only wander. Stars that one template serves
  badly (that probe: hot stars, ≥ 7,000 K, 5 % of the spectra, off by tens of km/s) are beyond its reach.
* The template is fitted from the data before training (:meth:`DopplerAutoencoder.fit_template`; the training loop
  does it on the training split of a fresh run): the label-free **iterated stack** of the notes, on a seeded subset
  of at most :data:`TEMPLATE_SPECTRA` spectra. Template₀ is the mean of the spectra as observed, not their median:
  with velocities spread over many line widths each pixel lies in a line for a minority of the spectra, and the
  median keeps little of it (on 400 spectra of one template spread over ±150 km/s, the first CCF scattered by
  88 km/s RMS against the median and needed two stacks to settle, by 27 km/s against the mean and one). Then
  :data:`TEMPLATE_ITERATIONS` times: v_i = the CCF peak of spectrum i against template_k, and template_{k+1} = the
  median of the spectra moved to the rest frame by −(v_i − median v) (:func:`doppler_shift`; subtracting the
  median keeps the stack in template₀'s frame instead of letting it drift).
  Rest pixels that no unmasked pixel of any spectrum covers take the normalised continuum, 1.0 (median
  normalisation divides each spectrum by its median, so the continuum sits at about 1): a flat fill adds nothing
  to a Pearson correlation, where the nearest covered value would smear a line's depth into the padding.

So v is measured up to one global offset, the frame of the stack (about the survey's median RV), which no
label-free method can fix without rest wavelengths; an analysis compares velocities after removing the mean offset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from specae.constants import SPEED_OF_LIGHT_KMS
from specae.model.autoencoder import AutoencoderConfig, AutoencoderOutput, SpectrumAutoencoder
from specae.model.doppler import RestGrid, doppler_shift
from specae.spectra.grid import Grid

__all__ = ["TEMPLATE_FILL", "TEMPLATE_ITERATIONS", "TEMPLATE_SPECTRA", "DopplerAutoencoder", "TemplateFit"]

# Stacks after template₀. A probe on 1,000 spectra of the study survey: the velocities changed by 23, 16, 4.2, 0.19,
# 0.015 and 0.004 km/s RMS from one stack to the next (the tests' single-template survey settles after two).
TEMPLATE_ITERATIONS = 6
TEMPLATE_SPECTRA = 2_000  # the most spectra stacked: a median of 2,000 has ~3 % of one spectrum's noise
TEMPLATE_FILL = 1  # rest pixels that no spectrum covers: the normalised continuum
MIN_PIXELS = 3  # a spectrum with fewer unmasked pixels has no CCF: its anchor is 0
_CHUNK = 256  # spectra per CCF or shift while fitting the template


@dataclass(frozen=True)
class TemplateFit:
    """What :meth:`DopplerAutoencoder.fit_template` did.

    indices: (n_sub,) int64, the rows of the flux it stacked (sorted; all when there were few enough).
    velocities: (iterations + 1, n_sub) float64 km/s, row k the CCF peaks against template k (row 0 against the
    mean of the spectra as observed, the last row against the template now in the model).
    """

    indices: np.ndarray
    velocities: np.ndarray

    @property
    def changes(self) -> np.ndarray:
        """(iterations,) km/s: RMS change of the velocities, each about its median, from one template to the next."""
        centred = self.velocities - np.median(self.velocities, axis=1, keepdims=True)
        return np.sqrt(np.mean(np.diff(centred, axis=0) ** 2, axis=1))


class DopplerAutoencoder(SpectrumAutoencoder):
    """The Doppler-aware variant (see the module docstring) for spectra (b, 1, n_obs) on ``grid``.

    config: an :class:`AutoencoderConfig` with ``velocity=True``; grid: the observed grid (a :class:`Grid`, or its
    (n_obs,) linear wavelengths in Å), n_obs = ``config.input_length``. The decoder draws ``rest_grid.n_pixels``
    samples (``decoder_length``); ``fc_velocity`` (n_flat → 1) is the δv head; the buffer ``template``
    (n_rest,) is the rest-frame template of the anchor, 1.0 until :meth:`fit_template` or a state dict sets it.
    """

    handles_velocity = True
    template: torch.Tensor  # a buffer (n_rest,)

    def __init__(self, config: AutoencoderConfig, grid: Grid | np.ndarray):
        if not config.velocity:
            raise ValueError("this configuration has velocity=False; build the paper's model with "
                             "SpectrumAutoencoder(config), or specae.model.factory.build_model(config)")
        wavelength = grid.wavelength if isinstance(grid, Grid) else np.asarray(grid, dtype=np.float64)
        if wavelength.shape != (config.input_length,):
            raise ValueError(f"the grid has {wavelength.shape} wavelengths but the configuration's input_length is "
                             f"{config.input_length}; pass the preset's own grid (preset.data.grid)")
        rest_grid = RestGrid.covering(wavelength, config.velocity_range_kms, multiple=math.prod(config.strides))
        super().__init__(config, decoder_length=rest_grid.n_pixels)
        self.rest_grid = rest_grid
        n_channels, n_positions = config.bottleneck_shape
        self.fc_velocity = nn.Linear(n_channels * n_positions, 1)
        nn.init.zeros_(self.fc_velocity.weight)
        nn.init.zeros_(self.fc_velocity.bias)
        half_width = config.velocity_range_kms - config.velocity_head_kms
        n_steps = math.floor(half_width / config.velocity_step_kms + 1e-9)
        self.velocity_grid = config.velocity_step_kms * np.arange(-n_steps, n_steps + 1, dtype=np.float64)
        self.register_buffer("template", torch.full((rest_grid.n_pixels,), float(TEMPLATE_FILL)))
        # (key of the template it was made from, centred rows (n_v, n_obs), their squares, grid velocities (n_v,))
        self._rows: tuple[tuple, torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, noise: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> AutoencoderOutput:
        """Encode x (b, 1, n_obs), draw the rest-frame spectrum of z and shift it by v onto the observed grid.

        z as :meth:`SpectrumAutoencoder.forward` samples it; mask: (b, n_obs) bool for the anchor (None: the
        pixels where x is exactly 0, as median normalisation leaves masked ones). Returns an
        :class:`AutoencoderOutput` whose reconstruction is (b, 1, n_obs) and velocity (b,) km/s.
        """
        features = self.features(x)
        mu, logvar = self._heads(features)
        z = self._sample(mu, logvar, generator, noise)
        velocity = self.velocity_anchor(x, mask) + self.velocity_correction(features)
        return AutoencoderOutput(reconstruction=self.shift(self.decode(z), velocity), mu=mu, logvar=logvar, z=z,
                                 velocity=velocity)

    def velocity(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """v = v_anchor + δv (b,) km/s of spectra x (b, 1, n_obs); ``mask`` as in :meth:`forward`."""
        return self.velocity_anchor(x, mask) + self.velocity_correction(self.features(x))

    def velocity_correction(self, features: torch.Tensor) -> torch.Tensor:
        """δv (b,) km/s = velocity_head_kms · tanh(fc_velocity(features)), features (b, n_flat); in float32."""
        with torch.autocast(features.device.type, enabled=False):
            return self.config.velocity_head_kms * torch.tanh(self.fc_velocity(features.float()))[:, 0]

    def shift(self, rest: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
        """Rest-frame spectra (b, 1, n_rest) moved by ``velocity`` (b,) km/s onto the observed grid: (b, 1, n_obs),
        in float32 (positions of a shift need float32 even under autocast)."""
        with torch.autocast(rest.device.type, enabled=False):
            return self.rest_grid.shift(rest.float(), velocity.float()).flux

    @torch.no_grad()
    def velocity_anchor(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The CCF peak (b,) km/s of spectra x (b, 1, n_obs) or (b, n_obs) against the template, no gradient.

        mask: bool of x's shape, True on pixels that count (None: those where x ≠ 0); non-finite flux is left out
        too. The Pearson correlation over each spectrum's counted pixels at every grid velocity, its largest value
        and a parabola through it and its neighbours (none at the grid's ends), the offset at most half a step.
        A spectrum with fewer than :data:`MIN_PIXELS` counted pixels, or flat on them, gets 0.
        """
        rows, squares, velocities = self._template_rows()
        with torch.autocast(x.device.type, enabled=False):
            flux = x.reshape(len(x), -1).float().to(rows.device)
            if flux.shape[1] != rows.shape[1]:
                raise ValueError(f"spectra must have {rows.shape[1]} pixels for this model, got {tuple(x.shape)}")
            if mask is None:
                valid = flux != 0
            elif mask.numel() == flux.numel():
                valid = mask.reshape(flux.shape).to(device=rows.device, dtype=torch.bool)
            else:
                raise ValueError(f"mask must have the spectra's shape {tuple(x.shape)}, got {tuple(mask.shape)}")
            return _ccf_peak(flux, valid & torch.isfinite(flux), rows, squares, velocities,
                             self.config.velocity_step_kms)

    @torch.no_grad()
    def fit_template(self, flux: torch.Tensor, mask: torch.Tensor, *, iterations: int = TEMPLATE_ITERATIONS,
                     max_spectra: int = TEMPLATE_SPECTRA, seed: int = 0) -> TemplateFit:
        """Set ``template`` by the label-free iterated stack (module docstring) of normalised spectra.

        flux: (n, n_obs) or (n, 1, n_obs); mask: (n, n_obs) bool, True on valid pixels. A subset of
        ``max_spectra`` drawn with ``numpy.random.default_rng(seed)`` when there are more; computed on the
        template's device. Returns the :class:`TemplateFit` (the subset and its velocities after each stack).
        """
        if not isinstance(iterations, int) or iterations < 0:
            raise ValueError(f"iterations must be an integer ≥ 0, got {iterations!r}")
        if not isinstance(max_spectra, int) or max_spectra < 1:
            raise ValueError(f"max_spectra must be an integer ≥ 1, got {max_spectra!r}")
        flux = flux.reshape(len(flux), -1)
        n_obs = self.config.input_length
        if flux.ndim != 2 or flux.shape[1] != n_obs or tuple(mask.shape) != tuple(flux.shape) or len(flux) == 0:
            raise ValueError(f"flux must be (n, {n_obs}) spectra with n ≥ 1 and mask a bool (n, {n_obs}), got "
                             f"{tuple(flux.shape)} and {tuple(mask.shape)}")
        n = len(flux)
        indices = np.arange(n) if n <= max_spectra else np.sort(
            np.random.default_rng(seed).choice(n, size=max_spectra, replace=False))
        chosen = torch.as_tensor(indices)
        flux, mask = flux[chosen], mask[chosen].bool()
        history = []
        template = self._stack(flux, mask, None)
        for _ in range(iterations + 1):
            self.template.copy_(template)
            velocity = self._anchor_chunks(flux, mask)
            history.append(velocity.double().cpu().numpy())
            if len(history) <= iterations:
                template = self._stack(flux, mask, velocity - velocity.median())
        return TemplateFit(indices=indices.astype(np.int64), velocities=np.stack(history))

    def _anchor_chunks(self, flux: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """:meth:`velocity_anchor` of (n, n_obs) spectra, :data:`_CHUNK` at a time: (n,) on the template's device."""
        device = self.template.device
        return torch.cat([self.velocity_anchor(flux[start : start + _CHUNK].to(device),
                                               mask[start : start + _CHUNK].to(device))
                          for start in range(0, len(flux), _CHUNK)])

    def _stack(self, flux: torch.Tensor, mask: torch.Tensor, velocity: torch.Tensor | None) -> torch.Tensor:
        """(n_rest,) float32: the median over spectra (n, n_obs) moved to the rest frame by −``velocity`` (n,)
        km/s, or their mean as observed when ``velocity`` is None; uncovered rest pixels :data:`TEMPLATE_FILL`.

        Spectrum i's rest flux at λ is its observed flux at λ·(1 + v_i/c), a shift by −v_i/(1 + v_i/c); a rest pixel
        counts when both observed pixels it interpolates between are valid (or it falls exactly on a valid one).
        """
        device, grid = self.template.device, self.rest_grid
        observed_start = float(grid.observed_wavelength[0])
        rest = torch.empty((len(flux), grid.n_pixels), dtype=torch.float32, device=device)
        for start in range(0, len(flux), _CHUNK):
            f = flux[start : start + _CHUNK].to(device=device, dtype=torch.float32)
            m = mask[start : start + _CHUNK].to(device)
            if velocity is None:
                inverse = torch.zeros(len(f), dtype=torch.float64, device=device)
            else:
                v = velocity[start : start + _CHUNK].to(device=device, dtype=torch.float64)
                inverse = -v / (1 + v / SPEED_OF_LIGHT_KMS)
            moved = doppler_shift(torch.where(m, f, 0.0), observed_start, grid.step_angstrom, inverse, grid.wavelength)
            covered = doppler_shift(m.float(), observed_start, grid.step_angstrom, inverse, grid.wavelength).flux
            rest[start : start + _CHUNK] = torch.where(moved.inside & (covered == 1), moved.flux, torch.nan)
        stacked = rest.nanmean(dim=0) if velocity is None else rest.nanmedian(dim=0).values
        return torch.where(torch.isnan(stacked), float(TEMPLATE_FILL), stacked)

    def _template_rows(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The template shifted to every grid velocity, centred on each row's mean (n_v, n_obs) float32, the rows'
        squares, and the grid velocities (n_v,): made once per template (its device, storage and version: a
        state dict or :meth:`fit_template` writing into it makes them again)."""
        template = self.template
        key = (template.device, template.data_ptr(), template._version)
        if self._rows is None or self._rows[0] != key:
            with torch.no_grad(), torch.autocast(template.device.type, enabled=False):
                velocities = torch.as_tensor(self.velocity_grid, dtype=torch.float32, device=template.device)
                shifted = self.rest_grid.shift(template.float().expand(len(velocities), -1), velocities)
                rows = shifted.flux - shifted.flux.mean(dim=1, keepdim=True)
                if not bool(rows.abs().amax() > 0):
                    raise ValueError("the template is flat: fit it to the training spectra with fit_template(flux, "
                                     "mask), or load a state dict that holds one, before computing velocities")
            self._rows = (key, rows, rows.square(), velocities)
        return self._rows[1], self._rows[2], self._rows[3]


def _ccf_peak(flux: torch.Tensor, valid: torch.Tensor, rows: torch.Tensor, squares: torch.Tensor,
              velocities: torch.Tensor, step: float) -> torch.Tensor:
    """(b,) km/s: the peak of the Pearson correlation over each spectrum's valid pixels of flux (b, n_obs) with every
    row (n_v, n_obs) (``squares`` their squares), refined by a parabola through the peak and its neighbours."""
    weight = valid.to(flux.dtype)
    n_valid = weight.sum(dim=1, keepdim=True)  # (b, 1)
    count = n_valid.clamp_min(1)
    mean = torch.where(valid, flux, 0.0).sum(dim=1, keepdim=True) / count
    centred = torch.where(valid, flux - mean, 0.0)  # sums to 0 over the valid pixels, so x·T = x·(T − const)
    cross = centred @ rows.T  # (b, n_v)
    row_sum = weight @ rows.T
    row_variance = (weight @ squares.T - row_sum.square() / count).clamp_min(0)
    variance = row_variance * centred.square().sum(dim=1, keepdim=True)
    correlation = torch.where(variance > 0, cross / variance.sqrt().clamp_min(1e-30), 0.0)
    peak = correlation.argmax(dim=1)  # (b,)
    last = correlation.shape[1] - 1
    left = correlation.gather(1, (peak - 1).clamp_min(0)[:, None])[:, 0]
    top = correlation.gather(1, peak[:, None])[:, 0]
    right = correlation.gather(1, (peak + 1).clamp_max(last)[:, None])[:, 0]
    curvature = left - 2 * top + right
    interior = (peak > 0) & (peak < last) & (curvature < 0)
    offset = torch.where(interior, 0.5 * (left - right) / torch.where(interior, curvature, -1.0), 0.0)
    velocity = velocities[peak] + offset.clamp(-0.5, 0.5) * step
    usable = (n_valid[:, 0] >= MIN_PIXELS) & (variance > 0).any(dim=1)
    return torch.where(usable, velocity, 0.0)
