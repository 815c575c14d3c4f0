"""`sdtutorial bench` and the sd15-arch model: real architecture, deterministic weights, honest tables."""

import csv
import dataclasses
import json

import pytest
import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, AutoencoderTiny, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from sdtutorial import bench
from sdtutorial.architecture import build_model
from sdtutorial.bench import (
    BASELINE,
    FAST,
    HALF,
    VARIANTS,
    LoadedModels,
    Settings,
    Variant,
    best_combination,
    configure,
    markdown,
    prune,
    run_bench,
    write_bench_files,
)
from sdtutorial.cli import main
from sdtutorial.loading import MODELS_DIR, half_is_emulated, load_pipeline
from sdtutorial.step_costs import estimate_seconds, step_costs

SD15 = MODELS_DIR / "sd15-arch"


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_sd15_arch_has_stable_diffusion_v1_5_sizes():
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(SD15 / "unet"))
        vae = AutoencoderKL.from_config(AutoencoderKL.load_config(SD15 / "vae"))
        text_encoder = CLIPTextModel(CLIPTextConfig.from_pretrained(SD15 / "text_encoder"))
    # Stable Diffusion v1.5's published parameter counts.
    assert parameter_count(unet) == 859_520_964
    assert parameter_count(vae) == 83_653_863
    assert parameter_count(text_encoder) == 123_060_480


def test_random_weights_are_deterministic_bounded_and_the_same_in_every_dtype():
    first = build_model(AutoencoderTiny, MODELS_DIR / "sd15-arch-taesd")
    second = build_model(AutoencoderTiny, MODELS_DIR / "sd15-arch-taesd")
    half = build_model(AutoencoderTiny, MODELS_DIR / "sd15-arch-taesd", torch.bfloat16)
    for (name, a), b, c in zip(first.state_dict().items(), second.state_dict().values(), half.state_dict().values(),
                               strict=True):
        assert torch.equal(a, b), name
        assert torch.equal(a.to(torch.bfloat16), c), name
        if a.ndim >= 2:
            assert a.abs().max() <= 1 / a[0].numel() ** 0.5 and a.std() > 0, name
        else:
            assert torch.equal(a, torch.ones_like(a) if name.endswith("weight") else torch.zeros_like(a)), name
    first_conv = next(p for p in first.parameters() if p.ndim == 4)
    assert len(set(first_conv.flatten().tolist())) > 0.99 * first_conv.numel()  # a window, not a repeated pattern


def test_sd15_arch_pipeline_makes_an_image_at_any_size():
    pipeline = load_pipeline("sd15-arch", device="cpu", dtype="half")
    pipeline.set_progress_bar_config(disable=True)
    assert type(pipeline).__name__ == "StableDiffusionPipeline" and pipeline.dtype == torch.bfloat16
    image = pipeline("a photo", num_inference_steps=1, height=64, width=96, output_type="np").images[0]
    assert image.shape == (64, 96, 3) and image.std() > 0


def test_the_combination_starts_from_every_speed_option_and_leaves_out_memory_savers():
    def entry(variant: Variant, seconds: float) -> tuple[Variant, dict]:
        return variant, {"seconds_per_image": seconds}

    rows = [
        entry(BASELINE, 10.0), entry(HALF, 12.0), entry(FAST, 1.0),
        entry(Variant("slice", attention="sliced"), 0.9), entry(Variant("classic", attention="classic"), 0.93),
        entry(Variant("layout", channels_last=True), 1.03), entry(Variant("vae slicing", vae_slicing=True), 0.5),
        entry(Variant("tiny", tiny_vae=True), 0.8), entry(Variant("offload", offload="model"), 0.5),
    ]
    combined = best_combination({variant.name: (variant, data) for variant, data in rows})
    # Memory savers are never candidates; channels_last is, though its own row was slower; half lost to float32.
    assert combined.options() == {"attention": "classic", "channels_last": True, "tiny_vae": True, "dtype": "float32"}
    assert combined.name == "all speed options: attention=classic + channels_last + tiny_vae + dtype=float32"
    assert best_combination({BASELINE.name: entry(BASELINE, 1.0)}) is None
    memory_only = [entry(FAST, 1.0), entry(Variant("slice", attention="sliced"), 0.9)]
    assert best_combination({variant.name: (variant, data) for variant, data in memory_only}) is None


class Bar:
    total = 0


