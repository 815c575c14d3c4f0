"""For teachers: `sdtutorial check` (will the notebooks run on this laptop?) and `sdtutorial handout`.

The exercise cells carry nbgrader's markup (### BEGIN SOLUTION / ### END SOLUTION, graded test cells
with points), so nbgrader's generate_assignment and autograde work on the notebooks as they are.
`student_version` clears the solutions the way nbgrader's ClearSolutions does, for handouts without
nbgrader; tests/test_classroom.py checks the two agree.
"""

import ast
import html
import importlib.metadata
import importlib.util
import os
import platform
import time
from pathlib import Path

import nbformat
import psutil
import torch

from .files import write_atomically, write_notebook
from .fingerprint import images_block_means
from .inputs import get_inputs
from .loading import DEFAULT_MODEL, first_line, load_pipeline, resolve_device, set_scheduler
from .messages import RIGHT_TO_LEFT
from .notebooks import available_notebooks, copy_images, notebook_parameters, notebooks_folder
from .references import differing_images, load_references
from .techniques import offload_skip_reason, should_compile, should_run_real_scale, xformers_status

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
MIN_FREE_MEMORY = 2 * 2**30  # toyworld needs well under 1 GiB; below 2 GiB free, the notebooks' larger batches fail
REINSTALL = "reinstall the tested versions (make .venv/installed, or pip install -r requirements.lock)"


# The shipped reference images `check` remakes: notebook -> its reference key and the scheduler it used.
REFERENCES = {"01_speed": ("float32", "PNDMScheduler"), "04_next_steps": ("baseline", "DPMSolverMultistepScheduler")}


class NotReady(Exception):
    """What stops this machine from running the notebooks, in one line with what to do."""


def reference_images(model: str = DEFAULT_MODEL) -> tuple[int, list[str]]:
    """Remake the shipped notebooks' seeded float32 images with `model`; (how many match, which notebooks differ)."""
    matches, differing = 0, []
    notebooks = {path.stem: path for path in available_notebooks()}
    pipeline = load_pipeline(model, device="cpu", dtype="float32")
    pipeline.set_progress_bar_config(disable=True)
    for name, (key, scheduler) in REFERENCES.items():
        defaults = {k: ast.literal_eval(v["default"]) for k, v in notebook_parameters(notebooks[name]).items()
                    if k in ("prompt", "seed", "num_inference_steps")}
        set_scheduler(pipeline, scheduler)
        inputs = get_inputs(defaults["prompt"], 1, defaults["seed"], defaults["num_inference_steps"], pipeline=pipeline)
        if not differing_images(images_block_means(pipeline(**inputs).images), load_references(name)[key]):
            matches += 1
        else:
            differing.append(f"{name} {key}")
    return matches, differing


def optional_parts(device: torch.device) -> list[str]:
    """Which optional parts of the notebooks run here by default, and why not, in the notebooks' own words."""
    compile_now, compile_reason = should_compile("auto", device)
    real_scale_now, real_scale_reason = should_run_real_scale("auto", device)
    offload_reason = offload_skip_reason(device)
    return [
        "torch.compile: " + ("yes" if compile_now else compile_reason),
        "real-scale parts (sd15-arch): " + ("yes" if real_scale_now else real_scale_reason),
        "CPU offloading: " + (offload_reason or "yes"),
        xformers_status(device),
        "playground in JupyterLab: " + ("yes" if has_module("jupyterlab") else "needs pip install sdtutorial[lab]"),
        "nbgrader: " + ("yes" if has_module("nbgrader") else "needs pip install sdtutorial[classroom]"),
    ]


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def machine_check(model: str = DEFAULT_MODEL) -> list[str]:
    """Lines describing this machine, ending in "ready"; raise NotReady when the notebooks cannot run as tested."""
    import diffusers
    import transformers

    started = time.perf_counter()
    device = resolve_device("auto")
    free = psutil.virtual_memory().available
    lines = [
        f"sdtutorial {importlib.metadata.version('sdtutorial')}, python {platform.python_version()}, "
        f"torch {torch.__version__}, diffusers {diffusers.__version__}, transformers {transformers.__version__}",
        f"device: {device}, {os.cpu_count()} CPU cores, ATen {torch.backends.cpu.get_cpu_capability()}, "
        f"{free / 2**30:.1f} GiB memory free",
    ]
    if free < MIN_FREE_MEMORY:
        raise NotReady(f"only {free / 2**30:.1f} GiB memory free; close other programs to free at least 2 GiB")
    try:
        matches, differing = reference_images(model)
    except Exception as error:  # whatever stops the model from loading or running is what the student must hear
        raise NotReady(f"{model} does not run: {first_line(error)}; {REINSTALL}") from error
    if differing:
        raise NotReady(f"{model}'s seeded images differ from the shipped references ({', '.join(differing)}): "
                       f"its files or the library versions are not the tested ones; {REINSTALL}")
    lines.append(f"reference images: {matches} of {len(REFERENCES)} match the shipped ones "
                 f"({time.perf_counter() - started:.1f} s so far)")
    lines += ["optional: " + part for part in optional_parts(device)]
    lines.append("ready")
    return lines


