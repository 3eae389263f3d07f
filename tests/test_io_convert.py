"""pgmpy / pyAgrum converters round-trip; pyAgrum's own BIF reader agrees with ours."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import numpy as np
import pytest
from conftest import TEST_NETWORKS

from bnlab.errors import BNError
from bnlab.io import (
    from_pgmpy,
    from_pyagrum,
    read_network,
    to_pgmpy,
    to_pyagrum,
    write_network,
)
from bnlab.network import BayesNet

gum = pytest.importorskip("pyagrum")

# child's state "Asy/Patch" is outside the name syntax of pyAgrum's BIF parser
PYAGRUM_BIF = ["asia", "alarm", "insurance", "sachs", "water", "hailfinder", "win95pts", "hepar2"]
# pyAgrum's BIF parser reads numbers at single precision (differences up to ~3e-8 seen)
PYAGRUM_BIF_ATOL = 1e-7


def _net(name: str) -> BayesNet:
    return read_network(TEST_NETWORKS / f"{name}.bif.gz")


def _entries(net: BayesNet, v: str, limit: int = 50) -> list[tuple[dict[str, str], float]]:
    """Up to `limit` CPT entries of v as ({variable: state}, probability), spread over the table."""
    names = [*net.parents[v], v]
    cpt = net.cpt(v)
    flat = list(itertools.product(*(range(n) for n in cpt.shape)))
    step = max(1, len(flat) // limit)
    return [
        ({u: net.states[u][i] for u, i in zip(names, idx, strict=True)}, float(cpt[idx]))
        for idx in flat[::step]
    ]


@pytest.mark.parametrize("name", ["asia", "alarm", "child", "insurance", "hepar2"])
def test_pgmpy_round_trip(name: str) -> None:
    net = _net(name)
    model = to_pgmpy(net)
    assert model.check_model()
    assert set(model.edges()) == set(net.edges)
    assert from_pgmpy(model) == net


@pytest.mark.parametrize("name", ["asia", "child"])
def test_pgmpy_values_by_state_name(name: str) -> None:
    net = _net(name)
    model = to_pgmpy(net)
    for v in net.variables:
        cpd = model.get_cpds(v)
        for assignment, p in _entries(net, v):
            assert cpd.get_value(**assignment) == p


def test_from_pgmpy_needs_every_cpd() -> None:
    models = pytest.importorskip("pgmpy.models")
    model = models.DiscreteBayesianNetwork([("a", "b")])
    with pytest.raises(BNError, match="has no CPD"):
        from_pgmpy(model)


@pytest.mark.parametrize("name", ["asia", "alarm", "child", "insurance", "hepar2", "andes"])
def test_pyagrum_round_trip(name: str) -> None:
    net = _net(name)
    bn = to_pyagrum(net)
    assert bn.size() == len(net.variables) and bn.sizeArcs() == len(net.edges)
    assert from_pyagrum(bn) == net


@pytest.mark.parametrize("name", ["asia", "child", "insurance"])
def test_pyagrum_values_by_state_name(name: str) -> None:
    net = _net(name)
    bn = to_pyagrum(net)
    for v in net.variables:
        for assignment, p in _entries(net, v):
            assert bn.cpt(v)[assignment] == p


def _decompressed(name: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{name}.bif"
    path.write_bytes(gzip.decompress((TEST_NETWORKS / f"{name}.bif.gz").read_bytes()))
    return path


@pytest.mark.parametrize("name", PYAGRUM_BIF)
def test_pyagrum_bif_reader_agrees(name: str, tmp_path: Path) -> None:
    path = _decompressed(name, tmp_path)
    ours = read_network(path)
    bn = gum.loadBN(str(path))
    assert [bn.variable(i).name() for i in sorted(bn.nodes())] == [
        v for v in _file_order(path.read_text())
    ]
    for v in ours.variables:
        assert tuple(bn.variable(v).labels()) == ours.states[v]
        assert {bn.variable(p).name() for p in bn.parents(v)} == set(ours.parents[v])
        for assignment, p in _entries(ours, v):
            assert bn.cpt(v)[assignment] == pytest.approx(p, abs=PYAGRUM_BIF_ATOL)
    theirs = from_pyagrum(bn)
    assert theirs.structure == ours.structure
    for v in ours.variables:
        np.testing.assert_allclose(theirs.cpt(v), ours.cpt(v), rtol=0, atol=PYAGRUM_BIF_ATOL)


def _file_order(text: str) -> list[str]:
    return [line.split()[1] for line in text.splitlines() if line.startswith("variable ")]


@pytest.mark.parametrize("name", ["alarm", "hailfinder"])
def test_pyagrum_reads_the_bif_we_write(name: str, tmp_path: Path) -> None:
    net = _net(name)
    path = tmp_path / f"{name}.bif"
    write_network(net, path)
    bn = gum.loadBN(str(path))
    for v in net.variables:
        for assignment, p in _entries(net, v):
            assert bn.cpt(v)[assignment] == pytest.approx(p, abs=PYAGRUM_BIF_ATOL)


def test_importing_bnlab_io_imports_neither_peer() -> None:
    import subprocess
    import sys

    code = (
        "import sys, bnlab; bnlab.load_example('asia'); "
        "print(sorted(m for m in ('pgmpy', 'pyagrum') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
