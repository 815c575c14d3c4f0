import importlib.util
import io

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from sdtutorial.display import comparison_grid, enlarged, grid, markdown_table, metric_charts, show, speedup_chart
from sdtutorial.quality import compare, sharpness
from sdtutorial.techniques import (
    group_offload_skip_reason,
    import_optional,
    offload_skip_reason,
    sdpa_backends,
    should_compile,
    xformers_status,
)

matplotlib.use("Agg")


def noise(seed: int, size: int = 64) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


def test_blurring_lowers_sharpness():
    image = noise(0)
    sharp, blurred = sharpness([image, image.filter(ImageFilter.GaussianBlur(2))])
    assert blurred < sharp / 10
    assert sharpness([Image.new("RGB", (8, 8), "gray")]) == [0.0]


def test_compare():
    reference = [noise(1), noise(2)]
    darker = [Image.fromarray((np.asarray(image, dtype=np.int16) - 8).clip(0, 255).astype(np.uint8))
              for image in reference]
    result = compare(darker, reference)
    # 30.1 dB, a little more where values clip at 0
    assert result["psnr"] == pytest.approx(10 * np.log10(255**2 / 8**2), abs=0.3)
    assert result["sharpness"] == pytest.approx(np.mean(sharpness(darker)))
    assert result["reference_sharpness"] == pytest.approx(np.mean(sharpness(reference)))
    assert compare(reference, reference)["psnr"] == float("inf")
    with pytest.raises(ValueError, match="cannot compare 2 images with 1"):
        compare(darker, reference[:1])


def test_enlarged_copies_each_pixel_into_a_square():
    image = noise(0)
    big = np.asarray(enlarged(image))
    assert big.shape == (256, 256, 3)
    assert (big[::4, ::4] == np.asarray(image)).all() and (big[3::4, 3::4] == np.asarray(image)).all()
    assert enlarged(noise(0, 100)).size == (200, 200) and enlarged(noise(0, 512)).size == (512, 512)


def test_grid_pads_to_a_rectangle_of_enlarged_images():
    assert grid([noise(i) for i in range(5)], cols=3).size == (3 * 256, 2 * 256)
    assert grid([noise(i) for i in range(4)]).size == (2 * 256, 2 * 256)
    tile = np.asarray(grid([noise(0), noise(1)], cols=2))[:, 256:]
    assert (tile == np.asarray(enlarged(noise(1)))).all()


def test_captions_sit_below_their_images():
    images = [noise(i) for i in range(3)]
    captioned = grid(images, cols=2, captions=["one", "two", "a caption long enough to need a second line here"])
    plain = grid(images, cols=2)
    assert captioned.width == plain.width and captioned.height > plain.height
    top_row = np.asarray(captioned)[:256]
    assert (top_row == np.asarray(plain)[:256]).all()
    strip = np.asarray(captioned)[256:300]
    assert (strip < 128).any(), "the captions are drawn in black on white"


def test_comparison_grid_has_a_column_per_setting_and_a_row_per_caption():
    settings = {"before": [noise(0), noise(1)], "after": [noise(2), noise(3)], "third": [noise(4), noise(5)]}
    picture = comparison_grid(settings, ["first prompt", "second prompt"])
    assert picture.width == 3 * 256 and picture.height > 2 * 256
    with pytest.raises(ValueError, match="each setting needs 3 images"):
        comparison_grid(settings, ["a", "b", "c"])


def test_show_keeps_the_smaller_of_png_and_jpeg():
    photo = noise(0).filter(ImageFilter.GaussianBlur(1)).resize((512, 512), Image.Resampling.BICUBIC)
    shown = show(photo)
    assert shown.format == "jpeg" and shown.data[:2] == b"\xff\xd8"
    shown = show(grid([noise(0)]))
    assert shown.format == "png" and shown.data[:4] == b"\x89PNG"
    assert (np.asarray(Image.open(io.BytesIO(shown.data))) == np.asarray(enlarged(noise(0)))).all()


def test_markdown_table():
    table = markdown_table(["a", "b"], [["x", 1.234]]).data
    assert table == "| a | b |\n|---|---|\n| x | 1.23 |"


def test_charts_have_one_bar_per_variant():
    fig = speedup_chart(["a", "b"], [2.0, 1.0], [30.0, 10.0], "guide")
    assert len(fig.axes[0].patches) == 4
    assert [t.get_text() for t in fig.axes[0].texts] == ["1.0x", "2.0x", "1.0x", "3.0x"]
    assert len(metric_charts(["a", "b", "c"], {"seconds": [1, 2, 3], "MiB": [4, 5, 6]}).axes) == 2


def test_techniques_on_a_cpu():
    cpu = torch.device("cpu")
    assert sdpa_backends(cpu) == ["math", "flash"]
    assert sdpa_backends(torch.device("cuda")) == ["math", "flash", "efficient", "cudnn"]
    assert should_compile("auto", cpu)[0] is False
    assert should_compile("auto", torch.device("cuda"))[0] is True
    assert should_compile(True, cpu) == (True, "compile_unet is set")
    with pytest.raises(ValueError, match="compile_unet must be auto, True or False, got 'yes'"):
        should_compile("yes", cpu)
    assert "CUDA" in offload_skip_reason(cpu)


@pytest.mark.parametrize(("installed", "device", "expected"), [
    (False, "cpu", "xFormers is not installed; PyTorch 2's SDPA"),
    (True, "cpu", "xFormers is installed, but its kernels run on CUDA GPUs only."),
    (True, "cuda", "xFormers is installed: pipeline.enable_xformers_memory_efficient_attention()"),
])
def test_xformers_status_says_what_applies_here(monkeypatch, installed, device, expected):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: object() if installed else None)
    assert xformers_status(torch.device(device)).startswith(expected)


def test_optional_packages_come_with_how_to_install_them():
    module, reason = import_optional("DeepCache")
    assert module.DeepCacheSDHelper and reason is None  # in the lock
    if importlib.util.find_spec("torchao") is None:  # the optional extra, not in the lock
        assert import_optional("torchao") == (None, "torchao is not installed: pip install 'sdtutorial[techniques]'")
    assert import_optional("no_such_package") == (None, "no_such_package is not installed: pip install no_such_package")
    assert "runs on cpu" in group_offload_skip_reason(torch.device("cpu"))
    assert group_offload_skip_reason(torch.device("cuda")) is None
