"""01_speed under papermill with other parameters, and its fingerprints under every CPU instruction set."""

import pytest

from conftest import HALF_PSNR_FLOOR

pytestmark = pytest.mark.slow
QUICK = {"num_inference_steps": 10, "fast_steps": 5, "repeats": 1}


def test_seeds_give_the_same_image_at_any_batch_position_and_only_that_seed(run_notebook):
    pair = run_notebook("01_speed", seed=0, batch_size=2, **QUICK)
    second_alone = run_notebook("01_speed", seed=1, batch_size=1, **QUICK)
    other_prompt = run_notebook("01_speed", seed=0, batch_size=1, prompt="a young warrior chief", **QUICK)

    assert pair["image_counts"] == {"float32": 2, "half": 2, "fast": 2}
    assert second_alone["image_counts"] == {"float32": 1, "half": 1, "fast": 1}
    first, second = pair["fingerprints"]["float32"]
    assert second_alone["fingerprints"]["float32"] == [second]
    assert first != second
    assert other_prompt["fingerprints"]["float32"] != [first]
    for results in (pair, second_alone, other_prompt):
        assert min(results["psnr_half_vs_float32"]) > HALF_PSNR_FLOOR


def test_other_scheduler_and_steps(run_notebook, reference_results):
    results = run_notebook("01_speed", fast_scheduler="EulerDiscreteScheduler", **QUICK)
    again = run_notebook("01_speed", fast_scheduler="EulerDiscreteScheduler", **QUICK)
    assert results["fingerprints"] == again["fingerprints"]
    # Ten PNDM steps make another image than the reference's fifty.
    assert results["fingerprints"] != reference_results("01_speed")["fingerprints"]
    assert all(value > 0 for value in results["seconds"].values())


@pytest.mark.parametrize(("capability", "threads"), [("default", "1"), ("avx2", "2"), ("avx512", "1")])
def test_reference_fingerprints_under_every_instruction_set(run_notebook, reference_results, capability, threads):
    env = {"ATEN_CPU_CAPABILITY": capability, "OMP_NUM_THREADS": threads}
    results = run_notebook("01_speed", env=env, repeats=1)
    reference = reference_results("01_speed")
    assert results["fingerprints"] == reference["fingerprints"]
    assert min(results["psnr_half_vs_float32"]) > HALF_PSNR_FLOOR
