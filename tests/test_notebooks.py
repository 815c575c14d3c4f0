"""Every notebook under papermill with other parameter sets: each change does what it should to the results."""

import importlib.util

import pytest

from conftest import HALF_PSNR_FLOOR

pytestmark = [pytest.mark.slow, pytest.mark.extended]
# The speed notebook keeps the guide's 50 PNDM steps.
QUICK_SPEED = {"fast_steps": 5, "repeats": 1, "quality_prompts": 2, "real_scale_model": "tiny-random"}
QUICK_MEMORY = {"num_inference_steps": 4, "max_batch_size": 4, "attention_size": 512, "attention_batch_size": 2,
                "attention_repeats": 1}
QUICK_QUALITY = {"num_inference_steps": 4, "variation_steps": 4, "comparison_prompts": 2}
QUICK_NEXT = {"num_inference_steps": 4, "repeats": 1, "real_scale_model": "tiny-random", "real_scale_size": 64}


def test_speed_with_a_batch_and_another_seed(run_notebook, stored_references):
    """A batch of two makes two different images, each compared with float32 by PSNR; the reference check says the
    two are not the one reference image (02 shows that a batch position does not change an image)."""
    pair = run_notebook("01_speed", seed=0, batch_size=2, **QUICK_SPEED)
    assert pair["image_counts"] == {"float32": 2, "half": 2, "fast": 2}
    assert pair["reference_check"]["float32"] == [0, 1]  # two images where the reference has one
    first, second = pair["fingerprints"]["float32"]
    assert first != second
    assert min(pair["psnr_half_vs_float32"] + pair["psnr_half_vs_float32_fast"]) > HALF_PSNR_FLOOR
    assert len(pair["psnr_half_vs_float32"]) == len(pair["psnr_half_vs_float32_fast"])
    assert pair["real_scale"] is None  # auto: the real-scale part runs on a GPU only


def test_speed_with_another_scheduler_and_the_real_scale_part(run_notebook, reference_results):
    real_scale = {"real_scale": True, "real_scale_size": 64}  # QUICK_SPEED's real_scale_model: tiny-random
    quick = QUICK_SPEED | {"num_inference_steps": 2}
    results = run_notebook("01_speed", fast_scheduler="EulerDiscreteScheduler", **quick, **real_scale)
    assert results["fingerprints"] != reference_results("01_speed")["fingerprints"]  # 2 steps, not 50
    # Each setting is measured with its own steps: PNDM at 2 has not yet reached the prompt, Euler at 5 has,
    # so the fast setting must score far higher.
    quality = results["quality_check"]
    assert quality["fast"]["adherence"] > quality["baseline"]["adherence"] + 0.3
    assert all(value > 0 for value in results["seconds"].values())
    rows = {row["variant"]: row for row in results["real_scale"]["rows"]}
    assert rows["baseline: float32, PNDM 50"]["speedup"] == 1.0 and rows["half, DPMSolver 20"]["steps"] == 20
    assert not any("offload" in name for name in rows) and any(name.startswith("best") for name in rows)
    per_step = results["real_scale_per_step"]  # on by default, on every device
    costs, estimates = per_step["costs"], per_step["estimates"]
    assert per_step["size"] == 64
    assert estimates["float32, PNDM"] == pytest.approx(sum(costs["float32"].values()) + costs["float32"][
        "unet_step"])  # 2 steps
    if "half" in costs:  # left out where the CPU emulates bfloat16
        assert estimates["half, EulerDiscrete"] == pytest.approx(sum(costs["half"].values()) + 4 * costs["half"][
            "unet_step"])


def test_memory_batches_are_made_of_single_seeds_and_the_real_scale_search(run_notebook):
    real_scale = {"real_scale": True, "real_scale_model": "tiny-random", "real_scale_size": 64,
                  "real_scale_budget": "8GiB"}
    results = run_notebook("02_memory", batch_sizes=[2, 3], seed=5, memory_budget="20GiB", **QUICK_MEMORY,
                           **real_scale)
    assert results["image_counts"] == {"batch_2": 2, "batch_3": 3}
    # the batch of 2 is the first two of the batch of 3; the third made alone is the third; VAE slicing changes none
    assert results["same_images"] == {"alone": True, "vae_sliced": True, "batch_2": True, "batch_3": True}
    # the kernels round differently: at 512x512 a few 8-bit values differ, far below what can be seen
    assert min(float(psnr) for psnr in results["attention_psnr_vs_sdpa"].values()) > 40  # "inf" for SDPA itself
    assert all(peak > 0 for peak in results["peak_bytes"].values())
    # Attention's full matrix grows with the image: the classic kernel needs more than the fused one (the calls stop
    # at the latents, as the VAE's decoding needs about as much memory and would hide the difference).
    assert results["peak_bytes"]["attention_classic"] > results["peak_bytes"]["attention_sdpa"]
    assert results["largest_batch"] == 4  # with 20GiB every size up to max_batch_size fits
    assert [t["batch_size"] for t in results["batch_search"]] == [1, 2, 4]
    savers = results["real_scale"]["batch_search"]["savers"]
    assert [(e["saver"], e["largest_batch"]) for e in savers][:2] == [("none", 4), ("attention slicing", 4)]



