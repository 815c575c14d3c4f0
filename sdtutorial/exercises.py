"""Exercises that check themselves: `check(exercise_id, answer)` says right, or what is wrong and a hint.

A number answer is stored as a salted hash in exercise_answers.json, as nbgrader's hashed tests store
theirs, so reading the file does not give it away. An image answer is stored as the block colors of
the expected images (a 16x16 thumbnail tells nothing of the code that makes it) and checked as the
notebooks check their images, within `fingerprint.TOLERANCE`, so other CPU instruction sets and
thread counts pass and a visible slip does not. Typical wrong answers are stored the same way, each
with its hint. Every exercise runs on the embedded toyworld model in float32 on the CPU.

`make references` recomputes the stored file from EXERCISES (`write_answers`).
"""

import base64
import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL, DiffusionPipeline, schedulers

from .evaluate import NEGATIVE_PROMPT, evaluation_prompts, generate
from .files import write_json
from .fingerprint import BLOCK, as_array, images_block_means
from .loading import DEFAULT_PROMPT, fetch_model, load_vae
from .messages import NOT_YET, RIGHT, not_yet_message, right_message, translate
from .references import differing_images
from .scorer import mean_scores

ANSWERS_FILE = Path(__file__).parent / "exercise_answers.json"
IMAGE_SIZE = 64  # toyworld's own image size
# As many as 06_beyond_the_guide's step sweep. The search starts at 1: DPMSolver at 4 steps already scores as PNDM
# at 50 does, and a search whose first count is the answer teaches nothing (and has no count that is too few).
FEWEST_STEPS_PROMPTS = 16
FEWEST_STEPS_RANGE = range(1, 51)


class NotYetRight(AssertionError):
    """A wrong answer; an AssertionError, so nbgrader's autograder counts the test cell as failed."""


@dataclasses.dataclass(frozen=True)
class Render:
    """Images of toyworld made the plain diffusers way: what an image exercise asks for, or a typical slip."""

    prompt: str
    seeds: tuple[int, ...]
    scheduler: str = "DPMSolverMultistepScheduler"
    steps: int = 20
    guidance_scale: float = 7.5
    negative_prompt: str | None = None
    checkpoint: str = "toyworld"
    vae: str | None = None  # another embedded autoencoder swapped into the pipeline
    scheduler_options: tuple[tuple[str, object], ...] = ()
    scheduler_defaults: bool = False  # the scheduler built with its own defaults, not from the pipeline's config
    one_generator: bool = False  # one generator for the whole batch, seeded with the first seed

    def images(self) -> list:
        pipeline, scheduler_config = _pipeline(self.checkpoint)
        scheduler_class = getattr(schedulers, self.scheduler)
        options = dict(self.scheduler_options)
        pipeline.scheduler = (scheduler_class(**options) if self.scheduler_defaults
                              else scheduler_class.from_config(scheduler_config, **options))
        pipeline.vae = _autoencoder(self.vae or f"{self.checkpoint}/vae")
        if self.one_generator:
            generator = torch.Generator().manual_seed(self.seeds[0])
        else:
            generator = [torch.Generator().manual_seed(seed) for seed in self.seeds]
        return pipeline(
            [self.prompt] * len(self.seeds),
            negative_prompt=[self.negative_prompt] * len(self.seeds) if self.negative_prompt else None,
            generator=generator,
            num_inference_steps=self.steps,
            guidance_scale=self.guidance_scale,
        ).images


@functools.cache
def _pipeline(checkpoint: str) -> tuple[DiffusionPipeline, dict]:
    """A pipeline shared by the renders, and its own scheduler's config, which each render builds from afresh
    (a render that swaps in a scheduler with other options must not pass them on to the next)."""
    pipeline = DiffusionPipeline.from_pretrained(fetch_model(checkpoint), use_safetensors=True)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline, pipeline.scheduler.config


@functools.cache
def _autoencoder(name: str):
    """An embedded autoencoder by name, or a pipeline's own as "<pipeline>/vae"."""
    if name.endswith("/vae"):
        return AutoencoderKL.from_pretrained(fetch_model(name.removesuffix("/vae")), subfolder="vae")
    return load_vae(name, device="cpu", dtype="float32")


