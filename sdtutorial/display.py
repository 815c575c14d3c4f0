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
from PIL import Image, ImageDraw, ImageFont

from . import tables

TILE_WIDTH = 256  # a 64-pixel toyworld image is shown 4x: each of its pixels a 4x4 square on screen
CAPTION_FONT_SIZE = 14


def enlarged(image: Image.Image, width: int = TILE_WIDTH) -> Image.Image:
    """`image` enlarged by the whole factor that brings it nearest to `width` pixels, each pixel copied, not
    blurred, so a learner sees the pixels the model drew. Images at least `width` wide are left as they are."""
    factor = max(1, width // image.width)
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)


def caption_strip(texts: list[str], column_width: int) -> Image.Image:
    """A white strip with one caption per column, each wrapped to its column's width."""
    font = ImageFont.load_default(size=CAPTION_FONT_SIZE)
    chars_per_line = max(8, int(column_width / (0.55 * CAPTION_FONT_SIZE)))
    wrapped = [textwrap.wrap(text, chars_per_line) or [""] for text in texts]
    line_height = CAPTION_FONT_SIZE + 4
    strip = Image.new("RGB", (column_width * len(texts), 6 + line_height * max(map(len, wrapped))), "white")
    draw = ImageDraw.Draw(strip)
    for column, lines in enumerate(wrapped):
        draw.multiline_text((column * column_width + 4, 3), "\n".join(lines), fill="black", font=font,
                            spacing=4)
    return strip


def stacked(parts: list[Image.Image]) -> Image.Image:
    """`parts` one below the other, left-aligned on white."""
    out = Image.new("RGB", (max(part.width for part in parts), sum(part.height for part in parts)), "white")
    top = 0
    for part in parts:
        out.paste(part, (0, top))
        top += part.height
    return out


def grid(images: list[Image.Image], cols: int | None = None, captions: list[str] | None = None) -> Image.Image:
    """All `images` enlarged (see `enlarged`) in one grid, `cols` wide (default: as square as possible), each with
    its caption below it when `captions` are given."""
    tiles = [enlarged(image) for image in images]
    cols = cols or math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    tiles += [Image.new("RGB", tiles[0].size, "white")] * (rows * cols - len(tiles))
    if captions is None:
        return make_image_grid(tiles, rows=rows, cols=cols)
    captions = list(captions) + [""] * (rows * cols - len(captions))
    return stacked([part for row in range(rows) for part in (
        make_image_grid(tiles[row * cols:(row + 1) * cols], rows=1, cols=cols),
        caption_strip(captions[row * cols:(row + 1) * cols], tiles[0].width),
    )])


def comparison_grid(columns: dict[str, list[Image.Image]], row_captions: list[str]) -> Image.Image:
    """Settings side by side: one column per setting, named at the top, and one row per caption (a prompt, say),
    image i of every setting in row i. Images are enlarged as in `grid`."""
    if any(len(images) < len(row_captions) for images in columns.values()):
        raise ValueError(f"each setting needs {len(row_captions)} images, one per row")
    tile_width = enlarged(next(iter(columns.values()))[0]).width
    parts = [caption_strip(list(columns), tile_width)]
    for row, caption in enumerate(row_captions):
        parts += [caption_strip([caption], tile_width * len(columns)),
                  grid([images[row] for images in columns.values()], cols=len(columns))]
    return stacked(parts)


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


def roofline_chart(steps: dict[str, list[dict]], peaks: dict[str, float], bandwidth: float):
    """Where one step's time goes and how close each kind of operation comes to the machine's limits.

    `steps` maps a dtype to `OperationCosts.rows()` of one step in it, `peaks` a dtype to its matrix-product
    TFLOP/s, `bandwidth` is in GB/s. Left: seconds by kind of operation. Right: the roofline, achieved TFLOP/s
    against FLOPs per byte moved; each roof is min(peak, intensity x bandwidth).
    """
    fig, (bars, roof) = plt.subplots(1, 2, figsize=(12, 4))
    colors = {dtype: f"C{index}" for index, dtype in enumerate(dict.fromkeys([*peaks, *steps]))}
    kinds = [row["operations"] for row in next(iter(steps.values()))]
    width = 0.8 / len(steps)
    for i, (dtype, rows) in enumerate(steps.items()):
        seconds = {row["operations"]: row["seconds"] for row in rows}
        drawn = bars.barh([k + i * width for k in range(len(kinds))], [seconds.get(kind, 0) for kind in kinds],
                          width, label=dtype, color=colors[dtype])
        bars.bar_label(drawn, fmt="%.2f s", padding=2, fontsize=8)
    bars.set_yticks([k + width * (len(steps) - 1) / 2 for k in range(len(kinds))], kinds)
    bars.invert_yaxis()
    bars.set_xlabel("seconds in one guided UNet step")
    bars.legend()
    bars.margins(x=0.25)
    intensities = [row["flops_per_byte"] for rows in steps.values() for row in rows if row["flops_per_byte"]]
    x = [min(intensities + [1.0]) / 4, max(intensities + [1.0]) * 4]
    for index, (dtype, peak) in enumerate(peaks.items()):
        knee = peak * 1e3 / bandwidth
        roof.plot([x[0], knee, x[1]], [x[0] * bandwidth / 1e3, peak, peak], color=colors[dtype],
                  label=f"{dtype}: peak, memory")
        for row in steps.get(dtype, []):
            if row["tflops"]:
                roof.scatter(row["flops_per_byte"], row["tflops"], color=colors[dtype])
                roof.annotate(row["operations"], (row["flops_per_byte"], row["tflops"]), fontsize=8,
                              textcoords="offset points", xytext=(4, 4 if index else -10))
    roof.set_xscale("log")
    roof.set_yscale("log")
    roof.set_xlabel("arithmetic intensity (FLOPs per byte read and written)")
    roof.set_ylabel("TFLOP/s")
    roof.set_title(f"roofline: memory {bandwidth:.0f} GB/s", fontsize=9)
    roof.legend(fontsize=8)
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
    """`image` for display in one format only (PIL images otherwise go into a notebook twice, as PNG and JPEG):
    lossless PNG when it is the smaller, as for enlarged toyworld images, whose pixels come in squares; JPEG
    at `quality` otherwise, as for photographs."""
    encoded = {}
    for name, options in {"png": {"optimize": True}, "jpeg": {"quality": quality}}.items():
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format=name.upper(), **options)
        encoded[name] = buffer.getvalue()
    name = min(encoded, key=lambda name: len(encoded[name]))
    return IPythonImage(data=encoded[name], format=name)
