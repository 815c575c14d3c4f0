"""Load a pipeline: an embedded model, a local folder or a hub id, on a chosen device and dtype."""

from pathlib import Path

import huggingface_hub
import torch
from diffusers import AutoencoderKL, AutoencoderTiny, DiffusionPipeline, schedulers
from diffusers.schedulers import KarrasDiffusionSchedulers

from .architecture import build_model, build_pipeline

MODELS_DIR = Path(__file__).parent / "models"
EMBEDDED_MODELS = {
    "toyworld": "pipeline: Stable Diffusion's classes at toy size, trained on this package's synthetic world of "
    "shapes (sdtutorial.toyworld); draws 64x64 images of the prompt in well under a second on a CPU. Its prompts "
    "name a shape, color, size, position and background, e.g. 'a large red circle in the center on a white "
    "background'; sdtutorial.scorer measures how well an image follows one.",
    "toyworld-early": "pipeline: toyworld's training stopped at step 800 of its 8,000: the earlier, weaker "
    "checkpoint of the quality lesson.",
    "toyworld-vae-ft": "AutoencoderKL: toyworld's VAE with its decoder trained further, as "
    "stabilityai/sd-vae-ft-mse was; reconstructs images more faithfully.",
    "toyworld-taesd": "AutoencoderTiny: a tiny decoder trained for toyworld's latents, as madebyollin/taesd is "
    "for Stable Diffusion's.",
    "tiny-random": "pipeline: Stable Diffusion's classes at toy size with fixed random weights; 64x64 noise "
    "images in a second. For fast runs and tests: it shows timings and reproducibility, not image quality.",
    "tiny-random-v2": "pipeline: tiny-random with its UNet weights moved by 10%: a second random checkpoint, "
    "to run the quality lesson fast (toyworld-early plays that part by default).",
    "tiny-random-vae-ft": "AutoencoderKL: tiny-random's VAE with a changed decoder, to pair with tiny-random "
    "(toyworld-vae-ft plays that part by default).",
    "tiny-random-taesd": "AutoencoderTiny: a tiny decoder for tiny-random's latents (toyworld-taesd plays that "
    "part by default).",
    "sd15-arch": "pipeline: Stable Diffusion v1.5's exact architecture (UNet 859.5M parameters, its VAE, a "
    "CLIP ViT-L/14-sized text encoder) with random weights made at load time in seconds. Images are noise: "
    "for time and memory only, at the real model's cost. Try height and width 256 on a CPU.",
    "sd15-arch-taesd": "AutoencoderTiny: madebyollin/taesd's architecture with random weights, the tiny "
    "decoder for sd15-arch; for time and memory only.",
}
# The tiny decoder (TAESD) for each model's latents; for a hub model, TAESD itself.
TINY_VAES = {
    "toyworld": "toyworld-taesd",
    "toyworld-early": "toyworld-taesd",
    "tiny-random": "tiny-random-taesd",
    "tiny-random-v2": "tiny-random-taesd",
    "sd15-arch": "sd15-arch-taesd",
}
# Embedded models shipped as configs only: their weights are random, drawn when they are loaded.
ARCHITECTURE_ONLY_MODELS = ("sd15-arch", "sd15-arch-taesd")
DEFAULT_MODEL = "toyworld"
DEFAULT_PROMPT = "a large orange star in the center on a black background"  # in toyworld's grammar
LEGACY_HUB_IDS = {"runwayml/stable-diffusion-v1-5": "stable-diffusion-v1-5/stable-diffusion-v1-5"}
DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "half", "float32", "float16", "bfloat16")
SCHEDULERS = tuple(sorted(s.name for s in KarrasDiffusionSchedulers))


class ModelNotAvailableError(OSError):
    """A model could not be found locally or fetched from the hub."""


def first_line(error: BaseException) -> str:
    """The first line of an error's message, or its type name when the message is empty."""
    return str(error).splitlines()[0] if str(error).strip() else type(error).__name__


def resolve_device(name: str = "auto") -> torch.device:
    """Turn a device name into a torch.device; `auto` picks cuda, then mps, then cpu."""
    available = ["cpu"]
    if torch.cuda.is_available():
        available.insert(0, "cuda")
    if torch.backends.mps.is_available():
        available.insert(0 if "cuda" not in available else 1, "mps")
    if name not in DEVICES:
        raise ValueError(f"unknown device {name!r}; accepted: {', '.join(DEVICES)}")
    if name == "auto":
        return torch.device(available[0])
    if name not in available:
        raise ValueError(f"device {name!r} is not available on this machine; available: {', '.join(available)}")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """Turn a dtype name into a torch.dtype for `device`; `half` is float16 on a GPU and bfloat16 on a CPU."""
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; accepted: {', '.join(DTYPES)}")
    if name == "auto":
        return torch.float32
    if name == "half":
        return torch.bfloat16 if device.type == "cpu" else torch.float16
    dtype = getattr(torch, name)
    if device.type == "cpu" and dtype == torch.float16:
        raise ValueError("dtype 'float16' is emulated slowly on the cpu; accepted there: float32, bfloat16, half")
    if device.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise ValueError("dtype 'bfloat16' is not supported by this GPU; accepted: float32, float16, half")
    return dtype


