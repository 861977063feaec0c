"""The `personagraph evaluate` comparison as a table, a bar chart and a page of its own.

The rows are the ones the command prints, so the terminal, the run report and
``evaluate --html`` show the same figures.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from personagraph.report.html_page import HtmlPage


def format_spread(spread: dict[str, float]) -> str:
    return f"{spread['mean']:.4f} ± {spread['std']:.4f}"


def comparison_metrics(evaluation: dict[str, Any]) -> list[str]:
    """``recall@K``, ``ndcg@K`` for every cut-off K, in order."""
    return [f"{name}@{k}" for k in evaluation["ks"] for name in ("recall", "ndcg")]


def comparison_rows(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per model: test metrics as mean ± std over seeds, runs, seconds and peak RSS
    (n/a where a model cannot run)."""
    metrics = comparison_metrics(evaluation)
    rows = []
    for model in evaluation["models"]:
        row: dict[str, Any] = {"model": model["model"]}
        if not model["applicable"]:
            rows.append(row | dict.fromkeys(metrics, "n/a") | {"runs": "-", "seconds": "-", "peak RSS MB": "-"})
            continue
        row |= {name: format_spread(model["test"][name]) for name in metrics}
        row |= {"runs": model["runs"], "seconds": f"{model['total_seconds']['mean']:.1f}",
                "peak RSS MB": f"{model['peak_rss_mb']:.0f}"}
        rows.append(row)
    return rows


def comparison_header(evaluation: dict[str, Any]) -> str:
    """The data set, protocol and counts the comparison was made on, in one line."""
    counts = evaluation["counts"]
    name = evaluation.get("dataset") or Path(evaluation.get("data_dir", "shop")).name
    return (f"{name}: protocol {evaluation['protocol']}, {counts['users']:,} users, {counts['items']:,} items, "
            f"{counts['test_users']:,} test users"
            + (" (queries derived from categories)" if evaluation.get("derived_queries") else ""))


def comparison_notes(evaluation: dict[str, Any]) -> list[str]:
    """Why a model did not run, and whether the evaluation was stopped before every model had."""
    notes = [f"n/a: {m['model']}: {m['reason']}" for m in evaluation["models"] if not m["applicable"]]
    if evaluation.get("complete") is False:
        notes.append("incomplete: the evaluation stopped before every model had run")
    return notes


def model_comparison_figure(evaluation: dict[str, Any]) -> go.Figure:
    """Grouped bars: each test metric per model, with the std over seeds as error bars."""
    applicable = [m for m in evaluation["models"] if m["applicable"]]
    figure = go.Figure()
    for metric in comparison_metrics(evaluation):
        figure.add_trace(go.Bar(
            name=metric, x=[m["model"] for m in applicable], y=[m["test"][metric]["mean"] for m in applicable],
            error_y={"type": "data", "array": [m["test"][metric]["std"] for m in applicable], "visible": True},
            hovertemplate="%{x}: %{y:.4f}<extra>" + metric + "</extra>",
        ))
    figure.update_layout(title=f"Test ranking quality ({comparison_header(evaluation)})", barmode="group",
                         yaxis_title="test score")
    return figure


def add_model_comparison(page: HtmlPage, evaluation: dict[str, Any]) -> HtmlPage:
    """The header, table, notes and bar chart of a comparison, appended to ``page``."""
    page.note(comparison_header(evaluation))
    page.table(comparison_rows(evaluation))
    for note in comparison_notes(evaluation):
        page.note(note)
    if any(m["applicable"] for m in evaluation["models"]):
        page.chart(model_comparison_figure(evaluation), height=440)
    return page


def write_evaluation_page(evaluation: dict[str, Any], path: str | Path) -> Path:
    """A page holding only the comparison (`personagraph evaluate --html`)."""
    page = HtmlPage("PersonaGraph model comparison", subtitle=evaluation.get("data_dir", ""))
    return add_model_comparison(page, evaluation).write(path)
