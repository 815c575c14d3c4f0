"""Results a notebook records in its results cell, for `sdtutorial run` and the tests to read back."""

import json
import math
from typing import TYPE_CHECKING

from IPython.display import display

if TYPE_CHECKING:  # nbformat takes over a second to import; a notebook's kernel never needs it
    import nbformat

MIME = "application/json"
TAG = "results"


def record(**results) -> None:
    """Display `results` as JSON; the cell that calls this carries the tag `results`."""
    results = finite_json(results)
    text = json.dumps(results, indent=1, allow_nan=False)  # fail here, in the notebook, if something cannot be recorded
    display({MIME: results, "text/plain": text}, raw=True)


def finite_json(value):
    """`value` with every infinite or NaN float as the string "inf", "-inf" or "nan", which float() reads back.

    JSON has no infinity, and the PSNR of identical images is infinite. Jupyter used to store such a float as
    "inf" itself, warning in the cell's output that it would stop doing so.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(item) for item in value]
    return value


def read_results(notebook: "nbformat.NotebookNode") -> dict:
    """The results recorded by an executed notebook's `results` cells, merged into one dict."""
    results = {}
    for cell in notebook.cells:
        if TAG in cell.get("metadata", {}).get("tags", []):
            for output in cell.get("outputs", []):
                results.update(output.get("data", {}).get(MIME, {}))
    return results
