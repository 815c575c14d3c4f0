"""The guide's own code, in plain diffusers, on the default embedded model, gives the notebooks' recorded images."""

import pytest
import torch
from diffusers import AutoencoderKL, DiffusionPipeline, DPMSolverMultistepScheduler

from sdtutorial.evaluate import evaluation_prompts
from sdtutorial.fingerprint import images_block_means
from sdtutorial.loading import MODELS_DIR
from sdtutorial.references import differing_images, load_references

pytestmark = pytest.mark.slow
PROMPT = "a large orange star in the center on a black background"  # the notebooks' default prompt


def get_inputs(prompt: str, batch_size: int = 1, seed: int = 0, num_inference_steps: int = 20) -> dict:
    """The guide's get_inputs: one generator per image, seeded seed, seed + 1, ..."""
    generator = [torch.Generator("cpu").manual_seed(seed + i) for i in range(batch_size)]
    return {"prompt": [prompt] * batch_size, "generator": generator, "num_inference_steps": num_inference_steps}


def unlike_the_reference(images: list, notebook: str, key: str) -> list[int]:
    """Indices of `images` unlike the first of the notebook's reference images for `key` (within the tolerance)."""
    reference = load_references(notebook)[key][: len(images)]
    return differing_images(images_block_means(images), reference)


def test_the_guide_step_by_step_reproduces_the_notebooks():
    pipeline = DiffusionPipeline.from_pretrained(str(MODELS_DIR / "toyworld"), use_safetensors=True)
    assert {pipeline.unet.dtype, pipeline.text_encoder.dtype, pipeline.vae.dtype} == {torch.float32}
    pipeline.set_progress_bar_config(disable=True)

    generator = torch.Generator("cpu").manual_seed(0)
    image = pipeline(PROMPT, generator=generator).images[0]  # the default: PNDM, 50 steps
    assert unlike_the_reference([image], "01_speed", "float32") == []

    pipeline.scheduler = DPMSolverMultistepScheduler.from_config(pipeline.scheduler.config)
    assert unlike_the_reference(pipeline(**get_inputs(PROMPT, batch_size=4)).images, "02_memory", "batch_4") == []

    pipeline.enable_attention_slicing()
    assert unlike_the_reference(pipeline(**get_inputs(PROMPT, batch_size=8)).images, "02_memory", "batch_8") == []
    pipeline.disable_attention_slicing()

    vae = AutoencoderKL.from_pretrained(str(MODELS_DIR / "toyworld-vae-ft"), use_safetensors=True)
    pipeline.vae = vae
    images = []
    for prompt in evaluation_prompts(8, quality_words=False):  # 03's comparisons: 8 prompts, 2 seeds each
        images += pipeline(**get_inputs(prompt, batch_size=2)).images
    assert unlike_the_reference(images, "03_quality", "other_vae") == []

    prompts = ["a large orange star in the center on a black background",
               "a large orange square in the center on a black background",
               "a large orange square in the top left corner on a black background",
               "a large green square in the top left corner on a black background",
               "a large green square in the top left corner on a white background"]
    generator = [torch.Generator("cpu").manual_seed(1) for _ in prompts]
    images = pipeline(prompts, generator=generator, num_inference_steps=25).images
    assert unlike_the_reference(images, "03_quality", "variations") == []
