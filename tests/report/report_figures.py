"""Read the charts back out of a written report page, as the browser would get them."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

_FIGURE = re.compile(r'<script type="application/json" id="(pg-chart-\d+)-figure">(.*?)</script>', re.S)


def report_figures(path: Path) -> dict[str, dict[str, Any]]:
    """Chart id -> plotly figure JSON, in page order."""
    return {chart_id: json.loads(payload) for chart_id, payload in _FIGURE.findall(path.read_text(encoding="utf-8"))}


def figure_titled(path: Path, start: str) -> dict[str, Any]:
    for figure in report_figures(path).values():
        title = figure["layout"].get("title", {}).get("text", "")
        if title.startswith(start):
            return figure
    raise AssertionError(f"no chart titled {start!r}…")


def values(array: Any) -> np.ndarray:
    """A trace's array, whether plain JSON or plotly's typed-array encoding ({dtype, bdata})."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array)
