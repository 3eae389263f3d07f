"""Real clients: files bnlab writes load in pyAgrum and pgmpy, and files they write load in bnlab.

Oracles: pyAgrum 3.3 (``gum.loadBN`` / ``gum.saveBN``, format by suffix) and pgmpy 1.1
(``pgmpy.readwrite`` readers, ``model.save(filetype=...)``). Names that a format cannot hold
are escaped by bnlab (``Transp.`` -> ``Transp_x002E_``); peers see the escaped name, so
their networks are compared after :func:`bnlab.io.names.unescape_network`.

Two peers deviate from the format specifications, and the tests pin down exactly how:

- pyAgrum 3.3.1 writes and reads XDSL and UAI tables with the FIRST parent varying fastest
  (its own DSL, SMILE's convention as pgmpy reads it, and the UAI specification put the
  LAST parent fastest): tables with two or more parents agree once that layout is undone
  (``_peer_read_first_fastest`` / ``_we_read_first_fastest``), every other table as it is.
- pgmpy 1.1.2 lays UAI tables out with the child's state SLOWEST (the specification: the
  child is last in the scope and varies fastest), so only the structure and root tables of
  a UAI file cross between pgmpy and bnlab unchanged.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import network_path

import bnlab
from bnlab.errors import CPTError
from bnlab.io import from_pgmpy, from_pyagrum, to_pgmpy
from bnlab.io.names import unescape_network

# the oracles: pyagrum warns while it loads, which filterwarnings=error turns into a crash
# inside its C++ import (pytest.importorskip hides it the same way; they are installed)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    gum = importlib.import_module("pyagrum")
    readwrite = importlib.import_module("pgmpy.readwrite")
BIFReader, NETReader, UAIReader = readwrite.BIFReader, readwrite.NETReader, readwrite.UAIReader
XDSLReader, XMLBIFReader = readwrite.XDSLReader, readwrite.XMLBIFReader

NETWORKS = ["asia", "child", "alarm"]
PYAGRUM_FORMATS = ["bif", "bifxml", "net", "uai", "xdsl", "dsl"]
PYAGRUM_REVERSED = {"uai", "xdsl"}  # first parent fastest (see the module docstring)
PGMPY_READERS = {
    "bif": BIFReader,
    "xml": XMLBIFReader,
    "uai": UAIReader,
    "xdsl": XDSLReader,
    "net": NETReader,
}
PGMPY_FILETYPE = {"bif": "bif", "xml": "xmlbif", "uai": "uai", "xdsl": "xdsl", "net": "net"}
PRINTED = 1e-5  # pyAgrum writes XMLBIF, UAI, XDSL and DSL numbers with 6 significant digits
PYAGRUM_BIF_ATOL = 1e-7  # pyAgrum reads BIF and NET numbers at single precision
PGMPY_NET_ATOL = 1e-6  # pgmpy writes NET numbers with about 7 significant digits


def _net(name: str) -> bnlab.BayesNet:
    return bnlab.read_network(network_path(name))


def _by_position(theirs: bnlab.BayesNet, ours: bnlab.BayesNet, order: list[str]) -> bnlab.BayesNet:
    """Rename a network read from UAI (names by index) to ours; ``order`` = our index order."""
    index = {str(i): v for i, v in enumerate(order)}
    index.update({f"var_{i}": v for i, v in enumerate(order)})
    return bnlab.BayesNet(
        [index[v] for v in theirs.variables],
        {index[v]: ours.states[index[v]] for v in theirs.variables},
        {index[v]: [index[p] for p in theirs.parents[v]] for v in theirs.variables},
        {index[v]: theirs.cpt(v) for v in theirs.variables},
    )


def _peer_read_first_fastest(table: np.ndarray) -> np.ndarray:
    """Undo a peer reading a C-order table (last parent fastest) as first-parent-fastest."""
    k = table.ndim - 1
    return np.transpose(table, [*range(k - 1, -1, -1), k]).reshape(table.shape)


def _we_read_first_fastest(table: np.ndarray) -> np.ndarray:
    """Undo bnlab reading a first-parent-fastest table in C order (last parent fastest)."""
    k = table.ndim - 1
    flipped = table.reshape(*reversed(table.shape[:-1]), table.shape[-1])
    return np.transpose(flipped, [*range(k - 1, -1, -1), k])


def _assert_same(
    ours: bnlab.BayesNet,
    theirs: bnlab.BayesNet,
    atol: float,
    undo: Callable[[np.ndarray], np.ndarray] | None = None,
) -> None:
    assert set(theirs.variables) == set(ours.variables)
    for v in ours.variables:
        assert theirs.states[v] == ours.states[v], v
        assert set(theirs.parents[v]) == set(ours.parents[v]), v
        table = theirs.cpt(v)
        ps = list(theirs.parents[v])
        if undo is not None and len(ps) >= 2:
            table = undo(table)
        axes = [ps.index(p) for p in ours.parents[v]] + [len(ps)]
        np.testing.assert_allclose(np.transpose(table, axes), ours.cpt(v), rtol=0, atol=atol)


@pytest.mark.parametrize("fmt", PYAGRUM_FORMATS)
@pytest.mark.parametrize("name", NETWORKS)
def test_pyagrum_reads_what_bnlab_writes(name: str, fmt: str, tmp_path: Path) -> None:
    net = _net(name)
    path = tmp_path / f"m.{fmt}"
    bnlab.write_network(net, path)
    theirs = from_pyagrum(gum.loadBN(str(path)))
    if fmt == "uai":
        theirs = _by_position(theirs, net, list(net.variables))
    undo = _peer_read_first_fastest if fmt in PYAGRUM_REVERSED else None
    _assert_same(net, unescape_network(theirs), PYAGRUM_BIF_ATOL, undo)


@pytest.mark.parametrize("fmt", PYAGRUM_FORMATS)
@pytest.mark.parametrize("name", ["asia", "alarm"])  # pyAgrum cannot save child's states
def test_bnlab_reads_what_pyagrum_writes(name: str, fmt: str, tmp_path: Path) -> None:
    net = _net(name)
    bn = gum.loadBN(str(_plain_bif(net, tmp_path)))
    path = tmp_path / f"g.{fmt}"
    gum.saveBN(bn, str(path))
    ours = bnlab.read_network(path)
    if fmt == "uai":
        order = [bn.variable(i).name() for i in sorted(bn.nodes())]
        ours = _by_position(ours, net, order)
    atol = PYAGRUM_BIF_ATOL if fmt in ("bif", "net") else PRINTED
    _assert_same(net, ours, atol, _we_read_first_fastest if fmt in PYAGRUM_REVERSED else None)


def _plain_bif(net: bnlab.BayesNet, tmp_path: Path) -> Path:
    path = tmp_path / "source.bif"
    bnlab.write_network(net, path)
    return path


def test_pyagrum_uai_and_xdsl_put_the_first_parent_fastest(tmp_path: Path) -> None:
    """The deviation above, shown on one table: exact comparison fails, reversed passes."""
    net = _net("asia")  # dysp has parents (bronc, either)
    bnlab.write_network(net, tmp_path / "m.xdsl")
    theirs = from_pyagrum(gum.loadBN(str(tmp_path / "m.xdsl")))
    with pytest.raises(AssertionError):
        _assert_same(net, theirs, PYAGRUM_BIF_ATOL)
    _assert_same(net, theirs, PYAGRUM_BIF_ATOL, _peer_read_first_fastest)


def _pgmpy_model(path: Path, fmt: str):  # noqa: ANN202 - a pgmpy model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgmpy warns about its own defaults
        return PGMPY_READERS[fmt](str(path)).get_model()


@pytest.mark.parametrize("fmt", ["bif", "xml", "xdsl", "net"])
@pytest.mark.parametrize("name", NETWORKS)
def test_pgmpy_reads_what_bnlab_writes(name: str, fmt: str, tmp_path: Path) -> None:
    net = _net(name)
    path = tmp_path / f"m.{fmt}"
    bnlab.write_network(net, path)
    theirs = unescape_network(from_pgmpy(_pgmpy_model(path, fmt)))
    _assert_same(net, theirs, 0.0)


@pytest.mark.parametrize("fmt", ["bif", "xml", "xdsl", "net"])
@pytest.mark.parametrize("name", ["asia", "insurance"])  # pgmpy mangles child's states
def test_bnlab_reads_what_pgmpy_writes(name: str, fmt: str, tmp_path: Path) -> None:
    net = _net(name)
    path = tmp_path / f"p.{fmt}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to_pgmpy(net).save(str(path), filetype=PGMPY_FILETYPE[fmt])
    _assert_same(net, bnlab.read_network(path), PGMPY_NET_ATOL if fmt == "net" else 0.0)


def test_pgmpy_uai_agrees_on_structure_and_roots(tmp_path: Path) -> None:
    net = _net("alarm")
    bnlab.write_network(net, tmp_path / "m.uai")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = UAIReader(str(tmp_path / "m.uai"))
        model = to_pgmpy(net)
        model.save(str(tmp_path / "p.uai"), filetype="uai")
    order = list(net.variables)
    assert [int(reader.domain[f"var_{i}"]) for i in range(len(order))] == [
        net.cards[v] for v in order
    ]
    edges = {(order[int(a[4:])], order[int(b[4:])]) for a, b in reader.edges}
    assert edges == set(net.edges)
    with pytest.raises(CPTError, match="sums to"):  # pgmpy's child-slowest layout
        bnlab.read_network(tmp_path / "p.uai")
    roots = [v for v in net.variables if not net.parents[v]]
    tables = dict(reader.tables)
    for v in roots:
        theirs = np.array(tables[f"var_{order.index(v)}"], dtype=float)
        np.testing.assert_array_equal(theirs, net.cpt(v))
