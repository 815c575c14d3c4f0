"""`sdtutorial bench`: the guide's speed and memory lessons measured side by side on one model and device.

Every variant runs on the same pipeline with the same prompt, seed and size. Each one is warmed up
with a short call (which is also when `torch.compile` compiles), then timed over `repeats` calls with
the device synchronized, and its median reported; then its peak memory is measured on another short
call, since a call's peak does not grow with its number of steps. Speedups are against the guide's
baseline (float32, PNDM, 50 steps) measured in the same run.
"""

import copy
import dataclasses
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from diffusers import AutoencoderKL
from tqdm.auto import tqdm

from .files import write_atomically, write_csv, write_image, write_json
from .inputs import check_image_size, check_positive, get_inputs
from .loading import (
    ARCHITECTURE_ONLY_MODELS,
    ModelNotAvailableError,
    first_line,
    half_is_emulated,
    load_pipeline,
    load_vae,
    resolve_device,
    resolve_dtype,
    resolve_model,
    set_scheduler,
    tiny_vae_for,
)
from .memory import format_size, largest_batch, parse_size, peak_memory, use_attention
from .peers import check_peer, peer_skip_reason
from .quality import compare
from .techniques import import_optional, offload_skip_reason, should_compile
from .timing import time_call

FAST_SCHEDULER = "DPMSolverMultistepScheduler"
BEST_MARGIN = 0.02  # an option leaves the best combination if the combination without it was this much faster
QUALITY_MARGIN = 0.02  # ... and, where quality was measured, cost at most this much adherence on toyworld
QUALITY_MODEL = "toyworld"  # the model whose scorer measures each variant's quality cost
SHORT_CALL_STEPS = 2  # warm-up, peak memory and batch-search calls: enough to run every part of the pipeline
# The best combination's row is the headline, and its calls are the shortest: on a 2-core CPU one 8 s call of the
# same combination took 7.8 s and 9.7 s in one run. Its median of this many calls costs two calls more.
BEST_REPEATS = 3


@dataclass(frozen=True)
class Variant:
    """One pipeline setting. The defaults are the guide's fast setting: half precision, DPMSolver, 20 steps."""

    name: str
    dtype: str = "half"
    scheduler: str | None = FAST_SCHEDULER  # None: the model's own (PNDM for Stable Diffusion)
    steps: int = 20
    attention: str = "sdpa"
    channels_last: bool = False
    compile: bool = False
    vae_slicing: bool = False
    tiny_vae: bool = False
    offload: str | None = None  # "model" or "sequential" CPU offload
    fused_qkv: bool = False  # pipeline.fuse_qkv_projections()
    deepcache: int = 0  # DeepCache: recompute the UNet's deep features every this many steps (0: off)
    regional_compile: bool = False  # unet.compile_repeated_blocks()

    @property
    def saves_memory(self) -> bool:
        """Whether this variant uses a technique of the guide's memory section (slicing) or offloading."""
        return self.attention == "sliced" or self.vae_slicing or self.offload is not None

    def options(self) -> dict:
        """The settings in which this variant differs from the fast setting."""
        fast = Variant("fast")
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != "name" and getattr(self, f.name) != getattr(fast, f.name)}


BASELINE = Variant("baseline: float32, PNDM 50", dtype="float32", scheduler=None, steps=50)
HALF = Variant("half, PNDM 50", scheduler=None, steps=50)
FAST = Variant("half, DPMSolver 20")
VARIANTS = (
    BASELINE,
    HALF,
    FAST,
    Variant("+ attention slicing", attention="sliced"),
    Variant("+ classic attention (no SDPA)", attention="classic"),
    Variant("+ VAE slicing", vae_slicing=True),
    Variant("+ tiny VAE decoder", tiny_vae=True),
    Variant("+ fused QKV projections", fused_qkv=True),
    Variant("+ DeepCache, interval 2", deepcache=2),
    Variant("+ DeepCache, interval 3", deepcache=3),
    # After a round trip to channels_last, sd15-arch's UNet ran 5-10% faster on this project's CPU even in the
    # default layout, so the layout-changing variants come after the others they are compared with.
    Variant("+ torch.compile", compile=True),
    Variant("+ regional torch.compile", regional_compile=True),
    Variant("+ channels_last", channels_last=True),
    Variant("+ model CPU offload", offload="model"),
    Variant("+ sequential CPU offload", offload="sequential"),
)
# What the notebooks' real-scale parts run: the speed lessons, and the memory ones.
SPEED_VARIANTS = [v.name for v in VARIANTS if not v.offload]
MEMORY_VARIANTS = [v.name for v in VARIANTS if v == FAST or v.saves_memory]
# Memory savers tried in the batch-size search, on top of the fast setting.
MEMORY_SAVERS = {
    "none": {},
    "attention slicing": {"attention": "sliced"},
    "VAE slicing": {"vae_slicing": True},
    "attention + VAE slicing": {"attention": "sliced", "vae_slicing": True},
}


