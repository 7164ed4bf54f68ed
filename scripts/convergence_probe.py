"""Does a longer budget make the quick preset learn narrow lines? Validation masked L1 against PCA.

Trains the quick preset with each setting (a dict of preset overrides) on the given device and
compares each model's validation error (all pixels, line cores, continuum) with PCA at equal dimension.
Results: ``$OUT/converge.json`` (or the current folder). On an H200 each 150-epoch run takes ≈ 90 s.

    python scripts/convergence_probe.py --device cuda
    python scripts/convergence_probe.py --device cuda --settings '[{"epochs": 24, "lr_schedule": "cosine"}]'
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import specae
from specae.analysis.bottleneck import error_table, pca_reconstruct, reconstruct

SETTINGS = [dict(latent_dim=16, epochs=150), dict(latent_dim=16, epochs=150, learning_rate=3e-4),
            dict(latent_dim=4, epochs=150)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--settings", type=json.loads, default=SETTINGS, help="JSON list of override dicts")
    parser.add_argument("--name", default="converge", help="results file stem")
    args = parser.parse_args()
    out = os.environ.get("OUT", ".")
    base = specae.get_preset("quick")
    data = specae.load_synthetic(base.data)
    results = {}
    for overrides in args.settings:
        config = base.with_overrides(**overrides)
        latent = config.model.latent_dim
        if config.data != base.data:
            raise SystemExit(f"setting {overrides} changes the data; this probe compares models on the quick data only")
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            run = specae.train(config, folder, device=args.device, progress=False, data=data)
        val = run.split.validation
        target, mask = data.flux[val].numpy(), data.mask[val].numpy()
        key = "_".join(f"{name}={value}" for name, value in overrides.items())
        results[key] = dict(
            seconds=round(time.perf_counter() - start, 1), steps=run.history[-1]["step"],
            ae=error_table({latent: reconstruct(run.model, data, val)}, target, mask)[0],
            pca=error_table({latent: pca_reconstruct(data, run.split.train, val, latent)}, target, mask)[0],
            history=[(h["epoch"], round(h["validation_reconstruction"], 4), round(h["train_kl"], 1))
                     for h in run.history[::15]])
        print(key, json.dumps(results[key]), flush=True)
        with open(os.path.join(out, f"{args.name}.json"), "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
