"""The package as a user installs it: a wheel in a fresh virtual environment runs a notebook."""

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from sdtutorial.cli import main

from conftest import ROOT


def test_an_empty_notebook_folder_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sdtutorial.notebooks.NOTEBOOKS_DIR", tmp_path)
    assert main(["run", "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"sdtutorial: error: no notebooks (NN_name.ipynb) in {tmp_path}\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.extended
@pytest.mark.slow
def test_a_wheel_install_runs_a_notebook(tmp_path):
    run = lambda *command, **kwargs: subprocess.run(command, capture_output=True, text=True, **kwargs)  # noqa: E731
    dist, source = tmp_path / "dist", tmp_path / "source"  # a copy: pip builds in place and leaves build/ behind
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "runs", "build", "*.egg-info"))
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", dist, source)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("sdtutorial-*.whl"))
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", "--without-pip", venv).returncode == 0
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    # The package comes from the wheel alone; its dependencies from this environment, as a plain path (so that
    # this checkout's editable install, which a .pth file there sets up, stays out).
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = run(sys.executable, "-m", "pip", "install", "--no-deps", "--target", site, wheel)
    assert installed.returncode == 0, installed.stderr[-2000:]

    parameters = ["-p", "num_inference_steps", "10", "-p", "fast_steps", "5", "-p", "repeats", "1",
                  "-p", "quality_prompts", "1"]
    done = run(python, "-m", "sdtutorial.cli", "run", "speed", *parameters, "-o", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert (tmp_path / "out" / "01_speed.ipynb").is_file() and "| 01_speed | ok |" in done.stdout
    where = run(python, "-c", "import sdtutorial.notebooks as n; print(n.NOTEBOOKS_DIR)", cwd=tmp_path).stdout
    assert Path(where.strip()).is_relative_to(site)
