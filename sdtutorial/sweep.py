"""Parameter sweeps: one notebook over a grid of parameter values, each point run with papermill as a Ray task.

`sdtutorial sweep speed --grid fast_steps=4,8,20 --grid fast_scheduler=EulerDiscreteScheduler,DDIMScheduler -o DIR`
runs every combination, leaving out the notebook's exercises (no parameter changes their answers). Each point
gets its folder `DIR/<point>/` with the executed notebook and `point.json` (parameters, status, error, results),
written as soon as the point finishes; `DIR/sweep.csv`, `sweep.json` and `sweep.md` combine the points, and
`sweep.png` charts them (`sweep_report`). Running the same sweep into the same folder again skips the points that
finished and runs the missing and failed ones.

Ray does the scheduling: a local Ray instance by default, or an existing cluster (`--ray ADDRESS`). Each
point asks Ray for its CPUs and, when its notebook runs on cuda, for one GPU, so a GPU cluster runs one
point per GPU.
"""

import hashlib
import itertools
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
import yaml
from tqdm.auto import tqdm

from .files import write_atomically, write_json
from .loading import first_line
from .notebooks import check_parameters, notebook_parameters, parse_value, run_notebook, without_exercises
from .sweep_report import write_sweep_files

POINT_FILE = "point.json"
SWEEP_FILE_KEYS = ("grid", "points", "parameters")
# A point is mostly single-threaded (kernel start, imports, small kernels), so points side by side on one core each
# finish sooner than one at a time on all cores (docs/sweeps.md has the measurement); memory bounds how many at once.
CPUS_PER_POINT = 1
MEMORY_PER_POINT = 3 * 2**30  # a toyworld notebook's kernel peaks near 1.5 GiB; sd15-arch ones need more


@dataclass(frozen=True)
class Point:
    """One run of the sweep: every parameter passed to the notebook, and those that set it apart from the others."""

    parameters: dict
    varying: dict

    @property
    def name(self) -> str:
        """A folder name that reads as the varying values and is unique for the whole parameter set."""
        text = "_".join(f"{key}={value}" for key, value in self.varying.items()) or "point"
        text = re.sub(r"[^A-Za-z0-9._=-]+", "-", text).strip("-")[:80]
        digest = hashlib.sha256(json.dumps(self.parameters, sort_keys=True).encode()).hexdigest()[:6]
        return f"{text}-{digest}"


def parse_grid_option(text: str) -> tuple[str, list]:
    """`steps=4,8,20` or `steps=[4, 8, 20]` as ("steps", [4, 8, 20]); each value is read as YAML reads it."""
    name, sep, values = text.partition("=")
    if not sep or not name.strip() or not values.strip():
        raise ValueError(f"--grid takes NAME=VALUE,VALUE,..., got {text!r}")
    parsed = parse_value(values) if values.strip().startswith("[") else [parse_value(v) for v in values.split(",")]
    if not isinstance(parsed, list) or not parsed:
        raise ValueError(f"--grid {name.strip()} needs at least one value, got {values!r}")
    return name.strip(), parsed


def read_yaml_mapping(path: str) -> dict:
    """A YAML file that must hold a mapping; a malformed file is refused in one line that says where."""
    try:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or first_line(error)
        raise ValueError(f"parameter file {path!r},{where}: {problem}") from error
    if not isinstance(loaded, dict):
        raise ValueError(f"parameter file {path!r} must hold a mapping of names to values")
    return loaded


def read_sweep_file(path: str) -> tuple[dict, list[dict], dict]:
    """A sweep file's `grid` (name: [values]), `points` (a list of name: value mappings) and fixed `parameters`."""
    loaded = read_yaml_mapping(path)
    unknown = set(loaded) - set(SWEEP_FILE_KEYS)
    if unknown:
        raise ValueError(f"sweep file {path!r}: unknown key {sorted(unknown)[0]!r}; accepted: grid, points, parameters")
    grid, points, fixed = loaded.get("grid") or {}, loaded.get("points") or [], loaded.get("parameters") or {}
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise ValueError(f"sweep file {path!r}: grid must map each parameter name to a list of values")
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise ValueError(f"sweep file {path!r}: points must be a list of mappings of names to values")
    if not isinstance(fixed, dict):
        raise ValueError(f"sweep file {path!r}: parameters must be a mapping of names to values")
    return grid, points, fixed


