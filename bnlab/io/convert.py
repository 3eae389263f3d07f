"""Converters: a network file to another format, and bnlab networks to/from pgmpy / pyAgrum.

:func:`convert` reads any network file and writes it in the format of the target's
suffix (``bnlab convert IN OUT`` on the command line).

pgmpy and pyAgrum are optional: each function imports its library when called.

Layouts (bnlab's is ``(*parent cards, card)``, first parent slowest):

- pgmpy ``TabularCPD.get_values()`` is ``(card, prod(evidence cards))`` with the evidence in
  ``cpd.variables[1:]`` order, first evidence variable slowest: bnlab's table reshaped to
  ``(-1, card)`` and transposed.
- pyAgrum: ``cpt(name).as_nparray()`` has one axis per variable of the tensor, in the reverse
  of ``cpt(name).names`` (the child is ``names[0]``, so it is the last axis).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from bnlab.errors import BackendError, BNError, StructureError
from bnlab.network import BayesNet


def convert(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    source_format: str | None = None,
    target_format: str | None = None,
    on_unsupported: str = "error",
) -> BayesNet:
    """Read a network file and write it in another format (each chosen by suffix).

    Parameters
    ----------
    source, target
        The files; their suffixes select the formats (see :mod:`bnlab.io.formats`).
    source_format, target_format
        Formats overriding the suffixes.
    on_unsupported
        ``"error"`` or ``"drop"``: decision, utility or continuous nodes in ``source``.

    Returns
    -------
    BayesNet
        The network, as read.

    Examples
    --------
    >>> from bnlab.io import convert
    >>> convert("model.xdsl", "model.net")  # doctest: +SKIP
    """
    from bnlab.io import read_network, write_network

    net = read_network(source, format=source_format, on_unsupported=on_unsupported)  # type: ignore[arg-type]
    write_network(net, target, format=target_format)
    return net


def _need(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise BackendError(
            f"this converter needs {extra}, which is not installed; install it with "
            f"`uv add {extra}` (or pip install {extra})."
        ) from None


def to_pgmpy(net: BayesNet) -> Any:
    """Convert a network to a pgmpy ``DiscreteBayesianNetwork`` with ``TabularCPD`` tables.

    State names are kept (``state_names``); parent order is kept as the CPD's evidence order.
    """
    models = _need("pgmpy.models", "pgmpy")
    factors = _need("pgmpy.factors.discrete", "pgmpy")
    model = models.DiscreteBayesianNetwork()
    model.add_nodes_from(net.variables)
    model.add_edges_from(net.edges)
    cpds = []
    for v in net.variables:
        ps = list(net.parents[v])
        card = net.cards[v]
        cpds.append(
            factors.TabularCPD(
                variable=v,
                variable_card=card,
                values=net.cpt(v).reshape(-1, card).T,
                evidence=ps or None,
                evidence_card=[net.cards[p] for p in ps] or None,
                state_names={u: list(net.states[u]) for u in [v, *ps]},
            )
        )
    model.add_cpds(*cpds)
    return model


def from_pgmpy(model: Any) -> BayesNet:
    """Convert a pgmpy ``DiscreteBayesianNetwork`` (with a CPD per node) to a ``BayesNet``.

    Raises
    ------
    BNError
        A node without a CPD.
    """
    states: dict[str, list[str]] = {}
    parents: dict[str, list[str]] = {}
    cpts: dict[str, np.ndarray] = {}
    names = [str(n) for n in model.nodes()]
    for node in model.nodes():
        cpd = model.get_cpds(node)
        if cpd is None:
            raise BNError(f"pgmpy node {node!r} has no CPD; add one with model.add_cpds(...).")
        variables = list(cpd.variables)  # child first, then evidence in order
        child, evidence = variables[0], variables[1:]
        sn = cpd.state_names
        for u in variables:
            states.setdefault(str(u), [str(s) for s in sn[u]])
        card = len(sn[child])
        values = np.asarray(cpd.get_values(), dtype=np.float64)  # (card, prod(evidence))
        shape = [len(sn[e]) for e in evidence]
        parents[str(child)] = [str(e) for e in evidence]
        cpts[str(child)] = values.T.reshape((*shape, card))
    return BayesNet(names, states, parents, cpts)


def to_pyagrum(net: BayesNet) -> Any:
    """Convert a network to a ``pyagrum.BayesNet`` (``LabelizedVariable`` per variable)."""
    gum = _need("pyagrum", "pyagrum")
    bn = gum.BayesNet()
    for v in net.variables:
        var = gum.LabelizedVariable(v, v, 0)
        for s in net.states[v]:
            var.addLabel(s)
        bn.add(var)
    for v in net.variables:
        for p in net.parents[v]:  # arcs in parent order: the tensor's variables follow it
            bn.addArc(p, v)
    for v in net.variables:
        tensor = bn.cpt(v)
        axes = list(reversed(tensor.names))  # toarray() axis order
        ours = [*net.parents[v], v]
        arr = np.transpose(net.cpt(v), [ours.index(a) for a in axes])
        tensor.fillWith(np.ascontiguousarray(arr).ravel().tolist())
    return bn


def from_pyagrum(bn: Any) -> BayesNet:
    """Convert a ``pyagrum.BayesNet`` to a ``BayesNet``.

    Parents take the order of each CPT's variables in pyAgrum (the order arcs were added).
    """
    names: list[str] = []
    states: dict[str, list[str]] = {}
    parents: dict[str, list[str]] = {}
    cpts: dict[str, np.ndarray] = {}
    for node in sorted(bn.nodes()):  # ids in insertion order (a BIF file: its order)
        var = bn.variable(node)
        names.append(var.name())
        states[var.name()] = [str(var.label(i)) for i in range(var.domainSize())]
    for v in names:
        tensor = bn.cpt(v)
        seq = list(tensor.names)  # child first, then parents
        if seq[0] != v:
            raise StructureError(
                f"pyAgrum CPT of {v!r} does not start with {v!r} ({seq}); cannot convert."
            )
        parents[v] = seq[1:]
        axes = list(reversed(seq))
        ours = [*parents[v], v]
        # as_nparray() is a view (toarray() warns under NumPy >= 2.5): copy it
        arr = np.array(tensor.as_nparray(), dtype=np.float64, copy=True)
        cpts[v] = np.transpose(arr, [axes.index(a) for a in ours])
    return BayesNet(names, states, parents, cpts)
