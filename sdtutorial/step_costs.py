"""What one step of a pipeline costs: a guided UNet step, a VAE decode and a prompt encoding, each timed alone,
and what a bfloat16 matrix product costs against float32 here (01_speed's per-step lesson)."""

from collections.abc import Callable

import torch

from .loading import load_pipeline
from .timing import time_call


def emulation_cost(size: int = 512, repeats: int = 5) -> float:
    """How many times longer a bfloat16 matrix product takes than a float32 one, here."""
    cpu, a = torch.device("cpu"), torch.randn(size, size)
    _, single = time_call(lambda: a @ a, cpu, repeats=repeats)
    b = a.bfloat16()
    _, half = time_call(lambda: b @ b, cpu, repeats=repeats)
    return half.median / single.median


def step_costs(model_id: str, device: str, height: int, width: int, dtype: str, prompt: str = "a photo",
               repeats: int = 1) -> dict[str, float]:
    """Seconds of one guided UNet step (the prompt's and the empty prompt's latents together), one VAE decode and
    one prompt encoding of `model_id` in `dtype`, each timed alone (after a warm-up on a GPU). A call costs about
    `estimate_seconds` of these: the per-step view of the guide's settings, without running a full call."""
    pipeline = load_pipeline(model_id, device=device, dtype=dtype)
    torch_device, unet = pipeline.device, pipeline.unet
    # A GPU's first call initializes its libraries and picks kernels; on a CPU the first call of sd15-arch's UNet
    # step and VAE decode took no longer than the next, within a call's noise (docs/benchmarks.md).
    warmup = 0 if torch_device.type == "cpu" else 1
    with torch.inference_mode():
        def encode():
            return pipeline.encode_prompt(prompt, torch_device, 1, True)

        _, text = time_call(encode, torch_device, repeats=repeats, warmup=warmup)
        _, step = time_call(guided_step(pipeline, height, width, prompt), torch_device, repeats=repeats,
                            warmup=warmup)
        latents = torch.randn(1, unet.config.in_channels, height // pipeline.vae_scale_factor,
                              width // pipeline.vae_scale_factor, device=torch_device, dtype=unet.dtype)
        _, decode = time_call(lambda: pipeline.vae.decode(latents).sample, torch_device, repeats=repeats,
                              warmup=warmup)
    return {"unet_step": step.median, "vae_decode": decode.median, "text_encoder": text.median}


def guided_step(pipeline, height: int, width: int, prompt: str = "a photo") -> Callable[[], torch.Tensor]:
    """One guided UNet step of `pipeline` at `height`x`width` pixels, ready to call: the prompt's and the empty
    prompt's latents together, at the first timestep, in the UNet's dtype (call it under torch.inference_mode)."""
    unet = pipeline.unet
    latents = torch.randn(2, unet.config.in_channels, height // pipeline.vae_scale_factor,
                          width // pipeline.vae_scale_factor, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        prompt_embeddings, empty_embeddings = pipeline.encode_prompt(prompt, pipeline.device, 1, True)
    embeddings = torch.cat([empty_embeddings, prompt_embeddings])  # the empty prompt's first, as the pipeline does
    latents, embeddings = latents.to(pipeline.device, unet.dtype), embeddings.to(unet.dtype)
    timestep = pipeline.scheduler.config.num_train_timesteps - 1
    return lambda: unet(latents, timestep, encoder_hidden_states=embeddings).sample


def estimate_seconds(costs: dict[str, float], steps: int) -> float:
    """What one image of `steps` guided steps costs, from `step_costs`."""
    return steps * costs["unet_step"] + costs["vae_decode"] + costs["text_encoder"]
