"""Train the toyworld models from scratch on the CPU (about 162 minutes on 2 cores, summed by phase): `make toyworld`.

Writes into sdtutorial/models/ (or the folder given as the first argument):
- toyworld-scorer: the attribute classifier behind sdtutorial.scorer, trained first.
- toyworld: the text-to-image pipeline, Stable Diffusion's classes at toy size: an AutoencoderKL
  (4x downsampling: 64x64 images, 16x16x4 latents; after its own training its decoder trains on with
  the encoder fixed), a four-level UNet2DConditionModel and a 2-layer
  CLIPTextModel trained together on captioned toyworld images (1 caption in 10 left empty, for
  classifier-free guidance), PNDM with Stable Diffusion v1.5's scheduler config. Its
  training_log.csv has the losses.
  Its UNet and text encoder then train further in runs of UNET_FT_STEPS at a lower learning rate, where a share
  of the degraded scenes are captioned by their degradation alone (toyworld.degradation_caption), so
  that a negative prompt of such words is a caption the model has seen. Last, guidance GUIDED_AS is
  distilled into them, so that the guide's guidance_scale 7.5 draws what GUIDED_AS drew (see GUIDED_AS).
- toyworld-early: the same training stopped at EARLY_STEP: the weaker, earlier checkpoint.
- toyworld-vae-ft: that VAE with its decoder trained further, as sd-vae-ft-mse was. With the encoder fixed
  the latents do not change, so the UNet and the tiny decoder apply to both VAEs.
- toyworld-taesd: an AutoencoderTiny whose decoder learned to turn toyworld latents into images,
  as madebyollin/taesd does for Stable Diffusion's (its encoder is untrained: only decoding is used).
Every random choice comes from fixed seeds; weights are stored in float16 to keep the package small.
`--from PHASE` and `--to PHASE` train part of it, reading what earlier phases wrote from the folder.
After a retrain, regenerate the notebooks' references (make references).
"""

import argparse
import copy
import csv
import json
import math
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import (
    AutoencoderKL,
    AutoencoderTiny,
    DDPMScheduler,
    UNet2DConditionModel,
)
from tqdm import tqdm
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from sdtutorial import scorer as scoring
from sdtutorial import toyworld
from sdtutorial.building import SD15_SCHEDULER_CONFIG, make_tokenizer, sd_pipeline
from sdtutorial.evaluate import EVALUATION_SEED, GUIDANCE_SCALE
from sdtutorial.loading import half_is_emulated

