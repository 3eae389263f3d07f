"""Display: SVG drawings (notebook reprs), Graphviz DOT and networkx export.

Oracles: the SVG and DOT are parsed back (the SVG as XML by bnlab's hardened parser, DOT
by pydot, which ships with DVC) and must hold every variable and edge of the graph; the
networkx graph must have the same nodes and edges and the CPTs as node attributes.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import bnlab
from bnlab.display import export
from bnlab.display import svg as drawing
from bnlab.errors import StructureError
from bnlab.io.safexml import parse_xml
from bnlab.learn import BootstrapResult


def _texts(el):  # noqa: ANN001, ANN202 - an Element tree
    yield el
    for c in el.children:
        yield from _texts(c)


def _drawn(svg: str) -> tuple[set[str], set[tuple[str, str]]]:
    root = parse_xml(svg, "<svg>")
    assert root.tag == "svg"
    nodes, edges = set(), set()
    for g in (e for e in _texts(root) if e.tag == "g"):
        title = g.find("title")
        assert title is not None
        if g.attrib["class"] == "node":
            nodes.add(title.text.split("\n")[0])
        else:
            edges.add(tuple(title.text.split(":")[0].split(" -> ")))
    return nodes, edges


@pytest.mark.parametrize("name", ["asia", "alarm", "child"])
def test_svg_draws_every_variable_and_edge(name: str) -> None:
    net = bnlab.load_example(name) if name != "child" else bnlab.load_example("child")
    for obj in (net, net.structure):
        nodes, edges = _drawn(obj._repr_svg_())
        assert nodes == set(net.variables) and edges == set(net.edges)
    html = net._repr_html_()
    assert html.startswith("<div><svg") and f"{len(net.variables)} variables" in html
    assert "<script" not in html and "http" not in html.replace("http://www.w3.org/2000/svg", "")


def test_posterior_shows_cpt_intervals_and_shades_by_width() -> None:
    net = bnlab.load_example("asia")
    few = bnlab.fit(net.structure, bnlab.sample(net, n=50, seed=0))
    many = bnlab.fit(net.structure, bnlab.sample(net, n=50_000, seed=0))
    svg_few, svg_many = few._repr_svg_(), many._repr_svg_()
    assert _drawn(svg_few) == (set(net.variables), set(net.edges))
    widths = [float(w) for w in re.findall(r"90% width \u2264 ([0-9.]+)", svg_few)]
    assert len(widths) == len(net.variables)
    summary = few.summary(interval=0.9)
    widest = (summary["upper"] - summary["lower"]).groupby(summary["variable"]).max()
    np.testing.assert_allclose(sorted(widths), sorted(widest.round(2)), atol=0.006)
    narrow = [float(w) for w in re.findall(r"90% width \u2264 ([0-9.]+)", svg_many)]
    assert max(narrow) < min(widths)  # more data, narrower intervals
    assert re.search(r"yes: 0\.\d{3} \[0\.\d{3}, 0\.\d{3}\]", svg_few)  # mean [lower, upper]


def test_edge_strength_sets_width_and_label() -> None:
    net = bnlab.load_example("asia")
    strength = {e: 0.25 * (i % 4 + 1) for i, e in enumerate(net.edges)}
    svg = drawing.network_svg(net, edge_strength=strength)
    for (p, c), w in strength.items():
        assert f"{p} -&gt; {c}: strength {w:.2f}" in svg
    assert 'stroke-width="4.00"' in svg and 'stroke-width="1.38"' in svg
    v = list(net.variables)
    arcs = np.zeros((8, 8))
    for (p, c), w in strength.items():
        arcs[v.index(p), v.index(c)] = w
    boot = BootstrapResult(tuple(v), dict(net.states), arcs, 10, "hc")
    assert drawing.edge_strengths(net.structure, boot) == pytest.approx(strength)
    dot = net.to_dot(edge_strength=boot)
    assert '"asia" -> "tub" [penwidth=1.38, label="0.25"];' in dot


def test_dot_quotes_any_name_and_lists_every_edge() -> None:
    names = ['say "hi"', "back\\slash", "plain"]
    net = bnlab.BayesNet(
        names,
        {n: ["a", "b"] for n in names},
        {"plain": names[:2]},
        {names[0]: [0.5, 0.5], names[1]: [0.5, 0.5], "plain": np.full((2, 2, 2), 0.5)},
    )
    with warnings.catch_warnings():  # pydot uses pyparsing names deprecated in pyparsing 3.3
        warnings.simplefilter("ignore", DeprecationWarning)
        import pydot  # an oracle: ships with DVC (the pipeline extra)

        (graph,) = pydot.graph_from_dot_data(net.to_dot())
    found = {(e.get_source(), e.get_destination()) for e in graph.get_edges()}
    quote = export._dot_id
    assert found == {(quote(p), quote(c)) for p, c in net.edges}


def test_to_networkx_has_nodes_edges_and_cpts() -> None:
    import networkx as nx  # in the lock (pgmpy and DVC depend on it)

    net = bnlab.load_example("alarm")
    g = net.to_networkx()
    assert isinstance(g, nx.DiGraph) and nx.is_directed_acyclic_graph(g)
    assert set(g.nodes) == set(net.variables) and set(g.edges) == set(net.edges)
    np.testing.assert_array_equal(g.nodes["HR"]["cpt"], net.cpt("HR"))
    assert "cpt" not in net.structure.to_networkx().nodes["HR"]


def test_to_networkx_without_networkx_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "networkx", None)  # makes `import networkx` fail
    with pytest.raises(bnlab.BNError, match="uv add networkx"):
        bnlab.load_example("asia").to_networkx()


def test_large_networks_get_a_summary_not_a_drawing() -> None:
    names = [f"v{i}" for i in range(drawing.MAX_DRAWN + 1)]
    s = bnlab.Structure(names, {n: ["0", "1"] for n in names})
    assert s._repr_svg_() is None
    assert "not drawn above" in s._repr_html_()
    with pytest.raises(StructureError, match="cannot draw"):
        drawing.network_svg(object())