def unet_megabytes(dtype: torch.dtype = torch.bfloat16, unit: float = 1e6, whole_pipeline: bool = False) -> float:
    """Megabytes the weights of toyworld's UNet (or of its whole pipeline) take in `dtype`, one decimal."""
    pipeline, _ = _pipeline("toyworld")
    modules = [pipeline.unet, pipeline.vae, pipeline.text_encoder] if whole_pipeline else [pipeline.unet]
    count = sum(p.numel() for module in modules for p in module.parameters())
    return round(count * torch.finfo(dtype).bits / 8 / unit, 1)


def fewest_steps() -> int:
    """Fewest DPMSolverMultistep steps whose adherence on the first evaluation prompts is within 0.02 of PNDM 50's."""
    prompts = evaluation_prompts(FEWEST_STEPS_PROMPTS)
    pipeline = DiffusionPipeline.from_pretrained(fetch_model("toyworld"), use_safetensors=True)
    pipeline.set_progress_bar_config(disable=True)
    target = mean_scores(generate(pipeline, prompts, 50), prompts)["adherence"]
    pipeline.scheduler = schedulers.DPMSolverMultistepScheduler.from_config(pipeline.scheduler.config)
    for steps in FEWEST_STEPS_RANGE:
        if mean_scores(generate(pipeline, prompts, steps), prompts)["adherence"] >= target - 0.02:
            return steps
    return FEWEST_STEPS_RANGE[-1]


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise: its notebook and points, how to make the right answer, and typical slips with their hints."""

    id: str
    notebook: str
    points: int
    practises: str
    right: Callable[[], object]
    mistakes: dict[str, Callable[[], object]]  # hint -> the answer that slip gives
    hint: str  # for a wrong answer that is none of the typical slips
    images: int = 0  # how many images the answer holds; 0 for a number
    # For a number searched for in a range: the hints for a number below the right one, and above it.
    search: tuple[range, str, str] | None = None

    def answers(self) -> dict:
        """The stored form: the right answer's key, and each slip's key with its hint."""
        right_answer = self.right()
        right = stored_key(self.id, right_answer)
        mistakes = {}
        for hint, slip in self.mistakes.items():
            key = stored_key(self.id, slip())
            if not same_answer(self, key, right):  # a slip that gives the right answer has nothing to teach
                mistakes.setdefault(key, hint)
        if self.search:
            numbers, below, above = self.search
            for n in numbers:
                if n != right_answer:
                    mistakes[stored_key(self.id, n)] = below if n < right_answer else above
        return {"right": right, "mistakes": mistakes}


def _render(**fields) -> Callable[[], list]:
    return lambda: Render(**fields).images()


EULER = {"prompt": DEFAULT_PROMPT, "seeds": (7,), "scheduler": "EulerDiscreteScheduler", "steps": 25}
GENERATORS = {"prompt": "a small blue square at the top right on a pink background", "seeds": (10, 11, 12, 13)}
FINE_TUNED_VAE = {"prompt": DEFAULT_PROMPT, "seeds": (0, 1, 2, 3), "vae": "toyworld-vae-ft"}
NEGATIVE = {"prompt": "a small green circle at the bottom left on white", "seeds": (5, 6),
            "negative_prompt": NEGATIVE_PROMPT}
TINY_DECODER = {"prompt": DEFAULT_PROMPT, "seeds": (0, 1), "vae": "toyworld-taesd"}
# At 12 steps with Karras sigmas the image is already the one 20 or 25 steps draw (the same fingerprint), so a wrong
# step count is no slip a learner could be told of.
KARRAS = {"prompt": "a big purple triangle in the middle on gray", "seeds": (3,), "steps": 12,
          "scheduler_options": (("use_karras_sigmas", True),)}


def _exercises() -> list[Exercise]:
    return [
        Exercise(
            "01-euler", "01_speed", 1, "swapping the scheduler with from_config, seeding a generator",
            _render(**EULER),
            {
                "wrong seed: this is the image of seed 0; seed the generator with 7":
                    _render(**EULER | {"seeds": (0,)}),
                "wrong scheduler: this is PNDM's image, the pipeline's own; set pipeline.scheduler to an "
                "EulerDiscreteScheduler": _render(**EULER | {"scheduler": "PNDMScheduler"}),
                "wrong scheduler: EulerAncestralDiscreteScheduler adds fresh noise at each step; the task asks for "
                "EulerDiscreteScheduler": _render(**EULER | {"scheduler": "EulerAncestralDiscreteScheduler"}),
                "scheduler built with its own defaults: make it with EulerDiscreteScheduler.from_config("
                "pipeline.scheduler.config), so it keeps the noise schedule the model was trained with":
                    _render(**EULER | {"scheduler_defaults": True}),
                "wrong number of steps: the task asks for 25 (num_inference_steps)":
                    _render(**EULER | {"steps": 20}),
                "wrong number of steps: the task asks for 25 (num_inference_steps), not 50":
                    _render(**EULER | {"steps": 50}),
            },
            "not the expected image: check the prompt, seed 7, EulerDiscreteScheduler from the pipeline's config, "
            "25 steps, float32 on the CPU",
            images=1,
        ),
        Exercise(
            "01-fewest-steps", "01_speed", 2, "measuring quality against speed with the scorer",
            fewest_steps,
            {},
            "not a step count between 1 and 50 that the search can give: try each count from 1 up and stop at the "
            "first whose adherence is at least PNDM 50's minus 0.02",
            search=(FEWEST_STEPS_RANGE,
                    "too few: at this many steps adherence falls more than 0.02 below PNDM 50's",
                    "not the fewest: fewer steps also keep adherence within 0.02 of PNDM 50's"),
        ),
        Exercise(
            "02-generators", "02_memory", 1, "one generator per image in a batch, as the guide's get_inputs makes",
            _render(**GENERATORS),
            {
                "one generator drew the whole batch: give each image its own generator, seeded 10, 11, 12 and 13":
                    _render(**GENERATORS | {"one_generator": True}),
                "every image has seed 10: seed the generators 10, 11, 12 and 13":
                    _render(**GENERATORS | {"seeds": (10, 10, 10, 10)}),
                "wrong seeds: these are seeds 0 to 3; the task asks for 10 to 13":
                    _render(**GENERATORS | {"seeds": (0, 1, 2, 3)}),
                "wrong scheduler: this is PNDM's batch; the task asks for DPMSolverMultistepScheduler":
                    _render(**GENERATORS | {"scheduler": "PNDMScheduler"}),
            },
            "not the expected batch: check the prompt, one generator per image seeded 10 to 13, "
            "DPMSolverMultistepScheduler at 20 steps",
            images=4,
        ),
        Exercise(
            "02-unet-megabytes", "02_memory", 1, "what a dtype does to the memory weights take",
            unet_megabytes,
            {
                "that is the size in float32: load the UNet with dtype=torch.bfloat16":
                    lambda: unet_megabytes(torch.float32),
                "that is in MiB (2**20 bytes); the task counts megabytes of 10**6 bytes":
                    lambda: unet_megabytes(unit=2**20),
                "that counts every component of the pipeline; the task asks for the UNet alone":
                    lambda: unet_megabytes(whole_pipeline=True),
            },
            "not the UNet's size in bfloat16: count each parameter's elements times 2 bytes, in units of 10**6 "
            "bytes, rounded to one decimal",
        ),
        Exercise(
            "03-vae", "03_quality", 1, "swapping a pipeline's VAE for a fine-tuned one",
            _render(**FINE_TUNED_VAE),
            {
                "these are the base VAE's images: assign the loaded AutoencoderKL to pipeline.vae":
                    _render(**FINE_TUNED_VAE | {"vae": None}),
                "this is the tiny decoder (toyworld-taesd); the task asks for the fine-tuned VAE toyworld-vae-ft":
                    _render(**FINE_TUNED_VAE | {"vae": "toyworld-taesd"}),
                "this is the early checkpoint (toyworld-early); keep the toyworld pipeline and swap only its VAE":
                    _render(**FINE_TUNED_VAE | {"checkpoint": "toyworld-early"}),
            },
            "not the expected images: check the prompt, seeds 0 to 3, DPMSolverMultistepScheduler at 20 steps "
            "and pipeline.vae = the toyworld-vae-ft AutoencoderKL",
            images=4,
        ),
        Exercise(
            "03-negative", "03_quality", 1, "steering away from a look with a negative prompt",
            _render(**NEGATIVE),
            {
                "no negative prompt: pass negative_prompt to the pipeline call": _render(**NEGATIVE | {
                    "negative_prompt": None}),
                "the negative words went into the prompt itself; pass them as negative_prompt": _render(**NEGATIVE | {
                    "prompt": f"{NEGATIVE['prompt']}, {NEGATIVE_PROMPT}", "negative_prompt": None}),
                "guidance_scale 1 turns classifier-free guidance off, and the negative prompt with it; keep 7.5":
                    _render(**NEGATIVE | {"guidance_scale": 1.0}),
            },
            "not the expected images: check the prompt, seeds 5 and 6, negative_prompt, DPMSolverMultistepScheduler "
            "at 20 steps, guidance 7.5",
            images=2,
        ),
        Exercise(
            "04-tiny-decoder", "04_next_steps", 1, "decoding with a tiny autoencoder",
            _render(**TINY_DECODER),
            {
                "these are the full VAE's images: set pipeline.vae to the AutoencoderTiny toyworld-taesd":
                    _render(**TINY_DECODER | {"vae": None}),
                "this is the fine-tuned VAE (toyworld-vae-ft); the task asks for the tiny decoder toyworld-taesd":
                    _render(**TINY_DECODER | {"vae": "toyworld-vae-ft"}),
            },
            "not the expected images: check the prompt, seeds 0 and 1, DPMSolverMultistepScheduler at 20 steps and "
            "pipeline.vae = AutoencoderTiny from toyworld-taesd",
            images=2,
        ),
        Exercise(
            "04-karras", "04_next_steps", 1, "changing a scheduler's options through from_config",
            _render(**KARRAS),
            {
                "no Karras sigmas: pass use_karras_sigmas=True to from_config":
                    _render(**KARRAS | {"scheduler_options": ()}),
                "scheduler built with its own defaults: make it with DPMSolverMultistepScheduler.from_config("
                "pipeline.scheduler.config, use_karras_sigmas=True), so it keeps the model's noise schedule":
                    _render(**KARRAS | {"scheduler_defaults": True}),
                "wrong scheduler: this is PNDM's image; the task asks for DPMSolverMultistepScheduler":
                    _render(**KARRAS | {"scheduler": "PNDMScheduler", "scheduler_options": ()}),
            },
            "not the expected image: check the prompt, seed 3, DPMSolverMultistepScheduler.from_config(..., "
            "use_karras_sigmas=True) and 12 steps",
            images=1,
        ),
    ]


EXERCISES = {exercise.id: exercise for exercise in _exercises()}


def as_images(answer) -> list | None:
    """An image answer as a list of images: a pipeline's output, one image, or a list of them; None if it is not."""
    answer = getattr(answer, "images", answer)
    if hasattr(answer, "convert") or (hasattr(answer, "ndim") and answer.ndim == 3):
        return [answer]
    if isinstance(answer, list | tuple) or (hasattr(answer, "ndim") and answer.ndim == 4):
        return list(answer)
    return None


