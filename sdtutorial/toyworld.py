"""A synthetic world of simple scenes with captions, drawn from seeds: what the toyworld models learned.

A scene is one shape (its kind, color, size and position) on a plain background, sometimes
degraded (blurred, noisy or washed out). Captions come from a small grammar with synonyms and
mention a random part of the scene; a degraded scene's caption says so only some of the time,
and a clean scene's caption sometimes carries quality words, as captions of real photos do. That
is what gives quality words and negative prompts a real effect on a model trained on it.
"""

import random
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

IMAGE_SIZE = 64
SHAPES = {"circle": ("circle", "disk", "round shape"), "square": ("square", "box"),
          "triangle": ("triangle",), "star": ("star",)}
COLORS = {"red": (215, 35, 35), "orange": (250, 140, 20), "yellow": (240, 215, 30),
          "green": (40, 165, 60), "blue": (35, 80, 225), "purple": (140, 50, 180)}
BACKGROUNDS = {"white": (245, 245, 245), "black": (20, 20, 20), "gray": (128, 128, 128), "pink": (250, 185, 200)}
SIZES = {"small": ("small", "little", "tiny"), "large": ("large", "big", "huge")}
POSITIONS = {"center": ("in the center", "in the middle"), "top left": ("in the top left corner", "at the top left"),
             "top right": ("in the top right corner", "at the top right"),
             "bottom left": ("in the bottom left corner", "at the bottom left"),
             "bottom right": ("in the bottom right corner", "at the bottom right")}
DEGRADATIONS = {"clean": (), "blur": ("blurry", "blurred", "out of focus"), "noise": ("noisy", "grainy"),
                "low contrast": ("low contrast", "washed out", "faded")}
QUALITY_WORDS = ("sharp", "detailed", "high quality", "crisp")
ATTRIBUTES = {"shape": tuple(SHAPES), "color": tuple(COLORS), "background": tuple(BACKGROUNDS),
              "size": tuple(SIZES), "position": tuple(POSITIONS), "degradation": tuple(DEGRADATIONS)}
# What a caption names about the scene (degradation is a matter of quality, scored apart).
PROMPT_ATTRIBUTES = ("shape", "color", "background", "size", "position")
# Color and shape pairs that never appear in training, to see whether the model combines what it learned.
HELD_OUT_PAIRS = (("red", "star"), ("blue", "circle"), ("green", "triangle"), ("yellow", "square"))

RADIUS = {"small": 9, "large": 16}
CENTERS = {"center": (32, 32), "top left": (18, 18), "top right": (46, 18),
           "bottom left": (18, 46), "bottom right": (46, 46)}
DEGRADED_SHARE = 0.45
DEGRADATION_NAMED = 0.6
QUALITY_WORDS_ON_CLEAN = 0.5
MENTION = {"color": 0.9, "background": 0.75, "size": 0.6, "position": 0.6}
SUPERSAMPLE = 4


@dataclass(frozen=True)
class Scene:
    """One scene: its attribute values, and the shape's offset in pixels from its position's center."""

    shape: str
    color: str
    background: str
    size: str
    position: str
    degradation: str = "clean"
    dx: int = 0
    dy: int = 0

    def attributes(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in ATTRIBUTES}


def random_scene(rng: random.Random, held_out: str = "exclude") -> Scene:
    """A random scene; `held_out` is "exclude" (training), "include" or "only" (held-out pairs only)."""
    while True:
        shape, color = rng.choice(ATTRIBUTES["shape"]), rng.choice(ATTRIBUTES["color"])
        is_held_out = (color, shape) in HELD_OUT_PAIRS
        if held_out == "include" or (held_out == "exclude") != is_held_out:
            break
    degradation = "clean"
    if rng.random() < DEGRADED_SHARE:
        degradation = rng.choice(ATTRIBUTES["degradation"][1:])
    return Scene(shape, color, rng.choice(ATTRIBUTES["background"]), rng.choice(ATTRIBUTES["size"]),
                 rng.choice(ATTRIBUTES["position"]), degradation, rng.randint(-3, 3), rng.randint(-3, 3))


def _polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "square":
        s = r * 0.85
        return [(cx - s, cy - s), (cx + s, cy - s), (cx + s, cy + s), (cx - s, cy + s)]
    if shape == "triangle":
        return [(cx, cy - r), (cx + r * 0.95, cy + r * 0.7), (cx - r * 0.95, cy + r * 0.7)]
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.42
        angle = -np.pi / 2 + i * np.pi / 5
        points.append((cx + radius * np.cos(angle), cy + radius * np.sin(angle)))
    return points


