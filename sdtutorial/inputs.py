"""Seeds and pipeline inputs, as in the guide's `get_inputs`."""

import torch


def check_positive(name: str, value: int) -> int:
    """Return `value` if it is an integer of at least 1, else raise naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer of at least 1, got {value!r}")
    return value


def make_generators(seed: int, count: int) -> list[torch.Generator]:
    """One CPU generator per image, seeded seed, seed+1, ...; CPU noise is the same on every device."""
    return [torch.Generator("cpu").manual_seed(seed + i) for i in range(check_positive("batch_size", count))]


def get_inputs(
    prompt: str,
    batch_size: int = 1,
    seed: int = 0,
    num_inference_steps: int = 20,
    negative_prompt: str | None = None,
    **extra,
) -> dict:
    """Pipeline keyword arguments for `batch_size` images of `prompt`, image i seeded `seed + i`."""
    check_positive("num_inference_steps", num_inference_steps)
    inputs = {
        "prompt": [prompt] * check_positive("batch_size", batch_size),
        "generator": make_generators(seed, batch_size),
        "num_inference_steps": num_inference_steps,
        **extra,
    }
    if negative_prompt is not None:
        inputs["negative_prompt"] = [negative_prompt] * batch_size
    return inputs


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
