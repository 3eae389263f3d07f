"""Notebook display and graph export methods shared by Structure, BayesNet and Posterior.

Thin: each method imports :mod:`bnlab.display.svg` or :mod:`bnlab.display.export` when
called, so importing bnlab stays cheap and no import cycle forms with ``bnlab.network``.
"""

from __future__ import annotations

from typing import Any


class Displayable:
    """Mixin: ``_repr_html_`` / ``_repr_svg_`` (notebooks), ``to_dot()``, ``to_networkx()``."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        from bnlab.display.svg import network_html

        return network_html(self)

    def _repr_svg_(self) -> str | None:
        from bnlab.display.svg import MAX_DRAWN, network_svg

        if len(self.structure.variables) > MAX_DRAWN:  # type: ignore[attr-defined]
            return None
        return network_svg(self)

    def to_svg(self, **kwargs: Any) -> str:
        """SVG drawing of the graph; see :func:`bnlab.display.svg.network_svg`."""
        from bnlab.display.svg import network_svg

        return network_svg(self, **kwargs)

    def to_dot(self, **kwargs: Any) -> str:
        """Graphviz DOT text of the graph; see :func:`bnlab.display.export.to_dot`."""
        from bnlab.display.export import to_dot

        return to_dot(self, **kwargs)

    def to_networkx(self) -> Any:
        """A ``networkx.DiGraph`` of the graph; see :func:`bnlab.display.export.to_networkx`."""
        from bnlab.display.export import to_networkx

        return to_networkx(self)
