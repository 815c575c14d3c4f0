"""What each notebook parameter accepts: one table, checked before any notebook runs (`sdtutorial run`, sweeps).

Every parameter of every notebook has a row; tests/test_cli.py fails when a notebook gains one without.
"""

import torch

from .inputs import check_count, check_image_size, check_positive
from .loading import check_scheduler, resolve_device, resolve_dtype, resolve_model
from .memory import parse_size
from .messages import check_language
from .techniques import should_compile, should_run_real_scale


def model(name, value, params):
    resolve_model(value)


def device(name, value, params):
    resolve_device(value)


def dtype(name, value, params):
    resolve_dtype(value, resolve_device(params.get("device", "auto")))


def scheduler(name, value, params):
    check_scheduler(value)


def positive(name, value, params):
    check_positive(name, value)


def count(name, value, params):
    check_count(name, value)


def image_size(name, value, params):
    check_image_size(name, value)


def size_in_bytes(name, value, params):
    parse_size(value)


def text(name, value, params):
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, got {value!r}")


def number(name, value, params):
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a number of at least 0, got {value!r}")


def true_or_false(name, value, params):
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def compile_unet(name, value, params):
    should_compile(value, torch.device("cpu"))


def real_scale(name, value, params):
    should_run_real_scale(value, torch.device("cpu"))


def language(name, value, params):
    check_language(value)


def list_of(check):
    """A check of a non-empty list whose items each pass `check`, named in the singular (step_counts: step_count)."""
    def check_list(name, value, params):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{name} must be a non-empty list, such as [4, 8], got {value!r}")
        for item in value:
            check(name.removesuffix("s"), item, params)
    return check_list


CHECKS = {
    "model_id": model, "other_model_id": model, "real_scale_model": model, "vae_id": model, "tiny_vae_id": model,
    "device": device,
    "dtype": dtype, "half_dtype": dtype,
    "scheduler": scheduler, "fast_scheduler": scheduler, "step_schedulers": list_of(scheduler),
    "prompt": text, "negative_prompt": text, "quality_words": text, "variation_prompts": list_of(text),
    "seed": count, "variation_seed": count,
    "num_inference_steps": positive, "fast_steps": positive, "search_steps": positive, "variation_steps": positive,
    "reference_steps": positive, "step_counts": list_of(positive), "cache_intervals": list_of(positive),
    "batch_size": positive, "max_batch_size": positive, "attention_batch_size": positive,
    "batch_sizes": list_of(positive), "images_per_prompt": positive, "comparison_prompts": positive,
    "quality_prompts": count,
    "repeats": positive, "attention_repeats": positive,
    "height": image_size, "width": image_size, "real_scale_size": image_size, "attention_size": image_size,
    "memory_budget": size_in_bytes, "real_scale_budget": size_in_bytes,
    "guidance_scale": number, "adherence_margin": number,
    "compile_unet": compile_unet, "real_scale": real_scale,
    "language": language,
    "real_scale_per_step": true_or_false, "real_scale_roofline": true_or_false, "generate_on_start": true_or_false,
}


def check_parameter(name: str, value, params: dict) -> None:
    """Raise a one-line ValueError if `value` is not acceptable for the parameter `name`."""
    CHECKS[name](name, value, params)