def is_solution(cell) -> bool:
    return cell.get("metadata", {}).get("nbgrader", {}).get("solution", False)


def is_graded(cell) -> bool:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade", False)


def clear_solution(source: str, cell_type: str) -> str:
    """`source` with each BEGIN/END SOLUTION region replaced by the stub, as nbgrader's ClearSolutions does."""
    if BEGIN_SOLUTION not in source:
        return CODE_STUB if cell_type == "code" else TEXT_STUB
    lines, kept, inside = source.split("\n"), [], False
    for line in lines:
        if line.strip() == BEGIN_SOLUTION:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            stub = CODE_STUB if cell_type == "code" else TEXT_STUB
            kept += [indent + stub_line for stub_line in stub.split("\n")]
        elif line.strip() == END_SOLUTION:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def student_version(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `notebook` without solutions: solution regions stubbed, exercise cells' outputs cleared.

    The lesson's own outputs stay, so a handout can be read before it is run.
    """
    student = nbformat.from_dict(notebook)
    for cell in student.cells:
        if is_solution(cell):
            cell.source = clear_solution(cell.source, cell.cell_type)
        if cell.cell_type == "code" and (is_solution(cell) or is_graded(cell)):
            cell.outputs, cell.execution_count = [], None
    return student


def exercise_points(notebook: nbformat.NotebookNode) -> int:
    return sum(cell.metadata.get("nbgrader", {}).get("points", 0) for cell in notebook.cells if is_graded(cell))


def write_handouts(out_dir: Path, solutions: bool = False, language: str = "en") -> Path:
    """Per notebook of the `language` edition, the student version as .ipynb and as HTML with its images, an index
    page; `solutions` adds the teacher's versions in solutions/. Returns the index page."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    folder = notebooks_folder(language)
    for path in available_notebooks(folder):
        teacher = nbformat.read(path, as_version=4)
        versions = [("", student_version(teacher))] + ([("solutions/", teacher)] if solutions else [])
        links = []
        for prefix, notebook in versions:
            (out_dir / prefix).mkdir(exist_ok=True)
            write_notebook(out_dir / f"{prefix}{path.name}", notebook)
            body, _ = exporter.from_notebook_node(notebook)
            write_atomically(out_dir / f"{prefix}{path.stem}.html", body)
            label = "solutions" if prefix else "student"
            links.append(f'<a href="{prefix}{path.stem}.html">{label} (HTML)</a> · '
                         f'<a href="{prefix}{path.name}">{label} (.ipynb)</a>')
        title = teacher.cells[0].source.splitlines()[0].lstrip("# ") if teacher.cells else path.stem
        rows.append(f"<tr><td>{html.escape(path.stem)}</td><td>{html.escape(title)}</td>"
                    f"<td>{exercise_points(teacher)}</td><td>{'<br>'.join(links)}</td></tr>")
    for prefix in ["", "solutions/"] if solutions else [""]:
        copy_images(out_dir / prefix, folder)
    index = out_dir / "index.html"
    direction = "rtl" if language in RIGHT_TO_LEFT else "ltr"
    write_atomically(
        index, f"<!doctype html><html lang='{language}' dir='{direction}'><head><meta charset='utf-8'>"
        "<title>sdtutorial handouts</title></head><body>"
        "<h1>sdtutorial handouts</h1><table border='1' cellpadding='4'>"
        "<tr><th>notebook</th><th>title</th><th>exercise points</th><th>files</th></tr>"
        + "".join(rows) + "</table></body></html>\n")
    return index
