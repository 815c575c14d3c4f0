"""sdtutorial sweep: points from a grid, checks before anything runs, tables and chart, a real Ray cluster, and that
nothing is lost when a point fails or the sweep is killed."""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from sdtutorial.cli import main
from sdtutorial.notebooks import find_notebooks
from sdtutorial.sweep import POINT_FILE, finished, make_points, parse_grid_option, point_resources, read_sweep_file
from sdtutorial.sweep_report import Axes, choose_axes, choose_y, table_rows, write_sweep_files

BIN = Path(sys.executable).parent
PLAYGROUND = find_notebooks(["playground"])[0]
# The playground generates once with its settings when it runs: the fastest notebook that makes seeded images.
GENERATE = ["-p", "generate_on_start", "true"]


# Every Ray these tests start stays on 127.0.0.1: without this switch Ray swaps a loopback address for the
# machine's own interface address; token authentication stays on, as by default.
# On a fresh machine there is no ~/.ray/auth_token for `ray start` to find (a driver creates one, a cluster does
# not): every Ray process of the tests shares one token of their own instead.
LOOPBACK = os.environ | {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token",
                         "RAY_AUTH_TOKEN": secrets.token_hex(32)}


def sweep(*arguments: str) -> subprocess.CompletedProcess:
    """`sdtutorial sweep` as a user runs it: in its own process, as a local Ray makes its driver a group leader."""
    return subprocess.run([BIN / "sdtutorial", "sweep", *arguments], capture_output=True, text=True, timeout=600,
                          env=LOOPBACK)


def test_grid_options_are_read_as_yaml_values():
    assert parse_grid_option("fast_steps=4,8,20") == ("fast_steps", [4, 8, 20])
    assert parse_grid_option("fast_scheduler=EulerDiscreteScheduler,DDIMScheduler") == (
        "fast_scheduler", ["EulerDiscreteScheduler", "DDIMScheduler"])
    assert parse_grid_option("batch_sizes=[[2, 4], [8]]") == ("batch_sizes", [[2, 4], [8]])
    for bad in ("fast_steps", "fast_steps=", "=4,8"):
        with pytest.raises(ValueError, match="NAME=VALUE"):
            parse_grid_option(bad)


def test_points_are_the_product_then_the_listed_ones_without_duplicates():
    points = make_points({"steps": [4, 8], "scheduler": ["A", "B"]}, [{"steps": 4, "scheduler": "A"}, {"steps": 50}],
                         {"seed": 3})
    assert [p.parameters for p in points] == [
        {"seed": 3, "steps": 4, "scheduler": "A"}, {"seed": 3, "steps": 4, "scheduler": "B"},
        {"seed": 3, "steps": 8, "scheduler": "A"}, {"seed": 3, "steps": 8, "scheduler": "B"},
        {"seed": 3, "steps": 50}]
    assert points[-1].varying == {"steps": 50, "scheduler": None}
    names = [p.name for p in points]
    assert len(set(names)) == 5 and names[0].startswith("steps=4_scheduler=A-")
    assert make_points({"steps": [4]}, [], {"seed": 3})[0].name != make_points({"steps": [4]}, [], {"seed": 4})[0].name
    with pytest.raises(ValueError, match="no points"):
        make_points({}, [], {"seed": 3})


