"""`sdtutorial bench --peer openvino`: the pipeline's UNet and VAE decoder run by OpenVINO, timed beside PyTorch."""

import pytest
import torch
from diffusers import UNet2DConditionModel

from sdtutorial import peers
from sdtutorial.bench import FAST, Settings, markdown, run_bench
from sdtutorial.fingerprint import psnr
from sdtutorial.inputs import get_inputs
from sdtutorial.loading import load_pipeline, set_scheduler

pytestmark = pytest.mark.extended

pytest.importorskip("openvino")


def test_openvino_draws_pytorchs_image_in_float32_and_undoes():
    pipeline = load_pipeline("tiny-random", device="cpu", dtype="float32")
    set_scheduler(pipeline, "DPMSolverMultistepScheduler")
    unet, decoder = pipeline.unet, pipeline.vae.decoder
    def draw():  # a batch of two, at another size than the one converted
        return pipeline(**get_inputs("a photo", 2, 0, 4, pipeline=pipeline, height=48, width=48),
                        output_type="np").images

    expected = draw()
    models = peers.convert(pipeline, 64, 64)
    undo, precision = peers.use_openvino(pipeline, models, "f32")
    assert precision == "float32" and isinstance(pipeline.unet, peers.OpenVINOUNet)
    images = draw()
    undo()
    assert pipeline.unet is unet and pipeline.vae.decoder is decoder
    assert images.shape == expected.shape == (2, 48, 48, 3)
    assert min(psnr(a, b) for a, b in zip(expected, images, strict=True)) > 60  # the same arithmetic, reordered


def draw_with_deepcache(pipeline, interval, steps=7):
    from DeepCache import DeepCacheSDHelper

    def draw():
        return pipeline(**get_inputs("a photo", 2, 0, steps, pipeline=pipeline), output_type="np").images

    helper = DeepCacheSDHelper(pipe=pipeline)
    helper.set_params(cache_interval=interval, cache_branch_id=0)
    helper.enable()
    try:
        return draw(), draw
    finally:
        helper.disable()


@pytest.mark.parametrize("attention_last", [False, True])  # as tiny-random's last up block, and as Stable Diffusion's
def test_the_split_unet_runs_deepcache_exactly_as_deepcache_does(attention_last):
    """The two parts OpenVINO runs, run by PyTorch, draw DeepCache's own images bit for bit; then OpenVINO's."""
    pipeline = load_pipeline("tiny-random", device="cpu", dtype="float32")
    set_scheduler(pipeline, "DPMSolverMultistepScheduler")
    if attention_last:
        torch.manual_seed(0)
        pipeline.unet = UNet2DConditionModel.from_config(
            pipeline.unet.config, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D")).eval()
    unet = pipeline.unet
    assert bool(getattr(unet.up_blocks[-1], "attentions", None)) == attention_last
    expected, draw = draw_with_deepcache(pipeline, interval=3)
    with torch.no_grad():
        pipeline.unet = peers.DeepCacheUNet(unet, pipeline.scheduler, 3, peers.UNetWithDeepFeatures(unet),
                                            peers.ShallowUNet(unet))
        split = draw()
    pipeline.unet = unet
    assert (split == expected).all()
    assert min(psnr(a, b) for a, b in zip(expected, draw(), strict=True)) < 60  # DeepCache changed the images

    undo, _ = peers.use_openvino(pipeline, peers.convert(pipeline, 64, 64, deepcache=True), "f32", deepcache=3)
    assert isinstance(pipeline.unet, peers.DeepCacheUNet)
    images = draw()
    undo()
    assert pipeline.unet is unet
    assert min(psnr(a, b) for a, b in zip(expected, images, strict=True)) > 60


def test_bench_times_the_peer_beside_the_best_combination():
    settings = Settings(model_id="tiny-random", device="cpu", quick=True, peer="openvino",
                        variants=[FAST.name, "+ tiny VAE decoder", "+ DeepCache, interval 2"])
    report = run_bench(settings, progress=False)
    rows = {row["variant"]: row for row in report.rows}
    best = next(row for name, row in rows.items() if name.startswith("best"))
    assert report.peer["conversion_seconds"] > 0 and report.peer["rows"]
    intervals = [row["deepcache"] for row in report.peer["rows"]]
    assert set(intervals) == ({0, 2} if "deepcache=2" in best["variant"] else {0}), (best["variant"], intervals)
    for peer_row in report.peer["rows"]:
        timed = rows[peer_row["variant"]]
        assert timed["dtype"] == peer_row["dtype"] and timed["steps"] == FAST.steps // 10
        assert peer_row["best_is_faster_by"] == pytest.approx(timed["seconds_per_image"] / best["seconds_per_image"])
        assert timed["speedup"] > 0 and peer_row["psnr_vs_float32"] > 20
        assert timed["peak_memory"] is None  # OpenVINO holds its memory between calls: not comparable
    assert "float32" in {row["dtype"] for row in report.peer["rows"]}  # float32 is always one of the peer's rows
    seconds = report.seconds  # the conversion is timed apart, not counted as pipeline calls or overhead
    assert seconds["peer_conversion"] == report.peer["conversion_seconds"] > 0
    assert seconds["overhead"] >= 0  # what the timed parts leave of the wall time; negative: a part counted twice
    assert "OpenVINO" in markdown(report) and "PSNR from PyTorch float32's image" in markdown(report)


def test_peer_is_checked_and_says_why_it_cannot_run():
    with pytest.raises(ValueError, match="unknown peer 'tensorrt'; accepted: openvino"):
        Settings(model_id="tiny-random", peer="tensorrt")
    assert "measured on the CPU; this bench runs on cuda" in peers.peer_skip_reason(torch.device("cuda"))
    assert peers.peer_skip_reason(torch.device("cpu")) is None
