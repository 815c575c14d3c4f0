"""Find the tutorial's notebooks, check parameters, run them with papermill and collect their results."""

import importlib.resources
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
import papermill
import yaml

from .files import write_atomically, write_json, write_notebook
from .loading import first_line
from .messages import check_language
from .parameters import check_parameter
from .references import WRITE_VARIABLE, reference_file
from .results import read_results
from .runner import execute_in_place, execute_notebook
from .stopping import progress

# notebooks/ in a checkout; inside the installed package otherwise (pyproject.toml maps one onto the other).
NOTEBOOKS_DIR = Path(str(importlib.resources.files("sdtutorial.notebook_files")))


def notebooks_folder(language: str = "en") -> Path:
    """Where the notebooks of a language's edition are: NOTEBOOKS_DIR for English, NOTEBOOKS_DIR/<language> else."""
    return NOTEBOOKS_DIR if check_language(language) == "en" else NOTEBOOKS_DIR / language


def available_notebooks(folder: Path | None = None) -> list[Path]:
    """The tutorial's notebooks (in `folder`, by default NOTEBOOKS_DIR), in order; raise if there are none."""
    folder = folder or NOTEBOOKS_DIR
    notebooks = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no notebooks (NN_name.ipynb) in {folder}")
    return notebooks


def copy_notebooks(destination: Path, folder: Path | None = None) -> list[Path]:
    """Copy the tutorial's notebooks into `destination` to open them in Jupyter (existing notebooks are kept) and
    the pictures their text shows (images/)."""
    destination.mkdir(parents=True, exist_ok=True)
    copied = []
    for notebook in available_notebooks(folder):
        if not (destination / notebook.name).exists():
            copied.append(Path(shutil.copy2(notebook, destination)))
    copy_images(destination, folder)
    return copied


def copy_images(destination: Path, folder: Path | None = None) -> None:
    """Copy the pictures the notebooks' text shows (images/ beside them) into `destination`/images."""
    images = (folder or NOTEBOOKS_DIR) / "images"
    if images.is_dir():
        shutil.copytree(images, destination / "images", dirs_exist_ok=True)


def find_notebooks(names: list[str], folder: Path | None = None) -> list[Path]:
    """Resolve names such as `01_speed`, `speed`, `01` or a path; no names means all notebooks."""
    notebooks = available_notebooks(folder)
    if not names:
        return notebooks
    found = []
    for name in names:
        if Path(name).is_file():
            found.append(Path(name))
            continue
        stem = Path(name).stem
        matches = [nb for nb in notebooks if stem in (nb.stem, nb.stem[:2], nb.stem[3:])]
        if not matches:
            known = ", ".join(nb.stem for nb in notebooks)
            raise ValueError(f"unknown notebook {name!r}; available: {known}")
        found.extend(matches)
    return found


def notebook_parameters(path: Path) -> dict[str, dict]:
    """Parameters of a notebook's `parameters` cell: name -> default, type and comment."""
    return papermill.inspect_notebook(str(path))


def parse_value(text: str):
    """A command-line value as YAML would read it: `20` is an int, `cpu` a string, `[4, 8]` a list."""
    return yaml.safe_load(text)


def check_parameters(notebooks: list[Path], params: dict) -> None:
    """Refuse, before any notebook runs, parameters that no chosen notebook has or whose values are bad."""
    known = {name for nb in notebooks for name in notebook_parameters(nb)}
    for name, value in params.items():
        if name not in known:
            raise ValueError(f"unknown parameter {name!r}; accepted: {', '.join(sorted(known))}")
        check_parameter(name, value, params)


def without_exercises(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook without its exercise cells (those with nbgrader markup), whose answers no parameter changes."""
    notebook.cells = [cell for cell in notebook.cells if "nbgrader" not in cell.metadata]
    return notebook


def export_html(notebook_path: Path) -> Path:
    """Write an executed notebook next to itself as a self-contained HTML page, images included."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(notebook_path))
    return write_atomically(notebook_path.with_suffix(".html"), body)


def run_notebook(path: Path, out_dir: Path, params: dict, progress_bar: bool = True) -> dict:
    """Run one notebook with papermill into `out_dir`; return its summary entry (never raises on a cell error)."""
    own = {k: v for k, v in params.items() if k in notebook_parameters(path)}
    output = out_dir / path.name
    start = time.perf_counter()
    entry = {"notebook": path.stem, "output": str(output), "parameters": own}
    try:
        execute_notebook(path, output, own, cwd=out_dir, progress_bar=progress_bar)
        entry["status"] = "ok"
    except papermill.PapermillExecutionError as error:
        entry["status"] = "failed"
        entry["error"] = f"cell {error.exec_count}: {error.ename}: {(error.evalue.splitlines() or [''])[0]}"
    except Exception as error:  # a dead kernel or a timeout: record it and go on with the next notebook
        entry["status"] = "failed"
        entry["error"] = f"{type(error).__name__}: {first_line(error)}"
    entry["seconds"] = round(time.perf_counter() - start, 2)
    entry["results"] = read_results(nbformat.read(output, as_version=4)) if output.exists() else {}
    return entry


def run_notebooks(notebooks: list[Path], params: dict, out_dir: Path, html: bool = False,
                  language: str = "en") -> list[dict]:
    """Run each notebook in turn, writing `out_dir/summary.json` (whole) after each so nothing is lost on failure;
    `language` is the edition they come from, for the command that runs the rest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = []
    for i, path in enumerate(notebooks, start=1):
        finished = ", ".join(entry["notebook"] for entry in summary) or "none"
        rest = " ".join(nb.stem for nb in notebooks[i - 1 :]) + ("" if language == "en" else f" --lang {language}")
        progress.update(f"notebooks finished: {finished}, kept in {out_dir} (summary.json); "
                        f"to run the rest: sdtutorial run {rest} [the same parameters]")
        print(f"[{i}/{len(notebooks)}] {path.stem}", flush=True)
        summary.append(run_notebook(path, out_dir, params))
        if html and Path(summary[-1]["output"]).exists():
            summary[-1]["html"] = str(export_html(Path(summary[-1]["output"])))
        write_json(out_dir / "summary.json", summary)
    return summary


PROGRESS_BAR = re.compile(r"\d+%\|")


def is_progress_bar(output: dict) -> bool:
    """Whether a cell output is a progress bar: a tqdm widget, or tqdm's text on stderr."""
    if output["output_type"] == "display_data":
        data = output.get("data", {})
        is_widget = "application/vnd.jupyter.widget-view+json" in data
        return is_widget and bool(PROGRESS_BAR.search(data.get("text/plain", "")))
    if output["output_type"] == "stream" and output["name"] == "stderr":
        lines = [line for line in output["text"].replace("\r", "\n").splitlines() if line.strip()]
        return bool(lines) and all(PROGRESS_BAR.search(line) for line in lines)
    return False


def regenerate_reference(path: Path) -> None:
    """Execute a notebook in place with its default parameters, so its outputs and the block colors of the images
    it checks (references/<notebook>.npz) become the references; on failure or Ctrl-C neither changes.

    Progress bars are left out: without the widget state, which is not kept, a reader sees each one
    frozen at 0%.
    """
    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="sdtutorial-references-") as folder:
        os.environ[WRITE_VARIABLE] = folder
        try:
            execute_in_place(notebook, path.parent)
        finally:
            del os.environ[WRITE_VARIABLE]
        written = Path(folder) / reference_file(path.stem).name
        if written.exists():
            write_atomically(reference_file(path.stem), written.read_bytes())
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [output for output in cell.outputs if not is_progress_bar(output)]
    write_notebook(path, notebook)
