"""The notebooks' seeded images under the CPU instruction sets and thread counts this machine can emulate.

nbval runs every notebook on the CPU's own instruction set with 2 threads. Here each notebook runs again under
other settings and must give the reference images (within the tolerance of `fingerprint.same_images`), the same
in-run comparisons and, for 03, the same verdicts on the guide's claims. `make test` runs the notebook with the
most images (06) under the plainest setting; `make test-all` runs every notebook under each instruction set once,
thread counts taking turns; `make test-matrix` runs nbval itself under every instruction set x 1, 2 and 4 threads.
"""

import pytest
import torch

from conftest import HALF_PSNR_FLOOR

pytestmark = pytest.mark.slow
NOTEBOOKS = ["01_speed", "02_memory", "03_quality", "04_next_steps", "06_beyond_the_guide"]
CAPABILITIES = ("default", "avx2", "avx512")
NATIVE = torch.backends.cpu.get_cpu_capability().lower()
AVAILABLE = CAPABILITIES[: CAPABILITIES.index(NATIVE) + 1] if NATIVE in CAPABILITIES else (NATIVE,)
THREADS = (1, 2, 4)
# Each instruction set once, thread counts taking turns; the native set with 2 threads is nbval's own run.
TAKING_TURNS = [(capability, THREADS[i % len(THREADS)]) for i, capability in enumerate(AVAILABLE)]
TAKING_TURNS = [(c, 4) if (c, t) == (NATIVE, 2) else (c, t) for c, t in TAKING_TURNS]
# bfloat16 is emulated, some 70 times slower, on CPUs without AVX512-BF16 or AMX units: there 01's half-precision
# steps run in float32 (they make no reference images; their distance to float32 is checked where they are fast).
NATIVE_BFLOAT16 = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()

# Parameters that change only how often a measurement repeats, never a seeded image.
TIMING_ONLY = {
    "01_speed": {"repeats": 1} | ({} if NATIVE_BFLOAT16 else {"half_dtype": "float32"}),
    "02_memory": {"max_batch_size": 4, "attention_repeats": 1},  # the reference images come from batch_sizes
    "03_quality": {},
    "04_next_steps": {"repeats": 1},
    "06_beyond_the_guide": {"repeats": 1},
}


def check_against_the_references(results: dict, notebook: str, stored_references, reference_results) -> None:
    assert set(results["reference_check"]) == set(stored_references(notebook)), "a reference was not checked"
    differing = {key: images for key, images in results["reference_check"].items() if images}
    assert not differing, f"images unlike the reference (key: their indices): {differing}"
    for comparison in ("same_images", "same_as_baseline"):  # in-run comparisons the notebook prints
        assert all(results.get(comparison, {}).values()), results[comparison]
    if notebook == "03_quality":
        assert results["claims"] == reference_results(notebook)["claims"]
    if notebook == "01_speed" and NATIVE_BFLOAT16:
        assert min(results["psnr_half_vs_float32"] + results["psnr_half_vs_float32_fast"]) > HALF_PSNR_FLOOR


def test_the_notebook_with_the_most_images_under_the_plainest_instruction_set_and_one_thread(
    run_notebook, stored_references, reference_results
):
    notebook = "06_beyond_the_guide"
    results = run_notebook(notebook, env={"ATEN_CPU_CAPABILITY": "default"}, threads=1, **TIMING_ONLY[notebook])
    check_against_the_references(results, notebook, stored_references, reference_results)


@pytest.mark.extended
@pytest.mark.parametrize("notebook", NOTEBOOKS)
@pytest.mark.parametrize(("capability", "threads"), TAKING_TURNS)
def test_every_notebook_under_each_instruction_set(
    run_notebook, stored_references, reference_results, notebook, capability, threads
):
    results = run_notebook(notebook, env={"ATEN_CPU_CAPABILITY": capability}, threads=threads,
                           **TIMING_ONLY[notebook])
    check_against_the_references(results, notebook, stored_references, reference_results)
