"""How close one guided float32 step of sd15-arch's UNet at 256x256 comes to this CPU's float32 matrix-product peak.

Run it as is, and again held to AVX2 to see a CPU without AVX-512 (oneDNN's and ATen's kernels both limited):

    .venv/bin/python scripts/unet_share_of_peak.py
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 .venv/bin/python scripts/unet_share_of_peak.py
"""

import os

import torch

from sdtutorial.loading import load_pipeline
from sdtutorial.roofline import flops_per_call, matmul_peak
from sdtutorial.step_costs import guided_step
from sdtutorial.timing import Timer

pipeline = load_pipeline("sd15-arch", device="cpu", dtype="float32")
step = guided_step(pipeline, 256, 256)
flops = flops_per_call(step, {"unet": pipeline.unet})["unet"][0]
timer = Timer("cpu", warmup=1)
with torch.inference_mode():
    for _ in range(1 + 3):
        with timer:
            step()
achieved = flops / timer.median / 1e12
peak = matmul_peak(torch.device("cpu"), torch.float32)
print(f"kernels: {os.environ.get('ONEDNN_MAX_CPU_ISA', 'as the CPU allows')}; UNet step {flops / 1e9:.0f} GFLOP in "
      f"{timer.median:.2f} s: {achieved:.3f} TFLOP/s, {achieved / peak:.0%} of the float32 peak "
      f"({peak:.3f} TFLOP/s)")