def test_prune_drops_an_option_the_combination_runs_faster_without():
    combined = Variant("all speed options: ...", dtype="float32", tiny_vae=True, channels_last=True, deepcache=2)
    without = {"tiny_vae": 1.10, "channels_last": 0.90, "deepcache": 1.01}  # seconds without each; combined 1.0
    measured, tried = {}, []

    def measure_variant(variant: Variant) -> None:
        missing = [key for key in without if getattr(variant, key) == getattr(FAST, key)]
        tried.append(missing)
        measured[variant.name] = (variant, {"seconds_per_image": without[missing[0]] if missing else 1.0})

    bar = Bar()
    best = prune(combined, measure_variant, measured, bar)
    assert tried == [[], ["channels_last"], ["tiny_vae"], ["deepcache"]] and bar.total == 4  # dtype is not ablated
    # channels_last cost 10%: out; DeepCache's 1% is within the margin: kept.
    assert best.options() == {"dtype": "float32", "tiny_vae": True, "deepcache": 2}
    assert best.name == "best: dtype=float32 + tiny_vae + deepcache=2"


def test_an_option_that_costs_adherence_does_not_join_the_best_combination():
    def entry(variant: Variant, seconds: float) -> tuple[str, tuple[Variant, dict]]:
        return variant.name, (variant, {"seconds_per_image": seconds})

    cached, fused = Variant("cache", deepcache=3), Variant("fused", fused_qkv=True)
    measured = dict([entry(BASELINE, 10.0), entry(FAST, 1.0), entry(cached, 0.4), entry(fused, 0.9),
                     entry(Variant("cache 2", deepcache=2), 0.6), entry(Variant("classic", attention="classic"), 0.95)])
    quality = {FAST.name: {"adherence": 0.80}, cached.name: {"adherence": 0.77}, fused.name: {"adherence": 0.80},
               "cache 2": {"adherence": 0.77}}
    # By time alone: the faster of each kind (interval 3 over 2, fused QKV over classic attention).
    assert best_combination(measured).options() == {"deepcache": 3, "fused_qkv": True}
    assert best_combination(measured, quality).options() == {"fused_qkv": True}  # 0.03 lost is more than 0.02
    quality[cached.name]["adherence"] = 0.785
    assert best_combination(measured, quality).options() == {"deepcache": 3, "fused_qkv": True}


@pytest.mark.extended
def test_bench_scores_each_variant_on_toyworld_beside_its_speedup():
    chosen = [FAST.name, "+ fused QKV projections", "+ DeepCache, interval 3", HALF.name]
    settings = Settings(model_id="tiny-random", device="cpu", quick=True, quality_prompts=4, variants=chosen,
                        emulated_half=True)  # the half row runs on every CPU, to show it is not scored
    report = run_bench(settings, progress=False)
    rows = {row["variant"]: row for row in report.rows}
    assert rows[BASELINE.name]["adherence_change"] == 0 and 0 < rows[BASELINE.name]["adherence"] <= 1
    assert rows[HALF.name]["adherence"] is None  # precision alone is not scored (quality runs in float32)
    fast, fused = rows[FAST.name], rows["+ fused QKV projections"]
    assert fused["adherence"] == fast["adherence"] and fused["clean_score"] == pytest.approx(fast["clean_score"])
    assert fast["adherence_change"] == pytest.approx(fast["adherence"] - rows[BASELINE.name]["adherence"])
    table = markdown(report)
    assert "adherence (toyworld, float32)" in table and f"{fast['adherence_change']:+.3f}" in table
    seconds = report.seconds  # the scoring runs are timed apart, not counted as pipeline calls or overhead
    assert seconds["quality"] > 0
    # overhead is what the timed parts leave of the wall time: negative would mean a part was counted twice
    assert 0 <= seconds["overhead"] < seconds["total"] - seconds["quality"]


@pytest.mark.extended
def test_every_speed_option_combines_and_undoes():
    settings = Settings(model_id="tiny-random", device="cpu")
    models = LoadedModels(settings, torch.device("cpu"))
    pipeline = models.get("float32")
    vae, unet, scheduler = pipeline.vae, pipeline.unet, pipeline.scheduler
    together = Variant("all", dtype="float32", tiny_vae=True, fused_qkv=True, deepcache=2, channels_last=True)
    undo = configure(pipeline, together, models)
    assert isinstance(pipeline.vae, AutoencoderTiny) and pipeline.fusing_unet
    image = pipeline("a photo", num_inference_steps=2, height=64, width=64, output_type="np").images[0]
    assert image.std() > 0
    undo()
    assert (pipeline.vae, pipeline.unet, pipeline.scheduler) == (vae, unet, scheduler) and not pipeline.fusing_unet


