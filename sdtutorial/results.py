"""Results a notebook records in its results cell, for `sdtutorial run` and the tests to read back."""

import json
from typing import TYPE_CHECKING

from IPython.display import display

if TYPE_CHECKING:  # nbformat takes over a second to import; a notebook's kernel never needs it
    import nbformat

MIME = "application/json"
TAG = "results"


def record(**results) -> None:
    """Display `results` as JSON; the cell that calls this carries the tag `results`.

    JSON has no infinity: Jupyter stores an infinite float (a PSNR of identical images) as "inf".
    """
    json.dumps(results)  # fail here, in the notebook, if something cannot be recorded
    display({MIME: results, "text/plain": json.dumps(results, indent=1)}, raw=True)


def read_results(notebook: "nbformat.NotebookNode") -> dict:
    """The results recorded by an executed notebook's `results` cells, merged into one dict."""
    results = {}
    for cell in notebook.cells:
        if TAG in cell.get("metadata", {}).get("tags", []):
            for output in cell.get("outputs", []):
                results.update(output.get("data", {}).get(MIME, {}))
    return results