def stored_key(exercise_id: str, answer) -> str:
    """How an answer is stored: a number as a salted hash of it to one decimal; images as their block colors, the
    BLOCK x BLOCK sums of 8-bit values (exact integers for IMAGE_SIZE images), base64-encoded."""
    if isinstance(answer, int | float) and not isinstance(answer, bool):
        return hashlib.sha256(f"sdtutorial:{exercise_id}:{float(answer):.1f}".encode()).hexdigest()[:16]
    sums = np.rint(images_block_means(as_images(answer)) * BLOCK**2).astype("<u2")
    return base64.b64encode(sums.tobytes()).decode()


def stored_means(exercise: Exercise, key: str) -> np.ndarray:
    """The block means of the images an image exercise's stored key holds."""
    side = IMAGE_SIZE // BLOCK
    sums = np.frombuffer(base64.b64decode(key), dtype="<u2").reshape(exercise.images, side, side, 3)
    return sums.astype(np.float32) / BLOCK**2


def same_answer(exercise: Exercise, key: str, stored: str) -> bool:
    """Whether two stored keys are the same answer: equal hashes, or images within the tolerance."""
    if not exercise.images:
        return key == stored
    return not differing_images(stored_means(exercise, key), stored_means(exercise, stored))


NO_ANSWER = "no answer yet: run your solution cell first"
NOT_A_NUMBER = "expected a number, got {kind}"
NOT_IMAGES = "expected images (a list, or the pipeline's output), got {kind}"
IMAGE_COUNT = ("expected 1 image, got {count}", "expected {expected} images, got {count}")
IMAGE_SIZE_PROBLEM = ("wrong image size: {width}x{height}; toyworld draws {size}x{size}, so leave height and width "
                      "out")