@pytest.mark.extended
def test_compiling_on_a_cpu_freezes_the_weights_and_undo_puts_the_setting_back():
    models = LoadedModels(Settings(model_id="tiny-random", device="cpu"), torch.device("cpu"))
    pipeline, before = models.get("float32"), torch._inductor.config.freezing
    undo = configure(pipeline, Variant("compiled", dtype="float32", compile=True), models)
    assert torch._inductor.config.freezing is True and pipeline.unet is models.compiled["full"]
    undo()
    assert torch._inductor.config.freezing == before and pipeline.unet is not models.compiled["full"]


def test_step_costs_time_each_part_of_a_call_and_add_up_to_an_image():
    costs = step_costs("tiny-random", "cpu", 64, 64, "float32")
    assert set(costs) == {"unet_step", "vae_decode", "text_encoder"} and all(value > 0 for value in costs.values())
    assert estimate_seconds(costs, 1) == pytest.approx(sum(costs.values()))
    assert estimate_seconds(costs, 50) - estimate_seconds(costs, 20) == pytest.approx(30 * costs["unet_step"])


@pytest.fixture(scope="module")
def quick_report():
    settings = Settings(model_id="tiny-random", device="cpu", quick=True, memory_budget="1GiB", max_batch_size=2)
    return run_bench(settings, progress=False)


@pytest.mark.extended
def test_quick_bench_measures_every_variant_or_says_why_not(quick_report):
    rows = {row["variant"]: row for row in quick_report.rows}
    skipped = {entry["variant"]: entry["reason"] for entry in quick_report.skipped}
    combined = [name for name in rows if name.startswith("all speed options")]
    [best] = [name for name in rows if name.startswith("best")]
    assert set(rows) | set(skipped) == {v.name for v in VARIANTS} | set(combined) | {best}
    [full] = [name for name in combined if " without " not in name]  # and one row without each of its options
    assert len(combined) == 1 + len(set(rows[full]["options"]) - {"dtype"})
    assert "torch.compile" in " ".join(skipped) and "not compiled on a CPU" in skipped["+ torch.compile"]
    assert "CUDA GPU" in skipped["+ model CPU offload"]
    assert rows[BASELINE.name]["speedup"] == 1.0
    for row in rows.values():
        assert row["seconds_per_image"] > 0 and row["peak_memory"] > 0
        assert row["images_per_second"] == pytest.approx(1 / row["seconds_per_image"])
        assert row["speedup"] == pytest.approx(rows[BASELINE.name]["seconds_per_image"] / row["seconds_per_image"])
    assert rows[BASELINE.name]["steps"] == 5 and rows[FAST.name]["steps"] == 2  # --quick: a tenth of the steps
    seconds = quick_report.seconds
    assert 0 < seconds["loading"] < seconds["overhead"] < seconds["total"]  # loading models is part of overhead
    assert seconds["quality"] == 0 and seconds["pipeline_calls"] > 0


@pytest.mark.extended
def test_each_row_has_its_unet_flops_and_their_share_of_the_peak(quick_report):
    gflop = quick_report.roofline["gflop"]
    assert gflop["unet_step"] > gflop["unet_cached_step"] > 0 and gflop["vae_decode"] > 0
    rows = {row["variant"]: row for row in quick_report.rows}
    assert rows[BASELINE.name]["unet_gflop_per_image"] == pytest.approx(5 * gflop["unet_step"])
    deepcache = rows["+ DeepCache, interval 2"]  # 2 quick steps: one full, one reusing the deep features
    assert deepcache["unet_gflop_per_image"] == pytest.approx(gflop["unet_step"] + gflop["unet_cached_step"])
    for row in rows.values():
        assert row["unet_tflops"] == pytest.approx(row["unet_gflop_per_image"] / 1e3 / row["unet_seconds_per_image"])
        assert 0 < row["unet_seconds_per_image"] < row["seconds_per_image"]
        assert row["share_of_peak"] == pytest.approx(row["unet_tflops"] / quick_report.roofline["peak_tflops"][
            row["dtype"]])
    assert "GFLOP per image: a guided UNet step" in markdown(quick_report)


