"""The report's figures, each returned as image bytes (matplotlib, Agg canvas, no pyplot).

Figures are drawn on a bare :class:`matplotlib.figure.Figure` (no global pyplot state, no GUI
backend), saved as PNG at a modest dpi or as SVG with text kept as text. The CPT forest plot is
drawn from the posterior summary table (exact Beta-marginal HDIs for a Dirichlet
posterior, rather than HDIs re-estimated from draws) as a small hand-written SVG; MCMC rank
plots use arviz-plots.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bnlab.report.layout import Layout

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 90
BLUE, RED, GREY, GREEN = "#24538f", "#b3261e", "#8a93a3", "#137333"


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def to_png(fig: Figure, dpi: int = DPI) -> bytes:
    """Render ``fig`` to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def to_svg(fig: Figure) -> bytes:
    """Render ``fig`` to SVG bytes with text kept as text (small and searchable)."""
    from matplotlib import rc_context

    buf = io.BytesIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "bnlab"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def graph_figure(
    layout: Layout,
    *,
    strength: Mapping[tuple[str, str], float] | None = None,
    required: Collection[tuple[str, str]] = (),
) -> Figure:
    """Draw a layered DAG: labelled boxes, arrows, bootstrap strength as width and opacity.

    Parameters
    ----------
    layout
        From :func:`bnlab.report.layout.layered_layout`.
    strength
        ``(parent, child) -> share of bootstrap graphs with the edge``; edges absent from the
        mapping are drawn plain.
    required
        Edges an expert required, drawn in red.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    xs = [p[0] for p in layout.positions.values()]
    xs += [x for route in layout.routes.values() for x, _ in route]
    span = max(xs, default=0.0) - min(xs, default=0.0)
    n_layers = len(layout.layers)
    fig = _figure(min(15.0, max(5.0, 1.05 * span + 1.4)), min(14.0, max(2.5, 0.9 * n_layers + 0.6)))
    ax = fig.add_subplot()
    ax.set_axis_off()
    required_set = set(required)
    for (p, c), route in layout.routes.items():
        s = None if strength is None else strength.get((p, c))
        width = 1.0 if s is None else 0.6 + 2.8 * s
        alpha = 0.85 if s is None else 0.25 + 0.75 * s
        colour = RED if (p, c) in required_set else "#39414f"
        style = "-" if s is None or s >= 0.5 else "--"
        pts = np.asarray(route)
        if len(pts) > 2:
            ax.plot(pts[:-1, 0], pts[:-1, 1], color=colour, lw=width, alpha=alpha, ls=style)
        ax.add_patch(
            FancyArrowPatch(
                tuple(pts[-2]),
                tuple(pts[-1]),
                arrowstyle="-|>",
                mutation_scale=11,
                color=colour,
                lw=width,
                alpha=alpha,
                ls=style,
                shrinkA=0 if len(pts) > 2 else 11,
                shrinkB=11,
            )
        )
    for v, (x, y) in layout.positions.items():
        ax.text(
            x,
            y,
            v,
            ha="center",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "round,pad=0.3", "fc": "#e8eef8", "ec": BLUE, "lw": 0.8},
            zorder=3,
        )
    ax.set_xlim(min(xs, default=0) - 0.8, max(xs, default=0) + 0.8)
    ax.set_ylim(-(n_layers - 1) - 0.5, 0.5)
    handles = []
    if strength is not None:
        handles.append(Line2D([], [], color="#39414f", lw=3.4, label="bootstrap strength 1.0"))
        handles.append(Line2D([], [], color="#39414f", lw=1.6, alpha=0.55, ls="--", label="0.3"))
    if required_set:
        handles.append(Line2D([], [], color=RED, lw=1.5, label="required by expert"))
    if handles:
        ax.legend(handles=handles, loc="lower right", fontsize=7, frameon=False)
    return fig


def forest_svg(entries: pd.DataFrame, interval: float, width: int = 760) -> bytes:
    """Forest plot of CPT entries as a small hand-written SVG (mean dot, interval bar).

    ``entries`` has ``label, mean, lower, upper`` (and optionally ``true``, drawn as a red
    cross); rows are drawn top to bottom in the given order. Written directly rather than
    through matplotlib: a report draws many of these, and each is a few hundred bytes per row
    and a millisecond to make.
    """
    from xml.sax.saxutils import escape

    row, top, bottom = 15, 22, 34
    n = len(entries)
    longest = max((len(str(x)) for x in entries["label"]), default=4)
    left = int(min(width * 0.5, 6.0 * longest + 14))
    right = width - 16
    height = top + row * n + bottom

    def sx(p: float) -> float:
        return left + (right - left) * min(max(p, 0.0), 1.0)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
    ]
    for k in range(6):
        x = sx(k / 5)
        out.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{top + row * n}" '
            'stroke="#e3e6eb"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{top + row * n + 13}" text-anchor="middle">{k / 5:.1f}</text>'
        )
    pct = round(100 * interval)
    out.append(
        f'<text x="{(left + right) / 2:.1f}" y="{height - 4}" text-anchor="middle">'
        f"probability: posterior mean and {pct}% HDI</text>"
    )
    legend = f'<circle cx="{left + 6}" cy="10" r="3.2" fill="{BLUE}"/>'
    legend += f'<text x="{left + 14}" y="13">mean, {pct}% HDI</text>'
    if "true" in entries:
        legend += f'<text x="{left + 130}" y="13" fill="{RED}">× true value</text>'
    out.append(legend)
    truth = entries["true"].to_numpy(dtype=float) if "true" in entries else None
    for i, r in enumerate(entries.itertuples(index=False)):
        y = top + row * i + row / 2
        out.append(
            f'<text x="{left - 6}" y="{y + 3.5:.1f}" text-anchor="end">'
            f"{escape(str(r.label))}</text>"
        )
        out.append(
            f'<line x1="{sx(float(r.lower)):.1f}" y1="{y:.1f}" '
            f'x2="{sx(float(r.upper)):.1f}" y2="{y:.1f}" stroke="{BLUE}" '
            'stroke-width="2.2"/>'
        )
        out.append(f'<circle cx="{sx(float(r.mean)):.1f}" cy="{y:.1f}" r="3.2" fill="{BLUE}"/>')
        if truth is not None and np.isfinite(truth[i]):
            out.append(
                f'<text x="{sx(float(truth[i])):.1f}" y="{y + 3.5:.1f}" '
                f'text-anchor="middle" fill="{RED}">×</text>'
            )
    out.append("</svg>")
    return "".join(out).encode("utf-8")


def contributions_svg(table: pd.DataFrame, interval: float, width: int = 640) -> bytes:
    """Shapley values as horizontal bars from zero, with their credible interval as a whisker.

    ``table`` has ``variable, state, shapley`` and optionally ``lower, upper``; rows are drawn
    top to bottom in the given order, positive values blue, negative red. Hand-written SVG,
    like :func:`forest_svg`.
    """
    from xml.sax.saxutils import escape

    row, top, bottom = 18, 10, 34
    n = len(table)
    labels = [f"{r.variable}={r.state}" for r in table.itertuples(index=False)]
    longest = max((len(x) for x in labels), default=4)
    left = int(min(width * 0.45, 6.0 * longest + 14))
    right = width - 16
    height = top + row * n + bottom
    cols = ["shapley", *(c for c in ("lower", "upper") if c in table)]
    span = float(np.nanmax(np.abs(table[cols].to_numpy(dtype=float)), initial=0.0)) or 1.0

    def sx(v: float) -> float:
        return left + (right - left) * (0.5 + 0.5 * max(-1.0, min(1.0, v / span)))

    zero = sx(0.0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<line x1="{zero:.1f}" y1="{top - 2}" x2="{zero:.1f}" y2="{top + row * n}" '
        f'stroke="{GREY}"/>',
    ]
    for v in (-span, span):
        out.append(
            f'<text x="{sx(v):.1f}" y="{top + row * n + 13}" text-anchor="middle">{v:+.3g}</text>'
        )
    band = f", {round(100 * interval)}% interval" if "lower" in table else ""
    out.append(
        f'<text x="{(left + right) / 2:.1f}" y="{height - 4}" text-anchor="middle">'
        f"Shapley value: change of the probability{band}</text>"
    )
    for i, (label, r) in enumerate(zip(labels, table.itertuples(index=False), strict=True)):
        y = top + row * i
        value = float(r.shapley)
        x0, x1 = sorted((zero, sx(value)))
        colour = BLUE if value >= 0 else RED
        out.append(
            f'<text x="{left - 6}" y="{y + row / 2 + 3.5:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        out.append(
            f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 0.5):.1f}" '
            f'height="{row - 6}" fill="{colour}" fill-opacity="0.75"/>'
        )
        if "lower" in table:
            lo, hi = sx(float(r.lower)), sx(float(r.upper))
            mid = y + row / 2
            out.append(
                f'<line x1="{lo:.1f}" y1="{mid:.1f}" x2="{hi:.1f}" y2="{mid:.1f}" '
                'stroke="#1d2330" stroke-width="1.2"/>'
            )
    out.append("</svg>")
    return "".join(out).encode("utf-8")


def reliability_figure(curve: pd.DataFrame, target: str, interval: float) -> Figure:
    """Reliability diagram: observed frequency against confidence, with the posterior band.

    ``curve`` has ``confidence, frequency`` per bin and optionally ``frequency_lower``,
    ``frequency_upper`` (the band over posterior draws) and ``count``.
    """
    fig = _figure(4.6, 4.0)
    ax = fig.add_subplot()
    ok = curve.dropna(subset=["confidence", "frequency"])
    ax.plot([0, 1], [0, 1], color=GREY, ls=":", lw=1, label="perfect calibration")
    if {"frequency_lower", "frequency_upper"} <= set(ok.columns):
        ax.fill_between(
            ok["confidence"],
            ok["frequency_lower"],
            ok["frequency_upper"],
            color=BLUE,
            alpha=0.2,
            lw=0,
            label=f"{round(100 * interval)}% posterior band",
        )
    ax.plot(ok["confidence"], ok["frequency"], "o-", color=BLUE, ms=3.5, lw=1.3, label="observed")
    if "count" in ok and len(ok):
        ax2 = ax.twinx()
        ax2.bar(ok["confidence"], ok["count"], width=0.03, color=GREY, alpha=0.3)
        ax2.set_ylim(0, 4 * max(float(ok["count"].max()), 1.0))
        ax2.set_yticks([])
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability", fontsize=8)
    ax.set_ylabel("observed frequency", fontsize=8)
    ax.set_title(target, fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    ax.tick_params(labelsize=7)
    return fig


def coverage_figure(curve: pd.DataFrame) -> Figure:
    """Coverage curve: the share of true values inside the intervals against the nominal level.

    ``curve`` has ``nominal, observed`` and optionally ``lower, upper`` (a binomial band).
    """
    fig = _figure(4.6, 4.0)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color=GREY, ls=":", lw=1, label="nominal = observed")
    if {"lower", "upper"} <= set(curve.columns):
        ax.fill_between(curve["nominal"], curve["lower"], curve["upper"], color=BLUE, alpha=0.2)
    ax.plot(curve["nominal"], curve["observed"], "o-", color=BLUE, ms=3.5, label="observed")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("nominal interval mass", fontsize=8)
    ax.set_ylabel("share of true values covered", fontsize=8)
    ax.legend(fontsize=7, loc="upper left")
    ax.tick_params(labelsize=7)
    return fig


def ppc_figure(ppc: pd.DataFrame, interval: float) -> Figure:
    """Posterior predictive check: observed state frequencies against predictive intervals."""
    fig = _figure(4.8, 4.2)
    ax = fig.add_subplot()
    obs = ppc["observed"].to_numpy(dtype=float)
    mean = ppc["mean"].to_numpy(dtype=float)
    lo, hi = ppc["lower"].to_numpy(dtype=float), ppc["upper"].to_numpy(dtype=float)
    inside = (obs >= lo) & (obs <= hi)
    ax.plot([0, 1], [0, 1], color=GREY, ls=":", lw=1)
    ax.vlines(mean, lo, hi, color=BLUE, alpha=0.5, lw=1)
    ax.plot(mean[inside], obs[inside], ".", color=BLUE, ms=4, label="inside interval")
    ax.plot(mean[~inside], obs[~inside], "x", color=RED, ms=5, label="outside interval")
    ax.set_xlabel(f"posterior predictive mean ({round(100 * interval)}% interval)", fontsize=8)
    ax.set_ylabel("observed frequency", fontsize=8)
    ax.legend(fontsize=7, loc="upper left")
    ax.tick_params(labelsize=7)
    return fig


def rank_figure_png(tree: Any) -> bytes:
    """Rank plots (arviz-plots ``plot_rank``, matplotlib backend) of every variable of ``tree``.

    ``tree`` is a DataTree whose ``posterior`` group holds a few scalar ``(chain, draw)``
    variables (the caller picks the worst-mixing CPT entries).
    """
    import arviz_plots as azp
    from matplotlib import pyplot as plt

    n = len(tree["posterior"].dataset.data_vars)
    pc = azp.plot_rank(tree, backend="matplotlib", figure_kwargs={"figsize": (7.5, 1.6 * n)})
    fig = pc.get_viz("figure")
    data = to_png(fig)
    plt.close(fig)  # arviz-plots creates its figure through pyplot; release it
    return data
