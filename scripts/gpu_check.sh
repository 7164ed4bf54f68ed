#!/usr/bin/env bash
# One short check of the GPU path (about 4 minutes): GEMM and bandwidth ceilings, the generator on the device,
# the smoke preset trained on cuda, paper-preset step throughput (fp32, bf16) and 100 steps of paper training
# streamed from spectra rendered on the device. Results: $OUT/gpu_check.json.
#
# On a machine whose Python has torch but not our other packages, put their wheels in .whl/ first
# (see README, "GPU check"); they are installed into /tmp/site and the package is used from lib/.
set -euo pipefail
OUT=${OUT:-_build/gpu_check}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD/lib:${PYTHONPATH:-} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 scripts/gpu_check.py --out "$OUT" "$@"