def test_quality_changes_move_the_images(run_notebook):
    results = run_notebook("03_quality", images_per_prompt=1, seed=3, **QUICK_QUALITY)
    prints = results["fingerprints"]
    assert len({tuple(p) for p in prints.values()}) == len(prints)  # each change gives other images
    assert len(prints["base"]) == 2 and len(prints["variations"]) == 5
    assert set(results["claims"]) >= {"the later checkpoint follows the prompts better",
                                      "the fine-tuned VAE reconstructs scenes more faithfully",
                                      "negative prompt: cleaner images (higher clean score)"}
    assert [set(changed) for changed in results["variations_followed"]] == [
        {"shape"}, {"position"}, {"color"}, {"background"}]
    assert all(c["psnr"] < 60 for c in results["comparisons"].values())


def test_quality_with_the_same_checkpoint_changes_nothing(run_notebook):
    results = run_notebook("03_quality", other_model_id="toyworld", images_per_prompt=1, **QUICK_QUALITY)
    assert results["fingerprints"]["other_checkpoint"] == results["fingerprints"]["base"]
    assert float(results["comparisons"]["later checkpoint"]["psnr"]) == float("inf")  # recorded as "inf"
    assert results["claims"]["the later checkpoint follows the prompts better"] == "does NOT hold"  # no gain: equal


def test_next_steps_keep_the_image(run_notebook):
    results = run_notebook("04_next_steps", batch_size=2, seed=4, **QUICK_NEXT)
    prints = results["fingerprints"]
    assert results["same_as_baseline"] == {"channels_last": True, "sdpa_math": True, "sdpa_flash": True}
    assert len(prints["baseline"]) == 2
    assert prints["tiny_vae"] != prints["baseline"]
    assert all(results["decoder_seconds"][decoder] > 0 for decoder in ["full", "tiny"])
    assert results["seconds"]["enable_model_cpu_offload"] is None  # skipped on a CPU, with its reason
    assert "CUDA" in results["notes"]["enable_model_cpu_offload"]
    roofline = results["roofline"]  # one step of tiny-random in bfloat16 where the CPU has it, else in float32
    assert roofline["pixels"] == 64 and roofline["bandwidth_gbs"] > 0 and "float32" in roofline["peak_tflops"]
    [(dtype, rows)] = roofline["steps"].items()
    assert dtype in roofline["peak_tflops"]
    kinds = {row["operations"]: row for row in rows}
    assert {"convolution", "linear layers", "attention", "normalization"} <= set(kinds)
    assert kinds["convolution"]["gflop"] > 0 and kinds["convolution"]["tflops"] > 0
    assert sum(row["share"] for row in kinds.values()) == pytest.approx(1)


QUICK_BEYOND = {"comparison_prompts": 4, "num_inference_steps": 8, "step_counts": [4, 8], "reference_steps": 8,
                "cache_intervals": [3]}


def test_beyond_the_guide_measures_each_technique_on_the_same_images(run_notebook):
    schedulers = ["DPMSolverMultistepScheduler", "EulerDiscreteScheduler"]
    results = run_notebook("06_beyond_the_guide", step_schedulers=schedulers, seed=2, **QUICK_BEYOND)
    prints, rows = results["fingerprints"], results["rows"]
    assert len(prints["baseline"]) == 4 and results["prompts"] == 4
    # Fused projections do the same arithmetic; feature caching skips some of it and moves the pixels.
    assert results["same_as_baseline"] == {"fused_qkv": True} and float(rows["fuse_qkv_projections()"]["psnr"]) > 50
    assert prints["deepcache_3"] != prints["baseline"] and rows["DeepCache, interval 3"]["psnr"] < 50
    assert set(results["sweep"]) == {f"{name} {steps}" for name in schedulers for steps in (4, 8)}
    floor = results["reference_adherence"] - 0.02
    for name, fewest in results["fewest_steps"].items():  # the first count that reaches the floor, or None
        reached = [n for n in (4, 8) if results["sweep"][f"{name} {n}"]["adherence"] >= floor]
        assert fewest == (reached[0] if reached else None)
    assert set(results["fewest_steps"]) == set(schedulers)
    for skipped in ("regional: compile_repeated_blocks()", "enable_group_offload", "enable_layerwise_casting"):
        assert rows[skipped]["seconds"] is None and rows[skipped]["note"]  # auto on a CPU, with the reason
    assert "not compiled on a CPU" in rows["regional: compile_repeated_blocks()"]["note"]
    if importlib.util.find_spec("torchao") is None:
        assert "pip install 'sdtutorial[techniques]'" in rows["int8 dynamic (torchao)"]["note"]


def test_beyond_the_guide_on_a_model_the_scorer_does_not_know_and_compiled(run_notebook):
    results = run_notebook("06_beyond_the_guide", model_id="tiny-random", comparison_prompts=2, num_inference_steps=3,
                           step_counts=[2], step_schedulers=["EulerDiscreteScheduler"], reference_steps=3,
                           cache_intervals=[2], compile_unet=True)
    rows = results["rows"]
    assert results["fewest_steps"] == {} and "adherence" not in rows["fast setting (reference)"]
    for compiled in ("full torch.compile", "regional: compile_repeated_blocks()"):
        assert rows[compiled]["seconds"] > 0 and rows[compiled]["note"].startswith("first call, with compiling")
        assert float(rows[compiled]["psnr"]) > 40  # compiled kernels round differently, nothing a person could see


def test_beyond_the_guide_int8_quantization_when_torchao_is_installed(run_notebook):
    pytest.importorskip("torchao", reason="torchao is in the optional extra sdtutorial[techniques]")
    results = run_notebook("06_beyond_the_guide", **QUICK_BEYOND | {"step_counts": [4]})
    row = results["rows"]["int8 dynamic (torchao)"]
    assert row["seconds"] > 0 and row["psnr"] > 30
