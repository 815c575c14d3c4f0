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


ADHERENCE_MARGIN = 0.02  # one attribute read differently among 16 images' ~56 moves adherence by almost this much


def guide_claims(comparisons: dict, reconstruction: dict, vae_id: str, variations_followed: list[dict]) -> list[list]:
    """The quality lesson's verdict on each of the guide's claims: [claim, "holds" or "does NOT hold", the numbers].

    `comparisons` holds 03_quality's `measured` results by change; `reconstruction` the VAEs' PSNR on world scenes.
    """
    def claim(text, holds, numbers):
        return [text, "holds" if holds else "does NOT hold", numbers]

    def change(name, score, label):
        return f"{label} {comparisons[name][f'{score}_before']:.3f} -> {comparisons[name][score]:.3f}"

    checkpoint, vae = comparisons["later checkpoint"], comparisons["fine-tuned VAE"]
    base_psnr, tuned_psnr = reconstruction["base VAE"], reconstruction[vae_id]
    claims = [
        claim("the later checkpoint follows the prompts better",
              checkpoint["adherence"] > checkpoint["adherence_before"],
              change("later checkpoint", "adherence", "adherence")),
        claim("the fine-tuned VAE reconstructs scenes more faithfully", tuned_psnr > base_psnr,
              f"PSNR {base_psnr:.2f} -> {tuned_psnr:.2f} dB"),
        claim("the fine-tuned VAE draws sharper images", vae["sharpness"] > vae["reference_sharpness"],
              f"sharpness {vae['reference_sharpness']:.2f} -> {vae['sharpness']:.2f}"),
    ]
    for name in ["fine-tuned VAE", "quality words", "negative prompt"]:
        c = comparisons[name]
        claims.append(claim(f"{name}: adherence down by no more than {ADHERENCE_MARGIN}",
                            c["adherence"] >= c["adherence_before"] - ADHERENCE_MARGIN,
                            change(name, "adherence", "adherence")))
    for name in ["quality words", "negative prompt"]:
        c = comparisons[name]
        claims.append(claim(f"{name}: cleaner images (higher clean score)", c["clean_score"] > c["clean_score_before"],
                            change(name, "clean_score", "clean score")))
    claims.append(claim("one seed: the scorer sees each change of shape, position, color and background",
                        all(all(v.values()) for v in variations_followed), str(variations_followed)))
    return claims
