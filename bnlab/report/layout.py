"""The layered drawing layout, now in :mod:`bnlab.display.layout` (kept importable here)."""

from __future__ import annotations

from bnlab.display.layout import Layout, count_crossings, layered_layout, node_layers

__all__ = ["Layout", "count_crossings", "layered_layout", "node_layers"]
