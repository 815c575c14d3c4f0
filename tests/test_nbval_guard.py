"""nbval must catch a changed seed: otherwise the reference comparison proves nothing."""

import shutil
import subprocess
import sys

import nbformat
import pytest

from conftest import NOTEBOOKS, ROOT

pytestmark = pytest.mark.slow


def test_nbval_fails_when_a_seed_changes(tmp_path):
    copy = tmp_path / "01_speed.ipynb"
    shutil.copy(NOTEBOOKS / "01_speed.ipynb", copy)
    notebook = nbformat.read(copy, as_version=4)
    parameters = next(cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", []))
    assert "seed = 0  #" in parameters.source and "repeats = 3  #" in parameters.source
    # repeats only saves time: timings are excluded from the comparison
    source = parameters.source.replace("seed = 0  #", "seed = 1  #")
    parameters.source = source.replace("repeats = 3  #", "repeats = 1  #")
    nbformat.write(notebook, copy)

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-c", str(ROOT / "pyproject.toml"), str(copy)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert done.returncode == 1, done.stdout
    assert "2 failed" in done.stdout  # the printed seeds and the reference check
    assert "float32: 1 image, the same as the reference" in done.stdout  # what nbval expected
    assert "float32: 1 of 1 image differs from the reference" in done.stdout  # what it found
