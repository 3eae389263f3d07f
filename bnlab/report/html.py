"""HTML building blocks of the report: escaping, tables, inline images, the page shell.

The page is self-contained: images are ``data:`` URIs (PNG or SVG, base64), the CSS is embedded,
there is no script and no external URL, so it opens offline and passes a strict viewer.
Every piece of text that came from data (variable names, states, config values) goes through
:func:`esc`.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d2330;
background:#fafbfc;line-height:1.45}
header{background:#1d2330;color:#fff;padding:14px 28px}
header h1{margin:0;font-size:1.5em} header p{margin:4px 0 0;color:#c9d1e0}
nav{padding:8px 28px;background:#eef1f6;border-bottom:1px solid #d6dbe4;font-size:.92em}
nav a{margin-right:14px;color:#24538f;text-decoration:none}
main{max-width:1180px;margin:0 auto;padding:8px 28px 40px}
section{background:#fff;border:1px solid #e0e4ea;border-radius:6px;margin:18px 0;
padding:6px 20px 16px}
h2{font-size:1.22em;border-bottom:1px solid #e6e9ef;padding-bottom:4px}
h3{font-size:1.02em;margin:14px 0 6px}
table{border-collapse:collapse;font-size:.86em;margin:6px 0 10px}
th,td{border:1px solid #dde2ea;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f8}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.bad td{background:#fde8e8} tr.warn td{background:#fff6dc} tr.good td{background:#e9f7ee}
.pass{color:#137333;font-weight:600} .fail{color:#b3261e;font-weight:600}
.badge{display:inline-block;padding:4px 12px;border-radius:4px;font-weight:700;color:#fff}
.badge.pass{background:#137333;color:#fff} .badge.fail{background:#b3261e;color:#fff}
.note{color:#5b6472;font-size:.92em} .notrun{color:#7a8290;font-style:italic}
img{max-width:100%;height:auto;display:block;margin:6px 0}
details{margin:3px 0} summary{cursor:pointer;color:#24538f}
pre{background:#f4f6f9;padding:8px;overflow-x:auto;font-size:.84em}
.scroll{max-height:420px;overflow-y:auto;display:inline-block}
"""


@dataclass(frozen=True)
class Section:
    """One report section: anchor id, title and body HTML (already escaped)."""

    id: str
    title: str
    body: str


def esc(value: object) -> str:
    """Return ``value`` as text escaped for HTML (quotes included)."""
    return html.escape(str(value), quote=True)


def fmt(value: object, digits: int = 4) -> str:
    """Format a cell: floats to ``digits`` significant places, tuples joined, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "–"
        if v != 0.0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
            return f"{v:.{digits - 1}e}"
        return f"{v:.{digits}g}"
    if isinstance(value, tuple | list):
        return ", ".join(str(x) for x in value)
    return str(value)


def table(
    frame: pd.DataFrame,
    *,
    row_class: Sequence[str] | None = None,
    digits: int = 4,
    max_rows: int | None = None,
) -> str:
    """Render ``frame`` as an HTML table (index dropped), cells escaped.

    Parameters
    ----------
    frame
        The table.
    row_class
        Optional CSS class per row (``"bad"`` highlights a row red, ``"good"`` green).
    digits
        Significant digits of floats.
    max_rows
        Show only the first rows and say how many were left out.
    """
    shown = frame if max_rows is None else frame.head(max_rows)
    head = "".join(f"<th>{esc(c)}</th>" for c in shown.columns)
    body = []
    for i, row in enumerate(shown.itertuples(index=False)):
        cls = f' class="{esc(row_class[i])}"' if row_class is not None and row_class[i] else ""
        cells = []
        for v in row:
            numeric = isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)
            attr = ' class="num"' if numeric else ""
            cells.append(f"<td{attr}>{esc(fmt(v, digits))}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    more = ""
    if max_rows is not None and len(frame) > max_rows:
        more = f'<p class="note">{len(frame) - max_rows} more rows not shown.</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def image(data: bytes, kind: str, alt: str) -> str:
    """Return an ``<img>`` tag with ``data`` (PNG or SVG bytes) inlined as base64."""
    mime = {"png": "image/png", "svg": "image/svg+xml"}[kind]
    b64 = base64.b64encode(data).decode("ascii")
    return f'<img src="data:{mime};base64,{b64}" alt="{esc(alt)}">'


def details(summary: str, body: str, *, open_: bool = False) -> str:
    """Return a collapsible block; ``summary`` is escaped, ``body`` is HTML."""
    flag = " open" if open_ else ""
    return f"<details{flag}><summary>{esc(summary)}</summary>{body}</details>"


def not_run(what: str) -> str:
    """Return the body of a section whose input is absent."""
    return f'<p class="notrun">Not run: {esc(what)}</p>'


def paragraph(text: str, cls: str = "note") -> str:
    """Return an escaped paragraph."""
    return f'<p class="{esc(cls)}">{esc(text)}</p>'


def page(title: str, subtitle: str, sections: Iterable[Section]) -> str:
    """Assemble the whole document: header, a navigation bar, then the sections in order."""
    sections = list(sections)
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    body = "".join(
        f'<section id="{esc(s.id)}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main></body></html>\n"
    )
