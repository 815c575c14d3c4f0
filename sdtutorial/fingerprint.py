"""Compare seeded images as a person would: block colors within a tolerance, and a short fingerprint to read.

Another CPU instruction set or thread count rounds a few 8-bit values of a float32 image one step the
other way; a change a person can see moves many values by several steps. Both show in the mean color
of small blocks: rounding moves a 4x4 block's mean by a fraction of a step, a visible change moves
some block's by a step or more. So two images are the same when no block's mean color (in any
channel) differs by more than TOLERANCE. The fingerprint, a hash of 8x8 block colors rounded to
levels, is a name for an image that a learner can compare by eye; being exact, it flips when rounding
moves a block mean across a level's edge, so the tests compare block means, never fingerprints.
"""

import hashlib

import numpy as np
from PIL import Image

BLOCK = 4  # pixels per side of the blocks whose mean colors two images are compared by
# Largest difference, in 8-bit steps, of any block's mean color between two images that count as the same. Rounding
# on another CPU or thread count moves a block's mean by a small fraction of a step; each visible change that
# tests/test_fingerprint.py makes moves some block's mean by more than one (docs/reproducibility.md has the figures).
TOLERANCE = 1.0
FINGERPRINT_BLOCK = 8  # pixels per side of the blocks whose mean colors the fingerprint hashes
LEVEL = 8  # width, in 8-bit steps, of the levels those mean colors are rounded down to


def as_array(image: Image.Image | np.ndarray) -> np.ndarray:
    """An RGB image (PIL, a uint8 array, or floats in [0, 1]) as a float64 array of shape (H, W, 3) in [0, 1]."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got shape {array.shape}")
    return array / 255.0 if array.dtype == np.uint8 else array.astype(np.float64)


def block_means(image: Image.Image | np.ndarray, block: int = BLOCK) -> np.ndarray:
    """The image's mean color in each `block` x `block` square, in 8-bit steps (0-255), as floats.

    Blocks at the right and bottom edges may be smaller when the size is not a multiple of BLOCK.
    """
    pixels = np.round(as_array(image) * 255)  # the 8-bit values a person sees
    height, width, _ = pixels.shape
    rows, cols = np.arange(0, height, block), np.arange(0, width, block)
    sums = np.add.reduceat(np.add.reduceat(pixels, rows, 0), cols, 1)
    counts = np.outer(np.diff(np.r_[rows, height]), np.diff(np.r_[cols, width]))
    return sums / counts[..., None]


def images_block_means(images: list) -> np.ndarray:
    """`block_means` of each image, stacked: shape (images, rows, columns, 3)."""
    return np.stack([block_means(image) for image in images])


def thumbnail_levels(image: Image.Image | np.ndarray) -> np.ndarray:
    """The mean colors of FINGERPRINT_BLOCK-sized blocks rounded down to multiples of LEVEL: what the fingerprint
    hashes."""
    return np.floor(block_means(image, FINGERPRINT_BLOCK) / LEVEL).astype(np.uint8)


def block_difference(means: np.ndarray, others: np.ndarray) -> float:
    """How far, in 8-bit steps, any block's mean color (in any channel) lies from the other's, given two images'
    `block_means`; infinite when the images differ in size."""
    return float(np.abs(means - others).max()) if means.shape == others.shape else float("inf")


def same_images(images: list, others: list) -> bool:
    """Whether two lists of images are the same to a person: as many, and each within TOLERANCE of the other."""
    return len(images) == len(others) and all(
        block_difference(block_means(a), block_means(b)) <= TOLERANCE for a, b in zip(images, others, strict=True))


def fingerprint(images: list) -> list[str]:
    """A 16-hex-digit fingerprint per image, for a person to compare: a hash of its `thumbnail_levels` and size.

    Rounding on another CPU seldom changes it (a block mean moves by a fraction of a step, and crosses one of
    the level edges LEVEL steps apart in about one case in several hundred), but it can: compare images with
    `same_images` or a `ReferenceImages` check, never by fingerprint.
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
