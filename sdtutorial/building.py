"""What the scripts that build the embedded models share (scripts/make_tiny_random.py, scripts/train_toyworld.py)."""

from diffusers import PNDMScheduler, StableDiffusionPipeline
from tokenizers.pre_tokenizers import ByteLevel
from transformers import CLIPTokenizer

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


def make_tokenizer(words: list[str], max_length: int) -> CLIPTokenizer:
    """A byte-level CLIP BPE tokenizer: any text tokenizes byte by byte, each of `words` as one token.

    Written here because CLIP's real vocabulary cannot be downloaded; the embedded models need only
    the words of their prompts.
    """
    chars = sorted(ByteLevel.alphabet())
    vocab = chars + [c + "</w>" for c in chars]
    merges = []
    for word in sorted(set(words)):
        token = word[0]
        for i, c in enumerate(word[1:], start=1):
            nxt = c + "</w>" if i == len(word) - 1 else c
            merges.append((token, nxt))
            token += nxt
            if token not in vocab:
                vocab.append(token)
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(
        vocab={t: i for i, t in enumerate(vocab)}, merges=list(dict.fromkeys(merges)), model_max_length=max_length
    )


def sd_pipeline(unet, vae, text_encoder, tokenizer) -> StableDiffusionPipeline:
    """A StableDiffusionPipeline of these components with PNDM and SD v1.5's config, without safety checker."""
    return StableDiffusionPipeline(
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