MODELS = Path(__file__).resolve().parents[1] / "sdtutorial" / "models"
SCORER_STEPS, VAE_STEPS, DECODER_STEPS, VAE_FT_STEPS = 1200, 1200, (600, 2400), 4800
UNET_STEPS, EARLY_STEP, UNET_FT_STEPS, TINY_STEPS = 4000, 800, (2000, 2000), 600
GUIDANCE_STEPS, GUIDANCE_BATCH = 1200, 32
PHASES = ("scorer", "vae", "vae-ft", "unet", "unet-ft", "guidance", "tiny")
SCORER_BATCH, VAE_BATCH, UNET_BATCH, TINY_BATCH = 64, 32, 64, 32
EMPTY_CAPTION_SHARE = 0.1
# In unet-ft, the share of degraded scenes captioned by their degradation alone. Before it, the model had never
# seen "blurry, noisy, low contrast" without an object. It did not remove the negative prompt's cost (adherence
# 0.84 -> 0.63 before, 0.89 -> 0.73 after, 200 prompts): most of that comes from "low contrast" (see 03_quality).
# The guidance phase took most of the rest (see DEGRADATION_GUIDED_AS).
DEGRADATION_ONLY_SHARE = 0.25
EMA_DECAY = 0.999
MIN_SNR_GAMMA = 5.0
# Latents are scaled to a spread of 1 / LATENT_SHIFT rather than 1. SD v1.5's noise schedule was made for 64x64
# latents; on toyworld's 16x16 ones a whole shape stays visible through its strongest noise (the schedule ends at
# 6.8% signal), so the model read where the shape goes from the seed's noise instead of the prompt. Scaling the
# signal by 1/4 matches the resolution (64 / 16), as "simple diffusion" (Hoogeboom et al., 2023) shifts schedules.
LATENT_SHIFT = 4
# The guide samples at guidance_scale 7.5, a scale made for Stable Diffusion, whose captions fix little of an image.
# A toyworld caption fixes nearly all of it, so the gap between its conditional and unconditional predictions is far
# wider and 7.5 times that gap pushed colors past the palette (orange came out yellow) and made PNDM unstable: on 200
# prompts at DPMSolver 20 steps, adherence 0.898 at 7.5 against 0.926 at 3, color 0.72 against 0.84. The last
# phase distils guidance GUIDED_AS into the model, as guidance distillation (Meng et al., 2023) does for a scale
# fixed in advance: its conditional prediction learns to be the unconditional one plus GUIDED_AS / 7.5 of the gap,
# so the guide's call at 7.5 draws what the model before it drew at GUIDED_AS (and guidance 1 draws weaker images).
# It fits the guided prediction itself, whose error is the gap's times 7.5: fitting the conditional prediction alone
# (600 steps) gave 0.911 with shape 0.85; the guided one over 1,200 steps gave 0.925, shape 0.90, color 0.85 (all
# before unet-ft's second run).
GUIDED_AS = 3.0
# A negative prompt n replaces the unconditional prediction u, so guidance g pushes away from it by (g - 1) times its
# gap: u + g (c - u) - (g - 1) (n - u). At guidance 3 that push of 2 cost the model before this phase adherence
# (0.949 -> 0.897 on 200 plain prompts with "blurry, noisy, low contrast"): away from "low contrast" lies
# oversaturation, and colors left the palette. A push of 1 cost 0.016 and of 0.87 0.011, each raising the clean score
# (0.742 -> 0.793). So captions of a degradation alone, the negative prompt's kind, are distilled at guidance
# DEGRADATION_GUIDED_AS instead: prompted alone they draw what the model draws unguided, and as the guide's negative
# prompt at 7.5 they push by 6.5 / 7.5 of their gap.
DEGRADATION_GUIDED_AS = 1.0
MAX_TOKENS = 32
# bfloat16 autocast ran the UNet 2.3x faster on a CPU with AMX. Where the CPU lacks bfloat16 units PyTorch emulates
# them: on a 2-core AVX2 EPYC a VAE step took 16.7 s against 1.5 s in float32. So it is used only where it is native.
NATIVE_BF16 = not half_is_emulated(torch.device("cpu"))
# Sample seeds of each phase; evaluations draw from EVALUATION_SEED up, far above any of these.
SCORER_SEEDS, VAE_SEEDS, UNET_SEEDS, TINY_SEEDS = 0, 10_000_000, 20_000_000, 30_000_000
UNET_FT_SEEDS, GUIDANCE_SEEDS = UNET_SEEDS + 5_000_000, UNET_SEEDS + 7_000_000


def batch(start: int, size: int, held_out: str = "exclude"):
    """Images in [-1, 1], captions and scenes of samples start .. start + size - 1."""
    scenes, captions, images = zip(*(toyworld.sample(start + i, held_out) for i in range(size)), strict=True)
    return scoring.to_pixels(list(images)), list(captions), list(scenes)


def mixed_precision():
    """bfloat16 autocast where the CPU computes in bfloat16 natively, float32 elsewhere (see NATIVE_BF16)."""
    return torch.autocast("cpu", torch.bfloat16, enabled=NATIVE_BF16)


def schedule(step: int, total: int, peak: float, warmup: int = 100) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak learning rate."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup))))


def train(name: str, parameters, total: int, peak_lr: float, loss_of_step, log: list) -> None:
    """AdamW over `parameters` for `total` steps of `loss_of_step(step)`, with a progress bar and a loss log."""
    started = time.time()
    parameters = list(parameters)
    optimizer = torch.optim.AdamW(parameters, lr=peak_lr, weight_decay=0.01)
    with tqdm(range(total), desc=name, unit="step", mininterval=10) as bar:
        for step in bar:
            for group in optimizer.param_groups:
                group["lr"] = schedule(step, total, peak_lr)
            loss = loss_of_step(step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            log.append({"phase": name, "step": step, "loss": round(loss.item(), 5)})
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}")
    print(f"{name}: {total} steps in {(time.time() - started) / 60:.1f} minutes", flush=True)


