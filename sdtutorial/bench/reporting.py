"""A benchmark's report: the table in Markdown, and bench.json, .md, .csv and .png."""

from pathlib import Path

import matplotlib.pyplot as plt

from ..files import write_atomically, write_csv, write_image, write_json
from ..loading import ARCHITECTURE_ONLY_MODELS
from ..memory import format_size
from ..tables import markdown_table
from .choosing import QUALITY_MODEL
from .running import Report
from .variants import SHORT_CALL_STEPS

CELL_FORMATS = {"speedup": "{:.2f}x", "adherence_change": "{:+.3f}", "unet_gflop_per_image": "{:,.1f}",
                "share_of_peak": "{:.0%}"}
COLUMNS = {  # bench.md / terminal column -> row key
    "variant": "variant",
    "dtype": "dtype",
    "steps": "steps",
    "s/image": "seconds_per_image",
    "images/s": "images_per_second",
    "peak memory": "peak_memory_text",
    "speedup": "speedup",
    "UNet GFLOP/image": "unet_gflop_per_image",
    "UNet TFLOP/s": "unet_tflops",
    "UNet share of peak": "share_of_peak",
    f"first call s ({SHORT_CALL_STEPS} steps)": "first_call_seconds",
    f"adherence ({QUALITY_MODEL}, float32)": "adherence",
    "adherence change": "adherence_change",
}


def cell(key: str, value):
    """A row's value for the table: speedup and adherence change in their own formats, the rest as they are."""
    return CELL_FORMATS[key].format(value) if key in CELL_FORMATS and value is not None else value


def markdown(report: Report) -> str:
    """The report as Markdown: the variants table, what was skipped and why, the batch search, the overhead."""
    s = report.settings
    random = " (random weights: for time and memory only)" if s["model_id"] in ARCHITECTURE_ONLY_MODELS else ""
    lines = [f"{s['model_id']}{random} on {report.environment['device']}, {s['height']}x{s['width']}, batch "
             f"{s['batch_size']}, median of {s['repeats']} after a warm-up"
             + (f" (the best combination: of {s['best_repeats']})" if s.get("best_repeats", 1) > s["repeats"] else "")
             + (", quick run" if s["quick"] else "")
             + ("; half rows ran in float32 (bfloat16 is emulated here)" if s.get("half_runs_as") else ""), "",
             markdown_table(list(COLUMNS), [[cell(key, r.get(key)) for key in COLUMNS.values()] for r in report.rows],
                            decimals=3)]
    if report.roofline:
        lines += ["", roofline_text(report.roofline)]
    if report.skipped:
        lines += ["", "Skipped:"] + [f"- {e['variant']}: {e['reason']}" for e in report.skipped]
    if report.batch_search:
        b = report.batch_search
        lines += ["", f"Largest batch within {format_size(b['budget'])} (weights {format_size(b['weights'])} "
                  f"included; {b['steps']}-step calls, fast setting):", "",
                  markdown_table(["memory saver", "largest batch", "peak memory of that batch", "tried"],
                                 [[e["saver"], e["largest_batch"], format_size(e.get("peak")),
                                   ", ".join(str(t["batch_size"]) for t in e["tries"]) or e["note"]]
                                  for e in b["savers"]])]
    if report.peer:
        p = report.peer
        lines += ["", f"OpenVINO {p['version']} ran the fast setting's UNet and VAE decoder (converted from the "
                  f"pipeline's modules in {p['conversion_seconds']:.1f} s; text encoder and scheduler in PyTorch), "
                  "and where the best combination uses DeepCache, the same with DeepCache at its interval:"]
        for r in p["rows"]:
            ratio = r.get("best_is_faster_by")
            against = "" if ratio is None else (
                f"; the best PyTorch combination is {ratio:.2f}x as fast" if ratio >= 1 else
                f"; it is {1 / ratio:.2f}x as fast as the best PyTorch combination")
            lines.append(f"- {r['variant']}: {r['psnr_vs_float32']:.1f} dB PSNR from PyTorch float32's image with the "
                         f"same pipeline options{against}")
    t = report.seconds
    quality = f"; scoring on {QUALITY_MODEL} {t['quality']:.1f} s" if t.get("quality") else ""
    quality += f"; converting for OpenVINO {t['peer_conversion']:.1f} s" if t.get("peer_conversion") else ""
    lines += ["", f"Run: {t['total']:.1f} s, of which pipeline calls {t['pipeline_calls']:.1f} s{quality}; loading "
              f"models {t['loading']:.1f} s; everything else {t['overhead']:.1f} s "
              f"({100 * t['overhead_fraction']:.2f}%)."]
    return "\n".join(lines) + "\n"


def roofline_text(roofline: dict) -> str:
    """What the FLOP columns divide by: the FLOPs of each part of a call, and the machine's peaks."""
    gflop = roofline["gflop"]
    cached = "" if gflop["unet_cached_step"] is None else (
        f" (a DeepCache step that reuses the deep features: {gflop['unet_cached_step']:.1f})")
    size = roofline["matmul_size"]
    peaks = ", ".join(f"{dtype} {tflops:.2f}" for dtype, tflops in roofline["peak_tflops"].items())
    return (f"GFLOP per image: a guided UNet step {gflop['unet_step']:.1f}{cached}, a VAE decode "
            f"{gflop['vae_decode']:.1f}, the prompt encodings {gflop['text_encoder']:.1f} (torch.utils.flop_counter). "
            f"UNet TFLOP/s: the UNet's FLOPs over the seconds inside its calls; its share of the peak: of a "
            f"{size}x{size} matrix product here in the row's dtype, TFLOP/s: {peaks}.")


def write_bench_files(report: Report, out_dir: Path) -> dict[str, Path]:
    """Write bench.json, bench.md, bench.csv and bench.png into `out_dir`; return their paths."""
    from ..display import bench_chart

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {kind: out_dir / f"bench.{kind}" for kind in ("json", "md", "csv", "png")}
    text = markdown(report)
    write_json(paths["json"], report.to_dict())
    write_atomically(paths["md"], text)
    keys = [k for k in report.rows[0] if k not in ("options", "repeat_seconds")] if report.rows else []
    write_csv(paths["csv"], keys, report.rows, extrasaction="ignore")
    figure = bench_chart(report.rows, title=text.splitlines()[0])
    write_image(paths["png"], figure, dpi=110)
    plt.close(figure)
    return paths