def make_points(grid: dict[str, list], listed: list[dict], fixed: dict) -> list[Point]:
    """The grid's Cartesian product, then the listed points, each on top of the fixed parameters; no duplicates."""
    names = list(grid)
    combos = [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())] if grid else []
    varying_names = list(dict.fromkeys([*names, *(name for point in listed for name in point)]))
    points, seen = [], set()
    for combo in [*combos, *listed]:
        parameters = fixed | combo
        key = json.dumps(parameters, sort_keys=True)
        if key not in seen:
            seen.add(key)
            points.append(Point(parameters, {name: parameters.get(name) for name in varying_names}))
    if not points:
        raise ValueError("the sweep has no points: give --grid NAME=VALUES or a file with grid or points")
    return points


def check_points(notebook: Path, points: list[Point]) -> None:
    """Refuse, before anything runs, any point whose parameters `sdtutorial run` would refuse."""
    for point in points:
        try:
            check_parameters([notebook], point.parameters)
        except ValueError as error:
            raise ValueError(f"point {point.name}: {error}") from error


def local_workers(cpus_per_point: int = CPUS_PER_POINT) -> int:
    """How many points this machine can run at once: its cores and its available memory both bound it."""
    by_cores = (os.cpu_count() or 1) // cpus_per_point
    by_memory = psutil.virtual_memory().available // MEMORY_PER_POINT
    return max(1, min(by_cores, by_memory))


def point_resources(notebook: Path, parameters: dict, cluster_has_gpus: bool, cpus: int) -> dict:
    """What a point asks Ray for: `cpus`, and one GPU when its notebook runs on cuda (or on auto, given GPUs)."""
    default = notebook_parameters(notebook).get("device", {}).get("default", "'cpu'")
    device = str(parameters.get("device", parse_value(default)))
    on_gpu = device.startswith("cuda") or (device == "auto" and cluster_has_gpus)
    return {"num_cpus": cpus, "num_gpus": 1 if on_gpu else 0}


def run_point(notebook_name: str, notebook_text: str, parameters: dict, threads: int) -> dict:
    """Run one point in a temporary folder (on a Ray worker, maybe another machine); its entry and notebook text.

    The executed notebook comes back as text, so the driver writes every result even when the worker's disk is
    not its own.
    """
    # A Ray worker is reused across tasks; the notebook's kernel, a child process, must get this point's threads.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory(prefix="sdtutorial-sweep-") as folder:
        source = Path(folder) / "source" / notebook_name
        source.parent.mkdir()
        source.write_text(notebook_text)
        entry = run_notebook(source, Path(folder), parameters, progress_bar=False)
        output = Path(entry.pop("output"))
        entry["executed"] = output.read_text() if output.exists() else None
    import ray

    entry["ray"] = {"node": ray.util.get_node_ip_address(), "cluster": ray.get_runtime_context().gcs_address}
    return entry


