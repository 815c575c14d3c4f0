"""The notebooks' reference images, kept as block colors, and the line each notebook prints against them.

`make references` runs every notebook with SDTUTORIAL_WRITE_REFERENCES set to a folder, where each
`ReferenceImages.check` then stores the block means of the images it is shown (<notebook>.npz), and
moves that file into references/ once the notebook has run to the end. Any other run
compares: it prints whether each image is within the tolerance of `fingerprint.same_images` of its
reference. That line is the same on every CPU for an unchanged notebook, so nbval compares it; the
fingerprints printed below it are for people and are masked for nbval (tests/nbval-sanitize.cfg).
"""

import io
import os
from pathlib import Path

import numpy as np

from .files import write_atomically
from .fingerprint import TOLERANCE, block_difference, fingerprint, images_block_means

REFERENCES_DIR = Path(__file__).parent / "references"
WRITE_VARIABLE = "SDTUTORIAL_WRITE_REFERENCES"


def reference_file(notebook: str) -> Path:
    return REFERENCES_DIR / f"{notebook}.npz"


def load_references(notebook: str) -> dict[str, np.ndarray]:
    """A notebook's stored block means: key -> array of shape (images, rows, columns, 3); empty if none."""
    path = reference_file(notebook)
    if not path.exists():
        return {}
    with np.load(path) as stored:
        return {key: stored[key] for key in stored.files}


def differing_images(means: np.ndarray, reference: np.ndarray) -> list[int]:
    """Indices of the images whose block means differ from the reference's by more than TOLERANCE; every index
    when the counts or sizes differ."""
    if means.shape != reference.shape:
        return list(range(len(means)))
    return [i for i, (a, b) in enumerate(zip(means, reference, strict=True)) if block_difference(a, b) > TOLERANCE]


class ReferenceImages:
    """Checks a notebook's seeded images against its stored references, one key (a set of images) at a time."""

    def __init__(self, notebook: str):
        self.notebook = notebook
        self.write_to = os.environ.get(WRITE_VARIABLE)  # a folder while `make references` runs the notebook
        self.stored = {} if self.write_to else load_references(notebook)
        self.differences: dict[str, list[int] | None] = {}  # key -> images unlike the reference; None: no reference

    def check(self, key: str, images: list) -> None:
        """Print one line saying whether `images` are the reference's, then their fingerprints; record the indices
        of those that differ in `differences` (None when nothing is stored for `key`)."""
        means = images_block_means(images).astype(np.float32)
        if self.write_to:
            self.stored[key] = means
            self.save(Path(self.write_to) / reference_file(self.notebook).name)
        count = f"{len(images)} image{'s' * (len(images) != 1)}"
        if key not in self.stored:
            differing, verdict = None, f"{count}, no reference stored for {key!r}"
        else:
            reference = self.stored[key]
            differing = differing_images(means, reference)
            if means.shape != reference.shape:
                verdict = f"{count} of shape {means.shape[1:]}, unlike the reference's {len(reference)} of " \
                          f"shape {reference.shape[1:]}"
            elif differing:
                largest = max(block_difference(means[i], reference[i]) for i in differing)
                verb = "differs" if len(differing) == 1 else "differ"
                verdict = (f"{len(differing)} of {count} {verb} from the reference (made with the default parameters): "
                           f"images {', '.join(map(str, differing))}, a block's mean color off by up to {largest:.1f} "
                           "steps")
            else:
                verdict = f"{count}, the same as the reference"
        self.differences[key] = differing
        print(f"{key}: {verdict}")
        print("  fingerprints:", " ".join(fingerprint(images)))

    def save(self, path: Path) -> None:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **self.stored)
        write_atomically(path, buffer.getvalue())
