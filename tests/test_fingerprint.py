"""Image comparisons catch changes a person can see and ignore the ones other CPUs and thread counts make."""

import numpy as np
import pytest
from PIL import Image

from sdtutorial import toyworld
from sdtutorial.fingerprint import (
    FINGERPRINT_BLOCK,
    TOLERANCE,
    block_means,
    fingerprint,
    psnr,
    same_images,
    thumbnail_levels,
)
from sdtutorial.inputs import get_inputs, get_prompt_inputs
from sdtutorial.loading import DEFAULT_PROMPT, load_pipeline, set_scheduler

VARIATION_PROMPTS = [  # 03_quality's "one seed, one change at a time"
    "a large orange star in the center on a black background",
    "a large orange square in the center on a black background",
    "a large orange square in the top left corner on a black background",
    "a large green square in the top left corner on a black background",
    "a large green square in the top left corner on a white background",
]


def noise_image(seed: int, size: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (size, size, 3))


def as_uint8(image) -> np.ndarray:
    return np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, dtype=np.uint8).copy()


def test_fingerprint_is_16_hex_digits_and_repeatable():
    prints = fingerprint([noise_image(0), noise_image(0), noise_image(1)])
    assert prints[0] == prints[1] != prints[2]
    assert all(len(p) == 16 and set(p) <= set("0123456789abcdef") for p in prints)


def test_one_value_off_by_one_seldom_changes_the_fingerprint():
    """What another instruction set or thread count does to a float32 image: measured, 0 to 2 values per image."""
    image = as_uint8(toyworld.draw(toyworld.Scene("star", "orange", "black", "large", "center")))
    original, rng, changed = fingerprint([image])[0], np.random.default_rng(0), 0
    for _ in range(2000):
        y, x, channel = rng.integers(0, 64), rng.integers(0, 64), rng.integers(0, 3)
        jittered = image.copy()
        jittered[y, x, channel] = np.clip(int(image[y, x, channel]) + rng.choice([-1, 1]), 0, 255)
        changed += fingerprint([jittered])[0] != original
    assert changed / 2000 < 0.01  # one in 512 expected (see the fingerprint's docstring)


def test_a_few_values_one_step_off_always_leave_the_image_the_same():
    """What another CPU does to a float32 image (measured: at most 45 values one step off, none more than one)."""
    image = as_uint8(toyworld.draw(toyworld.Scene("star", "orange", "black", "large", "center")))
    rng = np.random.default_rng(1)
    for _ in range(200):
        jittered = image.astype(int)
        for _ in range(45):
            y, x, channel = rng.integers(0, 64), rng.integers(0, 64), rng.integers(0, 3)
            jittered[y, x, channel] += 1 if jittered[y, x, channel] < 255 else -1
        assert same_images([image], [jittered.astype(np.uint8)])


def test_one_block_a_step_brighter_is_within_the_tolerance_and_two_steps_are_not():
    gray = np.full((64, 64, 3), 100, dtype=np.uint8)
    one, two = gray.copy(), gray.copy()
    one[:4, :4, 0] += 1
    two[:4, :4, 0] += 2
    assert np.abs(block_means(one) - block_means(gray)).max() == TOLERANCE == 1.0
    assert same_images([gray], [one]) and not same_images([gray], [two])
    assert not same_images([gray], [gray, gray])  # another count
    assert not same_images([gray], [gray[:32]])  # another size


def test_sizes_that_are_not_a_multiple_of_the_block_still_count_every_pixel():
    image = np.zeros((FINGERPRINT_BLOCK + 3, FINGERPRINT_BLOCK * 2, 3), dtype=np.uint8)
    assert thumbnail_levels(image).shape == (2, 2, 3)
    image[-1, -1] = 255  # only in the small bottom-right block
    assert fingerprint([image]) != fingerprint([np.zeros_like(image)])
    assert fingerprint([np.zeros((8, 8, 3))]) != fingerprint([np.zeros((16, 4, 3))])


def test_pil_images_and_arrays_agree():
    pixels = (noise_image(4) * 255).round().astype(np.uint8)
    assert fingerprint([Image.fromarray(pixels)]) == fingerprint([pixels / 255.0]) == fingerprint([pixels])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"expected an RGB image of shape \(H, W, 3\), got shape \(8, 8\)"):
        fingerprint([np.zeros((8, 8))])


