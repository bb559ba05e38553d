"""The QA report's HTML pieces: escaped cells, tables, notes and embedded PNG figures."""

from __future__ import annotations

import numbers
from html import escape

import pandas as pd


def cell(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "<td></td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, numbers.Integral):
        return f'<td class="num">{int(value)}</td>'
    if isinstance(value, numbers.Real):
        return f'<td class="num">{value:.1f}</td>'
    return f"<td>{escape(str(value))}</td>"


def table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>\n" for row in rows)
    return f"<table>\n<tr>{head}</tr>\n{body}</table>"


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def figure(png: str | None, alt: str, empty_note: str) -> str:
    if png is None:
        return note(empty_note)
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{png}">'