def train_scorer(log: list) -> scoring.Scorer:
    torch.manual_seed(1)
    model = scoring.Scorer()

    def loss_of_step(step: int) -> torch.Tensor:
        pixels, _, scenes = batch(SCORER_SEEDS + step * SCORER_BATCH, SCORER_BATCH, held_out="include")
        with mixed_precision():
            logits = model(pixels)
        return sum(F.cross_entropy(logits[name].float(), torch.tensor([values.index(getattr(s, name)) for s in scenes]))
                   for name, values in toyworld.ATTRIBUTES.items())

    train("scorer", model.parameters(), SCORER_STEPS, 2e-3, loss_of_step, log)
    return model.eval()


def vae_loss(vae: AutoencoderKL, pixels: torch.Tensor) -> torch.Tensor:
    with mixed_precision():
        posterior = vae.encode(pixels).latent_dist
        decoded = vae.decode(posterior.sample()).sample.float()
    return F.mse_loss(decoded, pixels) + 0.5 * F.l1_loss(decoded, pixels) + 1e-6 * posterior.kl().mean()


def train_decoder(name: str, vae: AutoencoderKL, steps: int, peak_lr: float, first_sample: int, log: list):
    """Train `vae`'s decoder on with its encoder fixed, so that the latents, and what learned on them, stay valid."""
    vae.requires_grad_(True)
    vae.encoder.requires_grad_(False)
    vae.quant_conv.requires_grad_(False)
    train(name, [p for p in vae.parameters() if p.requires_grad], steps, peak_lr,
          lambda step: vae_loss(vae, batch(first_sample + step * VAE_BATCH, VAE_BATCH)[0]), log)
    return vae.eval().requires_grad_(False)


def train_decoder_further(name: str, vae: AutoencoderKL, steps: int, peak_lr: float, first_sample: int, seed: int,
                          log: list) -> AutoencoderKL:
    """A copy of `vae`, from its float16 weights as they are shipped, whose decoder trains `steps` further."""
    torch.manual_seed(seed)
    further = AutoencoderKL.from_config(vae.config)
    further.load_state_dict({key: value.half().float() for key, value in vae.state_dict().items()})
    return train_decoder(name, further, steps, peak_lr, first_sample, log)


def train_vae(log: list) -> AutoencoderKL:
    """The base VAE: trained whole, then its decoder DECODER_STEPS further, in two runs. A decoder trained for
    600 steps read green as purple and yellow as orange in 17% of clean scenes, which no UNet can undo; the
    next 2,400 steps raised reconstruction PSNR from 27.0 to 29.1 dB and the pipeline's adherence from 0.88 to 0.90."""
    torch.manual_seed(2)
    vae = AutoencoderKL(block_out_channels=(16, 32, 64), down_block_types=["DownEncoderBlock2D"] * 3,
                        up_block_types=["UpDecoderBlock2D"] * 3, latent_channels=4, norm_num_groups=16,
                        layers_per_block=1, sample_size=64)
    train("vae", vae.parameters(), VAE_STEPS, 1e-3,
          lambda step: vae_loss(vae, batch(VAE_SEEDS + step * VAE_BATCH, VAE_BATCH)[0]), log)
    first_sample = VAE_SEEDS + VAE_STEPS * VAE_BATCH
    vae = train_decoder("vae decoder", vae, DECODER_STEPS[0], 3e-4, first_sample, log)
    first_sample += DECODER_STEPS[0] * VAE_BATCH
    return train_decoder_further("vae decoder (further)", vae, DECODER_STEPS[1], 5e-4, first_sample, 8, log)


def train_vae_ft(vae: AutoencoderKL, log: list) -> AutoencoderKL:
    """toyworld-vae-ft: the base VAE's decoder trained VAE_FT_STEPS further, on scenes it has not seen."""
    first_sample = VAE_SEEDS + (VAE_STEPS + sum(DECODER_STEPS)) * VAE_BATCH
    return train_decoder_further("vae-ft (decoder)", vae, VAE_FT_STEPS, 5e-4, first_sample, 11, log)


def set_scaling_factor(vae: AutoencoderKL, vae_ft: AutoencoderKL) -> None:
    """The pipeline multiplies latents by scaling_factor, as by Stable Diffusion's 0.18215 (see LATENT_SHIFT)."""
    with torch.no_grad():
        latents = vae.encode(batch(EVALUATION_SEED, 256)[0]).latent_dist.mean
    for model in (vae, vae_ft):
        model.register_to_config(scaling_factor=round(1 / (LATENT_SHIFT * float(latents.std())), 5))


