"""Draw a network as SVG for notebooks (no Graphviz binary, no network access).

The drawing is made here, with no Graphviz binary and no network access: nodes are placed
by the layered layout of :mod:`bnlab.display.layout` and drawn as SVG boxes with arrows.

- a :class:`~bnlab.network.BayesNet` box shows the variable and its number of states; its
  tooltip lists the first rows of its CPT;
- a :class:`~bnlab.posterior.Posterior` box also shows the widest 90% credible interval of
  its CPT entries, and the box is shaded by it (darker = less certain); the tooltip lists
  posterior means with their intervals;
- ``edge_strength`` (a ``{(parent, child): strength}`` mapping, or the result of
  :func:`bnlab.learn.bootstrap_strength`) sets each arrow's width and label.

``BayesNet``, ``Structure`` and ``Posterior`` call these through thin methods
(:mod:`bnlab.display.methods`): ``_repr_svg_``, ``_repr_html_`` and ``to_svg()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bnlab.errors import StructureError
from bnlab.network import BayesNet, Structure

#: above this many variables a notebook shows a summary line instead of the drawing
MAX_DRAWN = 200
_NODE_W, _NODE_H, _DX, _DY, _PAD = 128.0, 40.0, 150.0, 92.0, 24.0


def as_drawn_structure(obj: Any) -> Structure:
    """The structure of a ``Structure``, ``BayesNet`` or ``Posterior``; a typed error if none."""
    s = getattr(obj, "structure", None)
    if isinstance(s, Structure):
        return s
    raise StructureError(
        f"cannot draw a {type(obj).__name__}; give a Structure, BayesNet or Posterior."
    )


def _esc(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def edge_strengths(
    structure: Structure, edge_strength: Mapping[tuple[str, str], float] | Any | None
) -> dict[tuple[str, str], float]:
    """Strength of each edge of ``structure``, from a mapping or a bootstrap result."""
    if edge_strength is None:
        return {}
    if hasattr(edge_strength, "strength") and hasattr(edge_strength, "variables"):
        index = {v: i for i, v in enumerate(edge_strength.variables)}
        matrix = np.asarray(edge_strength.strength)
        return {
            (p, c): float(matrix[index[p], index[c]])
            for p, c in structure.edges
            if p in index and c in index
        }
    return {e: float(edge_strength[e]) for e in structure.edges if e in edge_strength}


def _cpt_rows(net: BayesNet, v: str, limit: int = 8) -> list[str]:
    table = net.cpt(v).reshape(-1, net.cards[v])
    rows = [" ".join(f"{x:.3g}" for x in row) for row in table[:limit]]
    return rows + ([f"... ({table.shape[0]} rows)"] if table.shape[0] > limit else [])


def _posterior_notes(post: Any, interval: float = 0.9) -> dict[str, tuple[float, list[str]]]:
    """Per variable: the widest credible interval of its CPT, and tooltip lines."""
    summary = post.summary(interval=interval)
    notes: dict[str, tuple[float, list[str]]] = {}
    for v, group in summary.groupby("variable", sort=False):
        width = float((group["upper"] - group["lower"]).max())
        lines = [
            f"{'|'.join(map(str, ps)) or '-'} {st}: {m:.3f} [{lo:.3f}, {hi:.3f}]"
            for ps, st, m, lo, hi in group[
                ["parent_states", "state", "mean", "lower", "upper"]
            ].itertuples(index=False)
        ]
        more = [f"... ({len(lines)} entries)"] if len(lines) > 12 else []
        notes[str(v)] = (width, lines[:12] + more)
    return notes


def network_svg(
    obj: Structure | BayesNet | Any,
    *,
    edge_strength: Mapping[tuple[str, str], float] | Any | None = None,
    interval: float = 0.9,
) -> str:
    """Draw a structure, network or posterior as an SVG document (a string).

    Parameters
    ----------
    obj
        A ``Structure``, ``BayesNet`` or ``Posterior``.
    edge_strength
        Optional ``{(parent, child): strength in [0, 1]}``, or a bootstrap result.
    interval
        Credible mass of the intervals shown for a posterior.

    Returns
    -------
    str
        ``<svg ...>...</svg>``, self-contained (no scripts, no external references).
    """
    from bnlab.display.layout import layered_layout

    s = as_drawn_structure(obj)
    layout = layered_layout(s)
    xs = [x for x, _ in layout.positions.values()] or [0.0]
    ys = [y for _, y in layout.positions.values()] or [0.0]
    x0, y_top = min(xs), max(ys)
    width = (max(xs) - x0) * _DX + _NODE_W + 2 * _PAD
    height = (y_top - min(ys)) * _DY + _NODE_H + 2 * _PAD + (16 if edge_strength else 0)

    def at(point: tuple[float, float]) -> tuple[float, float]:
        return (
            _PAD + _NODE_W / 2 + (point[0] - x0) * _DX,
            _PAD + _NODE_H / 2 + (y_top - point[1]) * _DY,
        )

    strength = edge_strengths(s, edge_strength)
    notes = _posterior_notes(obj, interval) if hasattr(obj, "summary") else {}
    net = obj if isinstance(obj, BayesNet) else None
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="12">',
        '<defs><marker id="bnlab-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#444"/></marker></defs>',
    ]
    for (p, c), route in layout.routes.items():
        points = [at(pt) for pt in route]
        (ax, ay), (bx, by) = points[0], points[-1]
        points[0] = (ax, ay + _NODE_H / 2)
        points[-1] = (bx, by - _NODE_H / 2)
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        w = strength.get((p, c))
        stroke = 1.2 if w is None else 0.5 + 3.5 * max(0.0, min(1.0, w))
        title = f"{p} -> {c}" + ("" if w is None else f": strength {w:.2f}")
        out.append(
            f'<g class="edge"><title>{_esc(title)}</title><polyline points="{path}" '
            f'fill="none" stroke="#444" stroke-width="{stroke:.2f}" '
            'marker-end="url(#bnlab-arrow)"/>'
        )
        if w is not None:
            mx, my = (
                points[len(points) // 2 - 1]
                if len(points) > 2
                else (
                    (points[0][0] + points[-1][0]) / 2,
                    (points[0][1] + points[-1][1]) / 2,
                )
            )
            out.append(
                f'<text x="{mx + 4:.1f}" y="{my:.1f}" font-size="10" fill="#a33">{w:.2f}</text>'
            )
        out.append("</g>")
    for v in s.variables:
        cx, cy = at(layout.positions[v])
        label = v if len(v) <= 18 else v[:17] + "\u2026"
        detail = f"{s.cards[v]} states"
        tip = [v, ", ".join(s.states[v])]
        fill = "#eef4fb"
        if v in notes:
            widest, lines = notes[v]
            detail = f"{interval:.0%} width \u2264 {widest:.2f}"
            shade = int(240 - 120 * max(0.0, min(1.0, widest)))
            fill = f"rgb({shade},{shade},255)"
            tip += lines
        elif net is not None:
            tip += _cpt_rows(net, v)
        out.append(
            f'<g class="node"><title>{_esc(chr(10).join(tip))}</title>'
            f'<rect x="{cx - _NODE_W / 2:.1f}" y="{cy - _NODE_H / 2:.1f}" width="{_NODE_W:.0f}" '
            f'height="{_NODE_H:.0f}" rx="8" fill="{fill}" stroke="#2b4b73"/>'
            f'<text x="{cx:.1f}" y="{cy - 3:.1f}" text-anchor="middle" font-weight="bold">'
            f"{_esc(label)}</text>"
            f'<text x="{cx:.1f}" y="{cy + 12:.1f}" text-anchor="middle" font-size="10" '
            f'fill="#555">{_esc(detail)}</text></g>'
        )
    if edge_strength:
        out.append(
            f'<text x="{_PAD:.0f}" y="{height - 6:.0f}" font-size="10" fill="#a33">'
            "edge labels: bootstrap strength (arrow width grows with it)</text>"
        )
    out.append("</svg>")
    return "".join(out)


def network_html(obj: Structure | BayesNet | Any) -> str:
    """The notebook view: the SVG drawing and a one-line caption (a summary if too big)."""
    s = as_drawn_structure(obj)
    caption = f"{type(obj).__name__}: {len(s.variables)} variables, {len(s.edges)} edges"
    if len(s.variables) > MAX_DRAWN:
        return (
            f"<div><p>{_esc(caption)} (not drawn above {MAX_DRAWN} variables; call "
            "bnlab.display.svg.network_svg(obj) to draw it anyway).</p></div>"
        )
    return f"<div>{network_svg(obj)}<p>{_esc(caption)}</p></div>"
