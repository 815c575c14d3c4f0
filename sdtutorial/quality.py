"""Quality scores that need no trained scorer."""

import numpy as np
from PIL import Image

from .fingerprint import as_array, psnr

LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)


def sharpness(images: list[Image.Image | np.ndarray]) -> list[float]:
    """Variance of the Laplacian of each image's brightness, times 1000: how much fine detail and edges it has.

    A common blur measure: blurring lowers it. It cannot tell detail from noise, so on the
    random-weight embedded models (whose images are noise) it measures noise, not quality.
    """
    scores = []
    for image in images:
        brightness = as_array(image) @ np.array([0.299, 0.587, 0.114])
        height, width = brightness.shape
        response = sum(
            LAPLACIAN[i, j] * brightness[i : height - 2 + i, j : width - 2 + j] for i in range(3) for j in range(3)
        )
        scores.append(float(response.var() * 1000))
    return scores


def compare(images: list, reference: list) -> dict[str, float]:
    """Mean sharpness of `images`, of `reference`, and mean PSNR between them, image by image."""
    if len(images) != len(reference):
        raise ValueError(f"cannot compare {len(images)} images with {len(reference)}")
    return {
        "sharpness": sum(sharpness(images)) / len(images),
        "reference_sharpness": sum(sharpness(reference)) / len(reference),
        "psnr": sum(psnr(a, b) for a, b in zip(images, reference, strict=True)) / len(images),
    }
