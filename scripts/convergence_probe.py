"""Does a longer budget make the quick preset learn narrow lines? Validation masked L1 against PCA.

Trains the quick preset at a few (latent size, epochs, learning rate) settings on the given device and
compares each model's validation error (all pixels, line cores, continuum) with PCA at equal dimension.
Results: ``$OUT/converge.json`` (or the current folder). On an H200 each 150-epoch run takes ≈ 90 s.

    python scripts/convergence_probe.py --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import specae
from specae.bottleneck import error_table, pca_reconstruct, reconstruct

SETTINGS = [(16, 150, 1e-3), (16, 150, 3e-4), (4, 150, 1e-3)]  # (latent size, epochs, learning rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    out = os.environ.get("OUT", ".")
    base = specae.get_preset("quick")
    data = specae.load_synthetic(base.data)
    results = {}
    for latent, epochs, lr in SETTINGS:
        config = base.with_overrides(latent_dim=latent, epochs=epochs, learning_rate=lr)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            run = specae.train(config, folder, device=args.device, progress=False, data=data)
        val = run.split.validation
        target, mask = data.flux[val].numpy(), data.mask[val].numpy()
        key = f"latent{latent}_epochs{epochs}_lr{lr}"
        results[key] = dict(
            seconds=round(time.perf_counter() - start, 1), steps=run.history[-1]["step"],
            ae=error_table({latent: reconstruct(run.model, data, val)}, target, mask)[0],
            pca=error_table({latent: pca_reconstruct(data, run.split.train, val, latent)}, target, mask)[0],
            history=[(h["epoch"], round(h["validation_reconstruction"], 4), round(h["train_kl"], 1))
                     for h in run.history[::15]])
        print(key, json.dumps(results[key]), flush=True)
        with open(os.path.join(out, "converge.json"), "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
