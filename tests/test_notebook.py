"""The quickstart notebook: committed without outputs, and runs top to bottom."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01-quickstart.ipynb"


def _cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def test_notebook_is_committed_without_outputs():
    cells = _cells()
    code = [c for c in cells if c["cell_type"] == "code"]
    assert len(code) >= 8
    for c in code:
        assert c["outputs"] == [] and c["execution_count"] is None
        ast.parse("".join(c["source"]))  # valid Python, no magics


@pytest.mark.slow(expected_s=120)
def test_notebook_executes_top_to_bottom(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("BNLAB_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors == []
    out = tmp_path / "out"
    assert (out / "posterior.nc").is_file() and (out / "network.json").is_file()
    page = (out / "index.html").read_text(encoding="utf-8")
    assert '<section id="calibration">' in page
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if "text" in o)
    assert "implied independencies tested" in text
