"""Drawing networks without Graphviz: layered layout, SVG for notebooks, DOT and networkx.

:mod:`~bnlab.display.layout` places the nodes, :mod:`~bnlab.display.svg` draws them,
:mod:`~bnlab.display.export` writes Graphviz DOT and builds networkx graphs, and
:mod:`~bnlab.display.methods` attaches them to ``Structure``, ``BayesNet`` and ``Posterior``
as ``_repr_html_``, ``_repr_svg_``, ``to_svg()``, ``to_dot()`` and ``to_networkx()``.
It sits in the model layer so those types can carry the methods; nothing here imports
above it (a ``Posterior`` is drawn through its ``summary()``).
"""
