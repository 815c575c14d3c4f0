"""Shared fixtures: paths, a papermill runner and the committed reference results."""

import os
import shutil
from pathlib import Path

import nbformat
import pytest

from sdtutorial.notebooks import without_exercises
from sdtutorial.references import load_references
from sdtutorial.results import read_results
from sdtutorial.runner import execute_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
# Half-precision images must stay this close to the float32 ones (PSNR, dB), under PNDM 50 and the fast scheduler:
# bfloat16 rounds differently on each instruction set, so those images are compared by distance, not by reference.
HALF_PSNR_FLOOR = 30.0
# The browser tests' Chromium: SDTUTORIAL_CHROMIUM, else Debian's chromium, else Playwright's own build; make test
# gets one (scripts/ensure_browser.sh).
CHROMIUM = os.environ.get("SDTUTORIAL_CHROMIUM") or shutil.which("chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def notebooks_dir() -> Path:
    return NOTEBOOKS


@pytest.fixture
def reference_results():
    """Results recorded in a committed notebook's reference outputs."""

    def read(name: str) -> dict:
        return read_results(nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4))

    return read


@pytest.fixture
def stored_references():
    """The block colors of a notebook's reference images (sdtutorial/references), by key."""
    return load_references


@pytest.fixture
def run_notebook(tmp_path, monkeypatch):
    """Execute a notebook with papermill into tmp_path, optionally under extra environment variables and with
    `threads` CPU threads (torch.set_num_threads in a first cell: OMP_NUM_THREADS cannot go above the cores).

    The exercises at the end (the cells with nbgrader markup) are left out unless `exercises` is true: their
    answers do not depend on the parameters, and nbval and tests/test_exercises.py check them.
    """

    def run(name: str, env: dict | None = None, exercises: bool = False, threads: int | None = None,
            **parameters) -> dict:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        if not exercises:
            notebook = without_exercises(notebook)
        if threads:
            notebook.cells.insert(0, nbformat.v4.new_code_cell(f"import torch\ntorch.set_num_threads({threads})"))
        output = tmp_path / f"{name}-{len(os.listdir(tmp_path))}.ipynb"
        execute_notebook(notebook, output, parameters, cwd=tmp_path)
        return read_results(nbformat.read(output, as_version=4))

    return run


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the browser tests (the one scripts/ensure_browser.sh finds), closed after the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        executable = CHROMIUM or playwright.chromium.executable_path
        assert Path(executable).is_file(), f"no browser at {executable}: run scripts/ensure_browser.sh"
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


# For each code span (in <bdi>) with a word on either side on its line: the character before it in reading order
# must lie to its right and the character after it to its left, as an Arabic reader reads.
IN_READING_ORDER = """(selector) => {
    const box = (node, index) => {
        const range = document.createRange();
        range.setStart(node, index);
        range.setEnd(node, index + 1);
        return range.getBoundingClientRect();
    };
    const results = [];
    for (const bdi of document.querySelectorAll(selector + " bdi")) {
        const before = bdi.previousSibling, after = bdi.nextSibling;
        if (!before || !after || before.nodeType !== 3 || after.nodeType !== 3) continue;
        const last = before.textContent.search(/\\S\\s*$/), first = after.textContent.search(/\\S/);
        if (last < 0 || first < 0) continue;
        const span = bdi.getBoundingClientRect(), left = box(before, last), right = box(after, first);
        if (Math.abs(left.top - span.top) > 3 || Math.abs(right.top - span.top) > 3) continue;  // wrapped lines
        results.push([left.left >= span.right - 1 && right.right <= span.left + 1, bdi.textContent]);
    }
    return results;
}"""


def inline_code_in_reading_order(page, selector: str) -> int:
    """How many code spans were checked; fails naming any that sits out of its sentence's order."""
    results = page.evaluate(IN_READING_ORDER, selector)
    assert [text for ok, text in results if not ok] == []
    return len(results)
