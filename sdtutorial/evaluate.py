"""Measure the trained toyworld models against the guide's claims: `sdtutorial evaluate` (make evaluate).

Every figure comes from prompts and image seeds the training never drew, generated and scored in
one run: adherence (the scorer's share of the prompt's attributes found in the image), the
scorer's clean score and the Laplacian sharpness, reconstruction PSNR, and seconds per image.
"""

import dataclasses
import random
import statistics
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import scorer, toyworld
from .display import grid
from .files import write_atomically, write_image, write_json
from .fingerprint import psnr
from .inputs import check_positive, make_generators
from .loading import MODELS_DIR, load_pipeline, load_vae, set_scheduler
from .quality import sharpness
from .tables import markdown_table
from .timing import time_call

EVALUATION_SEED = 1_000_000_000  # samples and image seeds from here on are never drawn in training
FAST_SCHEDULER = "DPMSolverMultistepScheduler"
QUALITY_SUFFIX = ", sharp, detailed, high quality"
NEGATIVE_PROMPT = "blurry, noisy, low contrast"
GUIDANCE_SCALE = 7.5
READBACK_SCENES = 500  # clean scenes encoded and decoded by the VAE, then read by the scorer
TOYWORLD_MODELS = ("toyworld", "toyworld-early", "toyworld-vae-ft", "toyworld-taesd", "toyworld-scorer")


def evaluation_prompts(count: int, held_out: str = "exclude", quality_words: bool = True) -> list[str]:
    """`count` prompts from the grammar for unseen scenes; held_out="only" keeps those naming a held-out pair."""
    prompts, index = [], 0
    while len(prompts) < count:
        rng = random.Random(EVALUATION_SEED + index)
        index += 1
        scene = toyworld.random_scene(rng, held_out)
        prompt = toyworld.caption(scene, rng, quality_words)
        if held_out != "only" or "color" in toyworld.prompt_attributes(prompt):
            prompts.append(prompt)
    return prompts


def generate(pipeline, prompts: list[str], steps: int, negative_prompt: str | None = None, batch_size: int = 8,
             description: str = "generating", progress: bool = True, **extra) -> list:
    """One image per prompt, image i from seed EVALUATION_SEED + i, guidance GUIDANCE_SCALE.

    `extra` goes to the pipeline as it is (height, width); `progress` False leaves out the bar over batches.
    """
    images = []
    batches = range(0, len(prompts), batch_size)
    for start in tqdm(batches, desc=description, unit="batch", leave=False, disable=not progress):
        chunk = prompts[start : start + batch_size]
        images += pipeline(
            prompt=chunk,
            negative_prompt=[negative_prompt] * len(chunk) if negative_prompt else None,
            generator=make_generators(EVALUATION_SEED + start, len(chunk)),
            num_inference_steps=steps,
            guidance_scale=GUIDANCE_SCALE,
            **extra,
        ).images
    return images


def scores(images: list, prompts: list[str]) -> dict[str, float]:
    """Mean adherence, clean score and Laplacian sharpness of `images`."""
    return scorer.mean_scores(images, prompts) | {"sharpness": statistics.mean(sharpness(images))}


