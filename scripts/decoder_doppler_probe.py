"""Can the study's decoder draw narrow lines when it is told the true labels? (run by hand)

Trains only the decoder half of the study's 16-latent network (``fc_decode`` and the transposed convolutions),
with the code of each spectrum set to its true factors (Teff, log g, [Fe/H], v sin i, RV, standardised on
the training stars; the other latents zero), so no encoder can be to blame. The same training is run on
the survey as rendered and on the same spectra shifted to the rest frame (linear interpolation to −RV,
pixels whose source falls off the grid masked). If the decoder draws the lines in the rest frame but not
as observed, what it cannot learn in this budget is to move them with the velocity.

Two optimisations: the study's (PyTorch's default initialisation, peak step 2 × 10⁻³) and He-normal
weights for the LeakyReLU stack with a peak step of 10⁻² (with the default initialisation the decoder
cannot even memorise one spectrum in 2,000 steps). Both use the study's schedule (``cosine_hold``: warm-up over 200
steps, cosine decay to 2 % at 80 % of the steps, then held), batch 32, gradient norm clipped at 1, masked L1.
Errors are on one spectrum per validation star: all pixels, line cores (``line_core_mask``; over the stars
that have any) and the rest.
Also reported: how much of a unit-variance signal entering the fresh decoder survives each activation.

``python scripts/decoder_doppler_probe.py --steps 4000 --json benchmarks/results/decoder_doppler_probe.json``
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch

import specae
from specae.analysis.bottleneck import line_core_mask, per_spectrum_l1
from specae.analysis.latents import one_per_star
from specae.constants import SPEED_OF_LIGHT_KMS
from specae.model.autoencoder import SpectrumAutoencoder
from specae.training.presets import get_preset
from specae.training.reference_runs import find_reference_run
from specae.training.schedules import learning_rate_at

FACTORS = ("teff", "logg", "feh", "vsini", "rv")
OPTIMISATIONS = {"study": ("default", 2e-3), "he-normal": ("he", 1e-2)}
FRAMES = ("observed", "rest")
WARMUP_STEPS = 200  # the study's


def rest_frame(flux: np.ndarray, mask: np.ndarray, wavelength: np.ndarray, rv: np.ndarray):
    """Spectra (n, L) moved to zero velocity by linear interpolation; pixels whose source is off the grid masked."""
    moved, valid = np.empty_like(flux), mask.copy()
    for i in range(len(flux)):
        source = wavelength * (1 + rv[i] / SPEED_OF_LIGHT_KMS)
        moved[i] = np.interp(source, wavelength, flux[i])
        valid[i] &= (source >= wavelength[0]) & (source <= wavelength[-1])
    return moved, valid


def he_normal(model: torch.nn.Module, slope: float) -> None:
    """He-normal weights for a LeakyReLU(slope) stack (a transposed conv's fan-in is in_channels · kernel / stride)."""
    gain = math.sqrt(2 / (1 + slope**2))
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.ConvTranspose1d):
                fan_in = module.in_channels * module.kernel_size[0] / module.stride[0]
            elif isinstance(module, (torch.nn.Conv1d, torch.nn.Linear)):
                fan_in = module.weight[0].numel()
            else:
                continue
            module.weight.normal_(0, (1.0 if name == "predict0" else gain) / math.sqrt(fan_in))
            module.bias.zero_()


def signal_through_decoder(init: str, seed: int = 0) -> list[float]:
    """Standard deviation after each activation of the freshly initialised decoder (biases zeroed) for a
    unit-variance input on its first layer: how much of the code's signal reaches the output."""
    torch.manual_seed(seed)
    preset = get_preset("study", variational=False, init="default")  # the first study's weights; He-normal below
    model = SpectrumAutoencoder(preset.model)
    if init == "he":
        he_normal(model, preset.model.negative_slope)
    layers = dict(model.decoder.named_children())
    first = next(iter(layers.values()))
    positions = preset.model.input_length // 2 ** sum(stride == 2 for stride in preset.model.strides)
    stds, signal = [], torch.randn(64, first.in_channels, positions)
    with torch.no_grad():
        for name, layer in layers.items():
            if getattr(layer, "bias", None) is not None:
                layer.bias.zero_()
            signal = layer(signal)
            if name.startswith("act"):
                stds.append(float(f"{signal.std().item():.2e}"))
    return stds