def draw(scene: Scene, rng: random.Random | None = None) -> Image.Image:
    """The scene as a 64x64 RGB image; `rng` draws the noise of a noisy scene (seeded from the scene if None)."""
    scale = SUPERSAMPLE
    canvas = Image.new("RGB", (IMAGE_SIZE * scale,) * 2, BACKGROUNDS[scene.background])
    pen = ImageDraw.Draw(canvas)
    cx, cy = CENTERS[scene.position]
    cx, cy, r = (cx + scene.dx) * scale, (cy + scene.dy) * scale, RADIUS[scene.size] * scale
    if scene.shape == "circle":
        pen.ellipse([cx - r, cy - r, cx + r, cy + r], fill=COLORS[scene.color])
    else:
        pen.polygon(_polygon(scene.shape, cx, cy, r), fill=COLORS[scene.color])
    image = canvas.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX)
    if scene.degradation == "blur":
        return image.filter(ImageFilter.GaussianBlur(2.0))
    pixels = np.asarray(image, dtype=np.float32) / 255
    if scene.degradation == "noise":
        rng = rng or random.Random(repr(scene))
        noise = np.random.default_rng(rng.getrandbits(32)).normal(0, 0.12, pixels.shape)
        pixels = pixels + noise.astype(np.float32)
    elif scene.degradation == "low contrast":
        pixels = 0.55 + (pixels - 0.55) * 0.3
    else:
        return image
    return Image.fromarray((pixels.clip(0, 1) * 255 + 0.5).astype(np.uint8))


def caption(scene: Scene, rng: random.Random, quality_words: bool = True) -> str:
    """A caption from the grammar that names the shape and a random part of the rest of the scene.

    With `quality_words` False it never says anything of the image's quality, good or bad.
    """
    words = []
    if rng.random() < MENTION["size"]:
        words.append(rng.choice(SIZES[scene.size]))
    if rng.random() < MENTION["color"]:
        words.append(scene.color)
    words.append(rng.choice(SHAPES[scene.shape]))
    text = _article(words[0]) + " " + " ".join(words)
    if rng.random() < MENTION["position"]:
        text += " " + rng.choice(POSITIONS[scene.position])
    if rng.random() < MENTION["background"]:
        text += rng.choice((f" on a {scene.background} background", f" on {scene.background}"))
    if not quality_words:
        return text
    if scene.degradation != "clean" and rng.random() < DEGRADATION_NAMED:
        word = rng.choice(DEGRADATIONS[scene.degradation])
        text = rng.choice((f"{_article(word)} {word} photo of {text}", f"{text}, {word}"))
    elif scene.degradation == "clean" and rng.random() < QUALITY_WORDS_ON_CLEAN:
        text += ", " + ", ".join(rng.sample(QUALITY_WORDS, rng.randint(1, 3)))
    return text


def degradation_caption(scene: Scene, rng: random.Random) -> str:
    """A caption of a degraded scene that names only its degradation ("blurry", "grainy, noisy"), as captions of
    bad photos often say nothing else. Such captions give a negative prompt of degradation words a meaning of its
    own, "a degraded image of anything". Steering away from it can still move the content: away from "low contrast"
    moves colors and backgrounds (see 03_quality)."""
    if scene.degradation == "clean":
        raise ValueError("a clean scene has no degradation to name")
    synonyms = DEGRADATIONS[scene.degradation]
    return ", ".join(rng.sample(synonyms, rng.randint(1, min(2, len(synonyms)))))


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def sample(seed: int, held_out: str = "exclude") -> tuple[Scene, str, Image.Image]:
    """Scene, caption and image number `seed`: the same every time."""
    rng = random.Random(seed)
    scene = random_scene(rng, held_out)
    return scene, caption(scene, rng), draw(scene, rng)


def prompt_attributes(prompt: str) -> dict[str, str]:
    """What a prompt asks for: the attributes of PROMPT_ATTRIBUTES it names (background named with "background"
    or "on <color>"), read with the grammar's synonyms. Words it does not know are ignored."""
    text = " " + re.sub(r"[^a-z ]", " ", prompt.lower()) + " "
    found = {}
    for name in BACKGROUNDS:
        if f" {name} background " in text or f" on {name} " in text:
            found["background"] = name
            text = text.replace(f" {name} background ", " ").replace(f" on {name} ", " ")
    for attribute, table in (("shape", SHAPES), ("size", SIZES), ("position", POSITIONS)):
        for value, synonyms in table.items():
            if any(f" {word} " in text for word in synonyms):
                found[attribute] = value
    for color in COLORS:
        if f" {color} " in text:
            found["color"] = color
    return found


def vocabulary() -> list[str]:
    """Every word the grammar uses, for a tokenizer that keeps each as one token."""
    phrases = [*COLORS, *BACKGROUNDS, *QUALITY_WORDS, "a", "an", "photo", "of", "on", "background"]
    for table in (SHAPES, SIZES, POSITIONS, DEGRADATIONS):
        phrases += [phrase for synonyms in table.values() for phrase in synonyms]
    return sorted({word for phrase in phrases for word in phrase.split()})
