"""Ctrl-C or SIGTERM stops a command within seconds, leaves no kernel behind and says in one line what was kept."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from sdtutorial.files import write_atomically, write_json

pytestmark = pytest.mark.slow
SDTUTORIAL = [sys.executable, "-m", "sdtutorial.cli"]
STOP_WITHIN = 5.0  # seconds from the signal to the exit


def started_by(pid: int) -> list[psutil.Process]:
    """Processes still running that `pid` started, found by the parent's pid that kernels carry in their
    environment (JPY_PARENT_PID), so kernels that outlived their parent and went to init count too."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("JPY_PARENT_PID") == str(pid):
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    return found


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def stop_mid_run(arguments: list[str], ready, signum: int, timeout: float = 300) -> tuple[int, float, str, int]:
    """Start `sdtutorial ARGUMENTS` in its own process group, wait until `ready(pid)`, signal the group as a
    terminal's Ctrl-C does; return the exit status, the seconds it took to exit, its stderr and its pid."""
    command = subprocess.Popen([*SDTUTORIAL, *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        wait_for(lambda: ready(command.pid) or command.poll() is not None, timeout, "the command to reach its work")
        assert command.poll() is None, f"ended before the signal: {command.communicate()}"
        os.killpg(command.pid, signum)
        signalled = time.monotonic()
        _, stderr = command.communicate(timeout=60)
        return command.returncode, time.monotonic() - signalled, stderr, command.pid
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)


def kernel_running(pid: int) -> bool:
    return any("ipykernel" in " ".join(p.cmdline()) for p in started_by(pid))


@pytest.mark.extended
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_run_stops_mid_notebook_and_keeps_what_finished(tmp_path, signum, status):
    out = tmp_path / "run"

    def second_notebook_running(pid):  # 05_playground finishes first, then a kernel runs 04_next_steps' cells
        return (out / "summary.json").exists() and kernel_running(pid)

    code, seconds, stderr, pid = stop_mid_run(["run", "05_playground", "04_next_steps", "-o", str(out)],
                                              second_notebook_running, signum)
    assert code == status, stderr
    assert seconds < STOP_WITHIN
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[-1] == (f"sdtutorial run: stopped; notebooks finished: 05_playground, kept in {out} (summary.json); "
                         "to run the rest: sdtutorial run 04_next_steps [the same parameters]")
    summary = json.loads((out / "summary.json").read_text())
    assert [entry["notebook"] for entry in summary] == ["05_playground"]
    time.sleep(0.5)
    assert started_by(pid) == []


@pytest.mark.extended
def test_evaluate_stops_at_once_and_writes_nothing(tmp_path):
    out, started = tmp_path / "evaluation", time.monotonic()
    code, seconds, stderr, _ = stop_mid_run(["evaluate", "--prompts", "64", "-o", str(out)],
                                            lambda pid: time.monotonic() - started > 10, signal.SIGINT)
    assert code == 130, stderr
    assert seconds < STOP_WITHIN
    assert stderr.strip().splitlines()[-1] == ("sdtutorial evaluate: stopped; nothing was written; run the same "
                                               "command again")
    assert not out.exists()


def test_a_file_written_whole_is_the_old_or_the_new_never_half(tmp_path):
    path = tmp_path / "summary.json"
    write_json(path, {"notebooks": ["01_speed"]})

    class Failing(str):
        def encode(self, *_):
            raise KeyboardInterrupt  # a Ctrl-C in the middle of writing

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, Failing())
    assert json.loads(path.read_text()) == {"notebooks": ["01_speed"]}
    assert [p.name for p in Path(tmp_path).iterdir()] == ["summary.json"]  # no temporary file left
