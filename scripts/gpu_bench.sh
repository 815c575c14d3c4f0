#!/usr/bin/env bash
# The GPU check of `sdtutorial bench`: sd15-arch (Stable Diffusion v1.5's architecture) at 512x512, batch 1,
# every variant, then the largest batch within 16 GiB with and without each memory saver (a T4 on a bigger GPU).
# Prints the table and writes bench.json/md/csv/png to OUTDIR (default runs/gpu-bench).
#
# For a GPU machine with its own CUDA PyTorch but no diffusers and no network (as this project's are): first run
# scripts/fetch_gpu_wheels.sh where PyPI is reachable; it fills .whl/, which travels with the tree. The machine's
# torch is kept. Usage: bash scripts/gpu_bench.sh [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/gpu-bench}
if ! python3 -c 'import diffusers' 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/sdtutorial-site \
    .whl/*.whl
  export PYTHONPATH=/tmp/sdtutorial-site:$PWD
fi
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())'
time python3 -m sdtutorial.cli bench --model sd15-arch --device cuda --height 512 --width 512 \
  --memory-budget 16GiB --max-batch-size 32 -o "$out"
