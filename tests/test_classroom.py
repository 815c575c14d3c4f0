"""The classroom kit: the real nbgrader on the notebooks, `sdtutorial check` on this machine, handouts in a browser."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from safetensors.torch import load_file, save_file

from sdtutorial.classroom import is_graded, is_solution, student_version, write_handouts
from sdtutorial.loading import MODELS_DIR

from conftest import CHROMIUM, CHROMIUM_FLAGS, NOTEBOOKS

SDTUTORIAL = [sys.executable, "-m", "sdtutorial.cli"]
ASSIGNMENT = "speed"
NOTEBOOK = "01_speed"


def nbgrader(root: Path, *args: str) -> None:
    command = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}", "--Execute.timeout=600"]
    # nbgrader runs its database migrations with the `alembic` command, which lies beside this Python.
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


# A student may change the parameters cell (nbgrader locks only the exercise cells); the exercises ignore it, so
# the submissions run the lesson on short settings: autograde runs each one whole, at the defaults 3 minutes each.
QUICK_PARAMETERS = ('num_inference_steps, fast_steps, repeats, quality_prompts, real_scale_model = '
                    '4, 4, 1, 2, "tiny-random"')


def submit(root: Path, student: str, released: nbformat.NotebookNode, solutions: dict[str, str]) -> None:
    """A student's submission: the released notebook with `solutions` (grade_id -> source) written in."""
    submission = nbformat.from_dict(released)
    for cell in submission.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = solutions[grade_id]
        if "parameters" in cell.metadata.get("tags", []):
            cell.source += "\n" + QUICK_PARAMETERS
    folder = root / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(submission, folder / f"{NOTEBOOK}.ipynb")