def half_is_emulated(device: torch.device) -> bool:
    """Whether `half` (bfloat16 there) runs on a CPU without bfloat16 units, where PyTorch emulates it slowly."""
    return device.type == "cpu" and not (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_model(model_id: str) -> str:
    """Return what from_pretrained should load: a packaged folder, a local folder or a hub id."""
    if model_id in EMBEDDED_MODELS:
        return str(MODELS_DIR / model_id)
    if Path(model_id).expanduser().is_dir():
        return str(Path(model_id).expanduser())
    looks_like_path = model_id.startswith((".", "/", "~")) or "\\" in model_id or model_id.count("/") != 1
    if looks_like_path:
        raise ModelNotAvailableError(
            f"model {model_id!r}: no such local folder; embedded models: {', '.join(EMBEDDED_MODELS)}"
        )
    return LEGACY_HUB_IDS.get(model_id, model_id)


def unreachable(model_id: str) -> ModelNotAvailableError:
    """The one-line error for a hub model that could not be had."""
    return ModelNotAvailableError(
        f"model {model_id!r} could not be loaded from the hub or the local cache (no network?); "
        f"embedded models that work offline: {', '.join(EMBEDDED_MODELS)}"
    )


def fetch_model(model_id: str, pipeline: bool = True) -> str:
    """A local folder with `model_id`'s files, for the guide's `from_pretrained`: an embedded model's, a local one,
    or a hub model's safetensors and configs downloaded into the Hugging Face cache (`pipeline`: a whole pipeline,
    as `DiffusionPipeline.download` fetches it; else one model, such as a VAE). Fails in one line when it cannot.
    """
    source = resolve_model(model_id)
    if Path(source).is_dir() or model_id in ARCHITECTURE_ONLY_MODELS:
        return source
    try:
        if pipeline:
            return str(DiffusionPipeline.download(source, use_safetensors=True))
        return huggingface_hub.snapshot_download(source, allow_patterns=["*.json", "*.safetensors"])
    except (OSError, ValueError) as error:
        raise unreachable(model_id) from error


def tiny_vae_for(model_id: str) -> str:
    """The tiny decoder that fits `model_id`'s latents: an embedded one, or madebyollin/taesd for Stable Diffusion."""
    return TINY_VAES.get(model_id, "madebyollin/taesd")


def check_scheduler(name: str) -> str:
    """Return `name` if diffusers has a scheduler of that name, else raise."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; accepted: {', '.join(SCHEDULERS)}")
    return name


def set_scheduler(pipeline: DiffusionPipeline, name: str) -> DiffusionPipeline:
    """Swap the pipeline's scheduler for `name`, built from the current scheduler's config."""
    compatible = sorted(cls.__name__ for cls in pipeline.scheduler.compatibles)
    if check_scheduler(name) not in compatible:
        raise ValueError(f"scheduler {name!r} does not fit this pipeline; compatible: {', '.join(compatible)}")
    pipeline.scheduler = getattr(schedulers, name).from_config(pipeline.scheduler.config)
    return pipeline


def avoid_cpu_bf16_flash_attention_bug(device: torch.device, dtype: torch.dtype) -> None:
    """Route attention to the math kernel where PyTorch's CPU flash attention fails in bfloat16.

    With ATEN_CPU_CAPABILITY below avx512 on a CPU that has avx512, torch 2.13's bfloat16 flash
    attention raises "pack_vnni2 is only supported when avx512 is supported". The switch is
    process-wide (PyTorch keeps it in one flag, named for CUDA, that the CPU kernels read too).
    """
    if device.type == "cpu" and dtype == torch.bfloat16 and torch.backends.cpu.get_cpu_capability() != "AVX512":
        torch.backends.cuda.enable_flash_sdp(False)


def _from_pretrained(cls, model_id: str, dtype: torch.dtype):
    """`cls.from_pretrained` on a resolved model id, with a one-line error when it cannot be had.

    Architecture-only embedded models are built from their configs with random weights instead.
    """
    if model_id in ARCHITECTURE_ONLY_MODELS:
        folder = MODELS_DIR / model_id
        return build_pipeline(folder, dtype) if cls is DiffusionPipeline else build_model(cls, folder, dtype)
    source = resolve_model(model_id)
    try:
        return cls.from_pretrained(source, use_safetensors=True, dtype=dtype)
    except OSError as error:
        if Path(source).is_dir():
            raise ModelNotAvailableError(
                f"model {model_id!r} could not be loaded from its folder: {first_line(error)}"
            ) from error
        raise unreachable(model_id) from error


def load_pipeline(
    model_id: str = DEFAULT_MODEL, device: str = "auto", dtype: str = "auto", scheduler: str | None = None
) -> DiffusionPipeline:
    """Load `model_id` with safetensors weights, move it to `device` in `dtype`, optionally swap its scheduler."""
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    if scheduler is not None:
        check_scheduler(scheduler)
    pipeline = _from_pretrained(DiffusionPipeline, model_id, dtype=torch_dtype)
    avoid_cpu_bf16_flash_attention_bug(torch_device, torch_dtype)
    pipeline = pipeline.to(torch_device)
    if scheduler is not None:
        set_scheduler(pipeline, scheduler)
    return pipeline


def load_vae(model_id: str, device: str = "auto", dtype: str = "auto") -> AutoencoderKL | AutoencoderTiny:
    """Load an autoencoder (AutoencoderKL, or AutoencoderTiny for TAESD-like ids) to swap into a pipeline."""
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    cls = AutoencoderTiny if "taesd" in model_id.lower() else AutoencoderKL
    return _from_pretrained(cls, model_id, dtype=torch_dtype).to(torch_device)
