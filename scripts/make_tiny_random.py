"""Build the embedded `tiny-random` pipeline: Stable Diffusion's classes, tiny sizes, fixed random weights.

Run `python scripts/make_tiny_random.py` to rewrite sdtutorial/models/tiny-random/. The component
sizes follow diffusers' own dummy components (tests/pipelines/stable_diffusion), the scheduler is
PNDM with Stable Diffusion v1.5's config, and the tokenizer is a byte-level CLIP BPE vocabulary with
a few whole words from the guide's prompts, written here because the real one cannot be downloaded.
"""

import sys
from pathlib import Path

import torch
from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from tokenizers.pre_tokenizers import ByteLevel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

OUT = Path(__file__).resolve().parents[1] / "sdtutorial" / "models" / "tiny-random"
SEED = 0

# Stable Diffusion v1.5's scheduler/scheduler_config.json, as published.
SD15_SCHEDULER_CONFIG = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}

WORDS = (
    "portrait photo of a an the old oldest young warrior chief tribal panther make up blue on red "
    "side profile looking away serious eyes 50mm photography hard rim lighting blurry noisy"
).split()


def make_tokenizer() -> CLIPTokenizer:
    """A byte-level CLIP BPE tokenizer: every byte is a token, plus whole-word merges for WORDS."""
    chars = sorted(ByteLevel.alphabet())
    vocab = chars + [c + "</w>" for c in chars]
    merges = []
    for word in sorted(set(WORDS)):
        token = word[0]
        for i, c in enumerate(word[1:], start=1):
            nxt = c + "</w>" if i == len(word) - 1 else c
            merges.append((token, nxt))
            token += nxt
            if token not in vocab:
                vocab.append(token)
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(
        vocab={t: i for i, t in enumerate(vocab)}, merges=list(dict.fromkeys(merges)), model_max_length=77
    )


def build(out: Path) -> None:
    """Create the pipeline with fixed seeds and save it to `out` as safetensors."""
    tokenizer = make_tokenizer()
    vocab_size = len(tokenizer)
    torch.manual_seed(SEED)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=2,
    )
    torch.manual_seed(SEED)
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=2,
    )
    torch.manual_seed(SEED)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=vocab_size - 2,
            eos_token_id=vocab_size - 1,
            pad_token_id=vocab_size - 1,
            hidden_size=32,
            intermediate_size=37,
            layer_norm_eps=1e-05,
            num_attention_heads=4,
            num_hidden_layers=5,
            vocab_size=vocab_size,
        )
    )
    pipeline = StableDiffusionPipeline(
        unet=unet,
        scheduler=PNDMScheduler.from_config(SD15_SCHEDULER_CONFIG),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(out, safe_serialization=True)


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print("wrote", sys.argv[1] if len(sys.argv) > 1 else OUT)
