"""The exercises: reference solutions pass their checks, typical slips get their own hints, odd answers clear ones."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sdtutorial.exercises import (
    EXERCISES,
    IMAGE_SIZE,
    NotYetRight,
    check,
    same_answer,
    stored_answers,
    stored_key,
    stored_means,
)


def blank(size: int = IMAGE_SIZE, value: int = 0) -> Image.Image:
    return Image.fromarray(np.full((size, size, 3), value, dtype=np.uint8))


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_the_solution_passes_and_each_slip_gets_its_hint(exercise_id, capsys):
    """Also fails when the stored answers are stale (after a retrain): the right answer is made afresh here."""
    exercise = EXERCISES[exercise_id]
    right = exercise.right()
    check(exercise_id, right)
    assert capsys.readouterr().out == f"{exercise_id}: right ({exercise.points} point{'s' * (exercise.points > 1)})\n"

    slips = {hint: slip() for hint, slip in exercise.mistakes.items()}
    if exercise.search:
        numbers, too_few, too_many = exercise.search
        slips |= {hint: n for hint, n in ((too_few, right - 1), (too_many, right + 1)) if n in numbers}
    assert len(slips) >= 2, f"{exercise_id} needs at least two typical wrong answers with hints"
    for hint, answer in slips.items():
        assert not same_answer(exercise, stored_key(exercise_id, answer), stored_key(exercise_id, right)), \
            f"this slip gives the right answer: {hint}"
        with pytest.raises(NotYetRight, match="^" + re.escape(f"{exercise_id}: not yet: {hint}") + "$"):
            check(exercise_id, answer)


@pytest.mark.slow
def test_the_check_holds_on_another_instruction_set_and_thread_count():
    code = ("from sdtutorial.exercises import EXERCISES, check; "
            "check('02-generators', EXERCISES['02-generators'].right())")
    env = os.environ | {"ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "02-generators: right (1 point)\n"


@pytest.mark.parametrize(
    ("exercise_id", "answer", "problem"),
    [
        ("01-euler", None, "no answer yet: run your solution cell first"),
        ("01-euler", [blank(96)], "wrong image size: 96x96; toyworld draws 64x64, so leave height and width out"),
        ("02-generators", [blank()] * 3, "expected 4 images, got 3"),
        ("02-generators", "four images", "expected images (a list, or the pipeline's output), got str"),
        ("02-unet-megabytes", [blank()], "expected a number, got list"),
        ("02-unet-megabytes", True, "expected a number, got bool"),
    ],
)
def test_answers_of_the_wrong_form_say_what_is_wrong(exercise_id, answer, problem):
    with pytest.raises(NotYetRight, match="^" + re.escape(f"{exercise_id}: not yet: {problem}") + "$"):
        check(exercise_id, answer)


def test_an_unforeseen_wrong_answer_gets_the_exercise_hint():
    with pytest.raises(NotYetRight) as raised:
        check("03-negative", [blank(value=10), blank(value=200)])
    assert str(raised.value) == f"03-negative: not yet: {EXERCISES['03-negative'].hint}"


def test_numbers_are_stored_as_hashes_and_images_as_block_colors():
    stored = stored_answers()
    assert set(stored) == set(EXERCISES)
    for exercise_id, answers in stored.items():
        exercise = EXERCISES[exercise_id]
        for key in [answers["right"], *answers["mistakes"]]:
            if exercise.images:  # 16x16 block colors per image, within 0-255
                means = stored_means(exercise, key)
                assert means.shape == (exercise.images, 16, 16, 3) and 0 <= means.min() <= means.max() <= 255
            else:
                assert re.fullmatch("[0-9a-f]{16}", key)
    # A number's hash is salted with the exercise: the same number hashes differently in another exercise.
    assert stored_key("01-fewest-steps", 12) != stored_key("02-unet-megabytes", 12)


def test_an_image_answer_one_step_off_in_a_few_pixels_is_right_and_a_tint_is_not(capsys):
    """What another CPU does to an image (a few 8-bit values one step off) passes; a tint a person sees does not."""
    exercise = EXERCISES["04-karras"]
    right = np.stack([np.asarray(image) for image in exercise.right()]).astype(int)
    rounded = right.copy()
    rounded[0, 10:13, 20, 0] += np.where(rounded[0, 10:13, 20, 0] < 255, 1, -1)
    check("04-karras", [Image.fromarray(image.astype(np.uint8)) for image in rounded])
    assert capsys.readouterr().out == "04-karras: right (1 point)\n"
    tinted = np.clip(right + 8, 0, 255).astype(np.uint8)
    with pytest.raises(NotYetRight, match=re.escape(exercise.hint)):
        check("04-karras", [Image.fromarray(image) for image in tinted])


def test_an_unknown_exercise_is_refused():
    with pytest.raises(ValueError, match="unknown exercise '01-nope'; exercises: 01-euler, "):
        check("01-nope", 3)


def test_a_pipeline_output_a_single_image_and_a_list_are_stored_alike():
    image = blank(value=40)

    class Output:
        images = [image]

    assert stored_key("01-euler", Output()) == stored_key("01-euler", image) == stored_key("01-euler", [image])


def test_every_exercise_is_in_its_notebook_with_nbgrader_markup(notebooks_dir):
    import nbformat

    for exercise in EXERCISES.values():
        notebook = nbformat.read(notebooks_dir / f"{exercise.notebook}.ipynb", as_version=4)
        graded = {cell.metadata["nbgrader"]["grade_id"]: cell for cell in notebook.cells
                  if cell.metadata.get("nbgrader", {}).get("grade")}
        cell = graded[f"{exercise.id}-check"]
        assert f'check("{exercise.id}", ' in cell.source
        assert cell.metadata["nbgrader"]["points"] == exercise.points
        assert cell.metadata["nbgrader"]["locked"] is True

