import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from sdtutorial.results import MIME, TAG, read_results, record


def test_results_are_read_back_from_tagged_cells_only():
    tagged = new_code_cell(metadata={"tags": [TAG]})
    tagged.outputs = [new_output("display_data", data={MIME: {"a": 1}, "text/plain": "{}"})]
    untagged = new_code_cell()
    untagged.outputs = [new_output("display_data", data={MIME: {"b": 2}})]
    notebook = new_notebook(cells=[tagged, untagged])
    assert read_results(nbformat.from_dict(notebook)) == {"a": 1}


def test_record_displays_json(monkeypatch):
    shown = []
    monkeypatch.setattr("sdtutorial.results.display", lambda data, raw: shown.append(data))
    record(seconds={"x": 1.5}, fingerprints={"float32": ["00ff"]})
    assert shown[0][MIME] == {"seconds": {"x": 1.5}, "fingerprints": {"float32": ["00ff"]}}


def test_unrecordable_values_fail_in_the_notebook():
    with pytest.raises(TypeError):
        record(pipeline=object())


def test_infinite_and_nan_floats_are_recorded_as_strings_that_float_reads_back(monkeypatch):
    shown = []
    monkeypatch.setattr("sdtutorial.results.display", lambda data, raw: shown.append(data))
    record(psnr=[float("inf"), 31.5], nested={"x": (float("-inf"), float("nan"))})
    assert shown[0][MIME] == {"psnr": ["inf", 31.5], "nested": {"x": ["-inf", "nan"]}}
    assert float(shown[0][MIME]["psnr"][0]) == float("inf")
    assert "Infinity" not in shown[0]["text/plain"]
