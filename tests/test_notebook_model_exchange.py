"""The model-exchange notebook: committed without outputs, runs top to bottom, draws networks."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02-model-exchange.ipynb"


def test_notebook_is_committed_without_outputs() -> None:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert len(code) >= 5
    for c in code:
        assert c["outputs"] == [] and c["execution_count"] is None
        ast.parse("".join(c["source"]))  # valid Python, no magics


@pytest.mark.slow(expected_s=90)
def test_notebook_executes_and_renders_networks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("BNLAB_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert [o for o in outputs if o["output_type"] == "error"] == []
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("<svg" in h and "BayesNet: 8 variables, 8 edges" in h for h in html)
    assert any("<svg" in h and "90% width" in h and "Posterior" in h for h in html)
    assert any("image/svg+xml" in o.get("data", {}) for o in outputs)
    text = "".join(o.get("text", "") for o in outputs)
    assert text.count("  equal: True") == 7 and "read back equal: True" in text
    assert (tmp_path / "out" / "asia-from-xdsl.net").is_file()
