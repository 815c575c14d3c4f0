"""Run every notebook on a CUDA GPU and compare its float32 images with the CPU references, as the notebooks do.

On a GPU machine without network, first install the wheels that scripts/fetch_gpu_wheels.sh put in .whl/:
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
    python3 scripts/gpu_check.py OUTDIR
It prints a table per notebook and writes OUTDIR/gpu_check.json.
"""

import json
import sys
from pathlib import Path

import torch

from sdtutorial.files import write_json
from sdtutorial.notebooks import available_notebooks, run_notebooks


def main(out_dir: Path) -> int:
    """Run the check; exit non-zero if a notebook fails."""
    if not torch.cuda.is_available():
        print("no CUDA device here", file=sys.stderr)
        return 2
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}", flush=True)
    notebooks = available_notebooks()
    summary = run_notebooks(notebooks, {"device": "cuda"}, out_dir)
    report = []
    for entry in summary:
        # The notebook compared each set of images with the CPU reference; these are the ones that differed.
        unlike_cpu = entry["results"].get("reference_check", {})
        report.append({"notebook": entry["notebook"], "status": entry["status"], "error": entry.get("error"),
                       "seconds": entry["seconds"], "unlike_the_cpu_reference": unlike_cpu,
                       "results": entry["results"]})
        print(f"\n{entry['notebook']}: {entry['status']} in {entry['seconds']:.1f} s {entry.get('error', '')}")
        for key, value in entry["results"].items():
            if key not in ("fingerprints", "block_means"):
                print(f"  {key}: {json.dumps(value)[:400]}")
    write_json(out_dir / "gpu_check.json", report)
    return 0 if all(entry["status"] == "ok" for entry in summary) else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
