"""`sdtutorial bench --peer openvino`: the same diffusers pipeline with its UNet and VAE decoder run by OpenVINO.

`openvino.convert_model` traces the pipeline's own torch modules, so no second copy of the model
and no other environment is needed (optimum-intel, the usual route, pins transformers below the
version the lock holds). The text encoder, called once per image, and the scheduler stay in PyTorch.

DeepCache is a choice of the pipeline, not of PyTorch, so OpenVINO runs it too: the UNet is converted twice, once
whole and also returning the deep features DeepCache keeps (what enters the last layer of the last up block), and
once as the shallow part a cached step runs on them (DeepCache's branch 0: the time embedding, the input
convolution, that last layer and the output).
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


def deep_features_layer(unet) -> torch.nn.Module:
    """The layer whose output DeepCache's branch 0 keeps: the last up block's second-to-last attention (or resnet)."""
    block = unet.up_blocks[-1]
    return (block.attentions if getattr(block, "attentions", None) else block.resnets)[-2]


class UNetWithDeepFeatures(UNetForExport):
    """The whole UNet, also returning the deep features a DeepCache step after it reuses."""

    def forward(self, sample, timestep, encoder_hidden_states):
        kept = []
        hook = deep_features_layer(self.unet).register_forward_hook(
            lambda module, args, output: kept.append(output[0] if isinstance(output, tuple) else output))
        try:
            return super().forward(sample, timestep, encoder_hidden_states), kept[0]
        finally:
            hook.remove()


class ShallowUNet(UNetForExport):
    """What a DeepCache step (branch 0) computes from the kept deep features: as UNet2DConditionModel's forward, for
    the layers it does not skip."""

    def forward(self, sample, timestep, encoder_hidden_states, deep_features):
        unet, block = self.unet, self.unet.up_blocks[-1]
        embedding = unet.time_embedding(unet.get_time_embed(sample=sample, timestep=timestep))
        hidden = block.resnets[-1](torch.cat([deep_features, unet.conv_in(sample)], dim=1), embedding)
        if getattr(block, "attentions", None):
            hidden = block.attentions[-1](hidden, encoder_hidden_states=encoder_hidden_states, return_dict=False)[0]
        return unet.conv_out(unet.conv_act(unet.conv_norm_out(hidden)))


class DeepCacheUNet(torch.nn.Module):
    """Called by the pipeline as its UNet is: every `interval`-th step of the scheduler (counted as DeepCache counts
    them) runs `whole`, which also returns the deep features; the steps between run `shallow` on them."""

    def __init__(self, unet, scheduler, interval: int, whole: Callable, shallow: Callable):
        super().__init__()
        self.config, self.dtype, self.device = unet.config, unet.dtype, unet.device
        self.scheduler, self.interval, self.whole, self.shallow = scheduler, interval, whole, shallow
        self.deep_features = None

    def forward(self, sample, timestep, encoder_hidden_states, return_dict=False, **unused):
        step = list(self.scheduler.timesteps).index(timestep)
        if step % self.interval == 0 or self.deep_features is None:
            noise, self.deep_features = self.whole(sample, timestep, encoder_hidden_states)
        else:
            noise = self.shallow(sample, timestep, encoder_hidden_states, self.deep_features)
        return (noise,)


class OpenVINOUNet(torch.nn.Module):
    """Called by the pipeline as its UNet is; runs the compiled OpenVINO model instead. A module, so that hooks (the
    bench's UNet clock) see its calls as they see PyTorch's UNet's."""

    def __init__(self, unet, compiled):
        super().__init__()
        self.config, self.dtype, self.device, self.compiled = unet.config, unet.dtype, unet.device, compiled

    def forward(self, sample, timestep, encoder_hidden_states, return_dict=False, **unused):
        return (torch.from_numpy(run(self.compiled, (sample, timestep, encoder_hidden_states))[0]),)


def run(compiled, inputs) -> list[np.ndarray]:
    """A compiled UNet part's outputs for torch inputs (the timestep as OpenVINO's traced int64)."""
    arrays = [np.asarray(value, dtype=np.int64) if i == 1 else value.numpy() for i, value in enumerate(inputs)]
    return list(compiled(arrays).to_tuple())


class OpenVINODecoder(torch.nn.Module):
    """Stands in for `vae.decoder` (a child module, so it must be one) and runs the compiled decoder."""

    def __init__(self, compiled):
        super().__init__()
        self.compiled = compiled

    def forward(self, z, *unused, **unused_keywords):
        return torch.from_numpy(self.compiled([z.numpy()])[0])


def convert(pipeline, height: int, width: int, deepcache: bool = False) -> dict:
    """The pipeline's UNet and VAE decoder as OpenVINO models (float32 pipeline, any batch and size); with
    `deepcache`, also the UNet's two parts for DeepCache ("whole": returning the deep features too, "shallow")."""
    import openvino

    unet, scale = pipeline.unet, pipeline.vae_scale_factor
    latents = (2, unet.config.in_channels, height // scale, width // scale)  # the guided pair of one image
    text = (2, pipeline.tokenizer.model_max_length, unet.config.cross_attention_dim)
    inputs = (torch.randn(latents), torch.tensor(999), torch.randn(text))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks traced as constants, as intended
        models = {
            "unet": openvino.convert_model(UNetForExport(unet).eval(), example_input=inputs),
            "decoder": openvino.convert_model(pipeline.vae.decoder.eval(), example_input=(
                torch.randn(1, pipeline.vae.config.latent_channels, *latents[2:]),)),
        }
        if deepcache:
            _, deep_features = UNetWithDeepFeatures(unet)(*inputs)
            models["whole"] = openvino.convert_model(UNetWithDeepFeatures(unet).eval(), example_input=inputs)
            models["shallow"] = openvino.convert_model(ShallowUNet(unet).eval(),
                                                       example_input=(*inputs, deep_features))
    return models


def runtime_precision(compiled) -> str:
    """The precision most of the compiled model's convolutions and matrix products run in (its plugin decides)."""
    kinds = ("Convolution", "MatMul", "FullyConnected")
    counts = Counter(op.get_rt_info()["runtimePrecision"].astype(str) for op in compiled.get_runtime_model().get_ops()
                     if op.get_rt_info()["layerType"].astype(str) in kinds)
    precision = counts.most_common(1)[0][0] if counts else "f32"
    return PRECISION_NAMES.get(precision, precision)


def use_openvino(pipeline, models: dict, precision: str | None = None,
                 deepcache: int = 0) -> tuple[Callable[[], None], str]:
    """Compile `models` for the CPU and put them in `pipeline`; return a function that undoes it, and the
    precision they run in. `precision` (e.g. "f32") overrides OpenVINO's own choice (`INFERENCE_PRECISION_HINT`);
    `deepcache` (an interval) runs the UNet as DeepCache does, from the models `convert(..., deepcache=True)` adds."""
    import openvino

    config = {"INFERENCE_PRECISION_HINT": precision} if precision else {}
    core = openvino.Core()
    original_unet, original_decoder = pipeline.unet, pipeline.vae.decoder
    pipeline.vae.decoder = OpenVINODecoder(core.compile_model(models["decoder"], "CPU", config))
    if deepcache:
        unet, shallow = (core.compile_model(models[part], "CPU", config) for part in ("whole", "shallow"))
        pipeline.unet = DeepCacheUNet(original_unet, pipeline.scheduler, deepcache,
                                      lambda *inputs: tuple(map(torch.from_numpy, run(unet, inputs))),
                                      lambda *inputs: torch.from_numpy(run(shallow, inputs)[0]))
    else:
        unet = core.compile_model(models["unet"], "CPU", config)
        pipeline.unet = OpenVINOUNet(original_unet, unet)

    def undo():
        pipeline.unet, pipeline.vae.decoder = original_unet, original_decoder

    return undo, runtime_precision(unet)


def version() -> str:
    import openvino

    return openvino.__version__.split("-")[0]
