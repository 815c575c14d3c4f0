"""`sdtutorial bench --peer openvino`: the same diffusers pipeline with its UNet and VAE decoder run by OpenVINO.

`openvino.convert_model` traces the pipeline's own torch modules, so no second copy of the model
and no other environment is needed (optimum-intel, the usual route, pins transformers below the
version the lock holds). The text encoder, called once per image, and the scheduler stay in PyTorch.
"""

import warnings
from collections import Counter
from collections.abc import Callable

import numpy as np
import torch

from .techniques import import_optional

PEERS = ("openvino",)
# OpenVINO's name for a precision -> the torch dtype name the bench's table uses.
PRECISION_NAMES = {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}


def check_peer(name: str | None) -> str | None:
    if name is not None and name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; accepted: {', '.join(PEERS)}")
    return name


def peer_skip_reason(device: torch.device) -> str | None:
    """Why the OpenVINO peer cannot run here, or None."""
    if device.type != "cpu":
        return f"the OpenVINO peer is measured on the CPU; this bench runs on {device.type}"
    return import_optional("openvino")[1]


class UNetForExport(torch.nn.Module):
    """The UNet with the three inputs a text-to-image call passes it, returning a tensor, as tracing needs."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.unet(sample, timestep, encoder_hidden_states=encoder_hidden_states, return_dict=False)[0]


class OpenVINOUNet(torch.nn.Module):
    """Called by the pipeline as its UNet is; runs the compiled OpenVINO model instead. A module, so that hooks (the
    bench's UNet clock) see its calls as they see PyTorch's UNet's."""

    def __init__(self, unet, compiled):
        super().__init__()
        self.config, self.dtype, self.device, self.compiled = unet.config, unet.dtype, unet.device, compiled

    def forward(self, sample, timestep, encoder_hidden_states, return_dict=False, **unused):
        output = self.compiled([sample.numpy(), np.asarray(timestep, dtype=np.int64), encoder_hidden_states.numpy()])
        return (torch.from_numpy(output[0]),)


class OpenVINODecoder(torch.nn.Module):
    """Stands in for `vae.decoder` (a child module, so it must be one) and runs the compiled decoder."""

    def __init__(self, compiled):
        super().__init__()
        self.compiled = compiled

    def forward(self, z, *unused, **unused_keywords):
        return torch.from_numpy(self.compiled([z.numpy()])[0])


def convert(pipeline, height: int, width: int) -> dict:
    """The pipeline's UNet and VAE decoder as OpenVINO models (float32 pipeline, any batch and size)."""
    import openvino

    unet, scale = pipeline.unet, pipeline.vae_scale_factor
    latents = (2, unet.config.in_channels, height // scale, width // scale)  # the guided pair of one image
    text = (2, pipeline.tokenizer.model_max_length, unet.config.cross_attention_dim)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks traced as constants, as intended
        return {
            "unet": openvino.convert_model(UNetForExport(unet).eval(), example_input=(
                torch.randn(latents), torch.tensor(999), torch.randn(text))),
            "decoder": openvino.convert_model(pipeline.vae.decoder.eval(), example_input=(
                torch.randn(1, pipeline.vae.config.latent_channels, *latents[2:]),)),
        }


def runtime_precision(compiled) -> str:
    """The precision most of the compiled model's convolutions and matrix products run in (its plugin decides)."""
    kinds = ("Convolution", "MatMul", "FullyConnected")
    counts = Counter(op.get_rt_info()["runtimePrecision"].astype(str) for op in compiled.get_runtime_model().get_ops()
                     if op.get_rt_info()["layerType"].astype(str) in kinds)
    precision = counts.most_common(1)[0][0] if counts else "f32"
    return PRECISION_NAMES.get(precision, precision)


def use_openvino(pipeline, models: dict, precision: str | None = None) -> tuple[Callable[[], None], str]:
    """Compile `models` for the CPU and put them in `pipeline`; return a function that undoes it, and the
    precision they run in. `precision` (e.g. "f32") overrides OpenVINO's own choice (`INFERENCE_PRECISION_HINT`)."""
    import openvino

    config = {"INFERENCE_PRECISION_HINT": precision} if precision else {}
    core = openvino.Core()
    unet = core.compile_model(models["unet"], "CPU", config)
    decoder = core.compile_model(models["decoder"], "CPU", config)
    original_unet, original_decoder = pipeline.unet, pipeline.vae.decoder
    pipeline.unet, pipeline.vae.decoder = OpenVINOUNet(original_unet, unet), OpenVINODecoder(decoder)

    def undo():
        pipeline.unet, pipeline.vae.decoder = original_unet, original_decoder

    return undo, runtime_precision(unet)


def version() -> str:
    import openvino

    return openvino.__version__.split("-")[0]
