"""One self-contained HTML page of headings, tables and plotly charts, readable offline.

plotly.js is inlined once, gzip-compressed (about a third of its 4.8 MB) and unpacked by the
browser's own ``DecompressionStream``, so a report with a few thousand map points stays a few
megabytes and opens without a network. Each chart is stored as its figure JSON and drawn by
one loader script after plotly.js is unpacked; a failure is shown on the page and logged.
"""
from __future__ import annotations

import base64
import gzip
import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from personagraph.private_files import write_private_text

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: The CSS class of every chart's div; the browser test looks for it too.
CHART_CLASS = "pg-chart"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 1.5rem; color: #1f2933; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d9e2ec; padding-bottom: 0.3rem; }
p.note { color: #52606d; margin: 0.3rem 0 0.8rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #e4e7eb; padding: 0.25rem 0.7rem; text-align: left; vertical-align: top; }
th { background: #f5f7fa; } td.number { text-align: right; font-variant-numeric: tabular-nums; }
.tables { display: flex; flex-wrap: wrap; gap: 0 2.5rem; }
.pg-chart { width: 100%; margin: 0.5rem 0 1rem; }
#pg-error { color: #b42318; font-weight: bold; }
.scroll { max-height: 420px; overflow-y: auto; display: inline-block; }
"""

# Unpacks plotly.js, then draws every chart in page order; sets data-charts-drawn on <body> when done.
_LOADER = """
(async () => {
  const error = document.getElementById('pg-error');
  try {
    if (typeof DecompressionStream === 'undefined') {
      throw new Error('this browser cannot unpack the embedded charting library (no DecompressionStream); '
                      + 'open the report in a current Chrome, Edge, Firefox or Safari');
    }
    const packed = document.getElementById('pg-plotly').textContent;
    const bytes = Uint8Array.from(atob(packed), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    const script = document.createElement('script');
    script.textContent = await new Response(stream).text();
    document.head.appendChild(script);
    let drawn = 0;
    for (const div of document.querySelectorAll('div.pg-chart')) {
      const figure = JSON.parse(document.getElementById(div.id + '-figure').textContent);
      await Plotly.newPlot(div, figure.data, figure.layout, {responsive: true, displaylogo: false});
      drawn += 1;
    }
    document.body.dataset.chartsDrawn = String(drawn);
  } catch (exc) {
    error.textContent = 'The charts could not be drawn: ' + exc.message;
    console.error('report charts failed:', exc);
  }
})();
"""


class HtmlPage:
    """Build a page section by section, then :meth:`write` it; charts keep the order they were added in."""

    def __init__(self, title: str, subtitle: str = "") -> None:
        self.title = title
        self._parts: list[str] = [f"<h1>{html.escape(title)}</h1>"]
        if subtitle:
            self._parts.append(f'<p class="note">{html.escape(subtitle)}</p>')
        self._charts = 0

    @property
    def num_charts(self) -> int:
        return self._charts

    def heading(self, text: str) -> "HtmlPage":
        self._parts.append(f"<h2>{html.escape(text)}</h2>")
        return self

    def note(self, text: str) -> "HtmlPage":
        self._parts.append(f'<p class="note">{html.escape(text)}</p>')
        return self

    def table(self, rows: Sequence[dict[str, Any]], caption: str = "", scroll: bool = False) -> "HtmlPage":
        """One row per dict (columns: the first row's keys); numbers are right-aligned.
        ``scroll``: a long table scrolls in a box of its own instead of lengthening the page."""
        table = _table_html(rows, caption)
        self._parts.append(f'<div class="scroll">{table}</div>' if scroll else table)
        return self

    def tables(self, *tables: tuple[str, Sequence[dict[str, Any]]]) -> "HtmlPage":
        """Several small ``(caption, rows)`` tables side by side."""
        inner = "".join(_table_html(rows, caption) for caption, rows in tables)
        self._parts.append(f'<div class="tables">{inner}</div>')
        return self

    def folded_table(self, summary: str, rows: Sequence[dict[str, Any]]) -> "HtmlPage":
        """A table shown only when its summary line is clicked: details most readers skip."""
        self._parts.append(f"<details><summary>{html.escape(summary)}</summary>{_table_html(rows, '')}</details>")
        return self

    def chart(self, figure: "go.Figure", height: int = 420) -> "HtmlPage":
        figure.update_layout(height=height, margin={"l": 60, "r": 30, "t": 50, "b": 50}, template="plotly_white")
        chart_id = f"pg-chart-{self._charts}"
        self._charts += 1
        # "</" inside the JSON (a user id, a tag) must not end the script element early.
        payload = figure.to_json().replace("</", "<\\/")
        self._parts.append(f'<div class="{CHART_CLASS}" id="{chart_id}" style="height:{height}px"></div>'
                           f'<script type="application/json" id="{chart_id}-figure">{payload}</script>')
        return self

    def render(self) -> str:
        from plotly.offline import get_plotlyjs

        scripts = ""
        if self._charts:
            packed = base64.b64encode(gzip.compress(get_plotlyjs().encode("utf-8"), compresslevel=9, mtime=0))
            scripts = (f'<script type="application/octet-stream" id="pg-plotly">{packed.decode("ascii")}</script>'
                       f"<script>{_LOADER}</script>")
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head>\n<body>"
                f'<p id="pg-error"></p>{"".join(self._parts)}{scripts}</body></html>\n')

    def write(self, path: str | Path) -> Path:
        """Write the page, private to its owner (reports name users), replacing any earlier one atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(path.name + ".tmp")
        staging.unlink(missing_ok=True)
        write_private_text(staging, self.render())
        os.replace(staging, path)
        return path


def _table_html(rows: Sequence[dict[str, Any]], caption: str) -> str:
    if not rows:
        return ""
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in columns)
    body = "".join("<tr>" + "".join(_cell(row.get(name)) for name in columns) + "</tr>" for row in rows)
    title = f"<caption><b>{html.escape(caption)}</b></caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return f"<td>{'' if value is None else html.escape(str(value))}</td>"
    if isinstance(value, int):
        return f'<td class="number">{value:,}</td>'
    if isinstance(value, float):
        return f'<td class="number">{value:,.0f}</td>' if abs(value) >= 1000 else f'<td class="number">{value:.4g}</td>'
    return f"<td>{html.escape(str(value))}</td>"
