"""The project's own files: one lock of versions, ranges that admit it, clean code and notebooks."""

import subprocess
import sys
import tomllib

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
