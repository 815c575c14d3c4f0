"""Choosing the best combination of speed options, and what each option costs in quality on toyworld."""

import dataclasses
import time
from collections.abc import Callable

import torch

from .pipelines import LoadedModels, configure, skip_reason
from .variants import BASELINE, FAST, HALF, Settings, Variant, combination

BEST_MARGIN = 0.02  # an option leaves the best combination if the combination without it was this much faster
QUALITY_MARGIN = 0.02  # ... and, where quality was measured, cost at most this much adherence on toyworld
QUALITY_MODEL = "toyworld"  # the model whose scorer measures each variant's quality cost
# The best combination's row is the headline, and its calls are the shortest, so one busy moment of a small
# machine moves a single call the most. Its median of this many calls costs two calls more.
BEST_REPEATS = 3


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
        self.models = LoadedModels(self.settings, device) if self.prompts else None
        self.results: dict[str, dict] = {}
        self.seconds = 0.0

    def measure(self, variant: Variant) -> None:
        # Offloading changes where the same arithmetic runs, not the images; what cannot run here is not scored.
        variant = dataclasses.replace(variant, dtype="float32")
        if (not self.prompts or variant.offload or variant.name == HALF.name
                or skip_reason(variant, self.settings, self.device, self.models)):
            return
        from .. import scorer
        from ..evaluate import evaluation_prompts, generate

        start = time.perf_counter()
        prompts = evaluation_prompts(self.prompts)
        pipeline = self.models.get(variant.dtype)
        undo = configure(pipeline, variant, self.models)
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
