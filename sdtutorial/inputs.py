"""Seeds and pipeline inputs, as in the guide's `get_inputs`."""

import torch
from diffusers.utils.torch_utils import randn_tensor


def check_positive(name: str, value: int) -> int:
    """Return `value` if it is an integer of at least 1, else raise naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer of at least 1, got {value!r}")
    return value


def check_count(name: str, value: int) -> int:
    """Return `value` if it is an integer of at least 0 (a seed, or a count where 0 means none), else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer of at least 0, got {value!r}")
    return value


def check_image_size(name: str, value: int | None) -> int | None:
    """Return `value` if it is None (the model's own size) or a positive multiple of 8 pixels, else raise."""
    if value is not None and check_positive(name, value) % 8:
        raise ValueError(f"{name} must be a multiple of 8, got {value}")
    return value


def make_generators(seed: int, count: int) -> list[torch.Generator]:
    """One CPU generator per image, seeded seed, seed+1, ...; CPU noise is the same on every device."""
    return [torch.Generator("cpu").manual_seed(seed + i) for i in range(check_positive("batch_size", count))]


def starting_noise(pipeline, generators: list[torch.Generator], height: int | None = None, width: int | None = None):
    """The starting latents the pipeline would draw from `generators`, but drawn in float32 and then cast.

    A pipeline draws its noise in its own dtype, and PyTorch's CPU generator does not always give
    float16 numbers that are the float32 ones rounded (seen with torch 2.11). Drawing in float32
    makes a seed start from the same noise in every dtype, so half precision can be compared with
    float32 image by image. The generators advance exactly as inside the pipeline.
    """
    scale = pipeline.vae_scale_factor
    height = height or pipeline.unet.config.sample_size * scale
    width = width or pipeline.unet.config.sample_size * scale
    shape = (len(generators), pipeline.unet.config.in_channels, height // scale, width // scale)
    noise = randn_tensor(shape, generator=generators, device=torch.device("cpu"), dtype=torch.float32)
    return noise.to(device=pipeline.device, dtype=pipeline.dtype)


def get_inputs(
    prompt: str,
    batch_size: int = 1,
    seed: int = 0,
    num_inference_steps: int = 20,
    negative_prompt: str | None = None,
    pipeline=None,
    **extra,
) -> dict:
    """Pipeline keyword arguments for `batch_size` images of `prompt`, image i seeded `seed + i`.

    Given the `pipeline`, the starting noise is drawn in float32 (see `starting_noise`), so the
    same seed starts from the same noise whatever the pipeline's dtype.
    """
    check_positive("num_inference_steps", num_inference_steps)
    generators = make_generators(seed, check_positive("batch_size", batch_size))
    inputs = {"prompt": [prompt] * batch_size, "generator": generators, "num_inference_steps": num_inference_steps}
    if negative_prompt is not None:
        inputs["negative_prompt"] = [negative_prompt] * batch_size
    if pipeline is not None:
        inputs["latents"] = starting_noise(pipeline, generators, extra.get("height"), extra.get("width"))
    return inputs | extra


def get_prompt_inputs(prompts: list[str], seed: int = 0, num_inference_steps: int = 20, **extra) -> dict:
    """Pipeline keyword arguments for one image per prompt, all from the same seed, so only the prompt varies."""
    if not prompts:
        raise ValueError("prompts must hold at least one prompt")
    check_positive("num_inference_steps", num_inference_steps)
    return {
        "prompt": list(prompts),
        "generator": [torch.Generator("cpu").manual_seed(seed) for _ in prompts],
        "num_inference_steps": num_inference_steps,
        **extra,
    }
