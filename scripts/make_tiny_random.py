"""Build the embedded random-weight models: Stable Diffusion's classes at toy size, from fixed seeds.

Run `python scripts/make_tiny_random.py` to rewrite them under sdtutorial/models/:
- tiny-random: the pipeline. Component sizes follow diffusers' own dummy components
  (tests/pipelines/stable_diffusion); the scheduler is PNDM with Stable Diffusion v1.5's config; the
  tokenizer is a byte-level CLIP BPE vocabulary with a few whole words from the guide's prompts,
  written here because the real one cannot be downloaded.
- tiny-random-v2: the same pipeline with its UNet weights moved by 10% random noise, standing in
  for a newer or fine-tuned checkpoint (stored in float16 to keep the package small).
- tiny-random-vae-ft: the VAE with only its decoder moved by 10%, as sd-vae-ft-mse fine-tuned only
  the decoder of Stable Diffusion's VAE (float16 storage).
- tiny-random-taesd: an AutoencoderTiny that decodes the same latents, standing in for TAESD.
After a rebuild, regenerate the notebooks' references (make references).
"""

import sys
from pathlib import Path

import torch
from diffusers import AutoencoderKL, AutoencoderTiny, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from sdtutorial.building import make_tokenizer, sd_pipeline

MODELS = Path(__file__).resolve().parents[1] / "sdtutorial" / "models"
SEED = 0
# A trained text encoder's embeddings steer the image strongly; random ones barely do. Scaling the
# final layer norm makes the prompt change the image as clearly as a seed does.
TEXT_EMBEDDING_SCALE = 20.0
VARIANT_NOISE = 0.1

WORDS = (
    "portrait photo of a an the old oldest young warrior chief tribal panther make up blue on red "
    "side profile looking away serious eyes 50mm photography hard rim lighting blurry noisy"
).split()


def build_pipeline() -> StableDiffusionPipeline:
    """The tiny-random pipeline, from fixed seeds."""
    tokenizer = make_tokenizer(WORDS, max_length=77)
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
    text_encoder.final_layer_norm.weight.data *= TEXT_EMBEDDING_SCALE
    return sd_pipeline(unet, vae, text_encoder, tokenizer)


def perturb(module: torch.nn.Module, seed: int, scale: float = VARIANT_NOISE) -> None:
    """Move every weight of `module` by `scale` times its own spread, with fixed noise."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            spread = parameter.std() if parameter.numel() > 1 else parameter.abs()
            parameter += scale * spread * torch.randn(parameter.shape, generator=generator)


def build_all(models: Path) -> None:
    """Write the four embedded models into `models`."""
    pipeline = build_pipeline()
    pipeline.save_pretrained(models / "tiny-random", safe_serialization=True)

    vae_ft = AutoencoderKL.from_config(pipeline.vae.config)
    vae_ft.load_state_dict(pipeline.vae.state_dict())
    perturb(vae_ft.decoder, seed=2)
    vae_ft.to(torch.float16).save_pretrained(models / "tiny-random-vae-ft", safe_serialization=True)

    perturb(pipeline.unet, seed=1)
    pipeline.to(torch.float16).save_pretrained(models / "tiny-random-v2", safe_serialization=True)

    torch.manual_seed(SEED)
    taesd = AutoencoderTiny(
        encoder_block_out_channels=(16, 16),
        decoder_block_out_channels=(16, 16),
        num_encoder_blocks=(1, 1),
        num_decoder_blocks=(1, 1),
        latent_channels=4,
    )
    taesd.save_pretrained(models / "tiny-random-taesd", safe_serialization=True)


if __name__ == "__main__":
    build_all(Path(sys.argv[1]) if len(sys.argv) > 1 else MODELS)
    print("wrote", sys.argv[1] if len(sys.argv) > 1 else MODELS)