def form_problem(exercise: Exercise, answer) -> str | None:
    """What is wrong with the form of an answer (missing, not a number, wrong count or size of images), if anything,
    in the language in use."""
    if answer is None:
        return translate(NO_ANSWER)
    if not exercise.images:
        if isinstance(answer, bool) or not isinstance(answer, int | float):
            return translate(NOT_A_NUMBER).format(kind=type(answer).__name__)
        return None
    images = as_images(answer)
    if images is None:
        return translate(NOT_IMAGES).format(kind=type(answer).__name__)
    if len(images) != exercise.images:
        return translate(IMAGE_COUNT[exercise.images > 1]).format(expected=exercise.images, count=len(images))
    for image in images:
        height, width, _ = as_array(image).shape
        if (height, width) != (IMAGE_SIZE, IMAGE_SIZE):
            return translate(IMAGE_SIZE_PROBLEM).format(width=width, height=height, size=IMAGE_SIZE)
    return None


def catalog_messages() -> list[str]:
    """Every English message `check()` can print, as the message catalogs (sdtutorial/locale/) translate them."""
    messages = [*RIGHT, NOT_YET, NO_ANSWER, NOT_A_NUMBER, NOT_IMAGES, *IMAGE_COUNT, IMAGE_SIZE_PROBLEM]
    for exercise in EXERCISES.values():
        messages += [*exercise.mistakes, exercise.hint, *(exercise.search or ())[1:]]
    return list(dict.fromkeys(messages))


