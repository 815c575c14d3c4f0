from pathlib import Path

import pytest
import torch
from diffusers import LCMScheduler, PNDMScheduler

from sdtutorial.loading import (
    EMBEDDED_MODELS,
    MODELS_DIR,
    ModelNotAvailableError,
    check_scheduler,
    fetch_model,
    first_line,
    load_pipeline,
    resolve_device,
    resolve_dtype,
    resolve_model,
    set_scheduler,
)


@pytest.mark.parametrize(("cuda", "mps", "expected"), [
    (True, True, "cuda"), (False, True, "mps"), (False, False, "cpu"),
])
def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto").type == expected


def test_unknown_device_names_the_accepted_ones():
    with pytest.raises(ValueError, match=r"unknown device 'tpu'; accepted: auto, cpu, cuda, mps"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_missing_cuda_is_refused():
    with pytest.raises(ValueError, match=r"device 'cuda' is not available on this machine; available: .*cpu"):
        resolve_device("cuda")


@pytest.mark.parametrize(
    ("name", "device", "expected"),
    [
        ("auto", "cpu", torch.float32),
        ("half", "cpu", torch.bfloat16),
        ("half", "cuda", torch.float16),
        ("bfloat16", "cpu", torch.bfloat16),
        ("float32", "cuda", torch.float32),
    ],
)
def test_dtypes(name, device, expected):
    assert resolve_dtype(name, torch.device(device)) == expected


def test_float16_on_cpu_is_refused():
    with pytest.raises(ValueError, match="float16.*cpu.*accepted there: float32, bfloat16, half"):
        resolve_dtype("float16", torch.device("cpu"))


def test_unknown_dtype_is_refused():
    with pytest.raises(ValueError, match="unknown dtype 'fp8'"):
        resolve_dtype("fp8", torch.device("cpu"))


def test_model_ids_resolve_to_folders_or_hub_ids(tmp_path):
    assert Path(resolve_model("tiny-random"), "model_index.json").is_file()
    assert resolve_model(str(tmp_path)) == str(tmp_path)
    assert resolve_model("runwayml/stable-diffusion-v1-5") == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert resolve_model("someone/some-model") == "someone/some-model"


@pytest.mark.parametrize("missing", ["./no/such/model", "/no/such/model", "no/such/model"])
def test_missing_local_folder_is_one_clear_error(missing):
    with pytest.raises(ModelNotAvailableError, match=f"model '{missing}': no such local folder; embedded models: "):
        resolve_model(missing)


def test_unreachable_hub_model_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError) as error:
        load_pipeline("someone/not-cached-here", device="cpu")
    message = str(error.value)
    assert "\n" not in message
    assert "'someone/not-cached-here' could not be loaded" in message
    assert "tiny-random" in message


def test_fetch_model_gives_a_folder_or_one_line(monkeypatch, tmp_path):
    assert fetch_model("toyworld") == str(MODELS_DIR / "toyworld") and fetch_model(str(tmp_path)) == str(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    message = "^model 'someone/not-cached-here' could not be loaded from the hub"
    for pipeline in (True, False):
        with pytest.raises(ModelNotAvailableError, match=message):
            fetch_model("someone/not-cached-here", pipeline=pipeline)


def test_a_broken_local_folder_is_one_clear_error(tmp_path):
    index = '{"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}'
    (tmp_path / "model_index.json").write_text(index)  # names a UNet whose folder is missing
    message = f"model '{tmp_path}' could not be loaded from its folder: "
    with pytest.raises(ModelNotAvailableError, match=message) as error:
        load_pipeline(str(tmp_path), device="cpu")
    assert "\n" not in str(error.value)


def test_embedded_model_loads_with_stable_diffusion_classes():
    pipeline = load_pipeline("tiny-random", device="cpu")
    assert type(pipeline).__name__ == "StableDiffusionPipeline"
    assert isinstance(pipeline.scheduler, PNDMScheduler)
    assert pipeline.scheduler.config.beta_schedule == "scaled_linear"
    assert pipeline.scheduler.config.steps_offset == 1
    assert pipeline.dtype == torch.float32
    assert pipeline.device.type == "cpu"
    assert set(EMBEDDED_MODELS) >= {"tiny-random"}


def test_half_precision_on_cpu_loads_bfloat16():
    assert load_pipeline("tiny-random", device="cpu", dtype="half").dtype == torch.bfloat16


def test_scheduler_swap_keeps_the_noise_schedule():
    pipeline = load_pipeline("tiny-random", device="cpu", scheduler="DPMSolverMultistepScheduler")
    assert type(pipeline.scheduler).__name__ == "DPMSolverMultistepScheduler"
    assert pipeline.scheduler.config.beta_end == 0.012


def test_unknown_scheduler_is_refused_before_loading():
    with pytest.raises(ValueError, match="unknown scheduler 'FastScheduler'; accepted: DDIMScheduler, "):
        check_scheduler("FastScheduler")
    with pytest.raises(ValueError, match="unknown scheduler"):
        load_pipeline("no/such/model/either", scheduler="FastScheduler")


def test_incompatible_scheduler_is_refused():
    pipeline = load_pipeline("tiny-random", device="cpu")
    pipeline.scheduler = LCMScheduler.from_config(pipeline.scheduler.config)  # lists only itself as compatible
    with pytest.raises(ValueError, match="does not fit this pipeline"):
        set_scheduler(pipeline, "DDIMScheduler")


def test_first_line_of_an_error():
    assert first_line(ValueError("bad value\nmore detail")) == "bad value"
    assert first_line(RuntimeError("")) == "RuntimeError"
