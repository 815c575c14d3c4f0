"""Short text fingerprints of images, for comparing seeded results as text."""

import numpy as np
from PIL import Image

BITS = 64
DIRECTIONS_SEED = 20240601


def as_array(image: Image.Image | np.ndarray) -> np.ndarray:
    """An RGB image as a float64 array of shape (H, W, 3) in [0, 1]."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    array = np.asarray(image, dtype=np.float64)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got shape {array.shape}")
    return array


def fingerprint(images: list) -> list[str]:
    """A 16-hex-digit fingerprint per image: the signs of 64 fixed random projections of its pixels.

    Why this survives other instruction sets and thread counts: those change float32 pixels by
    about 1e-6, which is enough to push an exact pixel or float across a rounding edge, so hashing
    them is fragile. Each bit here is the sign of a weighted sum over every pixel (a 64x64 image has
    12,288 values); the sum spreads over about +-20 while 1e-6 changes move it by about 1e-4, so a
    bit flips only when a sum lies within 1e-4 of zero: under one chance in 10,000 per image.
    Different images disagree on about half of the bits (random-hyperplane hashing), so a changed
    seed or prompt shows. Half-precision results differ across instruction sets by up to 2e-2 per
    pixel, which does flip bits; compare those with `psnr` and a tolerance instead.
    """
    prints = []
    for image in images:
        pixels = as_array(image).ravel() - 0.5
        directions = np.random.default_rng(DIRECTIONS_SEED).standard_normal((BITS, pixels.size))
        bits = (directions @ pixels) > 0
        prints.append(f"{int(''.join('1' if b else '0' for b in bits), 2):016x}")
    return prints


def psnr(a: Image.Image | np.ndarray, b: Image.Image | np.ndarray) -> float:
    """Peak signal-to-noise ratio of image `b` against image `a`, in dB; infinite when they are equal."""
    x, y = as_array(a), as_array(b)
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {x.shape} and {y.shape}")
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))