def evaluate(count: int = 200, batch_size: int = 8, device: str = "cpu") -> dict:
    """Every measurement of the toyworld models, as a dict of named results."""
    check_positive("prompts", count)
    check_positive("batch_size", batch_size)
    prompts = evaluation_prompts(count)
    results = {"prompts": count}
    pipeline = load_pipeline("toyworld", device=device, scheduler=FAST_SCHEDULER)
    pipeline.set_progress_bar_config(disable=True)  # hundreds of short calls: one bar per measurement instead
    images = generate(pipeline, prompts, 20, batch_size=batch_size, description="final, DPMSolver 20")
    results["final_dpm20"] = scores(images, prompts)
    results["final_dpm20_by_attribute"] = scorer.attribute_accuracy(images, prompts)
    results["sample_grid"] = (images[:16], prompts[:16])
    held_out = evaluation_prompts(max(count // 2, 1), held_out="only")
    results["final_dpm20_held_out_pairs"] = scores(
        generate(pipeline, held_out, 20, batch_size=batch_size, description="held-out pairs"), held_out
    )
    one_prompt = {"prompt": prompts[0], "num_inference_steps": 20, "guidance_scale": GUIDANCE_SCALE}
    _, timing = time_call(lambda: pipeline(**one_prompt, generator=make_generators(0, 1)), pipeline.device, repeats=5)
    results["seconds_per_image_dpm20"] = timing.median

    plain = evaluation_prompts(count, quality_words=False)
    results["plain_prompt"] = scores(generate(pipeline, plain, 20, batch_size=batch_size, description="plain"), plain)
    with_words = [prompt + QUALITY_SUFFIX for prompt in plain]
    results["quality_words"] = scores(
        generate(pipeline, with_words, 20, batch_size=batch_size, description="quality words"), plain
    )
    results["negative_prompt"] = scores(
        generate(pipeline, plain, 20, NEGATIVE_PROMPT, batch_size, description="negative prompt"), plain
    )

    set_scheduler(pipeline, "PNDMScheduler")
    images = generate(pipeline, prompts, 50, batch_size=batch_size, description="PNDM 50")
    results["final_pndm50"] = scores(images, prompts)
    _, timing = time_call(lambda: pipeline(**one_prompt | {"num_inference_steps": 50}, generator=make_generators(0, 1)),
                          pipeline.device, repeats=5)
    results["seconds_per_image_pndm50"] = timing.median

    base_vae, pipeline.vae = pipeline.vae, load_vae("toyworld-vae-ft", device=device)
    set_scheduler(pipeline, FAST_SCHEDULER)
    images = generate(pipeline, prompts, 20, batch_size=batch_size, description="fine-tuned VAE")
    results["final_dpm20_vae_ft"] = scores(images, prompts)
    pipeline.vae = base_vae

    early = load_pipeline("toyworld-early", device=device, scheduler=FAST_SCHEDULER)
    early.set_progress_bar_config(disable=True)
    images = generate(early, prompts, 20, batch_size=batch_size, description="early checkpoint")
    results["early_dpm20"] = scores(images, prompts)

    originals = world_images(count)
    for name in ("toyworld", "toyworld-vae-ft"):
        vae = pipeline.vae if name == "toyworld" else load_vae(name, device=device)
        results[f"psnr_{name}_vae"] = reconstruction_psnr(vae, originals)
    scenes = [dataclasses.replace(toyworld.random_scene(random.Random(EVALUATION_SEED + 10_000_000 + i), "include"),
                                  degradation="clean") for i in range(READBACK_SCENES)]
    seen = scorer.read(reconstruct(pipeline.vae, [toyworld.draw(scene) for scene in scenes]))
    pairs = list(zip(seen, scenes, strict=True))
    results["vae_readback"] = {name: statistics.mean(s[name] == getattr(scene, name) for s, scene in pairs)
                               for name in toyworld.PROMPT_ATTRIBUTES}
    results["weights_mb"] = sum(f.stat().st_size for name in TOYWORLD_MODELS
                                for f in (MODELS_DIR / name).rglob("*.safetensors")) / 1e6
    return results


def world_images(count: int) -> list:
    """`count` toyworld scenes never drawn in training, held-out pairs included."""
    return [toyworld.sample(EVALUATION_SEED + i, held_out="include")[2] for i in range(count)]


@torch.no_grad()
def reconstruct(vae, originals: list) -> list:
    """`originals` encoded and decoded by `vae` (the latent mean, as a pipeline's decoder sees it), as arrays."""
    pixels = scorer.to_pixels(originals).to(device=vae.device, dtype=vae.dtype)
    decoded = vae.decode(vae.encode(pixels).latent_dist.mean).sample
    return list(((decoded.float().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).cpu().double().numpy())


def reconstruction_psnr(vae, originals: list) -> float:
    """Mean PSNR of `originals` encoded and decoded by `vae`."""
    return statistics.mean(psnr(a, o) for a, o in zip(reconstruct(vae, originals), originals, strict=True))


def report(results: dict) -> str:
    """The measurements as Markdown, each target with its figures and whether it held."""
    final, pndm, early = results["final_dpm20"], results["final_pndm50"], results["early_dpm20"]
    with_vae_ft = results["final_dpm20_vae_ft"]
    plain, words, negative = results["plain_prompt"], results["quality_words"], results["negative_prompt"]
    vae, vae_ft = results["psnr_toyworld_vae"], results["psnr_toyworld-vae-ft_vae"]
    seconds20, seconds50 = results["seconds_per_image_dpm20"], results["seconds_per_image_pndm50"]
    by_attribute, readback = results["final_dpm20_by_attribute"], results["vae_readback"]
    held_out = results["final_dpm20_held_out_pairs"]["adherence"]
    rows = [
        ("final checkpoint, DPMSolver 20, guidance 7.5: adherence >= 0.93", f"{final['adherence']:.3f}",
         final["adherence"] >= 0.93),
        ("every attribute the prompts name is drawn in >= 0.90 of the images",
         ", ".join(f"{name} {share:.2f}" for name, share in by_attribute.items()), min(by_attribute.values()) >= 0.90),
        ("held-out color-shape pairs: adherence >= 0.85", f"{held_out:.3f}", held_out >= 0.85),
        (f"base VAE: attributes read back from {READBACK_SCENES} encoded and decoded clean scenes >= 0.97 each",
         ", ".join(f"{name} {share:.3f}" for name, share in readback.items()), min(readback.values()) >= 0.97),
        ("base VAE reconstruction PSNR >= 30 dB", f"{vae:.2f} dB", vae >= 30),
        ("fine-tuned VAE reconstruction PSNR >= base + 1 dB", f"{vae_ft:.2f} dB vs {vae:.2f} dB", vae_ft >= vae + 1),
        ("fine-tuned VAE in the pipeline: adherence down by no more than 0.02",
         f"{final['adherence']:.3f} -> {with_vae_ft['adherence']:.3f}",
         with_vae_ft["adherence"] >= final["adherence"] - 0.02),
        ("quality words: clean score >= 0.90", f"{words['clean_score']:.3f} (plain prompts {plain['clean_score']:.3f})",
         words["clean_score"] >= 0.90),
        ("quality words: adherence down by no more than 0.02", f"{plain['adherence']:.3f} -> {words['adherence']:.3f}",
         words["adherence"] >= plain["adherence"] - 0.02),
        ("negative prompt raises the clean score", f"{plain['clean_score']:.3f} -> {negative['clean_score']:.3f}",
         negative["clean_score"] > plain["clean_score"]),
        ("negative prompt: adherence down by no more than 0.02",
         f"{plain['adherence']:.3f} -> {negative['adherence']:.3f}",
         negative["adherence"] >= plain["adherence"] - 0.02),
        ("PNDM 50 vs DPMSolver 20: adherence within 0.03",
         f"{pndm['adherence']:.3f} vs {final['adherence']:.3f}", abs(pndm["adherence"] - final["adherence"]) <= 0.03),
        ("PNDM 50 / DPMSolver 20: time ratio", f"{seconds50 / seconds20:.2f}x", None),
        ("earlier checkpoint below the final one in adherence by >= 0.15",
         f"{early['adherence']:.3f} vs {final['adherence']:.3f}", early["adherence"] <= final["adherence"] - 0.15),
        ("quality words / negative prompt: Laplacian sharpness (counts noise as detail)",
         f"{plain['sharpness']:.2f} -> {words['sharpness']:.2f} / {negative['sharpness']:.2f}", None),
        ("one 20-step image (DPMSolver, guidance 7.5) under 0.5 s", f"{seconds20:.3f} s", seconds20 < 0.5),
        ("shipped toyworld weights <= 25 MB", f"{results['weights_mb']:.1f} MB", results["weights_mb"] <= 25),
    ]
    verdict = {None: "-", True: "yes", False: "NO"}
    table = markdown_table(["claim", "measured", "holds"], [[c, value, verdict[holds]] for c, value, holds in rows])
    return f"Toyworld evaluation: {results['prompts']} prompts with unseen seeds\n\n{table}"


def run_evaluation(out_dir: Path, count: int = 200, batch_size: int = 8, device: str = "cpu") -> dict:
    """Evaluate, print the report and write evaluation.json, evaluation.md and samples.png into `out_dir`."""
    results = evaluate(count, batch_size, device)
    images, prompts = results.pop("sample_grid")
    out_dir.mkdir(parents=True, exist_ok=True)
    text = report(results)
    print(text)
    write_atomically(out_dir / "evaluation.md", text + "\n")
    write_json(out_dir / "evaluation.json", results)
    write_image(out_dir / "samples.png", grid(images, cols=4, captions=prompts))
    write_atomically(out_dir / "samples.txt", "\n".join(prompts) + "\n")
    return results
