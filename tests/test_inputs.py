import pytest
import torch

from sdtutorial.inputs import get_inputs, get_prompt_inputs, make_generators


def test_get_inputs_matches_the_guide():
    inputs = get_inputs("a prompt", batch_size=3, seed=5, num_inference_steps=20)
    assert inputs["prompt"] == ["a prompt"] * 3
    assert inputs["num_inference_steps"] == 20
    assert [g.initial_seed() for g in inputs["generator"]] == [5, 6, 7]
    assert all(g.device.type == "cpu" for g in inputs["generator"])


def test_extra_arguments_pass_through_and_negative_prompts_repeat():
    inputs = get_inputs("p", batch_size=2, negative_prompt="blurry", guidance_scale=5.0)
    assert inputs["negative_prompt"] == ["blurry", "blurry"]
    assert inputs["guidance_scale"] == 5.0
    assert "negative_prompt" not in get_inputs("p")


def test_prompt_variations_share_one_seed():
    inputs = get_prompt_inputs(["a", "b", "c"], seed=1, num_inference_steps=25)
    assert inputs["prompt"] == ["a", "b", "c"]
    assert [g.initial_seed() for g in inputs["generator"]] == [1, 1, 1]
    with pytest.raises(ValueError, match="at least one prompt"):
        get_prompt_inputs([])


def test_generators_give_the_noise_of_their_seed():
    first, second = make_generators(seed=7, count=2)
    assert torch.equal(torch.randn(4, generator=second), torch.randn(4, generator=torch.Generator().manual_seed(8)))
    assert not torch.equal(torch.randn(4, generator=first), torch.randn(4, generator=torch.Generator().manual_seed(8)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be an integer of at least 1, got 0"),
        ({"num_inference_steps": 0}, "num_inference_steps must be an integer of at least 1, got 0"),
        ({"batch_size": 2.5}, "batch_size must be an integer of at least 1, got 2.5"),
        ({"num_inference_steps": True}, "num_inference_steps must be an integer"),
    ],
)
def test_bad_sizes_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        get_inputs("p", **kwargs)