def train_unet(vae: AutoencoderKL, tokenizer: CLIPTokenizer, log: list, save_early) -> tuple:
    torch.manual_seed(3)
    vocab_size = len(tokenizer)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=MAX_TOKENS, bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
    ))
    # Four levels, down to 2x2: a convolution knows where it is only from the zero padding at the border, and
    # at 2x2 each cell touches a different pair of borders, so text attention there can place a shape by quadrant.
    # With three levels (down to 4x4) the model learned no position at all: every caption's position word gave
    # the same image, and the seed alone chose the corner.
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, block_out_channels=(32, 64, 96, 96), layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        cross_attention_dim=128, attention_head_dim=8, norm_num_groups=16,
    )
    return train_diffusion("unet + text encoder", unet, text_encoder, vae, tokenizer, log, UNET_STEPS, 5e-4,
                           UNET_SEEDS, seed=4, save_early=save_early)


def train_unet_further(unet, text_encoder, vae: AutoencoderKL, tokenizer: CLIPTokenizer, log: list,
                       run: int) -> tuple:
    """The trained UNet and text encoder, UNET_FT_STEPS[run] further on unseen scenes at a lower learning rate, with
    DEGRADATION_ONLY_SHARE of the degraded scenes captioned by their degradation alone."""
    torch.manual_seed(9 + 8 * run)
    name = f"unet + text encoder (further {run + 1})" if run else "unet + text encoder (further)"  # no comma: CSV
    return train_diffusion(name, unet, text_encoder, vae, tokenizer, log, UNET_FT_STEPS[run], 2e-4,
                           UNET_FT_SEEDS + sum(UNET_FT_STEPS[:run]) * UNET_BATCH, seed=10 + 8 * run,
                           degradation_only_share=DEGRADATION_ONLY_SHARE)


def train_diffusion(name: str, unet, text_encoder, vae: AutoencoderKL, tokenizer: CLIPTokenizer, log: list,
                    steps: int, peak_lr: float, first_sample: int, seed: int, degradation_only_share: float = 0.0,
                    save_early=None) -> tuple:
    """Train `unet` and `text_encoder` together as Stable Diffusion's are; returns their exponential moving
    averages (EMA_DECAY), which sample better than the weights of the last step."""
    ema = {"unet": UNet2DConditionModel.from_config(unet.config), "text_encoder": CLIPTextModel(text_encoder.config)}
    ema["unet"].load_state_dict(unet.state_dict())
    ema["text_encoder"].load_state_dict(text_encoder.state_dict())
    unet.train().requires_grad_(True)
    text_encoder.train().requires_grad_(True)
    noise_scheduler = DDPMScheduler.from_config(SD15_SCHEDULER_CONFIG)
    generator = torch.Generator().manual_seed(seed)
    caption_rng = random.Random(seed + 1)

    def loss_of_step(step: int) -> torch.Tensor:
        if step > 0:
            update_ema(step)
        if step == EARLY_STEP and save_early:
            save_early(ema["unet"], ema["text_encoder"])
        pixels, captions, scenes = batch(first_sample + step * UNET_BATCH, UNET_BATCH)
        ids = token_ids(tokenizer, training_captions(captions, scenes, caption_rng, degradation_only_share))
        noisy, timesteps, noise = noised_latents(vae, pixels, noise_scheduler, generator)
        with mixed_precision():
            predicted = unet(noisy, timesteps, text_encoder(ids)[0]).sample
        return weighted_loss(predicted.float(), noise, noise_scheduler, timesteps)

    @torch.no_grad()
    def update_ema(step: int) -> None:
        decay = min(EMA_DECAY, (1 + step) / (10 + step))
        for model, averaged in ((unet, ema["unet"]), (text_encoder, ema["text_encoder"])):
            for p, a in zip(model.parameters(), averaged.parameters(), strict=True):
                a.lerp_(p, 1 - decay)

    train(name, [*unet.parameters(), *text_encoder.parameters()], steps, peak_lr, loss_of_step, log)
    update_ema(steps)
    return ema["unet"].eval().requires_grad_(False), ema["text_encoder"].eval().requires_grad_(False)