def test_sweep_file(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("grid:\n  fast_steps: [4, 8]\npoints:\n  - {fast_steps: 50}\nparameters:\n  seed: 2\n")
    assert read_sweep_file(str(path)) == ({"fast_steps": [4, 8]}, [{"fast_steps": 50}], {"seed": 2})
    path.write_text("grids:\n  fast_steps: [4]\n")
    with pytest.raises(ValueError, match="unknown key 'grids'"):
        read_sweep_file(str(path))
    path.write_text("grid:\n  fast_steps: 4\n")
    with pytest.raises(ValueError, match="list of values"):
        read_sweep_file(str(path))


@pytest.mark.parametrize(("arguments", "message"), [
    (["--grid", "fast_steps=4,0"], "fast_steps must be an integer of at least 1, got 0"),
    (["--grid", "fast_stepz=4,8"], "unknown parameter 'fast_stepz'"),
    (["--grid", "fast_scheduler=NoSuchScheduler"], "NoSuchScheduler"),
    (["--grid", "fast_steps=4,8", "--x", "seed"], "--x 'seed' is not a parameter the sweep varies"),
    (["--grid", "fast_steps=4,8", "--workers", "0"], "--workers must be at least 1"),
])
def test_bad_points_are_refused_in_one_line_before_anything_runs(tmp_path, capsys, arguments, message):
    assert main(["sweep", "speed", *arguments, "-o", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("sdtutorial: error: ") and message in error and error.count("\n") == 1
    assert not (tmp_path / "out").exists()


def records(*rows):
    """Point records as run_sweep writes them, for (steps, scheduler, status, adherence, seconds) rows."""
    return [{"name": f"p{i}", "varying": {"steps": steps, "scheduler": scheduler}, "status": status,
             "seconds": 1.0 + i, "error": "" if status == "ok" else "cell 3: ValueError: bad",
             "results": {"quality": {"adherence": adherence, "fingerprint": ["ab"]}, "seconds": {"fast": fast}}}
            for i, (steps, scheduler, status, adherence, fast) in enumerate(rows)]


def test_tables_and_chart_of_a_sweep(tmp_path):
    points = make_points({"steps": [4, 8], "scheduler": ["A", "B"]}, [], {})
    x, hue = choose_axes(points)
    assert (x, hue) == ("steps", "scheduler")
    assert choose_axes(points, x="scheduler") == ("scheduler", "steps")
    finished_records = records((4, "A", "ok", 0.5, 0.3), (4, "B", "ok", 0.6, 0.3), (8, "A", "ok", 0.7, 0.5),
                               (8, "B", "failed", None, None))
    columns, rows = table_rows(finished_records)
    assert columns[:5] == ["point", "status", "seconds", "steps", "scheduler"] and columns[-1] == "error"
    # the default panels are the numbers that vary; a failed point's missing numbers do not count
    assert choose_y(rows, None) == ["results.quality.adherence", "results.seconds.fast"]
    assert choose_y(rows, ["quality.adherence"]) == ["results.quality.adherence"]
    with pytest.raises(ValueError, match="those are: quality.adherence, seconds.fast"):
        choose_y(rows, ["adherance"])
    files = write_sweep_files(tmp_path, PLAYGROUND, finished_records, Axes(x, ("results.quality.adherence",), hue))
    assert [f.name for f in files] == ["sweep.csv", "sweep.json", "sweep.md", "sweep.png"]
    assert (tmp_path / "sweep.png").stat().st_size > 5000
    table = (tmp_path / "sweep.md").read_text().splitlines()
    assert table[0] == "| steps | scheduler | quality.adherence | status | seconds | error |"
    assert table[-1] == "| 8 | B |  | failed | 4.000 | cell 3: ValueError: bad |"
    assert '"[""ab""]"' in (tmp_path / "sweep.csv").read_text()  # lists as JSON in the CSV


def test_only_a_successful_run_with_the_same_parameters_counts_as_finished(tmp_path):
    point = make_points({"steps": [4]}, [], {"seed": 1})[0]
    assert finished(tmp_path, point) is None
    (tmp_path / point.name).mkdir()
    for status, parameters, counts in (("failed", point.parameters, False), ("ok", {"steps": 5}, False),
                                       ("ok", point.parameters, True)):
        (tmp_path / point.name / POINT_FILE).write_text(json.dumps({"status": status, "parameters": parameters}))
        assert (finished(tmp_path, point) is not None) == counts


def test_a_point_asks_for_a_gpu_when_its_notebook_runs_on_cuda():
    def gpus(parameters: dict, cluster_has_gpus: bool) -> int:
        resources = point_resources(PLAYGROUND, parameters, cluster_has_gpus, cpus=3)
        assert resources["num_cpus"] == 3
        return resources["num_gpus"]

    assert gpus({"device": "cuda"}, False) == 1 and gpus({"device": "cuda:1"}, True) == 1
    assert gpus({"device": "cpu"}, True) == 0
    assert gpus({}, True) == 1 and gpus({}, False) == 0  # the notebook's default device is auto


def ray_processes() -> list[str]:
    """Command lines of Ray's processes on this machine that are alive (not zombies)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        line = " ".join(process.info["cmdline"] or [])
        if process.info["status"] != psutil.STATUS_ZOMBIE and re.search(r"raylet|gcs_server|ray::", line):
            found.append(line)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_cluster():
    """A real Ray cluster on 127.0.0.1, started as `ray start --head`, stopped with its processes afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [BIN / "ray", "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", "--disable-usage-stats"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, env=LOOPBACK,
    )
    output = []
    for line in process.stdout:  # --block prints this once the cluster takes work, then waits
        output.append(line)
        if "Ray runtime started" in line:
            break
    assert process.poll() is None, "".join(output)
    yield f"127.0.0.1:{port}"
    os.killpg(process.pid, signal.SIGKILL)  # the cluster's processes share the group; a SIGTERM takes 30 s more
    process.wait(timeout=60)


@pytest.mark.extended
@pytest.mark.slow
def test_a_sweep_on_a_ray_cluster_gives_what_each_point_gives_alone(ray_cluster, tmp_path):
    out = tmp_path / "sweep"
    grid = ["--grid", "seed=0,1", "--grid", "num_inference_steps=3,5"]
    ran = sweep("playground", *grid, *GENERATE, "--ray", ray_cluster, "-o", str(out))
    assert ran.returncode == 0, ran.stderr
    swept = json.loads((out / "sweep.json").read_text())["points"]
    assert len(swept) == 4 and {p["status"] for p in swept} == {"ok"}
    assert {p["ray"]["cluster"] for p in swept} == {ray_cluster}  # run by that cluster, not a local Ray
    for point in swept:
        alone = tmp_path / f"alone-{point['name']}"
        values = [arg for name, value in point["parameters"].items() for arg in ("-p", name, json.dumps(value))]
        assert main(["run", "playground", *values, "-o", str(alone)]) == 0
        summary = json.loads((alone / "summary.json").read_text())
        assert point["results"]["fingerprints"] == summary[0]["results"]["fingerprints"]
    assert len({tuple(p["results"]["fingerprints"]["playground"]) for p in swept}) == 4
    assert (out / "sweep.png").exists() and len((out / "sweep.csv").read_text().splitlines()) == 5


@pytest.mark.extended
@pytest.mark.slow
def test_a_failed_point_is_recorded_the_others_finish_and_a_rerun_tries_it_again(tmp_path):
    out = tmp_path / "sweep"
    # a hub id passes the checks but cannot be loaded offline
    command = ["playground", "--grid", "model_id=toyworld,nobody/no-such-model", *GENERATE, "-o", str(out)]
    ran = sweep(*command)
    assert ran.returncode == 1
    first = {p["varying"]["model_id"]: p for p in json.loads((out / "sweep.json").read_text())["points"]}
    assert first["toyworld"]["status"] == "ok"
    failed = first["nobody/no-such-model"]
    assert failed["status"] == "failed"
    assert failed["error"].startswith("cell 3: ModelNotAvailableError: model 'nobody/no-such-model' could not be")
    assert "1 done, 1 failed, 0 skipped" in ran.stdout
    assert f"error: point {failed['name']} failed at cell 3: ModelNotAvailableError" in ran.stderr
    assert (out / failed["name"] / PLAYGROUND.name).exists()  # the executed notebook, with its traceback, is kept
    again = sweep(*command)
    assert again.returncode == 1 and "0 done, 1 failed, 1 skipped" in again.stdout


@pytest.mark.extended
@pytest.mark.slow
def test_a_killed_sweep_keeps_its_finished_points_and_resumes_with_the_rest(tmp_path):
    out = tmp_path / "sweep"
    command = ["playground", "--grid", "num_inference_steps=2,3,4", *GENERATE, "--workers", "1", "-o", str(out)]
    process = subprocess.Popen([BIN / "sdtutorial", "sweep", *command], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=LOOPBACK)
    deadline = time.monotonic() + 180
    while not list(out.glob(f"*/{POINT_FILE}")):
        assert process.poll() is None and time.monotonic() < deadline, "the sweep ended before a point finished"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the driver, its local Ray and their workers, at once
    process.wait()
    # Ray's workers and a point's kernel are not in that group: each exits once the process it serves is gone. A
    # dead one nobody reaps (a zombie, where PID 1 does not reap) runs nothing and does not count.
    deadline = time.monotonic() + 60
    while (left := ray_processes()) and time.monotonic() < deadline:
        time.sleep(1)
    assert not left, f"Ray processes still running a minute after the kill: {left}"
    kept = {path.parent.name: path.stat().st_mtime_ns for path in out.glob(f"*/{POINT_FILE}")}
    assert 1 <= len(kept) < 3
    assert not list(out.glob("*/*.partial"))  # each file is replaced whole, never half written

    resumed = sweep(*command)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{3 - len(kept)} done, 0 failed, {len(kept)} skipped" in resumed.stdout
    swept = json.loads((out / "sweep.json").read_text())["points"]
    assert [p["status"] for p in swept] == ["ok"] * 3
    assert {name: (out / name / POINT_FILE).stat().st_mtime_ns for name in kept} == kept  # not run again