@functools.cache
def stored_answers() -> dict:
    return json.loads(ANSWERS_FILE.read_text())


def check(exercise_id: str, answer) -> None:
    """Print one line if `answer` is right; else raise NotYetRight saying what is wrong, with a hint; both in the
    language of `messages.use_language`."""
    if exercise_id not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise_id!r}; exercises: {', '.join(EXERCISES)}")
    exercise = EXERCISES[exercise_id]
    problem = form_problem(exercise, answer)
    if problem is None:
        stored = stored_answers()[exercise_id]
        key = stored_key(exercise_id, answer)
        if same_answer(exercise, key, stored["right"]):
            print(right_message(exercise_id, exercise.points))
            return
        slips = (hint for slip, hint in stored["mistakes"].items() if same_answer(exercise, key, slip))
        problem = translate(next(slips, exercise.hint))
    raise NotYetRight(not_yet_message(exercise_id, problem))


def write_answers(path: Path = ANSWERS_FILE) -> dict:
    """Recompute every exercise's stored answers into `path` (part of `make references`)."""
    from tqdm.auto import tqdm

    answers = {id_: exercise.answers() for id_, exercise in tqdm(EXERCISES.items(), desc="exercises", unit="exercise")}
    write_json(path, answers, sort_keys=True)
    stored_answers.cache_clear()
    return answers
