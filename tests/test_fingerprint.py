import numpy as np
import pytest
from PIL import Image

from sdtutorial.fingerprint import fingerprint, psnr


def noise_image(seed: int, size: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (size, size, 3))


def test_fingerprint_is_short_hex_and_repeatable():
    prints = fingerprint([noise_image(0), noise_image(0)])
    assert prints[0] == prints[1]
    assert len(prints[0]) == 16 and int(prints[0], 16) >= 0


def test_different_images_differ_in_about_half_the_bits():
    a, b = (int(p, 16) for p in fingerprint([noise_image(0), noise_image(1)]))
    assert 16 <= bin(a ^ b).count("1") <= 48


def test_float32_sized_changes_do_not_change_the_fingerprint():
    image = noise_image(3)
    for seed in range(20):
        jitter = np.random.default_rng(seed).normal(0, 1e-6, image.shape)
        assert fingerprint([image + jitter]) == fingerprint([image])


def test_pil_images_and_arrays_agree():
    pixels = (noise_image(4) * 255).round().astype(np.uint8)
    assert fingerprint([Image.fromarray(pixels)]) == fingerprint([pixels / 255.0])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"expected an RGB image of shape \(H, W, 3\), got shape \(8, 8\)"):
        fingerprint([np.zeros((8, 8))])


def test_psnr():
    image = noise_image(5)
    assert psnr(image, image) == float("inf")
    assert psnr(image, np.clip(image + 0.01, 0, 1)) == pytest.approx(40.0, abs=0.5)
    with pytest.raises(ValueError, match="images differ in shape"):
        psnr(image, noise_image(5, size=32))