def distil_guidance(unet, text_encoder, vae: AutoencoderKL, tokenizer: CLIPTokenizer, log: list) -> tuple:
    """`unet` and `text_encoder` trained GUIDANCE_STEPS so that guidance GUIDANCE_SCALE gives what guidance GUIDED_AS
    gave before (see GUIDED_AS). The captions are drawn as in unet-ft, so empty ones keep the unconditional
    prediction, and degradation-only ones (the negative prompt's) are fitted at DEGRADATION_GUIDED_AS."""
    teacher_unet = copy.deepcopy(unet).eval().requires_grad_(False)
    teacher_text_encoder = copy.deepcopy(text_encoder).eval().requires_grad_(False)
    unet.train().requires_grad_(True)
    text_encoder.train().requires_grad_(True)
    noise_scheduler = DDPMScheduler.from_config(SD15_SCHEDULER_CONFIG)
    torch.manual_seed(12)
    generator = torch.Generator().manual_seed(13)
    caption_rng = random.Random(14)
    empty_ids = token_ids(tokenizer, [""] * GUIDANCE_BATCH)

    def loss_of_step(step: int) -> torch.Tensor:
        pixels, captions, scenes = batch(GUIDANCE_SEEDS + step * GUIDANCE_BATCH, GUIDANCE_BATCH)
        texts = training_captions(captions, scenes, caption_rng, DEGRADATION_ONLY_SHARE)
        ids = token_ids(tokenizer, texts)
        # A caption that is neither empty nor the scene's own names a degradation alone.
        guided_as = torch.tensor([GUIDED_AS if text in ("", caption) else DEGRADATION_GUIDED_AS
                                  for text, caption in zip(texts, captions, strict=True)]).view(-1, 1, 1, 1)
        noisy, timesteps, _ = noised_latents(vae, pixels, noise_scheduler, generator)
        with torch.no_grad(), mixed_precision():
            text = teacher_text_encoder(torch.cat([ids, empty_ids]))[0]
            both = teacher_unet(torch.cat([noisy, noisy]), torch.cat([timesteps, timesteps]), text).sample.float()
        conditional, unconditional = both.chunk(2)
        with mixed_precision():
            text = text_encoder(torch.cat([ids, empty_ids]))[0]
            predicted = unet(torch.cat([noisy, noisy]), torch.cat([timesteps, timesteps]), text).sample.float()
        predicted_conditional, predicted_unconditional = predicted.chunk(2)
        # What the sampler uses is the guided prediction, which multiplies any error in the gap by GUIDANCE_SCALE:
        # so that is what is fitted, with the unconditional prediction held where it was.
        guided = predicted_unconditional + GUIDANCE_SCALE * (predicted_conditional - predicted_unconditional)
        return (weighted_loss(guided, unconditional + guided_as * (conditional - unconditional), noise_scheduler,
                              timesteps)
                + weighted_loss(predicted_unconditional, unconditional, noise_scheduler, timesteps))

    train("guidance", [*unet.parameters(), *text_encoder.parameters()], GUIDANCE_STEPS, 2e-4, loss_of_step, log)
    return unet.eval().requires_grad_(False), text_encoder.eval().requires_grad_(False)


def training_captions(captions: list[str], scenes: list, rng: random.Random, degradation_only_share: float) -> list:
    """EMPTY_CAPTION_SHARE of the captions left empty, for classifier-free guidance, and `degradation_only_share`
    of the degraded scenes captioned by their degradation alone."""
    def training_caption(text: str, scene: toyworld.Scene) -> str:
        if rng.random() < EMPTY_CAPTION_SHARE:
            return ""
        if scene.degradation != "clean" and rng.random() < degradation_only_share:
            return toyworld.degradation_caption(scene, rng)
        return text

    return [training_caption(text, scene) for text, scene in zip(captions, scenes, strict=True)]


def token_ids(tokenizer: CLIPTokenizer, captions: list[str]) -> torch.Tensor:
    return tokenizer(captions, padding="max_length", max_length=MAX_TOKENS, truncation=True,
                     return_tensors="pt").input_ids


def noised_latents(vae: AutoencoderKL, pixels: torch.Tensor, noise_scheduler, generator) -> tuple:
    """The pixels' scaled latents with noise at random training timesteps: (noisy latents, timesteps, noise)."""
    with torch.no_grad(), mixed_precision():
        latents = vae.encode(pixels).latent_dist.sample(generator).float() * vae.config.scaling_factor
    noise = torch.randn(latents.shape, generator=generator)
    timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(latents),), generator=generator)
    return noise_scheduler.add_noise(latents, noise, timesteps), timesteps, noise


