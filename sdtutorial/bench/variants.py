"""The settings a benchmark compares: each variant of the guide's pipeline, and what a run measures."""

import dataclasses
from dataclasses import dataclass

import torch

from ..inputs import check_count, check_image_size, check_positive
from ..loading import resolve_model
from ..memory import parse_size
from ..peers import check_peer
from ..techniques import should_compile

FAST_SCHEDULER = "DPMSolverMultistepScheduler"

SHORT_CALL_STEPS = 2  # warm-up, peak memory and batch-search calls: enough to run every part of the pipeline


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
        check_count("seed", self.seed)
        if self.repeats is not None:
            check_positive("repeats", self.repeats)
        check_count("quality_prompts", self.quality_prompts)
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


def combination(options: dict, prefix: str = "best") -> Variant:
    label = " + ".join(k if v is True else f"{k}={v}" for k, v in options.items()) or "the fast setting alone"
    return dataclasses.replace(FAST, name=f"{prefix}: {label}", **options)