@pytest.mark.extended
@pytest.mark.slow
def test_nbgrader_releases_without_solutions_and_grades_right_and_wrong_answers(tmp_path):
    from nbgrader.api import Gradebook

    source = nbformat.read(NOTEBOOKS / f"{NOTEBOOK}.ipynb", as_version=4)
    (tmp_path / "source" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(source, tmp_path / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    nbgrader(tmp_path, "generate_assignment", ASSIGNMENT, "--force")

    released = nbformat.read(tmp_path / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    assert "BEGIN SOLUTION" not in nbformat.writes(released)
    ours = [cell.source for cell in student_version(source).cells if is_solution(cell)]
    theirs = [cell.source for cell in released.cells if is_solution(cell)]
    assert ours == theirs and len(theirs) == 2, "sdtutorial handout must clear solutions exactly as nbgrader does"

    reference = {cell.metadata.nbgrader.grade_id: cell.source for cell in source.cells if is_solution(cell)}
    swap = "exercise_pipeline.scheduler = EulerDiscreteScheduler.from_config(exercise_pipeline.scheduler.config)\n"
    assert swap in reference["01-euler-answer"]
    wrong_scheduler = reference | {"01-euler-answer": reference["01-euler-answer"].replace(swap, "")}
    submit(tmp_path, "ada", released, reference)
    submit(tmp_path, "bob", released, wrong_scheduler)
    nbgrader(tmp_path, "autograde", ASSIGNMENT, "--create")

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        full = gradebook.find_submission(ASSIGNMENT, "ada")
        wrong = gradebook.find_submission(ASSIGNMENT, "bob")
        assert full.max_score == 3
        assert full.score == full.max_score
        euler = gradebook.find_grade("01-euler-check", NOTEBOOK, ASSIGNMENT, "bob")
        assert (euler.score, euler.max_score) == (0, 1)
        assert wrong.score == full.max_score - 1


def test_student_version_stubs_solutions_and_clears_exercise_outputs_only():
    teacher = nbformat.read(NOTEBOOKS / "03_quality.ipynb", as_version=4)
    student = student_version(teacher)
    for before, after in zip(teacher.cells, student.cells, strict=True):
        if is_solution(before):
            assert "### BEGIN SOLUTION" in before.source and "### BEGIN SOLUTION" not in after.source
            assert after.source.endswith("# YOUR CODE HERE\nraise NotImplementedError()")
        if is_solution(before) or is_graded(before):
            assert after.outputs == []
        else:
            assert after == before
    nbformat.validate(student)


@pytest.mark.extended
@pytest.mark.slow
def test_check_says_ready_on_this_machine():
    done = subprocess.run([*SDTUTORIAL, "check"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[-1] == "ready"
    assert lines[0].startswith("sdtutorial ") and "torch " in lines[0]
    assert "reference images: 2 of 2 match the shipped ones" in done.stdout


@pytest.fixture
def toyworld_copy(tmp_path) -> Path:
    folder = tmp_path / "toyworld"
    shutil.copytree(MODELS_DIR / "toyworld", folder)
    return folder


@pytest.mark.extended
@pytest.mark.slow
def test_check_with_a_changed_model_file_is_one_line_and_exit_1(toyworld_copy):
    weights = toyworld_copy / "unet" / "diffusion_pytorch_model.safetensors"
    tensors = load_file(weights)
    name = next(key for key in tensors if key.endswith("conv_in.weight"))
    tensors[name] = tensors[name] * 1.05  # as a bad download or an edit would change it
    save_file(tensors, weights)
    done = subprocess.run([*SDTUTORIAL, "check", "--model", str(toyworld_copy)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"not ready: {toyworld_copy}'s seeded images differ from the shipped references (01_speed float32, "
        "04_next_steps baseline): its files or the library versions are not the tested ones; reinstall the tested "
        "versions (make .venv/installed, or pip install -r requirements.lock)"
    ]


@pytest.mark.extended
@pytest.mark.slow
def test_check_with_a_missing_model_file_is_one_line_and_exit_1(toyworld_copy):
    (toyworld_copy / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    done = subprocess.run([*SDTUTORIAL, "check", "--model", str(toyworld_copy)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    [line] = done.stdout.splitlines()
    assert line.startswith(f"not ready: {toyworld_copy} does not run: ")
    assert line.endswith("reinstall the tested versions (make .venv/installed, or pip install -r requirements.lock)")


@pytest.mark.extended
@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize(("language", "heading"), [("en", "Try it yourself"), ("ar", "جرّب بنفسك")])
def test_handouts_open_in_a_browser_with_images_and_without_solutions(tmp_path, language, heading):
    from playwright.sync_api import sync_playwright

    index = write_handouts(tmp_path / "handouts", solutions=True, language=language)
    names = sorted(path.stem for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for name in names:
        assert (tmp_path / "handouts" / f"{name}.ipynb").is_file()
        assert (tmp_path / "handouts" / "solutions" / f"{name}.html").is_file()
    with sync_playwright() as playwright:
        executable = CHROMIUM or playwright.chromium.executable_path
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(index.as_uri())
            assert page.locator("tr").count() == len(names) + 1
            page.get_by_role("link", name="student (HTML)").first.click()
            page.wait_for_load_state()
            assert page.url.endswith(f"/{names[0]}.html")
            text = page.locator("body").inner_text()
            assert "YOUR CODE HERE" in text and "BEGIN SOLUTION" not in text
            assert heading in text
            direction = page.locator(".jp-RenderedMarkdown p").first.evaluate("p => getComputedStyle(p).direction")
            assert direction == ("rtl" if language == "ar" else "ltr")
            images = page.locator("img[src^='data:image']")
            assert images.count() >= 1, "the lesson's images must be embedded in the page"
            assert images.first.evaluate("image => image.naturalWidth") > 0
            page.go_back()
            page.get_by_role("link", name="solutions (HTML)").first.click()
            page.wait_for_load_state()
            assert "BEGIN SOLUTION" in page.locator("body").inner_text()
            page.goto((tmp_path / "handouts" / "05_playground.html").as_uri())  # its picture is a file beside it
            page.wait_for_load_state()
            widths = page.eval_on_selector_all("img", "images => images.map(image => image.naturalWidth)")
            assert widths and all(width > 0 for width in widths), widths
        finally:
            browser.close()
