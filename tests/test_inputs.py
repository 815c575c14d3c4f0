import pytest
import torch
from diffusers.utils.torch_utils import randn_tensor

from sdtutorial.inputs import get_inputs, get_prompt_inputs, make_generators
from sdtutorial.loading import load_pipeline


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


def float32_noise(seed: int, shape: tuple) -> torch.Tensor:
    generators = make_generators(seed, shape[0])
    return randn_tensor(shape, generator=generators, device=torch.device("cpu"), dtype=torch.float32)


def test_starting_noise_is_float32_noise_cast_to_the_pipelines_dtype():
    pipeline = load_pipeline("tiny-random", device="cpu")
    inputs = get_inputs("p", batch_size=2, seed=3, pipeline=pipeline)
    assert torch.equal(inputs["latents"], float32_noise(3, (2, 4, 32, 32)))
    advanced = make_generators(3, 2)
    for generator in advanced:  # move on as far as the pipeline's own draw would
        torch.randn((1, 4, 32, 32), generator=generator)
    assert [g.get_state().tolist() for g in inputs["generator"]] == [g.get_state().tolist() for g in advanced]

    pipeline.to(torch.bfloat16)
    half = get_inputs("p", batch_size=2, seed=3, pipeline=pipeline, height=96, width=96)
    assert half["latents"].dtype == torch.bfloat16
    assert torch.equal(half["latents"], float32_noise(3, (2, 4, 48, 48)).to(torch.bfloat16))
    assert half["height"] == 96
