"""`sdtutorial evaluate` and the training command run end to end (on a few prompts, a few steps)."""

import json
import subprocess
import sys

import pytest
import torch

from sdtutorial import toyworld
from sdtutorial.cli import main
from sdtutorial.evaluate import evaluation_prompts

from conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.extended]


def test_evaluation_prompts_are_unseen_and_held_out_ones_name_a_held_out_pair():
    assert evaluation_prompts(3) == evaluation_prompts(3)
    for prompt in evaluation_prompts(20, held_out="only"):
        asked = toyworld.prompt_attributes(prompt)
        assert (asked["color"], asked["shape"]) in toyworld.HELD_OUT_PAIRS
    plain = " ".join(evaluation_prompts(50, quality_words=False))
    assert not any(word in plain for word in ("sharp", "blurry", "noisy", "faded", "quality"))


def test_evaluate_writes_its_report(tmp_path, capsys):
    assert main(["evaluate", "--prompts", "2", "--batch-size", "2", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| final checkpoint, DPMSolver 20, guidance 7.5: adherence >= 0.93 |" in out
    results = json.loads((tmp_path / "evaluation.json").read_text())
    assert results["prompts"] == 2
    for name in ("final_dpm20", "final_pndm50", "early_dpm20", "final_dpm20_vae_ft", "plain_prompt", "quality_words",
                 "negative_prompt"):
        # two prompts: each image's adherence is a share of the 1 to 5 attributes its prompt names
        assert results[name]["adherence"] * 2 * 60 == pytest.approx(round(results[name]["adherence"] * 2 * 60))
        assert set(results[name]) == {"adherence", "clean_score", "sharpness"}
    assert results["psnr_toyworld_vae"] > 25 and results["seconds_per_image_dpm20"] < 5
    assert (tmp_path / "samples.png").is_file() and (tmp_path / "evaluation.md").read_text() in out


def test_the_training_command_writes_loadable_models(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_toyworld.py"), str(tmp_path), "--smoke"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert {p.name for p in tmp_path.iterdir()} == {"toyworld", "toyworld-early", "toyworld-vae-ft", "toyworld-taesd",
                                                    "toyworld-scorer"}
    from sdtutorial.loading import load_pipeline, load_vae

    pipeline = load_pipeline(str(tmp_path / "toyworld"), device="cpu")
    image = pipeline("a red circle", num_inference_steps=2, output_type="np").images[0]
    assert image.shape == (64, 64, 3)
    assert load_vae(str(tmp_path / "toyworld-taesd"), device="cpu").config.latent_channels == 4
    log = (tmp_path / "toyworld" / "training_log.csv").read_text()
    assert all(f"\n{phase}," in log for phase in ("scorer", "vae", "vae decoder", "vae decoder (further)",
                                                 "vae-ft (decoder)", "unet + text encoder",
                                                 "unet + text encoder (further)",
                                                 "unet + text encoder (further 2)", "guidance", "tiny decoder"))
    # The decoder phases leave the encoder as it was, so the UNet's latents hold for both VAEs.
    base, tuned = (load_vae(str(tmp_path / name), device="cpu").state_dict() for name in ("toyworld/vae",
                                                                                          "toyworld-vae-ft"))
    assert all(torch.equal(base[key], tuned[key]) for key in base if key.startswith(("encoder.", "quant_conv.")))
    assert not all(torch.equal(base[key], tuned[key]) for key in base if key.startswith("decoder."))
    # One phase alone: the UNet is read, not retrained.
    unet = (tmp_path / "toyworld" / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_toyworld.py"), str(tmp_path), "--smoke",
                           "--from", "vae-ft", "--to", "vae-ft"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trained vae-ft in" in done.stdout
    assert (tmp_path / "toyworld" / "unet" / "diffusion_pytorch_model.safetensors").read_bytes() == unet
    assert (tmp_path / "toyworld" / "training_log.csv").read_text().count("\nvae-ft (decoder),") == 2  # replaced