@dataclass
class Settings:
    """What `run_bench` measures, and how."""

    model_id: str = "sd15-arch"
    device: str = "auto"
    height: int | None = None  # default: the model's own size
    width: int | None = None
    batch_size: int = 1
    repeats: int | None = None  # default: 3 on a GPU, 1 on a CPU, where one baseline image takes minutes
    prompt: str = "portrait photo of a old warrior chief"
    seed: int = 0
    compile_unet: str | bool = "auto"
    tiny_vae_id: str | None = None  # default: the tiny decoder that fits model_id
    memory_budget: str | None = None  # e.g. 16GiB (a T4): weights included; None skips the batch search
    max_batch_size: int = 32
    quick: bool = False  # a smoke run: a tenth of the steps, one repeat, batches up to 4
    variants: list[str] | None = None  # names of VARIANTS to run (default: all); the best combination is added
    quality_prompts: int = 0  # each variant's adherence on this many toyworld evaluation prompts (0: not measured)
    emulated_half: bool = False  # run `half` rows in bfloat16 even on a CPU that emulates it (else they run in float32)
    peer: str | None = None  # "openvino": also the fast setting with the UNet and VAE decoder run by OpenVINO

    def __post_init__(self):
        check_positive("batch_size", self.batch_size)
        check_positive("max_batch_size", self.max_batch_size)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer of at least 0, got {self.seed!r}")
        if self.repeats is not None:
            check_positive("repeats", self.repeats)
        prompts = self.quality_prompts
        if isinstance(prompts, bool) or not isinstance(prompts, int) or prompts < 0:
            raise ValueError(f"quality_prompts must be an integer of at least 0, got {self.quality_prompts!r}")
        check_image_size("height", self.height)
        check_image_size("width", self.width)
        if self.memory_budget is not None:
            parse_size(self.memory_budget)
        resolve_model(self.model_id)
        check_peer(self.peer)
        should_compile(self.compile_unet, torch.device("cpu"))
        known = [v.name for v in VARIANTS]
        unknown = [name for name in self.variants or [] if name not in known]
        if unknown:
            raise ValueError(f"unknown variant {unknown[0]!r}; accepted: {', '.join(known)}")


@dataclass
class Report:
    """What a benchmark run measured. `rows` carry the numbers; `to_dict` is what bench.json holds."""

    settings: dict
    environment: dict
    rows: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    peer: dict | None = None  # what the peer's conversion took, and its rows against PyTorch's
    batch_search: dict | None = None
    seconds: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


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


class Pipelines:
    """The pipeline under test in one dtype at a time (loading a model is seconds; two copies may not fit)."""

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


def skip_reason(variant: Variant, settings: Settings, device: torch.device, pipelines: Pipelines) -> str | None:
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
            pipelines.tiny_vae(variant.dtype)
        except (ModelNotAvailableError, ValueError) as error:
            return f"no tiny VAE decoder: {first_line(error)}"
    if variant.dtype != "float32":
        try:
            resolve_dtype(variant.dtype, device)
        except ValueError as error:
            return first_line(error)
    return None


def emulation_cost(size: int = 512, repeats: int = 5) -> float:
    """How many times longer a bfloat16 matrix product takes than a float32 one, here."""
    cpu, a = torch.device("cpu"), torch.randn(size, size)
    _, single = time_call(lambda: a @ a, cpu, repeats=repeats)
    b = a.bfloat16()
    _, half = time_call(lambda: b @ b, cpu, repeats=repeats)
    return half.median / single.median


