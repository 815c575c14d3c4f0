"""Shared fixtures: paths, a papermill runner and the committed reference results."""

import os
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest

from sdtutorial.notebooks import without_exercises
from sdtutorial.results import read_results

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
# Half-precision images must stay this close to the float32 ones (PSNR, dB), under PNDM 50 and the fast scheduler.
# Seeds 0-11 of 01's prompt, 2026-12-03 (unet-ft's second run), Zen 4 EPYC: 35.8-45.6 dB for PNDM under avx512,
# avx2 and default, 39.9-49.7 for DPMSolver 20. (Before toyworld's guidance phase PNDM gave 11.3-36.9 dB and went
# unchecked.)
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
def run_notebook(tmp_path, monkeypatch):
    """Execute a notebook with papermill into tmp_path, optionally under extra environment variables.

    The exercises at the end (the cells with nbgrader markup) are left out unless `exercises` is true: their
    answers do not depend on the parameters, and nbval and tests/test_exercises.py check them.
    """

    def run(name: str, env: dict | None = None, exercises: bool = False, **parameters) -> dict:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        if not exercises:
            notebook = without_exercises(notebook)
        source = tmp_path / f"{name}-source-{len(os.listdir(tmp_path))}.ipynb"
        nbformat.write(notebook, source)
        output = tmp_path / f"{name}-{len(os.listdir(tmp_path))}.ipynb"
        papermill.execute_notebook(
            str(source), str(output), parameters=parameters, kernel_name="python3", progress_bar=False,
            cwd=str(tmp_path),
        )
        return read_results(nbformat.read(output, as_version=4))

    return run
