"""The toyworld scorer: a small classifier that reads a toyworld image's attributes, and the scores built on it.

It stands in for what CLIP score and image-quality models do for real text-to-image models:
`adherence` is the share of the attributes a prompt names that the scorer finds in the image, and
`clean_score` is the scorer's probability that an image is neither blurred, noisy nor washed out.
"""

import functools
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from . import toyworld
from .fingerprint import as_array

SCORER_DIR = Path(__file__).parent / "models" / "toyworld-scorer"


class Scorer(nn.Module):
    """A five-layer convolutional network with one classification head per toyworld attribute."""

    def __init__(self, width: int = 32):
        super().__init__()
        layers, channels = [], 3
        for out in (width, width * 2, width * 2, width * 4, width * 4):
            layers += [nn.Conv2d(channels, out, 3, stride=2 if channels != 3 else 1, padding=1),
                       nn.GroupNorm(8, out), nn.SiLU()]
            channels = out
        # A 4x4 map rather than one pooled vector, so that the heads can tell where the shape is.
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.heads = nn.ModuleDict(
            {name: nn.Linear(channels * 16, len(values)) for name, values in toyworld.ATTRIBUTES.items()}
        )
        self.width = width

    def forward(self, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.features(pixels)
        return {name: head(features) for name, head in self.heads.items()}


def to_pixels(images: list) -> torch.Tensor:
    """PIL images or (H, W, 3) arrays in [0, 1] as a float32 batch in [-1, 1]."""
    arrays = np.stack([as_array(image) for image in images]).astype(np.float32)
    return torch.from_numpy(arrays).permute(0, 3, 1, 2) * 2 - 1


def save_scorer(scorer: Scorer, folder: Path) -> None:
    """Write `scorer` into `folder`: its weights in float16 and its config."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = {name: value.to(torch.float16).contiguous() for name, value in scorer.state_dict().items()}
    save_file(weights, folder / "scorer.safetensors")
    config = {"width": scorer.width, "attributes": toyworld.ATTRIBUTES}
    (folder / "config.json").write_text(json.dumps(config, indent=2))


def load_scorer(folder: Path = SCORER_DIR) -> Scorer:
    """The scorer saved in `folder` (by default the shipped one), in float32, ready to score."""
    config = json.loads((folder / "config.json").read_text())
    scorer = Scorer(config["width"])
    weights = load_file(folder / "scorer.safetensors")
    scorer.load_state_dict({name: value.to(torch.float32) for name, value in weights.items()})
    return scorer.eval()


@functools.cache
def _shared_scorer() -> Scorer:
    """The shipped scorer, loaded once per process."""
    return load_scorer()


@torch.no_grad()
def read(images: list, scorer: Scorer | None = None) -> list[dict[str, str]]:
    """What the scorer sees in each image: one value per attribute of toyworld.ATTRIBUTES."""
    logits = (scorer or _shared_scorer())(to_pixels(images))
    return [{name: toyworld.ATTRIBUTES[name][int(logits[name][i].argmax())] for name in logits}
            for i in range(len(images))]


@torch.no_grad()
def clean_score(images: list, scorer: Scorer | None = None) -> list[float]:
    """The scorer's probability that each image is clean: not blurred, not noisy, not washed out (0 to 1)."""
    logits = (scorer or _shared_scorer())(to_pixels(images))["degradation"]
    return logits.softmax(-1)[:, toyworld.ATTRIBUTES["degradation"].index("clean")].tolist()


def adherence(images: list, prompts: list[str], scorer: Scorer | None = None) -> list[float]:
    """For each image, the share of the attributes its prompt names that the scorer finds in it (0 to 1).

    A prompt that names nothing the grammar knows scores 1: there was nothing to miss.
    """
    if len(images) != len(prompts):
        raise ValueError(f"adherence needs one prompt per image, got {len(images)} images and {len(prompts)} prompts")
    scores = []
    for seen, prompt in zip(read(images, scorer), prompts, strict=True):
        asked = toyworld.prompt_attributes(prompt)
        scores.append(sum(seen[name] == value for name, value in asked.items()) / len(asked) if asked else 1.0)
    return scores


def attribute_accuracy(images: list, prompts: list[str], scorer: Scorer | None = None) -> dict[str, float]:
    """For each attribute the prompts name, the share of the images in which the scorer finds it."""
    found, asked = dict.fromkeys(toyworld.PROMPT_ATTRIBUTES, 0), dict.fromkeys(toyworld.PROMPT_ATTRIBUTES, 0)
    for seen, prompt in zip(read(images, scorer), prompts, strict=True):
        for name, value in toyworld.prompt_attributes(prompt).items():
            asked[name] += 1
            found[name] += seen[name] == value
    return {name: found[name] / asked[name] for name in asked if asked[name]}


def applies_to(model_id: str) -> bool:
    """Whether the scorer can judge a model's images: it knows only the toyworld models' world."""
    return model_id in ("toyworld", "toyworld-early")


def mean_scores(images: list, prompts: list[str]) -> dict[str, float]:
    """Mean adherence to `prompts` and mean clean score of `images`."""
    return {"adherence": float(np.mean(adherence(images, prompts))), "clean_score": float(np.mean(clean_score(images)))}


def compare_scores(images: list, reference: list, prompts: list[str]) -> dict[str, float]:
    """Adherence and clean score of `images` and of the `reference` images they are compared with."""
    before = mean_scores(reference, prompts)
    return mean_scores(images, prompts) | {f"{name}_before": value for name, value in before.items()}
