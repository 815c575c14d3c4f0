"""Shared fixtures: paths, a papermill runner and the committed reference results."""

import os
from pathlib import Path

import nbformat
import papermill
import pytest

from sdtutorial.results import read_results

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
# Half-precision images must stay this close to the float32 ones (PSNR, dB); the committed run gives about 45.
HALF_PSNR_FLOOR = 30.0


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
    """Execute a notebook with papermill into tmp_path, optionally under extra environment variables."""

    def run(name: str, env: dict | None = None, **parameters) -> dict:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        output = tmp_path / f"{name}-{len(os.listdir(tmp_path))}.ipynb"
        papermill.execute_notebook(
            str(NOTEBOOKS / f"{name}.ipynb"), str(output), parameters=parameters, kernel_name="python3",
            progress_bar=False, cwd=str(tmp_path),
        )
        return read_results(nbformat.read(output, as_version=4))

    return run