def test_psnr():
    image = noise_image(5)
    assert psnr(image, image) == float("inf")
    assert psnr(image, np.clip(image + 0.01, 0, 1)) == pytest.approx(40.0, abs=0.5)
    with pytest.raises(ValueError, match="images differ in shape"):
        psnr(image, noise_image(5, size=32))


def shape_mask(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pixels that differ from the background (the median of the border) by more than 24 steps."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    background = np.median(border, axis=0)
    return np.abs(image.astype(int) - background).max(-1) > 24, background


def moved(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    mask, background = shape_mask(image)
    out = np.where(mask[..., None], background, image)
    shifted, shifted_mask = np.roll(image, (dy, dx), (0, 1)), np.roll(mask, (dy, dx), (0, 1))
    return np.where(shifted_mask[..., None], shifted, out).astype(np.uint8)


def recolored(image: np.ndarray, where: np.ndarray, channel: int, steps: int) -> np.ndarray:
    out = image.astype(int)
    out[where, channel] += steps
    return np.clip(out, 0, 255).astype(np.uint8)


def noisy(image: np.ndarray, seed: int, db: float = 35.0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 255 * 10 ** (-db / 20), image.shape)
    return np.clip(np.round(image + noise), 0, 255).astype(np.uint8)


def perturbations(image: np.ndarray) -> dict[str, list[np.ndarray]]:
    """The changes of issue 12 a person can see, each several ways."""
    mask, _ = shape_mask(image)
    return {
        "shape moved 2 px": [moved(image, dy, dx) for dy, dx in ((2, 0), (-2, 0), (0, 2), (0, -2))],
        "shape color moved 12 steps": [recolored(image, mask, c, s) for c in range(3) for s in (12, -12)],
        "noise at 35 dB": [noisy(image, seed) for seed in range(4)],
        "background tinted 8 steps": [recolored(image, ~mask, c, s) for c in range(3) for s in (8, -8)],
    }


@pytest.mark.slow
def test_the_comparison_catches_at_least_99_percent_of_visible_changes(capsys):
    """The notebooks' reference images (toyworld, float32, CPU), each changed the ways a person would notice, compared
    as the notebooks compare them (`same_images`); the fingerprints' own catch rate is printed beside it."""
    pipeline = load_pipeline("toyworld", device="cpu", dtype="float32", scheduler="DPMSolverMultistepScheduler")
    pipeline.set_progress_bar_config(disable=True)
    batch = pipeline(**get_inputs(DEFAULT_PROMPT, 9, 0, 20)).images  # 02 and 03: seeds 0-7 (8: another seed)
    variations = pipeline(**get_prompt_inputs(VARIATION_PROMPTS, 1, 25)).images
    set_scheduler(pipeline, "EulerDiscreteScheduler")
    other_scheduler = pipeline(**get_inputs(DEFAULT_PROMPT, 8, 0, 20)).images
    set_scheduler(pipeline, "PNDMScheduler")
    pndm = pipeline(**get_inputs(DEFAULT_PROMPT, 1, 0, 50)).images  # 01: the guide's baseline
    references = [as_uint8(image) for image in batch[:8] + variations + pndm]  # 14 images

    caught: dict[str, list[bool]] = {}
    by_fingerprint = []
    for image in references:
        original = fingerprint([image])[0]
        for kind, changed in perturbations(image).items():
            caught.setdefault(kind, []).extend(not same_images([image], [c]) for c in changed)
            by_fingerprint.extend(p != original for p in fingerprint(changed))
    pairs = {"another seed": zip(batch[:8], batch[1:9], strict=True),
             "another scheduler, same seed": zip(batch[:8], other_scheduler, strict=True)}
    for kind, images in pairs.items():
        caught[kind] = [not same_images([a], [b]) for a, b in images]
    total = [c for results in caught.values() for c in results]
    with capsys.disabled():
        print(f"\ncatch rate: {sum(total)}/{len(total)} = {sum(total) / len(total):.1%} of visible changes of "
              f"{len(references)} reference images (tolerance {TOLERANCE} step); "
              + ", ".join(f"{kind} {sum(r)}/{len(r)}" for kind, r in caught.items())
              + f"; fingerprints alone {sum(by_fingerprint)}/{len(by_fingerprint)} of the edits")
    assert len(total) >= 200
    assert sum(total) / len(total) >= 0.99