def configure(pipeline, variant: Variant, pipelines: Pipelines) -> Callable[[], None]:
    """Apply `variant`'s settings to `pipeline`; return a function that undoes them."""
    scheduler, vae, unet = pipeline.scheduler, pipeline.vae, pipeline.unet
    if variant.scheduler:
        set_scheduler(pipeline, variant.scheduler)
    use_attention(pipeline, variant.attention)
    if variant.channels_last:
        pipeline.unet.to(memory_format=torch.channels_last)
    if variant.tiny_vae:
        pipeline.vae = pipelines.tiny_vae(variant.dtype)
    if variant.vae_slicing:
        pipeline.vae.enable_slicing()
    if variant.compile or variant.regional_compile:
        key = "regional" if variant.regional_compile else "full"
        if key not in pipelines.compiled:
            torch._dynamo.reset()  # a fresh compile, whose time the first call shows
            if variant.regional_compile:
                pipelines.compiled[key] = copy.deepcopy(unet)
                pipelines.compiled[key].compile_repeated_blocks()
            else:
                pipelines.compiled[key] = torch.compile(unet)
        pipeline.unet = pipelines.compiled[key]
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
        unet.to(memory_format=torch.contiguous_format)
        use_attention(pipeline, "sdpa")

    return undo


def step_costs(model_id: str, device: str, height: int, width: int, dtype: str, prompt: str = "a photo",
               repeats: int = 1) -> dict[str, float]:
    """Seconds of one guided UNet step (the prompt's and the empty prompt's latents together), one VAE decode and
    one prompt encoding of `model_id` in `dtype`, each timed alone after a warm-up. A call costs about
    `estimate_seconds` of these: the per-step view of the guide's settings, without running a full call."""
    pipeline = load_pipeline(model_id, device=device, dtype=dtype)
    torch_device, unet = pipeline.device, pipeline.unet
    latents = torch.randn(2, unet.config.in_channels, height // pipeline.vae_scale_factor,
                          width // pipeline.vae_scale_factor, generator=torch.Generator().manual_seed(0)).to(
        torch_device, unet.dtype)
    with torch.inference_mode():
        def encode():
            return pipeline.encode_prompt(prompt, torch_device, 1, True)

        _, text = time_call(encode, torch_device, repeats=repeats)
        embeddings = torch.cat(encode()[::-1])  # the empty prompt's first, as the pipeline orders them
        timestep = pipeline.scheduler.config.num_train_timesteps - 1
        _, step = time_call(lambda: unet(latents, timestep, encoder_hidden_states=embeddings).sample, torch_device,
                            repeats=repeats)
        _, decode = time_call(lambda: pipeline.vae.decode(latents[:1]).sample, torch_device, repeats=repeats)
    return {"unet_step": step.median, "vae_decode": decode.median, "text_encoder": text.median}


def estimate_seconds(costs: dict[str, float], steps: int) -> float:
    """What one image of `steps` guided steps costs, from `step_costs`."""
    return steps * costs["unet_step"] + costs["vae_decode"] + costs["text_encoder"]