def finished(out_dir: Path, point: Point) -> dict | None:
    """The record of an earlier run of `point` in `out_dir` if that run succeeded, else None."""
    try:
        record = json.loads((out_dir / point.name / POINT_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return record if record.get("status") == "ok" and record.get("parameters") == point.parameters else None


def save_point(out_dir: Path, notebook: Path, point: Point, entry: dict) -> dict:
    """Write a finished point's executed notebook and point.json (each replaced whole, so a kill leaves no half)."""
    folder = out_dir / point.name
    folder.mkdir(parents=True, exist_ok=True)
    executed = entry.pop("executed", None)
    if executed is not None:
        write_atomically(folder / notebook.name, executed)
    record = {"name": point.name, "varying": point.varying, "parameters": point.parameters} | entry
    record["notebook"] = notebook.stem
    write_json(folder / POINT_FILE, record)
    return record


def start_ray(address: str | None, workers: int, cpus_per_point: int):
    """Connect to the Ray cluster at `address`, or start a local Ray with room for `workers` points at once."""
    try:
        import ray
    except ImportError as error:
        raise ModuleNotFoundError("sdtutorial sweep runs its points on Ray: pip install 'sdtutorial[sweep]'") from error
    import logging

    options = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    if address:
        ray.init(address=address, **options)
    else:  # "local" starts a fresh instance, never joining one that `ray start` left running
        ray.init(address="local", num_cpus=workers * cpus_per_point, **options)
    return ray


@dataclass
class SweepSummary:
    records: list[dict]
    done: int
    failed: int
    skipped: int
    interrupted: bool
    wall_seconds: float
    ray_start_seconds: float

    def line(self) -> str:
        state = "interrupted" if self.interrupted else "finished"
        return (f"sweep {state}: {len(self.records)} points: {self.done} done, {self.failed} failed, "
                f"{self.skipped} skipped (finished before), in {self.wall_seconds:.1f} s "
                f"(Ray start {self.ray_start_seconds:.1f} s)")


def run_sweep(notebook: Path, points: list[Point], out_dir: Path, address: str | None = None,
              workers: int | None = None, cpus_per_point: int = CPUS_PER_POINT) -> SweepSummary:
    """Run every point not already finished in `out_dir` on Ray, writing each point and the tables as it ends.

    Ctrl-C cancels the points still running; those that finished stay, and the same call later runs the rest.
    """
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    records = {}
    for point in points:
        records[point.name] = finished(out_dir, point) or {
            "name": point.name, "varying": point.varying, "parameters": point.parameters, "status": "pending",
            "notebook": notebook.stem}
    to_run = [point for point in points if records[point.name]["status"] != "ok"]
    skipped = len(points) - len(to_run)
    ray, pending, done, failed, ray_start_seconds, interrupted = None, {}, 0, 0, 0.0, False
    bar = tqdm(total=len(points), initial=skipped, desc=f"sweep {notebook.stem}", unit="point")
    try:
        if to_run:
            ray_started = time.perf_counter()
            ray = start_ray(address, workers or local_workers(cpus_per_point), cpus_per_point)
            ray_start_seconds = time.perf_counter() - ray_started
            task = ray.remote(run_point)
            text = nbformat.writes(without_exercises(nbformat.read(notebook, as_version=4)))
            has_gpus = ray.cluster_resources().get("GPU", 0) > 0
            for point in to_run:
                resources = point_resources(notebook, point.parameters, has_gpus, cpus_per_point)
                ref = task.options(**resources, max_retries=0).remote(notebook.name, text, point.parameters,
                                                                      cpus_per_point)
                pending[ref] = point
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                point = pending.pop(ref)
                try:
                    entry = ray.get(ref)
                except Exception as error:  # the worker died or the cluster lost it: this point failed, others go on
                    cause = getattr(error, "cause", None) or error
                    entry = {"status": "failed", "error": f"{type(cause).__name__}: {first_line(cause)}", "results": {}}
                records[point.name] = save_point(out_dir, notebook, point, entry)
                done += entry["status"] == "ok"
                failed += entry["status"] != "ok"
                bar.set_postfix(failed=failed, refresh=False)
                bar.update()
                write_sweep_files(out_dir, notebook, [records[p.name] for p in points])
    except KeyboardInterrupt:
        interrupted = True
        for ref in pending:
            ray.cancel(ref, force=True)
    finally:
        bar.close()
        if ray is not None:
            ray.shutdown()
    ordered = [records[point.name] for point in points]
    write_sweep_files(out_dir, notebook, ordered)
    return SweepSummary(ordered, done, failed, skipped, interrupted, time.perf_counter() - started, ray_start_seconds)
