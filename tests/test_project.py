"""The project's own files: one lock of versions, ranges that admit it, clean code and notebooks."""

import subprocess
import sys
import tomllib

import nbformat
import yaml
from packaging.requirements import Requirement

from conftest import ROOT


def locked() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pins = [Requirement(line) for line in lines if line and not line.startswith("#")]
    return {pin.name.lower(): str(pin.specifier) for pin in pins}


def test_lock_pins_exact_versions_including_cpu_torch():
    pins = locked()
    assert all(spec.startswith("==") for spec in pins.values())
    assert pins["torch"] == "==2.13.0"


def test_environment_yml_installs_exactly_the_lock():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(dep["pip"] for dep in environment["dependencies"] if isinstance(dep, dict))
    pins = [Requirement(line) for line in pip_section if not line.startswith("-e")]
    assert {pin.name.lower(): str(pin.specifier) for pin in pins} == locked()
    assert "python=3.11" in environment["dependencies"]


def test_pyproject_ranges_admit_the_locked_versions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = locked()
    for line in project["dependencies"] + project["optional-dependencies"]["test"]:
        requirement = Requirement(line)
        version = pins[requirement.name.lower()].removeprefix("==")
        assert requirement.specifier.contains(version), f"{line} excludes the locked {version}"


def test_ruff_finds_nothing():
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "sdtutorial", "tests", "scripts", "notebooks"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_lesson_cells_are_short_enough_to_read():
    """Code cells, the parameters cell aside (papermill reads each parameter from one line), keep lines within the
    120 characters the package keeps: a lesson shows the guide's calls, and a reader scrolling sideways misses them."""
    long_lines = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", []):
                long_lines += [f"{path.stem} cell {index}: {line[:60]}..." for line in cell.source.splitlines()
                               if len(line) > 120]
    assert long_lines == []
