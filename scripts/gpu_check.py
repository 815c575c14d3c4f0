"""Run every notebook on a CUDA GPU and compare its float32 fingerprints with the committed CPU references.

On a GPU machine without network, first install the wheels that scripts/fetch_gpu_wheels.sh put in .whl/:
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
    python3 scripts/gpu_check.py OUTDIR
It prints a table per notebook and writes OUTDIR/gpu_check.json.
"""

import json
import sys
from pathlib import Path

import nbformat
import torch

from sdtutorial.notebooks import available_notebooks, run_notebooks
from sdtutorial.results import read_results


def main(out_dir: Path) -> int:
    """Run the check; exit non-zero if a notebook fails."""
    if not torch.cuda.is_available():
        print("no CUDA device here", file=sys.stderr)
        return 2
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}", flush=True)
    notebooks = available_notebooks()
    summary = run_notebooks(notebooks, {"device": "cuda"}, out_dir)
    report = []
    for path, entry in zip(notebooks, summary, strict=True):
        reference = read_results(nbformat.read(path, as_version=4)).get("fingerprints", {})
        gpu = entry["results"].get("fingerprints", {})
        same = {key: gpu.get(key) == prints for key, prints in reference.items()}
        report.append({"notebook": entry["notebook"], "status": entry["status"], "error": entry.get("error"),
                       "seconds": entry["seconds"], "same_fingerprints_as_cpu": same, "results": entry["results"]})
        print(f"\n{entry['notebook']}: {entry['status']} in {entry['seconds']:.1f} s {entry.get('error', '')}")
        for key, value in entry["results"].items():
            if key != "fingerprints":
                print(f"  {key}: {json.dumps(value)[:400]}")
        print(f"  fingerprints equal to the CPU reference: {same}")
    (out_dir / "gpu_check.json").write_text(json.dumps(report, indent=1))
    return 0 if all(entry["status"] == "ok" for entry in summary) else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
