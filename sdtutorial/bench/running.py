"""Running a benchmark: each variant timed on the same pipeline, the best combination, the peer, the batch search."""

import dataclasses
import time
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from ..inputs import get_inputs
from ..loading import first_line, half_is_emulated, resolve_device
from ..memory import format_size, largest_batch, parse_size, peak_memory
from ..peers import peer_skip_reason
from ..quality import compare
from ..roofline import flops_per_call, matmul_peak
from ..step_costs import emulation_cost
from ..techniques import import_optional
from ..timing import ModuleClock, time_call
from .choosing import BEST_REPEATS, QualityCosts, best_combination, prune
from .pipelines import LoadedModels, PipelineClock, configure, dtype_name, quick_steps, skip_reason
from .variants import BASELINE, FAST, HALF, MEMORY_SAVERS, SHORT_CALL_STEPS, VARIANTS, Settings, Variant

PEER_PRECISIONS = {"": None, "float32": "f32"}  # OpenVINO's own choice of precision, then float32 as PyTorch's


@dataclass
class Report:
    """What a benchmark run measured. `rows` carry the numbers; `to_dict` is what bench.json holds."""

    settings: dict
    environment: dict
    rows: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    peer: dict | None = None  # what the peer's conversion took, and its rows against PyTorch's
    batch_search: dict | None = None
    roofline: dict | None = None  # the machine's matrix-product peaks and the FLOPs of each part of a call
    seconds: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def run_bench(settings: Settings, progress: bool = True) -> Report:
    """Measure every variant of `settings`, then the best combination, then the batch-size search."""
    return BenchRun(settings, progress).run()


