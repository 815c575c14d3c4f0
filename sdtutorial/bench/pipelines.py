"""The models a benchmark loads once, and putting a variant's settings on a pipeline and taking them off again."""

import copy
import gc
import time
from collections.abc import Callable

import torch
from diffusers import AutoencoderKL

from ..loading import (
    ModelNotAvailableError,
    first_line,
    load_pipeline,
    load_vae,
    resolve_dtype,
    set_scheduler,
    tiny_vae_for,
)
from ..memory import use_attention
from ..techniques import import_optional, offload_skip_reason, should_compile
from .variants import Settings, Variant


class PipelineClock:
    """Calls the pipeline and adds up the seconds spent inside those calls, to tell them from overhead."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self, pipeline, inputs: dict) -> list:
        start = time.perf_counter()
        try:
            return pipeline(**inputs).images
        finally:
            self.seconds += time.perf_counter() - start


class LoadedModels:
    """The models a benchmark loads once: the pipeline under test in one dtype at a time (loading one takes seconds,
    two copies may not fit), the tiny VAE decoders and the pipeline's compiled UNets."""

    def __init__(self, settings: Settings, device: torch.device):
        self.settings, self.device = settings, device
        self.current: tuple[str, object] | None = None
        self.tiny_vaes: dict[str, object] = {}
        self.compiled: dict[str, torch.nn.Module] = {}  # the current pipeline's compiled UNets, compiled once each
        self.load_seconds = 0.0

    def get(self, dtype: str):
        if self.current is None or self.current[0] != dtype:
            self.current, self.compiled = None, {}
            gc.collect()
            self.current = (dtype, self.load(dtype, self.device.type))
        return self.current[1]

    def load(self, dtype: str, device: str):
        start = time.perf_counter()
        pipeline = load_pipeline(self.settings.model_id, device=device, dtype=dtype)
        pipeline.set_progress_bar_config(disable=True)
        self.load_seconds += time.perf_counter() - start
        return pipeline

    def tiny_vae(self, dtype: str):
        if dtype not in self.tiny_vaes:
            start = time.perf_counter()
            vae_id = self.settings.tiny_vae_id or tiny_vae_for(self.settings.model_id)
            self.tiny_vaes[dtype] = load_vae(vae_id, device=self.device.type, dtype=dtype)
            self.load_seconds += time.perf_counter() - start
        return self.tiny_vaes[dtype]


def skip_reason(variant: Variant, settings: Settings, device: torch.device, models: LoadedModels) -> str | None:
    """Why `variant` cannot run here, or None."""
    if variant.compile or variant.regional_compile:
        compile_now, reason = should_compile(settings.compile_unet, device)
        if not compile_now:
            return reason + " (--compile on runs it)" if settings.compile_unet == "auto" else reason
    if variant.deepcache:
        reason = import_optional("DeepCache")[1]
        if reason:
            return reason
    if variant.offload:
        return offload_skip_reason(device)
    if variant.tiny_vae:
        try:
            models.tiny_vae(variant.dtype)
        except (ModelNotAvailableError, ValueError) as error:
            return f"no tiny VAE decoder: {first_line(error)}"
    if variant.dtype != "float32":
        try:
            resolve_dtype(variant.dtype, device)
        except ValueError as error:
            return first_line(error)
    return None


def configure(pipeline, variant: Variant, models: LoadedModels) -> Callable[[], None]:
    """Apply `variant`'s settings to `pipeline`; return a function that undoes them."""
    scheduler, vae, unet = pipeline.scheduler, pipeline.vae, pipeline.unet
    if variant.scheduler:
        set_scheduler(pipeline, variant.scheduler)
    use_attention(pipeline, variant.attention)
    if variant.channels_last:
        pipeline.unet.to(memory_format=torch.channels_last)
    if variant.tiny_vae:
        pipeline.vae = models.tiny_vae(variant.dtype)
    if variant.vae_slicing:
        pipeline.vae.enable_slicing()
    freezing = torch._inductor.config.freezing
    if variant.compile or variant.regional_compile:
        # On a CPU, freezing (the weights as constants, prepacked for oneDNN's kernels) is what makes the compiled
        # UNet faster than eager; without it, it ran slower (docs/benchmarks.md).
        torch._inductor.config.freezing = models.device.type == "cpu"
        key = "regional" if variant.regional_compile else "full"
        if key not in models.compiled:
            torch._dynamo.reset()  # a fresh compile, whose time the first call shows
            if variant.regional_compile:
                models.compiled[key] = copy.deepcopy(unet)
                models.compiled[key].compile_repeated_blocks()
            else:
                models.compiled[key] = torch.compile(unet)
        pipeline.unet = models.compiled[key]
    # diffusers fuses only AutoencoderKL's attention; the tiny VAE decoder has none to fuse.
    fuse_vae = isinstance(pipeline.vae, AutoencoderKL)
    if variant.fused_qkv:
        pipeline.fuse_qkv_projections(vae=fuse_vae)
    cache = None
    if variant.deepcache:
        cache = import_optional("DeepCache")[0].DeepCacheSDHelper(pipe=pipeline)
        cache.set_params(cache_interval=variant.deepcache, cache_branch_id=0)
        cache.enable()

    def undo():
        if cache is not None:
            cache.disable()
        if variant.fused_qkv:
            pipeline.unfuse_qkv_projections(vae=fuse_vae)
        pipeline.vae.disable_slicing()
        pipeline.scheduler, pipeline.vae, pipeline.unet = scheduler, vae, unet
        torch._inductor.config.freezing = freezing
        unet.to(memory_format=torch.contiguous_format)
        use_attention(pipeline, "sdpa")

    return undo


def dtype_name(name: str, device: torch.device) -> str:
    """The torch dtype a dtype name means on `device`: `half` is bfloat16 on a CPU, float16 on a GPU."""
    return str(resolve_dtype(name, device)).removeprefix("torch.")


def quick_steps(steps: int, quick: bool) -> int:
    return max(2, steps // 10) if quick else steps