def quick_steps(steps: int, quick: bool) -> int:
    return max(2, steps // 10) if quick else steps


def run_bench(settings: Settings, progress: bool = True) -> Report:
    """Measure every variant of `settings`, then the best combination, then the batch-size search."""
    start = time.perf_counter()
    device = resolve_device(settings.device)
    repeats = 1 if settings.quick else settings.repeats or (1 if device.type == "cpu" else 3)
    best_repeats = 1 if settings.quick else max(repeats, BEST_REPEATS)
    max_batch = min(settings.max_batch_size, 4) if settings.quick else settings.max_batch_size
    pipelines, clock = Pipelines(settings, device), PipelineClock()
    report = Report(settings=dataclasses.asdict(settings) | {"repeats": repeats, "best_repeats": best_repeats,
                                                              "max_batch_size": max_batch},
                    environment=environment(device))
    size = {"height": settings.height, "width": settings.width}

    def call(pipeline, steps: int, batch_size: int = settings.batch_size) -> list:
        if size["height"] is None or size["width"] is None:  # the model's own size, known once it is loaded
            native = pipeline.unet.config.sample_size * pipeline.vae_scale_factor
            size.update(height=size["height"] or native, width=size["width"] or native)
            report.settings.update(size)
        inputs = get_inputs(settings.prompt, batch_size, settings.seed, steps, pipeline=pipeline, **size)
        return clock(pipeline, inputs)

    def on(variant: Variant):
        """The pipeline to run `variant` on: the shared one, or for offloading a fresh one that diffusers moves to
        the CPU (loaded for the GPU first, so that `half` means the GPU's float16)."""
        if not variant.offload:
            return pipelines.get(variant.dtype)
        pipeline = pipelines.load(variant.dtype, device.type)
        getattr(pipeline, f"enable_{variant.offload}_cpu_offload")(device=device)
        return pipeline

    chosen = [v for v in VARIANTS if settings.variants is None or v.name in settings.variants or v == BASELINE]
    # Where the CPU emulates bfloat16 the guide's half-precision rows would take hours; its other options are
    # measured in float32 instead, each row saying which dtype it ran in.
    half_in_float32 = half_is_emulated(device) and not settings.emulated_half
    if half_in_float32:
        report.settings["half_runs_as"] = "float32"
    if half_in_float32 and HALF in chosen:
        report.skipped.append({"variant": HALF.name, "reason": (
            f"this CPU emulates bfloat16 (no AVX512-BF16 or AMX; a bfloat16 matrix product took "
            f"{emulation_cost():.0f}x as long as float32), so the half rows ran in float32 (--emulated-half "
            "runs them in bfloat16)")})
        chosen.remove(HALF)
    measured: dict[str, tuple[Variant, dict]] = {}
    float32_fast_images: list = []  # what the peer's images are compared with
    bar = tqdm(total=len(chosen) + 1, desc="bench", disable=not progress, unit="variant")

    def measure(pipeline, variant: Variant, dtype: str, memory: bool = True, calls: int = repeats) -> list:
        """Time `variant` on `pipeline`, as configured, into `measured`; return the timed call's images."""
        _, first = time_call(lambda: call(pipeline, SHORT_CALL_STEPS), device, repeats=1, warmup=0)
        steps = quick_steps(variant.steps, settings.quick)
        images, timing = time_call(lambda: call(pipeline, steps), device, repeats=calls, warmup=0)
        _, peak = peak_memory(lambda: call(pipeline, SHORT_CALL_STEPS), device) if memory else (None, None)
        entry = row(variant, steps, settings.batch_size, timing.median, first.median, timing.seconds, peak)
        measured[variant.name] = (variant, entry | {"dtype": dtype})
        return images

    def measure_variant(variant: Variant, calls: int = repeats) -> None:
        bar.set_postfix_str(variant.name)
        runs_as = dataclasses.replace(variant, dtype="float32") if half_in_float32 and variant.dtype == "half" else (
            variant)
        reason = skip_reason(runs_as, settings, device, pipelines)
        if reason is None:
            pipeline = on(runs_as)
            undo = configure(pipeline, runs_as, pipelines)
            try:
                images = measure(pipeline, variant, dtype_name(runs_as.dtype, device), calls=calls)
                if variant == FAST and runs_as.dtype == "float32":
                    float32_fast_images[:] = images
            except (RuntimeError, NotImplementedError) as error:  # unsupported kernels, out of memory
                reason = f"failed: {first_line(error)}"
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            finally:
                undo()
        if reason is not None:
            report.skipped.append({"variant": variant.name, "reason": reason})
        bar.update()

    for variant in chosen:
        measure_variant(variant)
    quality = QualityCosts(settings, device, progress)
    for variant, _ in measured.values():
        quality.measure(variant)
    combined = best_combination(measured, quality.results or None)
    if combined is None:
        bar.total = len(chosen)
    else:
        best = prune(combined, measure_variant, measured, bar)
        measure_variant(best, calls=best_repeats)
        if best.name in measured:
            quality.measure(best)
    if settings.peer:
        report.peer = measure_peer(settings, device, pipelines, measure, call, float32_fast_images, report, bar)
    bar.close()
    for name, (_, entry) in measured.items():
        entry |= quality.row(name)

    baseline = measured.get(BASELINE.name)
    for _, entry in measured.values():
        entry["speedup"] = baseline[1]["seconds_per_image"] / entry["seconds_per_image"] if baseline else None
    report.rows = [entry for _, entry in measured.values()]
    if report.peer and combined is not None and best.name in measured:
        best_seconds = measured[best.name][1]["seconds_per_image"]
        for peer_row in report.peer["rows"]:
            peer_row["best_is_faster_by"] = measured[peer_row["variant"]][1]["seconds_per_image"] / best_seconds

    if settings.memory_budget:
        report.batch_search = batch_search(settings, device, pipelines, call, max_batch, progress)
    total = time.perf_counter() - start
    conversion = report.peer["conversion_seconds"] if report.peer else 0.0
    overhead = total - clock.seconds - quality.seconds - conversion
    report.seconds = {
        "total": total,
        "pipeline_calls": clock.seconds,
        "quality": quality.seconds,  # the toyworld runs that score each variant
        "peer_conversion": conversion,  # converting the peer's models (the calls are in pipeline_calls)
        "loading": pipelines.load_seconds,
        "overhead": overhead,
        "overhead_fraction": overhead / total,
    }
    return report


PEER_PRECISIONS = {"": None, "float32": "f32"}  # OpenVINO's own choice of precision, then float32 as PyTorch's


def measure_peer(settings: Settings, device: torch.device, pipelines: Pipelines, measure: Callable, call: Callable,
                 reference: list, report: Report, bar) -> dict | None:
    """The fast setting in float32 with the UNet and VAE decoder converted to OpenVINO: timed by `measure` in
    OpenVINO's default precision and in float32, each row's image compared with PyTorch float32's by PSNR."""
    from . import peers

    reason = peer_skip_reason(device)
    if reason:
        report.skipped.append({"variant": "peer: OpenVINO", "reason": reason})
        return None
    bar.total += len(PEER_PRECISIONS)
    bar.set_postfix_str("peer: OpenVINO (converting)")
    fast32 = dataclasses.replace(FAST, dtype="float32")
    pipeline = pipelines.get("float32")
    undo = configure(pipeline, fast32, pipelines)
    try:
        if not reference:
            reference = call(pipeline, quick_steps(FAST.steps, settings.quick))
        native = pipeline.unet.config.sample_size * pipeline.vae_scale_factor
        start = time.perf_counter()
        try:
            models = peers.convert(pipeline, settings.height or native, settings.width or native)
        except Exception as error:  # noqa: BLE001 - a failed conversion is reported; the rest of the bench is kept
            report.skipped.append({"variant": "peer: OpenVINO", "reason": f"conversion failed: {first_line(error)}"})
            return None
        result = {"name": "openvino", "version": peers.version(), "conversion_seconds": time.perf_counter() - start,
                  "rows": []}
        for label, precision in PEER_PRECISIONS.items():
            if not any(r["dtype"] == label for r in result["rows"]):  # OpenVINO's own choice may be float32
                undo_peer, runs_in = peers.use_openvino(pipeline, models, precision)
                name = f"peer: OpenVINO {result['version']}, {runs_in}" + ("" if label else " (its default)")
                bar.set_postfix_str(name)
                try:
                    # Not its peak memory: OpenVINO keeps its working memory from one call to the next, so what a
                    # call adds is not what it uses, as it is for PyTorch on a CPU.
                    images = measure(pipeline, dataclasses.replace(fast32, name=name), runs_in, memory=False)
                    result["rows"].append({"variant": name, "dtype": runs_in,
                                           "psnr_vs_float32": compare(images, reference)["psnr"]})
                except (RuntimeError, NotImplementedError) as error:
                    report.skipped.append({"variant": name, "reason": f"failed: {first_line(error)}"})
                finally:
                    undo_peer()
            bar.update()
        return result
    finally:
        undo()


def dtype_name(name: str, device: torch.device) -> str:
    """The torch dtype a dtype name means on `device`: `half` is bfloat16 on a CPU, float16 on a GPU."""
    return str(resolve_dtype(name, device)).removeprefix("torch.")


def row(variant: Variant, steps: int, batch_size: int, seconds: float, first_call: float, repeats: list,
        peak: int | None) -> dict:
    return {
        "variant": variant.name,
        "dtype": variant.dtype,
        "scheduler": variant.scheduler or "default (PNDM)",
        "steps": steps,
        "batch_size": batch_size,
        "seconds_per_image": seconds / batch_size,
        "images_per_second": batch_size / seconds,
        "seconds_per_call": seconds,
        "repeat_seconds": repeats,
        "first_call_seconds": first_call,  # the warm-up call, with SHORT_CALL_STEPS steps: includes compiling
        "peak_memory": peak,  # bytes above what was in use before the call (None where it cannot be measured)
        "peak_memory_text": format_size(peak),
        "options": variant.options(),
    }


class QualityCosts:
    """Each variant's adherence and clean score on toyworld, where its scorer can tell what a setting costs.

    The variant's settings are applied to the toyworld pipeline as to the benchmarked one, and the
    first `quality_prompts` evaluation prompts of `make evaluate` are drawn at the variant's steps,
    always in float32: on a CPU without bfloat16 units half precision is emulated and takes minutes
    here, and its own effect on the images is measured by 01_speed (PSNR against float32). So the
    row that changes only the precision is not scored.
    """

    def __init__(self, settings: Settings, device: torch.device, progress: bool):
        self.prompts = settings.quality_prompts
        self.settings = dataclasses.replace(settings, model_id=QUALITY_MODEL, tiny_vae_id=None, variants=None)
        self.device, self.progress = device, progress
        self.pipelines = Pipelines(self.settings, device) if self.prompts else None
        self.results: dict[str, dict] = {}
        self.seconds = 0.0

    def measure(self, variant: Variant) -> None:
        # Offloading changes where the same arithmetic runs, not the images; what cannot run here is not scored.
        variant = dataclasses.replace(variant, dtype="float32")
        if (not self.prompts or variant.offload or variant.name == HALF.name
                or skip_reason(variant, self.settings, self.device, self.pipelines)):
            return
        from . import scorer
        from .evaluate import evaluation_prompts, generate

        start = time.perf_counter()
        prompts = evaluation_prompts(self.prompts)
        pipeline = self.pipelines.get(variant.dtype)
        undo = configure(pipeline, variant, self.pipelines)
        try:
            images = generate(pipeline, prompts, variant.steps, batch_size=25, progress=self.progress,
                              description=f"quality: {variant.name}")
        finally:
            undo()
        self.results[variant.name] = scorer.mean_scores(images, prompts)
        self.seconds += time.perf_counter() - start

    def row(self, name: str) -> dict:
        """Adherence, clean score and the change in adherence against the baseline, or None where not measured."""
        found, baseline = self.results.get(name), self.results.get(BASELINE.name)
        if found is None:
            return {"adherence": None, "clean_score": None, "adherence_change": None}
        change = found["adherence"] - baseline["adherence"] if baseline else None
        return {**found, "adherence_change": change}


def best_combination(measured: dict[str, tuple[Variant, dict]],
                     quality: dict[str, dict] | None = None) -> Variant | None:
    """The fast setting plus every speed option, the first guess at the best combination (see `prune`).

    Where `quality` holds toyworld adherence per variant, an option must keep its adherence within
    QUALITY_MARGIN of the fast setting's: a trick that buys time with the image is a trade, not a gain.
    Of options that exclude each other (attention kinds and fused QKV; DeepCache intervals) the
    fastest is taken. Memory savers (attention and VAE slicing, offloading) trade time for memory
    and are not candidates. Whether an option pays is not judged from its own row: on a CPU one
    call's time varies by up to 10%, more than the tiny VAE or channels_last save on their own,
    so `prune` judges each inside the combination. Returns None when the fast row or every
    candidate is missing.
    """
    def keeps_quality(name: str) -> bool:
        if not quality or name not in quality or FAST.name not in quality:
            return True
        return quality[name]["adherence"] >= quality[FAST.name]["adherence"] - QUALITY_MARGIN

    candidates = [v for v, _ in measured.values() if v.options() and not v.saves_memory
                  and not set(v.options()) & {"dtype", "scheduler", "steps"} and keeps_quality(v.name)]
    if FAST.name not in measured or not candidates:
        return None
    seconds = {name: entry["seconds_per_image"] for name, (_, entry) in measured.items()}

    def kind(variant: Variant) -> str:
        """Options of one kind exclude each other: fused QKV brings its own attention processor."""
        extra = set(variant.options())
        return "attention" if extra & {"attention", "fused_qkv"} else "deepcache" if "deepcache" in extra else (
            " ".join(sorted(extra)))

    fastest: dict[str, Variant] = {}
    for variant in candidates:
        rival = fastest.get(kind(variant))
        if rival is None or seconds[variant.name] < seconds[rival.name]:
            fastest[kind(variant)] = variant
    options: dict = {}
    for variant in fastest.values():
        options |= variant.options()
    if HALF.name in seconds and BASELINE.name in seconds and seconds[HALF.name] > seconds[BASELINE.name]:
        options["dtype"] = "float32"
    return combination(options, "all speed options")


def combination(options: dict, prefix: str = "best") -> Variant:
    label = " + ".join(k if v is True else f"{k}={v}" for k, v in options.items()) or "the fast setting alone"
    return dataclasses.replace(FAST, name=f"{prefix}: {label}", **options)


def prune(combined: Variant, measure_variant: Callable, measured: dict, bar) -> Variant:
    """Measure `combined`, then `combined` without each of its options in turn; the best combination is
    `combined` less every option whose removal made it at least BEST_MARGIN faster. Inside the combination
    each option's share is larger than on its own (DeepCache leaves the VAE a bigger part), and it is
    judged against a call of the same run, so the choice does not follow one noisy row."""
    options = {key: value for key, value in combined.options().items() if key != "dtype"}
    bar.total += 1 + len(options)  # the combination and each ablation; the best was counted from the start
    measure_variant(combined)
    kept = dict(combined.options())
    if combined.name not in measured:
        return combination(kept)
    seconds = measured[combined.name][1]["seconds_per_image"]
    for key in options:
        without = dataclasses.replace(combined, name=f"all speed options without {key}", **{key: getattr(FAST, key)})
        measure_variant(without)
        if without.name in measured and measured[without.name][1]["seconds_per_image"] < seconds * (1 - BEST_MARGIN):
            del kept[key]
    return combination(kept)


def batch_search(settings, device, pipelines, call, max_batch: int, progress: bool) -> dict:
    """The largest batch that fits the memory budget (weights included), with each memory saver."""
    pipeline = pipelines.get(FAST.dtype)
    budget = parse_size(settings.memory_budget)
    weights = weights_bytes(pipeline)
    result = {"budget": budget, "weights": weights, "call_budget": budget - weights, "steps": SHORT_CALL_STEPS,
              "savers": []}
    for saver, options in tqdm(MEMORY_SAVERS.items(), desc="batch search", disable=not progress):
        if budget <= weights:
            result["savers"].append({"saver": saver, "largest_batch": 0, "tries": [],
                                     "note": f"the weights alone take {format_size(weights)}"})
            continue
        undo = configure(pipeline, dataclasses.replace(FAST, **options), pipelines)
        try:
            largest, tries = largest_batch(lambda n: call(pipeline, SHORT_CALL_STEPS, n), device, budget - weights,
                                           max_batch)
        finally:
            undo()
        peak = next((t["peak"] for t in tries if t["batch_size"] == largest), None)
        result["savers"].append({"saver": saver, "largest_batch": largest, "peak": peak, "tries": tries, "note": ""})
    return result


def weights_bytes(pipeline) -> int:
    """Bytes of the parameters and buffers of every model in `pipeline`."""
    modules = [c for c in pipeline.components.values() if isinstance(c, torch.nn.Module)]
    return sum(t.numel() * t.element_size() for m in modules for t in [*m.parameters(), *m.buffers()])


def environment(device: torch.device) -> dict:
    """The hardware and library versions a benchmark ran on."""
    from .display import environment_report

    return {"device": str(device), "report": environment_report(device), "torch": torch.__version__}


COLUMNS = {  # bench.md / terminal column -> row key
    "variant": "variant",
    "dtype": "dtype",
    "steps": "steps",
    "s/image": "seconds_per_image",
    "images/s": "images_per_second",
    "peak memory": "peak_memory_text",
    "speedup": "speedup",
    f"first call s ({SHORT_CALL_STEPS} steps)": "first_call_seconds",
    f"adherence ({QUALITY_MODEL}, float32)": "adherence",
    "adherence change": "adherence_change",
}


def markdown(report: Report) -> str:
    """The report as Markdown: the variants table, what was skipped and why, the batch search, the overhead."""
    def cell(key: str, value) -> str:
        if value is None:
            return "-"
        if key == "speedup":
            return f"{value:.2f}x"
        if key == "adherence_change":
            return f"{value:+.3f}"
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    s = report.settings
    random = " (random weights: for time and memory only)" if s["model_id"] in ARCHITECTURE_ONLY_MODELS else ""
    lines = [f"{s['model_id']}{random} on {report.environment['device']}, {s['height']}x{s['width']}, batch "
             f"{s['batch_size']}, median of {s['repeats']} after a warm-up"
             + (f" (the best combination: of {s['best_repeats']})" if s.get("best_repeats", 1) > s["repeats"] else "")
             + (", quick run" if s["quick"] else "")
             + ("; half rows ran in float32 (bfloat16 is emulated here)" if s.get("half_runs_as") else ""), "",
             "| " + " | ".join(COLUMNS) + " |", "|---" * len(COLUMNS) + "|"]
    lines += ["| " + " | ".join(cell(key, r.get(key)) for key in COLUMNS.values()) + " |" for r in report.rows]
    if report.skipped:
        lines += ["", "Skipped:"] + [f"- {e['variant']}: {e['reason']}" for e in report.skipped]
    if report.batch_search:
        b = report.batch_search
        lines += ["", f"Largest batch within {format_size(b['budget'])} (weights {format_size(b['weights'])} "
                  f"included; {b['steps']}-step calls, fast setting):", "", "| memory saver | largest batch | peak "
                  "memory of that batch | tried |", "|---|---|---|---|"]
        lines += [f"| {e['saver']} | {e['largest_batch']} | {format_size(e.get('peak'))} | "
                  f"{', '.join(str(t['batch_size']) for t in e['tries']) or e['note']} |" for e in b["savers"]]
    if report.peer:
        p = report.peer
        lines += ["", f"OpenVINO {p['version']} ran the fast setting's UNet and VAE decoder (converted from the "
                  f"pipeline's modules in {p['conversion_seconds']:.1f} s; text encoder and scheduler in PyTorch):"]
        for r in p["rows"]:
            ratio = r.get("best_is_faster_by")
            against = "" if ratio is None else (
                f"; the best PyTorch combination is {ratio:.2f}x as fast" if ratio >= 1 else
                f"; it is {1 / ratio:.2f}x as fast as the best PyTorch combination")
            lines.append(f"- {r['variant']}: {r['psnr_vs_float32']:.1f} dB PSNR from PyTorch float32's image{against}")
    t = report.seconds
    quality = f"; scoring on {QUALITY_MODEL} {t['quality']:.1f} s" if t.get("quality") else ""
    quality += f"; converting for OpenVINO {t['peer_conversion']:.1f} s" if t.get("peer_conversion") else ""
    lines += ["", f"Run: {t['total']:.1f} s, of which pipeline calls {t['pipeline_calls']:.1f} s{quality}; loading "
              f"models {t['loading']:.1f} s; everything else {t['overhead']:.1f} s "
              f"({100 * t['overhead_fraction']:.2f}%)."]
    return "\n".join(lines) + "\n"


def write_outputs(report: Report, out_dir: Path) -> dict[str, Path]:
    """Write bench.json, bench.md, bench.csv and bench.png into `out_dir`; return their paths."""
    from .display import bench_chart

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {kind: out_dir / f"bench.{kind}" for kind in ("json", "md", "csv", "png")}
    write_json(paths["json"], report.to_dict())
    write_atomically(paths["md"], markdown(report))
    keys = [k for k in report.rows[0] if k not in ("options", "repeat_seconds")] if report.rows else []
    write_csv(paths["csv"], keys, report.rows, extrasaction="ignore")
    figure = bench_chart(report.rows, title=markdown(report).splitlines()[0])
    write_image(paths["png"], figure, dpi=110)
    plt.close(figure)
    return paths