class BenchRun:
    """One benchmark run: its settings, the pipelines and clock it measures with, and what it has measured so far."""

    def __init__(self, settings: Settings, progress: bool):
        self.started = time.perf_counter()
        self.settings, self.progress = settings, progress
        self.device = device = resolve_device(settings.device)
        self.repeats = 1 if settings.quick else settings.repeats or (1 if device.type == "cpu" else 3)
        self.best_repeats = 1 if settings.quick else max(self.repeats, BEST_REPEATS)
        self.max_batch = min(settings.max_batch_size, 4) if settings.quick else settings.max_batch_size
        self.models, self.clock = LoadedModels(settings, device), PipelineClock()
        self.report = Report(
            settings=dataclasses.asdict(settings) | {"repeats": self.repeats, "best_repeats": self.best_repeats,
                                                     "max_batch_size": self.max_batch},
            environment=environment(device))
        self.size = {"height": settings.height, "width": settings.width}
        # Where the CPU emulates bfloat16 the guide's half-precision rows would take hours; its other options are
        # measured in float32 instead, each row saying which dtype it ran in.
        self.half_in_float32 = half_is_emulated(device) and not settings.emulated_half
        self.measured: dict[str, tuple[Variant, dict]] = {}
        self.float32_fast_images: list = []  # what the peer's images are compared with
        self.work: dict | None = None  # FLOPs of one call of each model, counted once
        self.peaks: dict[str, float] = {}  # TFLOP/s of a large matrix product per dtype, measured once each
        self.bar = None

    def run(self) -> Report:
        settings, report = self.settings, self.report
        chosen = [v for v in VARIANTS if settings.variants is None or v.name in settings.variants or v == BASELINE]
        if self.half_in_float32:
            report.settings["half_runs_as"] = "float32"
        if self.half_in_float32 and HALF in chosen:
            report.skipped.append({"variant": HALF.name, "reason": (
                f"this CPU emulates bfloat16 (no AVX512-BF16 or AMX; a bfloat16 matrix product took "
                f"{emulation_cost():.0f}x as long as float32), so the half rows ran in float32 (--emulated-half "
                "runs them in bfloat16)")})
            chosen.remove(HALF)
        self.bar = tqdm(total=len(chosen) + 1, desc="bench", disable=not self.progress, unit="variant")
        self.work = self.count_work()
        for variant in chosen:
            self.measure_variant(variant)
        quality = QualityCosts(settings, self.device, self.progress)
        for variant, _ in self.measured.values():
            quality.measure(variant)
        combined = best_combination(self.measured, quality.results or None)
        if combined is None:
            self.bar.total = len(chosen)
        else:
            best = prune(combined, self.measure_variant, self.measured, self.bar)
            self.measure_variant(best, calls=self.best_repeats)
            if best.name in self.measured:
                quality.measure(best)
        if settings.peer:
            report.peer = self.measure_peer(best.deepcache if combined is not None and best.name in self.measured
                                            else 0)
        self.bar.close()
        for name, (_, entry) in self.measured.items():
            entry |= quality.row(name)

        baseline = self.measured.get(BASELINE.name)
        for variant, entry in self.measured.values():
            entry["speedup"] = baseline[1]["seconds_per_image"] / entry["seconds_per_image"] if baseline else None
            entry |= self.roofline_columns(variant, entry)
        if self.work:
            report.roofline = {"gflop": {name: None if flops is None else flops / 1e9
                                         for name, flops in self.work.items()},
                               "peak_tflops": self.peaks, "matmul_size": self.matmul_size()}
        report.rows = [entry for _, entry in self.measured.values()]
        if report.peer and combined is not None and best.name in self.measured:
            best_seconds = self.measured[best.name][1]["seconds_per_image"]
            for peer_row in report.peer["rows"]:
                peer_seconds = self.measured[peer_row["variant"]][1]["seconds_per_image"]
                peer_row["best_is_faster_by"] = peer_seconds / best_seconds

        if settings.memory_budget:
            report.batch_search = self.batch_search()
        total = time.perf_counter() - self.started
        conversion = report.peer["conversion_seconds"] if report.peer else 0.0
        overhead = total - self.clock.seconds - quality.seconds - conversion
        report.seconds = {
            "total": total,
            "pipeline_calls": self.clock.seconds,
            "quality": quality.seconds,  # the toyworld runs that score each variant
            "peer_conversion": conversion,  # converting the peer's models (the calls are in pipeline_calls)
            "loading": self.models.load_seconds,
            "overhead": overhead,
            "overhead_fraction": overhead / total,
        }
        return report

    def count_work(self) -> dict | None:
        """FLOPs of one guided UNet step, of a DeepCache step that reuses the deep features, of a VAE decode and of
        the prompt encodings of one image, counted on one short call at batch 1. FLOPs depend on the architecture
        and the image size, not on the dtype or the kernels, so one count serves every variant."""
        deepcache = 0 if import_optional("DeepCache")[1] else 2
        variant = dataclasses.replace(FAST, dtype=BASELINE.dtype, deepcache=deepcache)  # the baseline's pipeline
        pipeline = self.models.get(variant.dtype)
        undo = configure(pipeline, variant, self.models)
        try:
            modules = {"unet_step": pipeline.unet, "vae_decode": pipeline.vae.decoder,
                       "text_encoder": pipeline.text_encoder}
            counts = flops_per_call(lambda: self.call(pipeline, SHORT_CALL_STEPS, batch_size=1), modules)
        except (RuntimeError, NotImplementedError):  # the columns stay empty; the bench goes on
            return None
        finally:
            undo()
        return {"unet_step": counts["unet_step"][0],
                "unet_cached_step": counts["unet_step"][1] if deepcache else None,
                "vae_decode": counts["vae_decode"][0], "text_encoder": sum(counts["text_encoder"])}

    def matmul_size(self) -> int:
        return 8192 if self.device.type == "cuda" else 1024 if self.settings.quick else 4096

    def peak(self, dtype: str) -> float | None:
        """This machine's TFLOP/s on a large matrix product in `dtype` (measured on first use), None for a dtype
        torch does not name."""
        if dtype not in self.peaks:
            torch_dtype = getattr(torch, dtype, None)
            if not isinstance(torch_dtype, torch.dtype):
                return None
            self.peaks[dtype] = matmul_peak(self.device, torch_dtype, self.matmul_size())
        return self.peaks[dtype]

    def roofline_columns(self, variant: Variant, entry: dict) -> dict:
        """The UNet's FLOPs per image, the TFLOP/s it achieved inside its calls and their share of the peak in the
        row's dtype. A DeepCache step that reuses the deep features counts only the FLOPs it does."""
        seconds = entry.get("unet_seconds_per_image")
        if not self.work or not seconds or (variant.deepcache and self.work["unet_cached_step"] is None):
            return {}
        steps = entry["steps"]
        full = len(range(0, steps, variant.deepcache)) if variant.deepcache else steps
        flops = full * self.work["unet_step"] + (steps - full) * (self.work["unet_cached_step"] or 0)
        tflops = flops / seconds / 1e12
        peak = self.peak(entry["dtype"])
        return {"unet_gflop_per_image": flops / 1e9, "unet_tflops": tflops,
                "share_of_peak": tflops / peak if peak else None}

    def call(self, pipeline, steps: int, batch_size: int | None = None) -> list:
        """One timed pipeline call of the run's prompt and seed, at the run's size."""
        if self.size["height"] is None or self.size["width"] is None:  # the model's own size, known once loaded
            native = pipeline.unet.config.sample_size * pipeline.vae_scale_factor
            self.size.update(height=self.size["height"] or native, width=self.size["width"] or native)
            self.report.settings.update(self.size)
        inputs = get_inputs(self.settings.prompt, batch_size or self.settings.batch_size, self.settings.seed, steps,
                            pipeline=pipeline, **self.size)
        return self.clock(pipeline, inputs)

    def pipeline_for(self, variant: Variant):
        """The pipeline to run `variant` on: the shared one, or for offloading a fresh one that diffusers moves to
        the CPU (loaded for the GPU first, so that `half` means the GPU's float16)."""
        if not variant.offload:
            return self.models.get(variant.dtype)
        pipeline = self.models.load(variant.dtype, self.device.type)
        getattr(pipeline, f"enable_{variant.offload}_cpu_offload")(device=self.device)
        return pipeline

    def measure(self, pipeline, variant: Variant, dtype: str, memory: bool = True, calls: int | None = None) -> list:
        """Time `variant` on `pipeline`, as configured, into `measured`; return the timed call's images."""
        device = self.device
        _, first = time_call(lambda: self.call(pipeline, SHORT_CALL_STEPS), device, repeats=1, warmup=0)
        steps = quick_steps(variant.steps, self.settings.quick)
        with ModuleClock(pipeline.unet, device) as unet_clock:
            images, timing = time_call(lambda: self.call(pipeline, steps), device, repeats=calls or self.repeats,
                                       warmup=0)
        _, peak = peak_memory(lambda: self.call(pipeline, SHORT_CALL_STEPS), device) if memory else (None, None)
        entry = row(variant, steps, self.settings.batch_size, timing.median, first.median, timing.seconds, peak)
        entry["unet_seconds_per_image"] = unet_clock.seconds / len(timing.seconds) / self.settings.batch_size
        self.measured[variant.name] = (variant, entry | {"dtype": dtype})
        return images

    def measure_variant(self, variant: Variant, calls: int | None = None) -> None:
        """Measure `variant` where it can run here, else record why not."""
        self.bar.set_postfix_str(variant.name)
        runs_as = dataclasses.replace(variant, dtype="float32") if (
            self.half_in_float32 and variant.dtype == "half") else variant
        reason = skip_reason(runs_as, self.settings, self.device, self.models)
        if reason is None:
            pipeline = self.pipeline_for(runs_as)
            undo = configure(pipeline, runs_as, self.models)
            try:
                images = self.measure(pipeline, variant, dtype_name(runs_as.dtype, self.device), calls=calls)
                if variant == FAST and runs_as.dtype == "float32":
                    self.float32_fast_images[:] = images
            except (RuntimeError, NotImplementedError) as error:  # unsupported kernels, out of memory
                reason = f"failed: {first_line(error)}"
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
            finally:
                undo()
        if reason is not None:
            self.report.skipped.append({"variant": variant.name, "reason": reason})
        self.bar.update()

    def measure_peer(self, deepcache: int = 0) -> dict | None:
        """The fast setting in float32 with the UNet and VAE decoder converted to OpenVINO: timed in OpenVINO's
        default precision and in float32, each row's image compared with PyTorch float32's by PSNR; and with
        `deepcache` (the best combination's interval), the same with DeepCache, as the best combination runs it."""
        from .. import peers

        settings, report, bar = self.settings, self.report, self.bar
        reason = peer_skip_reason(self.device)
        if reason:
            report.skipped.append({"variant": "peer: OpenVINO", "reason": reason})
            return None
        intervals = [0, deepcache] if deepcache else [0]
        bar.total += len(PEER_PRECISIONS) * len(intervals)
        bar.set_postfix_str("peer: OpenVINO (converting)")
        fast32 = dataclasses.replace(FAST, dtype="float32")
        pipeline = self.models.get("float32")
        references = {}  # PyTorch's float32 images with each row's pipeline options
        if deepcache:
            undo = configure(pipeline, dataclasses.replace(fast32, deepcache=deepcache), self.models)
            try:
                references[deepcache] = self.call(pipeline, quick_steps(FAST.steps, settings.quick))
            finally:
                undo()
        undo = configure(pipeline, fast32, self.models)
        try:
            references[0] = self.float32_fast_images or self.call(pipeline, quick_steps(FAST.steps, settings.quick))
            native = pipeline.unet.config.sample_size * pipeline.vae_scale_factor
            start = time.perf_counter()
            try:
                models = peers.convert(pipeline, settings.height or native, settings.width or native,
                                       deepcache=bool(deepcache))
            except Exception as error:  # noqa: BLE001 - a failed conversion is reported; the rest of the bench is kept
                report.skipped.append({"variant": "peer: OpenVINO",
                                       "reason": f"conversion failed: {first_line(error)}"})
                return None
            result = {"name": "openvino", "version": peers.version(),
                      "conversion_seconds": time.perf_counter() - start, "rows": []}
            for interval in intervals:
                done = []
                for label, precision in PEER_PRECISIONS.items():
                    if label not in done:  # OpenVINO's own choice may be float32
                        done.append(self.measure_peer_row(pipeline, models, dataclasses.replace(
                            fast32, deepcache=interval), precision, label, references[interval], result))
                    bar.update()
            return result
        finally:
            undo()

    def measure_peer_row(self, pipeline, models, variant: Variant, precision, label: str, reference: list,
                         result: dict) -> str:
        """One row of the peer: `variant`'s pipeline options with OpenVINO's models in `precision`; the dtype it ran
        in."""
        from .. import peers

        undo_peer, runs_in = peers.use_openvino(pipeline, models, precision, deepcache=variant.deepcache)
        name = (f"peer: OpenVINO {result['version']}, {runs_in}" + ("" if label else " (its default)")
                + (f", + DeepCache, interval {variant.deepcache}" if variant.deepcache else ""))
        self.bar.set_postfix_str(name)
        try:
            # Not its peak memory: OpenVINO keeps its working memory from one call to the next, so what a call adds
            # is not what it uses, as it is for PyTorch on a CPU.
            images = self.measure(pipeline, dataclasses.replace(variant, name=name), runs_in, memory=False)
            result["rows"].append({"variant": name, "dtype": runs_in, "deepcache": variant.deepcache,
                                   "psnr_vs_float32": compare(images, reference)["psnr"]})
        except (RuntimeError, NotImplementedError) as error:
            self.report.skipped.append({"variant": name, "reason": f"failed: {first_line(error)}"})
        finally:
            undo_peer()
        return runs_in

    def batch_search(self) -> dict:
        """The largest batch that fits the memory budget (weights included), with each memory saver."""
        pipeline = self.models.get(FAST.dtype)
        budget = parse_size(self.settings.memory_budget)
        weights = weights_bytes(pipeline)
        result = {"budget": budget, "weights": weights, "call_budget": budget - weights, "steps": SHORT_CALL_STEPS,
                  "savers": []}
        for saver, options in tqdm(MEMORY_SAVERS.items(), desc="batch search", disable=not self.progress):
            if budget <= weights:
                result["savers"].append({"saver": saver, "largest_batch": 0, "tries": [],
                                         "note": f"the weights alone take {format_size(weights)}"})
                continue
            undo = configure(pipeline, dataclasses.replace(FAST, **options), self.models)
            try:
                largest, tries = largest_batch(lambda n: self.call(pipeline, SHORT_CALL_STEPS, n), self.device,
                                               budget - weights, self.max_batch)
            finally:
                undo()
            peak = next((t["peak"] for t in tries if t["batch_size"] == largest), None)
            result["savers"].append({"saver": saver, "largest_batch": largest, "peak": peak, "tries": tries,
                                     "note": ""})
        return result


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


def weights_bytes(pipeline) -> int:
    """Bytes of the parameters and buffers of every model in `pipeline`."""
    modules = [c for c in pipeline.components.values() if isinstance(c, torch.nn.Module)]
    return sum(t.numel() * t.element_size() for m in modules for t in [*m.parameters(), *m.buffers()])


def environment(device: torch.device) -> dict:
    """The hardware and library versions a benchmark ran on."""
    from ..display import environment_report

    return {"device": str(device), "report": environment_report(device), "torch": torch.__version__}
