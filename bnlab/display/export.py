"""Export a network's graph: Graphviz DOT text, and a networkx ``DiGraph``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bnlab.display.svg import as_drawn_structure, edge_strengths
from bnlab.errors import BackendError
from bnlab.network import BayesNet, Structure


def _dot_id(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(
    obj: Structure | BayesNet | Any,
    *,
    edge_strength: Mapping[tuple[str, str], float] | Any | None = None,
) -> str:
    """Graphviz DOT text of the graph (node labels: name and number of states).

    Examples
    --------
    >>> import bnlab
    >>> print(bnlab.load_example("asia").to_dot()[:20])
    digraph "bnlab" {
    """
    s = as_drawn_structure(obj)
    strength = edge_strengths(s, edge_strength)
    lines = ['digraph "bnlab" {', "  node [shape=box, style=rounded];"]
    for v in s.variables:
        label = _dot_id(v)[:-1] + f'\\n{s.cards[v]} states"'
        lines.append(f"  {_dot_id(v)} [label={label}];")
    for p, c in s.edges:
        w = strength.get((p, c))
        attrs = "" if w is None else f' [penwidth={0.5 + 3.5 * w:.2f}, label="{w:.2f}"]'
        lines.append(f"  {_dot_id(p)} -> {_dot_id(c)}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_networkx(obj: Structure | BayesNet | Any) -> Any:
    """A ``networkx.DiGraph``: nodes carry ``states`` (and ``cpt`` for a ``BayesNet``).

    Raises
    ------
    BackendError
        networkx is not installed.
    """
    try:
        import networkx as nx
    except ImportError:
        raise BackendError(
            "to_networkx needs networkx, which is not installed; install it with "
            "`uv add networkx` (or pip install networkx)."
        ) from None
    s = as_drawn_structure(obj)
    graph = nx.DiGraph()
    for v in s.variables:
        attrs: dict[str, Any] = {"states": s.states[v]}
        if isinstance(obj, BayesNet):
            attrs["cpt"] = obj.cpt(v)
        graph.add_node(v, **attrs)
    graph.add_edges_from(s.edges)
    return graph
