"""Models built from their configuration files alone, with deterministic random weights.

Speed and memory depend on a model's architecture, not on what its weights learned, so a pipeline
with Stable Diffusion v1.5's exact configs and random weights costs what the real one costs. Its
images are noise: such a model is for timing and memory only.
"""

import importlib
import json
import math
from pathlib import Path

import torch
from accelerate import init_empty_weights
from diffusers import DiffusionPipeline
from diffusers.models.modeling_utils import ModelMixin
from transformers import PreTrainedModel

WEIGHT_SEED = 0
POOL_SIZE = 1 << 24  # more than the largest UNet kernel (14.7M values): only the 38M-value token embedding repeats


def random_weights_(model: torch.nn.Module, dtype: torch.dtype, seed: int = WEIGHT_SEED) -> torch.nn.Module:
    """Give every parameter of `model` (built on the meta device) real values in `dtype`, from one seed.

    Matrices and kernels get PyTorch's default range, uniform within +-1/sqrt(fan_in); 1-d weights
    (norm scales) are 1 and biases 0. Drawing a billion values one by one takes seconds, so one pool
    of uniform values is drawn once and each tensor takes a window of it at a seeded offset: loading
    stays around a second, which keeps it out of benchmark timings. Values are float32 cast to
    `dtype`, so a seed gives the same weights, rounded, in every dtype.
    """
    generator = torch.Generator().manual_seed(seed)
    pool = torch.rand(POOL_SIZE, generator=generator).mul_(2).sub_(1)
    for module in model.modules():
        for name, parameter in module.named_parameters(recurse=False):
            size = parameter.numel()
            values = torch.empty(parameter.shape, dtype=dtype)
            if parameter.ndim >= 2:
                window = pool if size <= POOL_SIZE else pool.repeat(math.ceil(size / POOL_SIZE))
                start = int(torch.randint(len(window) - size + 1, (1,), generator=generator))
                torch.mul(window[start : start + size].view(parameter.shape), 1 / math.sqrt(parameter[0].numel()),
                          out=values)
            else:
                values.fill_(1.0 if name == "weight" else 0.0)
            module._parameters[name] = torch.nn.Parameter(values, requires_grad=False)
    return model.eval()


def build_model(cls: type, folder: Path, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """A diffusers or transformers model of class `cls` from the config in `folder`, with random weights."""
    if issubclass(cls, ModelMixin):
        config = cls.load_config(folder)
        with init_empty_weights():
            model = cls.from_config(config)
    elif issubclass(cls, PreTrainedModel):
        config = cls.config_class.from_pretrained(folder)
        with init_empty_weights():
            model = cls(config)
    else:
        raise ValueError(f"{cls.__name__} is not a diffusers or transformers model")
    return random_weights_(model, dtype)


def build_pipeline(folder: Path, dtype: torch.dtype = torch.float32) -> DiffusionPipeline:
    """The pipeline described by `folder`'s model_index.json: models from their configs with random weights,
    tokenizer and scheduler loaded as usual."""
    index = json.loads((folder / "model_index.json").read_text())
    pipeline_class = getattr(importlib.import_module("diffusers"), index["_class_name"])
    components = {}
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, list):
            continue
        library, class_name = value
        if library is None:
            components[name] = None
            continue
        cls = getattr(importlib.import_module(library), class_name)
        if issubclass(cls, ModelMixin | PreTrainedModel):
            components[name] = build_model(cls, folder / name, dtype)
        else:
            components[name] = cls.from_pretrained(folder / name)
    extras = {name: value for name, value in index.items() if not name.startswith("_") and name not in components}
    return pipeline_class(**components, **extras)
