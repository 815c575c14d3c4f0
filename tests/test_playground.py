"""The playground's logic without a browser: the same helpers, and bad values shown in one line."""

import io

import pytest
from PIL import Image

from sdtutorial.fingerprint import fingerprint
from sdtutorial.inputs import get_inputs
from sdtutorial.loading import load_pipeline, set_scheduler
from sdtutorial.playground import Playground, Settings, generate


@pytest.fixture(scope="module")
def playground():
    return Playground(Settings(num_inference_steps=4, device="cpu"))


def test_nothing_is_generated_until_asked(playground):
    assert playground.last is None and playground.fingerprints.value == ""
    assert "DPMSolverMultistepScheduler" in playground.controls["scheduler"].options


def test_generate_shows_what_the_helpers_give(playground):
    playground.controls["seed"].value = 3
    playground.controls["batch_size"].value = 2
    result = playground.generate()
    pipeline = set_scheduler(load_pipeline(Settings.model_id, device="cpu"), "DPMSolverMultistepScheduler")
    expected = fingerprint(pipeline(**get_inputs(Settings.prompt, 2, 3, 4, pipeline=pipeline)).images)
    assert result.fingerprints == expected
    assert playground.fingerprints.value == " ".join(expected)
    assert playground.progress.value == 4 and playground.status.value.startswith("2 image(s) in")
    shown = Image.open(io.BytesIO(playground.image.value))
    assert shown.format.lower() == playground.image.format and shown.size == (2 * 256, 256)


def test_a_bad_value_is_one_line_in_the_panel(playground):
    playground.controls["dtype"].value = "float16"
    assert playground.generate() is None
    assert "ValueError: dtype 'float16' is emulated slowly on the cpu" in playground.error.value
    assert "\n" not in playground.error.value and not playground.button.disabled
    playground.controls["dtype"].value = "auto"


def test_generate_reuses_a_loaded_pipeline():
    pipelines = {}
    generate(Settings(num_inference_steps=1, device="cpu"), pipelines)
    first = pipelines[(Settings.model_id, "cpu", "auto")]
    generate(Settings(num_inference_steps=1, device="cpu", seed=1), pipelines)
    assert pipelines[(Settings.model_id, "cpu", "auto")] is first and len(pipelines) == 1