def weighted_loss(predicted: torch.Tensor, target: torch.Tensor, noise_scheduler, timesteps) -> torch.Tensor:
    """Mean squared error with Min-SNR weighting (Hang et al., 2023): steps with little noise, which only polish
    details, weigh less."""
    snr = noise_scheduler.alphas_cumprod[timesteps] / (1 - noise_scheduler.alphas_cumprod[timesteps])
    weight = (snr.clamp(max=MIN_SNR_GAMMA) / snr).view(-1, 1, 1, 1)
    return (weight * (predicted - target) ** 2).mean()


def train_tiny_decoder(models: Path, log: list) -> AutoencoderTiny:
    """Teach an AutoencoderTiny's decoder to map the shipped toyworld VAE's scaled latents to its images."""
    vae = AutoencoderKL.from_pretrained(models / "toyworld" / "vae", dtype=torch.float32).eval()
    torch.manual_seed(6)
    tiny = AutoencoderTiny(encoder_block_out_channels=(32, 32, 32), decoder_block_out_channels=(32, 32, 32),
                           num_encoder_blocks=(1, 1, 1), num_decoder_blocks=(1, 1, 1), latent_channels=4)
    tiny.encoder.requires_grad_(False)
    generator = torch.Generator().manual_seed(7)

    def loss_of_step(step: int) -> torch.Tensor:
        pixels = batch(TINY_SEEDS + step * TINY_BATCH, TINY_BATCH)[0]
        with torch.no_grad():
            latents = vae.encode(pixels).latent_dist.sample(generator) * vae.config.scaling_factor
        with mixed_precision():
            decoded = tiny.decode(latents).sample.float()
        return F.mse_loss(decoded, pixels) + 0.5 * F.l1_loss(decoded, pixels)

    train("tiny decoder", tiny.decoder.parameters(), TINY_STEPS, 1e-3, loss_of_step, log)
    return tiny.eval()


@torch.no_grad()
def scorer_accuracy(model: scoring.Scorer, count: int = 2000) -> dict[str, float]:
    """Accuracy per attribute on `count` unseen samples (held-out pairs included)."""
    correct = dict.fromkeys(toyworld.ATTRIBUTES, 0)
    for start in range(0, count, 200):
        pixels, _, scenes = batch(EVALUATION_SEED + start, 200, held_out="include")
        logits = model(pixels)
        for name, values in toyworld.ATTRIBUTES.items():
            truth = torch.tensor([values.index(getattr(s, name)) for s in scenes])
            correct[name] += int((logits[name].argmax(-1) == truth).sum())
    return {name: n / count for name, n in correct.items()}


def load_vae(folder: Path) -> AutoencoderKL:
    return AutoencoderKL.from_pretrained(folder, dtype=torch.float32).eval().requires_grad_(False)


def save_vae(vae: AutoencoderKL, folder: Path) -> None:
    # In float16, as shipped: what trains on it next reads it back from the folder, so a run that starts there matches.
    copy.deepcopy(vae).to(torch.float16).save_pretrained(folder, safe_serialization=True)
    forget_source_paths(folder)


def forget_source_paths(folder: Path) -> None:
    """Drop the folder a model was loaded from, which diffusers writes into its config on saving: it names a
    path on the training machine."""
    for config in folder.rglob("config.json"):
        settings = json.loads(config.read_text())
        if settings.pop("_name_or_path", None) is not None:
            config.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")


