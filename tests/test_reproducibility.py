"""The reference fingerprints under every CPU instruction set and thread count this machine can emulate."""

import pytest

from conftest import HALF_PSNR_FLOOR

pytestmark = pytest.mark.slow
NOTEBOOKS = ["01_speed", "02_memory", "03_quality", "04_next_steps"]


# Parameters that change only how often a measurement repeats, never a seeded result.
TIMING_ONLY = {
    "01_speed": {"repeats": 1},
    "02_memory": {"max_batch_size": 4},  # a shorter batch search; the fingerprints come from batch_sizes
    "03_quality": {},
    "04_next_steps": {"repeats": 1},
}


@pytest.mark.parametrize("notebook", NOTEBOOKS)
@pytest.mark.parametrize(("capability", "threads"), [("default", "2"), ("avx2", "1")])
def test_reference_fingerprints_under_other_instruction_sets_and_threads(
    run_notebook, reference_results, notebook, capability, threads
):
    """nbval checks the native instruction set (avx512 on this project's machines) with 2 threads.

    With these two runs every instruction set and both thread counts are covered.
    """
    env = {"ATEN_CPU_CAPABILITY": capability, "OMP_NUM_THREADS": threads}
    results = run_notebook(notebook, env=env, **TIMING_ONLY[notebook])
    assert results["fingerprints"] == reference_results(notebook)["fingerprints"]
    if "psnr_half_vs_float32" in results:
        assert min(results["psnr_half_vs_float32"]) > HALF_PSNR_FLOOR
