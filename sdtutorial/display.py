"""Show images, tables and charts in a notebook."""

import io
import math
import platform
import textwrap

import matplotlib.pyplot as plt
import torch
from diffusers.utils import make_image_grid
from IPython.display import Image as IPythonImage
from IPython.display import Markdown
from PIL import Image

from . import tables


def grid(images: list[Image.Image], cols: int | None = None) -> Image.Image:
    """All `images` in one grid image, `cols` wide (default: as square as possible)."""
    cols = cols or math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    padding = [Image.new("RGB", images[0].size, "white")] * (rows * cols - len(images))
    return make_image_grid(list(images) + padding, rows=rows, cols=cols)


def markdown_table(header: list[str], rows: list[list]) -> Markdown:
    """A Markdown table for a notebook: floats with two decimals, None as "-"."""
    return Markdown(tables.markdown_table(header, rows))


def speedup_chart(labels: list[str], seconds: list[float], reference: list[float] | None = None,
                  reference_label: str = "reference"):
    """Bars of speedup against the first variant, with an optional second series (e.g. the guide's figures)."""
    fig, ax = plt.subplots(figsize=(6, 3))
    series = [("this run", seconds)] + ([(reference_label, reference)] if reference else [])
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series):
        speedups = [values[0] / v for v in values]
        xs = [x + i * width for x in range(len(labels))]
        bars = ax.bar(xs, speedups, width, label=name)
        ax.bar_label(bars, labels=[f"{s:.1f}x" for s in speedups])
    ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(labels))], labels)
    ax.set_ylabel(f"speedup over {labels[0]}")
    ax.legend()
    fig.tight_layout()
    return fig


def bench_chart(rows: list[dict], title: str = ""):
    """Horizontal bars of seconds per image for benchmark rows, labelled with their speedup and peak memory."""
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.6))
    labels = [textwrap.fill(row["variant"], 40) for row in rows][::-1]
    bars = ax.barh(labels, [row["seconds_per_image"] for row in rows][::-1])
    notes = [f"{row['speedup']:.1f}x, {row.get('peak_memory_text', 'n/a')}" if row.get("speedup") else ""
             for row in rows][::-1]
    ax.bar_label(bars, labels=notes, padding=3)
    ax.set_xlabel("seconds per image; labels: speedup over the baseline, peak memory")
    ax.set_title(textwrap.fill(title, 90), fontsize=9)
    ax.margins(x=0.3)
    fig.tight_layout()
    return fig


def environment_report(device: torch.device) -> str:
    """Library versions and the device, for the top of each notebook."""
    import diffusers
    import transformers

    if device.type == "cuda":
        hardware = torch.cuda.get_device_name(device)
    else:
        hardware = f"{platform.processor() or platform.machine()}, ATen {torch.backends.cpu.get_cpu_capability()}"
    return (
        f"python {platform.python_version()}, torch {torch.__version__}, diffusers {diffusers.__version__}, "
        f"transformers {transformers.__version__}\ndevice: {device} ({hardware}), {torch.get_num_threads()} CPU threads"
    )


def metric_charts(labels: list[str], metrics: dict[str, list[float]]):
    """One bar chart per metric (e.g. seconds and peak MiB), side by side, for the same variants."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3), squeeze=False)
    for ax, (name, values) in zip(axes[0], metrics.items(), strict=True):
        bars = ax.bar(labels, values)
        ax.bar_label(bars, fmt="%.2f")
        ax.set_title(name)
        ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    return fig


def show(image: Image.Image, quality: int = 90) -> IPythonImage:
    """`image` for display as JPEG only: PIL images otherwise go into a notebook twice, as PNG and JPEG."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return IPythonImage(data=buffer.getvalue(), format="jpeg")
