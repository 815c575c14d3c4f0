"""A sweep's tables and chart: sweep.json, sweep.csv, sweep.md and sweep.png from its points' records."""

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

from .files import write_atomically, write_csv, write_image, write_json
from .tables import markdown_table

MAX_CHART_PANELS = 3


def flatten(results: dict, prefix: str = "") -> dict:
    """Nested results as one level of dotted names: {"seconds": {"fast": 1.2}} -> {"seconds.fast": 1.2}."""
    flat = {}
    for key, value in results.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def table_rows(records: list[dict]) -> tuple[list[str], list[dict]]:
    """Columns and one row per point: name, status, seconds, the varying parameters, the results, the error."""
    rows = []
    for record in records:
        results = {f"results.{key}": value for key, value in flatten(record.get("results") or {}).items()}
        rows.append({"point": record["name"], "status": record["status"], "seconds": record.get("seconds")}
                    | record["varying"] | results | {"error": record.get("error", "")})
    columns = list(dict.fromkeys(column for row in rows for column in row))
    columns.append(columns.pop(columns.index("error")))
    return columns, rows


def numeric_columns(rows: list[dict]) -> list[str]:
    """Result columns that hold a number in every finished point and differ between points: what a chart can show."""
    done = [row for row in rows if row["status"] == "ok"]
    columns = [column for column in (done[0] if done else {}) if column.startswith("results.")]
    return [c for c in columns if all(is_number(row.get(c)) for row in done) and len({row[c] for row in done}) > 1]


@dataclass(frozen=True)
class Axes:
    """What the chart shows: `x` and `hue` are parameters the sweep varies, each `y` a result column or seconds."""

    x: str
    y: tuple[str, ...]
    hue: str | None


def choose_axes(points: list, x: str | None = None, hue: str | None = None) -> tuple[str | None, str | None]:
    """Checked or default x and hue of `points` (sweep.Point): x the first varying parameter with numeric values,
    hue the first other one."""
    varying = list(points[0].varying)
    for option, given in (("--x", x), ("--hue", hue)):
        if given is not None and given not in varying:
            shown = ", ".join(varying) or "nothing"
            raise ValueError(f"{option} {given!r} is not a parameter the sweep varies; it varies: {shown}")
    if x is None and varying:
        numeric = [name for name in varying if all(is_number(point.varying[name]) for point in points)]
        x = (numeric or varying)[0]
    if hue is None:
        hue = next((name for name in varying if name != x), None)
    return x, hue


def choose_y(rows: list[dict], wanted: list[str] | None) -> list[str]:
    """The given y columns (`adherence` or `results.adherence`), checked; by default the first varying numbers."""
    available = numeric_columns(rows)
    if not wanted:
        return available[:MAX_CHART_PANELS] or ["seconds"]
    chosen = []
    for name in wanted:
        column = name if name in (*available, "seconds") else f"results.{name}"
        if column not in (*available, "seconds"):
            shown = ", ".join(c.removeprefix("results.") for c in available) or "none"
            raise ValueError(f"--y {name!r} is not a number that varies across the finished points; those are: {shown}")
        chosen.append(column)
    return chosen


def chart(rows: list[dict], varying: list[str], axes: Axes, path: Path, title: str) -> Path:
    """One panel per y column against x, one line per value of the other varying parameters; failed points left out."""
    from matplotlib.figure import Figure

    done = [row for row in rows if row["status"] == "ok"]
    others = sorted((name for name in varying if name != axes.x), key=lambda name: name != axes.hue)
    xs = list(dict.fromkeys(row[axes.x] for row in done))
    numeric_x = all(is_number(x) for x in xs)

    def position(row: dict):
        return row[axes.x] if numeric_x else xs.index(row[axes.x])

    def label(row: dict) -> str:
        return ", ".join(str(row[name]) for name in others)

    figure = Figure(figsize=(4.6 * len(axes.y) + (2.6 if others else 0.4), 3.6), layout="constrained")
    panels = figure.subplots(1, len(axes.y), squeeze=False)[0]
    for panel, column in zip(panels, axes.y, strict=True):
        for name, group in itertools.groupby(sorted(done, key=label), key=label):
            group = sorted(group, key=position)
            panel.plot([position(row) for row in group], [row[column] for row in group], marker="o", label=name)
        if not numeric_x:
            panel.set_xticks(range(len(xs)), [str(x) for x in xs], rotation=20)
        panel.set_xlabel(axes.x)
        panel.set_title(column.removeprefix("results."), fontsize=10)
        panel.grid(alpha=0.3)
    if others:
        handles, labels = panels[0].get_legend_handles_labels()
        figure.legend(handles, labels, title=", ".join(others), loc="outside right upper", fontsize=8)
    figure.suptitle(title, fontsize=10)
    write_image(path, figure, dpi=110)
    return path


def markdown(rows: list[dict], varying: list[str], y: list[str]) -> str:
    """A Markdown table of the points: their varying values, the charted results, status, seconds and error."""
    columns = [*varying, *(c for c in y if c != "seconds"), "status", "seconds", "error"]
    return markdown_table([c.removeprefix("results.") for c in columns],
                          [[row.get(c) for c in columns] for row in rows], decimals=3, missing="")


def write_sweep_files(out_dir: Path, notebook: Path, records: list[dict], axes: Axes | None = None) -> list[Path]:
    """sweep.json, sweep.csv and sweep.md of the points' records (pending ones too), and with `axes` sweep.png.

    Without `axes` the Markdown table shows the results a chart would show by default.
    """
    columns, rows = table_rows(records)
    varying = list(records[0]["varying"])
    y = list(axes.y) if axes else numeric_columns(rows)[:MAX_CHART_PANELS]
    write_json(out_dir / "sweep.json", {"notebook": notebook.stem, "points": records})
    write_csv(out_dir / "sweep.csv", columns,
              [{k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()} for row in rows])
    write_atomically(out_dir / "sweep.md", markdown(rows, varying, y) + "\n")
    files = [out_dir / name for name in ("sweep.csv", "sweep.json", "sweep.md")]
    if axes and axes.x and any(row["status"] == "ok" for row in rows):
        files.append(chart(rows, varying, axes, out_dir / "sweep.png", f"{notebook.stem}, {len(rows)} points"))
    return files
