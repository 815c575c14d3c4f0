"""The reference fingerprints under every CPU instruction set and thread count this machine can emulate."""

import pytest
import torch

from conftest import HALF_PSNR_FLOOR

pytestmark = pytest.mark.slow
# With 1 thread or another instruction set, a few images differ from the reference by one 8-bit step in some pixels
# (70-89 dB), and one of their 8x8 block means sits on a fingerprint level, so the fingerprint flips. Exact hashes
# cannot absorb that; a tolerant comparison (two level grids offset by half a level) would, with new references.
# Only those differences are expected; any other fails. Measured with the references of 2026-12-03 (after unet-ft's
# second run) on a 2-core AMD EPYC with AVX-512 (Zen 4), each image compared pixel by pixel with the native run:
# under "default" with 1 thread, 03's negative-prompt image [8] (2 pixels one step off, 86 dB) and 06's DeepCache
# interval 5 image [8] (26 pixels, 75 dB); under "avx2", 03's negative-prompt image [8] (1 pixel, 89 dB), 03's other
# checkpoint [2] (the early checkpoint, unchanged since 2026-12-02), and 06's DDIM 12-step image [5] (17 pixels,
# 77 dB) and UniPC 6-step image [12] (3 pixels, 84 dB). No pixel of any image more than one step from the native
# run. Which of them flips depends on the machine, so a run may show any part of this list, and nothing outside it.
ROUNDING_ON_A_LEVEL = {
    "03_quality": {"other_checkpoint": [2], "negative_prompt": [8]},
    "06_beyond_the_guide": {"steps DDIMScheduler 12": [5], "steps UniPCMultistepScheduler 6": [12], "deepcache_5": [8]},
}
NOTEBOOKS = ["01_speed", "02_memory", "03_quality", "04_next_steps", "06_beyond_the_guide"]


# Parameters that change only how often a measurement repeats, never a seeded result.
TIMING_ONLY = {
    "01_speed": {"repeats": 1},
    "02_memory": {"max_batch_size": 4, "attention_repeats": 1},  # the fingerprints come from batch_sizes
    "03_quality": {},
    "04_next_steps": {"repeats": 1},
    "06_beyond_the_guide": {"repeats": 1},
}


# nbval runs the notebooks on this CPU's own instruction set with 2 threads; each set below it that ATen can emulate
# runs here once, the first with 1 thread, so every set and both thread counts are covered (on an AVX2-only CPU,
# "default" alone; with AVX-512, "default" and "avx2").
CAPABILITIES = ("default", "avx2", "avx512")
NATIVE = torch.backends.cpu.get_cpu_capability().lower()
EMULATED = [(capability, "1" if i == 0 else "2")
            for i, capability in enumerate(CAPABILITIES[: CAPABILITIES.index(NATIVE)])]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
@pytest.mark.parametrize(("capability", "threads"), EMULATED)
def test_reference_fingerprints_under_other_instruction_sets_and_threads(
    run_notebook, reference_results, notebook, capability, threads
):
    env = {"ATEN_CPU_CAPABILITY": capability, "OMP_NUM_THREADS": threads}
    results = run_notebook(notebook, env=env, **TIMING_ONLY[notebook])
    if "psnr_half_vs_float32_fast" in results:
        assert min(results["psnr_half_vs_float32"] + results["psnr_half_vs_float32_fast"]) > HALF_PSNR_FLOOR
    found, reference = results["fingerprints"], reference_results(notebook)["fingerprints"]
    assert found.keys() == reference.keys()
    differ = {key: [i for i, (a, b) in enumerate(zip(found[key], images, strict=True)) if a != b]
              for key, images in reference.items()}
    differ = {key: images for key, images in differ.items() if images}
    known = ROUNDING_ON_A_LEVEL.get(notebook, {})
    if differ and all(set(images) <= set(known.get(key, [])) for key, images in differ.items()):
        pytest.xfail(f"known rounding across a fingerprint level: {differ}")
    assert not differ, f"images whose fingerprints differ from the reference: {differ}"
