"""Short text fingerprints of images, for comparing seeded results as text."""

import hashlib

import numpy as np
from PIL import Image

BLOCK = 8  # pixels per side of the blocks whose mean colors the fingerprint hashes
LEVEL = 8  # width, in 8-bit steps, of the levels a block's mean color is rounded down to


def as_array(image: Image.Image | np.ndarray) -> np.ndarray:
    """An RGB image (PIL, a uint8 array, or floats in [0, 1]) as a float64 array of shape (H, W, 3) in [0, 1]."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got shape {array.shape}")
    return array / 255.0 if array.dtype == np.uint8 else array.astype(np.float64)


def thumbnail_levels(image: Image.Image | np.ndarray) -> np.ndarray:
    """The image's mean color in each BLOCK x BLOCK block, in 8-bit steps, rounded down to multiples of LEVEL.

    Blocks at the right and bottom edges may be smaller when the size is not a multiple of BLOCK.
    """
    pixels = np.round(as_array(image) * 255)  # the 8-bit values a person sees
    height, width, _ = pixels.shape
    rows, cols = np.arange(0, height, BLOCK), np.arange(0, width, BLOCK)
    sums = np.add.reduceat(np.add.reduceat(pixels, rows, 0), cols, 1)
    counts = np.outer(np.diff(np.r_[rows, height]), np.diff(np.r_[cols, width]))
    return np.floor(sums / counts[..., None] / LEVEL).astype(np.uint8)


def fingerprint(images: list) -> list[str]:
    """A 16-hex-digit fingerprint per image: a hash of its block colors (`thumbnail_levels`) and its size.

    Why it catches what a person sees and ignores what they cannot: another CPU instruction set or
    thread count changes float32 pixels by about 1e-5, which turns at most one or two 8-bit values
    of an image up or down by one. That moves a block's mean by 1/64 of a step, 1/512 of a level, so
    it crosses a level's edge in about one case in 500 per changed value. A change a person can see
    moves many values by several steps: a background tinted by 8 steps moves every background block
    across a level edge, a shape moved 2 pixels changes the blocks along its outline, faint noise
    (35 dB) moves each block's mean by about half a step, and among 192 block colors some cross.
    tests/test_fingerprint.py measures the share of such changes caught. Half-precision results
    differ across instruction sets by up to 2e-2 per pixel, which does change blocks; compare those
    with `psnr` and a tolerance instead.
    """
    prints = []
    for image in images:
        levels = thumbnail_levels(image)
        digest = hashlib.sha256(np.array(levels.shape, dtype=np.int64).tobytes() + levels.tobytes())
        prints.append(digest.hexdigest()[:16])
    return prints


def psnr(a: Image.Image | np.ndarray, b: Image.Image | np.ndarray) -> float:
    """Peak signal-to-noise ratio of image `b` against image `a`, in dB; infinite when they are equal."""
    x, y = as_array(a), as_array(b)
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {x.shape} and {y.shape}")
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))