@pytest.mark.extended
def test_batch_search_reports_each_memory_saver(quick_report):
    search = quick_report.batch_search
    assert [entry["saver"] for entry in search["savers"]] == [
        "none", "attention slicing", "VAE slicing", "attention + VAE slicing"]
    assert search["call_budget"] == search["budget"] - search["weights"] and search["weights"] > 2**20
    for entry in search["savers"]:
        assert entry["largest_batch"] == 2 and [t["batch_size"] for t in entry["tries"]] == [1, 2]


@pytest.mark.extended
def test_outputs_hold_the_table(quick_report, tmp_path):
    paths = write_bench_files(quick_report, tmp_path)
    data = json.loads(paths["json"].read_text())
    for row in data["rows"]:
        assert {"variant", "seconds_per_image", "images_per_second", "peak_memory", "speedup"} <= set(row)
    with paths["csv"].open() as file:
        assert [row["variant"] for row in csv.DictReader(file)] == [row["variant"] for row in data["rows"]]
    assert paths["png"].read_bytes().startswith(b"\x89PNG")
    text = paths["md"].read_text()
    assert text == markdown(quick_report) and "Skipped:" in text
    assert "| baseline: float32, PNDM 50 | float32 | 5 |" in text


@pytest.mark.extended
def test_where_bfloat16_is_emulated_the_half_rows_run_in_float32_unless_asked(monkeypatch):
    monkeypatch.setattr(bench.running, "half_is_emulated", lambda device: True)
    settings = Settings(model_id="tiny-random", device="cpu", quick=True, variants=[HALF.name, FAST.name])
    report = run_bench(settings, progress=False)
    rows = {row["variant"]: row["dtype"] for row in report.rows}
    assert rows == {BASELINE.name: "float32", FAST.name: "float32"}
    [skipped] = report.skipped
    assert skipped["variant"] == HALF.name and "x as long as float32" in skipped["reason"]
    assert "half rows ran in float32" in markdown(report)
    report = run_bench(dataclasses.replace(settings, emulated_half=True), progress=False)
    assert {row["variant"]: row["dtype"] for row in report.rows} == {
        BASELINE.name: "float32", HALF.name: "bfloat16", FAST.name: "bfloat16"}
    assert not report.skipped and "half rows ran in float32" not in markdown(report)


@pytest.mark.extended
def test_a_budget_below_the_weights_fits_no_batch():
    settings = Settings(model_id="tiny-random", device="cpu", quick=True, memory_budget="1MiB", variants=[FAST.name])
    report = run_bench(settings, progress=False)
    assert [row["variant"] for row in report.rows] == [BASELINE.name, FAST.name]  # no speed option: no "best"
    assert all(e["largest_batch"] == 0 and "weights alone" in e["note"] for e in report.batch_search["savers"])


@pytest.mark.extended
def test_bench_command_writes_its_files(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["bench", "--model", "tiny-random", "--device", "cpu", "--quick", "--variant", FAST.name,
                 "-o", str(out)]) == 0
    ran_in = "float32" if half_is_emulated(torch.device("cpu")) else "bfloat16"
    assert f"| half, DPMSolver 20 | {ran_in} | 2 |" in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {"bench.json", "bench.md", "bench.csv", "bench.png"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--height", "100"], "height must be a multiple of 8, got 100"),
        (["--variant", "turbo"], "unknown variant 'turbo'; accepted: baseline: float32, PNDM 50, half, PNDM 50"),
        (["--memory-budget", "16"], "memory size '16' is not a number with a unit"),
        (["--repeats", "0"], "repeats must be an integer of at least 1, got 0"),
        (["--model", "./nowhere"], "model './nowhere': no such local folder"),
    ],
)
def test_bench_bad_input_is_one_line(argv, message, capsys, tmp_path):
    assert main(["bench", "--device", "cpu", *argv, "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sdtutorial: error: ") and message in err and err.count("\n") == 1


@pytest.mark.extended
def test_the_best_combination_is_the_median_of_three_calls_where_the_others_take_one():
    settings = Settings(model_id="tiny-random", device="cpu", variants=[FAST.name, "+ tiny VAE decoder"])
    report = run_bench(settings, progress=False)
    calls = {row["variant"]: len(row["repeat_seconds"]) for row in report.rows}
    [best] = [name for name in calls if name.startswith("best")]
    assert calls.pop(best) == 3 and set(calls.values()) == {1}
    assert "median of 1 after a warm-up (the best combination: of 3)" in markdown(report)