def main(models: Path, first_phase: str = "scorer", last_phase: str = "tiny") -> None:
    """Train the phases from `first_phase` to `last_phase`; what earlier phases made is read from `models`."""
    started, log = time.time(), []
    phases = PHASES[PHASES.index(first_phase):PHASES.index(last_phase) + 1]
    if "scorer" in phases:
        scorer = train_scorer(log)
        scoring.save_scorer(scorer, models / "toyworld-scorer")
        print("scorer accuracy on unseen samples:", scorer_accuracy(scorer))
    if "vae" in phases:
        vae = train_vae(log)
        save_vae(vae, models / "toyworld" / "vae")
    vae = load_vae(models / "toyworld" / "vae")
    if "vae-ft" in phases:
        save_vae(train_vae_ft(vae, log), models / "toyworld-vae-ft")
    vae_ft = load_vae(models / "toyworld-vae-ft")
    set_scaling_factor(vae, vae_ft)
    for model, folder in ((vae, models / "toyworld" / "vae"), (vae_ft, models / "toyworld-vae-ft")):
        save_vae(model, folder)
    tokenizer = make_tokenizer(toyworld.vocabulary(), MAX_TOKENS)

    def save(unet, text_encoder, name):
        pipeline = sd_pipeline(*copy.deepcopy((unet, vae, text_encoder)), tokenizer)
        pipeline.to(torch.float16).save_pretrained(models / name, safe_serialization=True)
        # Weights in float16 keep the package small, but transformers loads a model in the dtype its config
        # names while diffusers loads in float32: the guide's plain from_pretrained would mix the two.
        config = models / name / "text_encoder" / "config.json"
        config.write_text(config.read_text().replace('"dtype": "float16"', '"dtype": "float32"'))
        forget_source_paths(models / name)

    def saved_unet_and_text_encoder() -> tuple:
        return (UNet2DConditionModel.from_pretrained(models / "toyworld" / "unet", dtype=torch.float32),
                CLIPTextModel.from_pretrained(models / "toyworld" / "text_encoder", dtype=torch.float32))

    if "unet" in phases:
        unet, text_encoder = train_unet(vae, tokenizer, log, lambda u, t: save(u, t, "toyworld-early"))
        save(unet, text_encoder, "toyworld")
    if "unet-ft" in phases:
        for run in range(len(UNET_FT_STEPS)):
            save(*train_unet_further(*saved_unet_and_text_encoder(), vae, tokenizer, log, run), "toyworld")
    if "guidance" in phases:
        save(*distil_guidance(*saved_unet_and_text_encoder(), vae, tokenizer, log), "toyworld")
    if not {"unet", "unet-ft", "guidance"} & set(phases):
        # The base VAE may be new; the pipelines that carry it get it (the latents, and so their UNets, are the same).
        for name in ("toyworld", "toyworld-early"):
            save_vae(vae, models / name / "vae")
    if "tiny" in phases:
        tiny = train_tiny_decoder(models, log)
        tiny.to(torch.float16).save_pretrained(models / "toyworld-taesd", safe_serialization=True)
        # diffusers records the decoder's channels a second time as block_out_channels, then warns on every load
        # that the key is unexpected.
        config = json.loads((models / "toyworld-taesd" / "config.json").read_text())
        config.pop("block_out_channels")
        (models / "toyworld-taesd" / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    write_log(models / "toyworld" / "training_log.csv", log)
    print(f"trained {', '.join(phases)} in {(time.time() - started) / 60:.1f} minutes; wrote {models}")


def write_log(path: Path, log: list) -> None:
    """The losses of every phase: this run's, and an earlier run's for the phases this one did not train."""
    trained = {row["phase"] for row in log}
    if path.exists():
        with open(path, newline="") as file:
            log = [row for row in csv.DictReader(file) if row["phase"] not in trained] + log
    order = ["scorer", "vae", "vae decoder", "vae decoder (further)", "vae-ft (decoder)", "unet + text encoder",
             "unet + text encoder (further)", "unet + text encoder (further 2)", "guidance", "tiny decoder"]
    log.sort(key=lambda row: order.index(row["phase"]) if row["phase"] in order else len(order))  # stable: by step
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, ["phase", "step", "loss"])
        writer.writeheader()
        writer.writerows(log)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=MODELS,
                        help="folder for the models (default: the package's)")
    parser.add_argument("--smoke", action="store_true", help="a few steps of each phase, to check the script runs")
    parser.add_argument("--from", dest="first_phase", choices=PHASES, default=PHASES[0],
                        help="first phase to train; earlier ones are read from the folder (default: all)")
    parser.add_argument("--to", dest="last_phase", choices=PHASES, default=PHASES[-1],
                        help="last phase to train (default: all)")
    arguments = parser.parse_args()
    if PHASES.index(arguments.last_phase) < PHASES.index(arguments.first_phase):
        parser.error(f"--to {arguments.last_phase} comes before --from {arguments.first_phase}")
    if arguments.smoke:
        (SCORER_STEPS, VAE_STEPS, DECODER_STEPS, VAE_FT_STEPS, UNET_STEPS, EARLY_STEP, UNET_FT_STEPS, GUIDANCE_STEPS,
         TINY_STEPS) = (3, 3, (2, 2), 2, 4, 2, (3, 3), 2, 2)
    main(arguments.out, arguments.first_phase, arguments.last_phase)
