#!/usr/bin/env bash
# Fill .whl/ with the pure-Python (and cp312) wheels that scripts/gpu_check.py and scripts/gpu_bench.sh need on a GPU machine
# whose Python 3.12 already has CUDA PyTorch, numpy, pillow and friends but no diffusers or Jupyter.
# Run here, where PyPI is reachable; the GPU machine installs them with --no-index from .whl/.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .whl && mkdir .whl
python3 -m pip download --quiet --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl \
  "$(grep '^diffusers==' requirements.lock)" "$(grep '^transformers==' requirements.lock)" \
  "$(grep '^tokenizers==' requirements.lock)" "$(grep '^papermill==' requirements.lock)" \
  "$(grep '^ipykernel==' requirements.lock)" "$(grep '^nbclient==' requirements.lock)" \
  "$(grep '^nbformat==' requirements.lock)"
# accelerate (model building on the meta device, offloading) without its dependencies, which would pull a CUDA torch.
python3 -m pip download --quiet --no-deps -d .whl "$(grep '^accelerate==' requirements.lock)"
# The GPU image has these already, built against its own numpy and torch: keep its copies.
for name in numpy pillow pyyaml psutil regex safetensors requests urllib3 certifi idna charset_normalizer \
            attrs packaging pygments filelock fsspec tqdm typing_extensions zipp click anyio h11 tzdata torch; do
  rm -f .whl/"${name}"-[0-9]*.whl
done
du -sh .whl
