"""Which of the next-steps techniques a device supports, and why not where it does not."""

import importlib
import importlib.util

import torch
from torch.nn.attention import SDPBackend

SDPA_BACKENDS = {
    "math": SDPBackend.MATH,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
}


def sdpa_backends(device: torch.device) -> list[str]:
    """Names of the scaled-dot-product-attention kernels PyTorch has for `device` (CPU: math and flash)."""
    return list(SDPA_BACKENDS) if device.type == "cuda" else ["math", "flash"]


def gpu_only_by_default(name: str, value: str | bool, device: torch.device, cpu_reason: str) -> tuple[bool, str]:
    """Decide an `auto`/True/False switch that `auto` turns on for a GPU only. Returns the decision and why."""
    if value not in ("auto", True, False):
        raise ValueError(f"{name} must be auto, True or False, got {value!r}")
    if value == "auto":
        if device.type == "cuda":
            return True, f"auto: {name} is on for a GPU"
        return False, f"auto: {cpu_reason}"
    return bool(value), f"{name} is set"


def should_compile(compile_unet: str | bool, device: torch.device) -> tuple[bool, str]:
    """Decide whether to torch.compile the UNet: `auto` compiles on a GPU only."""
    reason = ("not compiled on a CPU, where a compile takes minutes and repays itself only after more images than "
              "a run makes (scripts/compile_cache.py measures it)")
    return gpu_only_by_default("compile_unet", compile_unet, device, reason)


def should_run_real_scale(real_scale: str | bool, device: torch.device) -> tuple[bool, str]:
    """Decide whether a notebook runs its real-scale part (the benchmark on sd15-arch): `auto` on a GPU only."""
    reason = ("the real-scale part runs on a GPU; on a CPU one float32 image at 512x512 takes minutes "
              "(real_scale=True with real_scale_size=256 runs it anyway)")
    return gpu_only_by_default("real_scale", real_scale, device, reason)


def offload_skip_reason(device: torch.device) -> str | None:
    """Why CPU offloading cannot run on `device`, or None where it can (it needs CUDA and accelerate)."""
    if device.type != "cuda":
        return f"offloading moves weights between the CPU and a CUDA GPU; the pipeline runs on {device.type}"
    if importlib.util.find_spec("accelerate") is None:
        return "offloading needs the accelerate package"
    return None


def xformers_status(device: torch.device) -> str:
    """A sentence on whether xFormers is installed and whether it is of use here."""
    if importlib.util.find_spec("xformers") is None:
        return "xFormers is not installed; PyTorch 2's SDPA gives the same memory-efficient attention built in."
    if device.type != "cuda":
        return "xFormers is installed, but its kernels run on CUDA GPUs only."
    return "xFormers is installed: pipeline.enable_xformers_memory_efficient_attention() switches to it."


# How to install each optional package of the techniques notebook. torchao is left out of the tested environment:
# with diffusers 0.42.1, torchao 0.18 makes every import of diffusers log five warnings.
INSTALL = {"torchao": "pip install 'sdtutorial[techniques]'", "DeepCache": "pip install DeepCache"}


def import_optional(name: str):
    """Import an optional package: return it and None, or None and a sentence saying how to install it."""
    try:
        return importlib.import_module(name), None
    except ImportError:
        return None, f"{name} is not installed: {INSTALL.get(name, f'pip install {name}')}"


def group_offload_skip_reason(device: torch.device) -> str | None:
    """Why group offloading and layerwise casting are not run on `device`, or None on a CUDA GPU."""
    if device.type != "cuda":
        return (f"group offloading and layerwise casting save GPU memory; the pipeline runs on {device.type}, "
                "where the weights already live in main memory")
    return None