def probe(frame: str, optimisation: str, steps: int, seed: int = 0) -> dict:
    """Train the decoder on true codes in one frame with one optimisation; errors on one spectrum per
    validation star."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    preset = get_preset("study", variational=False, init="default")  # the first study's weights; He-normal below
    data = specae.cached_synthetic(preset.data)
    _, _, split = find_reference_run(get_preset("study", variational=False)).load()  # the split: the data's only
    labels = {name: np.asarray(data.labels[name], dtype=np.float64) for name in FACTORS}
    flux, mask = data.flux.numpy(), data.mask.numpy()
    if frame == "rest":
        flux, mask = rest_frame(flux, mask, preset.data.grid.wavelength, labels["rv"])
    factors = np.stack([labels[name] for name in FACTORS], axis=1)
    factors = (factors - factors[split.train].mean(0)) / factors[split.train].std(0)
    if frame == "rest":
        factors[:, FACTORS.index("rv")] = 0.0
    codes = torch.zeros(len(flux), preset.model.latent_dim)
    codes[:, : len(FACTORS)] = torch.as_tensor(factors, dtype=torch.float32)
    flux_t, mask_t = torch.as_tensor(flux).unsqueeze(1), torch.as_tensor(mask).unsqueeze(1)

    model = SpectrumAutoencoder(preset.model)
    init, peak = OPTIMISATIONS[optimisation]
    if init == "he":
        he_normal(model, preset.model.negative_slope)
    parameters = [*model.fc_decode.parameters(), *model.decoder.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=peak)
    draws = np.random.default_rng(seed)
    started = time.perf_counter()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, peak, "cosine_hold", WARMUP_STEPS, steps)
        batch = torch.as_tensor(draws.choice(split.train, 32))
        residual = mask_t[batch] * (model.decode(codes[batch]) - flux_t[batch])
        loss = residual.abs().sum() / mask_t[batch].sum()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
    minutes = (time.perf_counter() - started) / 60

    stars = one_per_star(data, split.validation)
    with torch.no_grad():
        decoded = torch.cat([model.decode(codes[stars[i : i + 64]]) for i in range(0, len(stars), 64)])
    decoded = decoded.squeeze(1).numpy()
    target, valid = flux[stars], mask[stars]
    cores = line_core_mask(target, valid)

    def mean_error(where):
        return float(np.nanmean(per_spectrum_l1(decoded, target, where)))  # NaN: a star without line cores

    return {"frame": frame, "optimisation": optimisation, "steps": steps, "minutes": round(minutes, 1),
            "validation stars": int(len(stars)), "L1": round(mean_error(valid), 4),
            "line cores": round(mean_error(cores), 4), "elsewhere": round(mean_error(valid & ~cores), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4_000)
    parser.add_argument("--workers", type=int, default=2, help="probes trained side by side, one thread each")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    jobs = [(frame, optimisation) for optimisation in OPTIMISATIONS for frame in FRAMES]
    with ProcessPoolExecutor(args.workers) as pool:
        frames, optimisations = zip(*jobs, strict=True)
        rows = list(pool.map(probe, frames, optimisations, [args.steps] * len(jobs)))
    signal = {optimisation: signal_through_decoder(init) for optimisation, (init, _) in OPTIMISATIONS.items()}
    for row in rows:
        print(row)
    print("signal after each decoder activation at initialisation:", signal)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"probes": rows, "signal_std_after_each_activation": signal}, handle, indent=1)


if __name__ == "__main__":
    main()
