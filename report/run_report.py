"""`personagraph report`: one HTML page on a trained run — what it read, how it trained, what it found.

Everything comes from the run folder (config.json, metrics.json, profiles.parquet and, when
`personagraph evaluate --save-to` wrote one, evaluation.json); no store and no model are needed.
A large run stays a few megabytes: the map shows a stratified sample of users and every
histogram is stored as bin counts.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from personagraph.report.binned_counts import BinnedCounts
from personagraph.report.html_page import HtmlPage
from personagraph.report.model_comparison import add_model_comparison
from personagraph.report.profile_figures import (activity_figure, event_types_figure, profile_map_figure,
                                                 segment_sizes_figure, tag_frequency_figure)
from personagraph.report.profile_map import ProfileMap, stratified_sample
from personagraph.report.profile_statistics import segment_summaries, tag_frequency
from personagraph.report.run_report_data import EVALUATION_FILE, RunReportData
from personagraph.report.training_figures import spectral_grid_figure, training_curves_figure
from personagraph.shop.schema import shop_schema

#: Users drawn onto the profile map at most; enough to see every segment's shape, small enough to stay light.
MAX_MAP_POINTS = 5000


def write_run_report(run_dir: str | Path, out: str | Path, max_map_points: int = MAX_MAP_POINTS,
                     seed: int = 0) -> Path:
    """Write the report on the run in ``run_dir`` to ``out``; ``seed`` fixes which users the map samples."""
    data = RunReportData.read(run_dir)
    metrics = data.metrics
    page = HtmlPage(f"PersonaGraph run {metrics.get('run_id', data.folder.path.name)}",
                    subtitle=f"run folder {data.folder.path} · data {data.config.get('data_dir', '?')} · "
                             f"report written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    _summary_section(page, data)
    _training_section(page, metrics)
    _profiles_section(page, data, max_map_points, seed)
    _activity_section(page, data)
    page.heading("Model comparison")
    if data.evaluation is not None:
        add_model_comparison(page, data.evaluation)
    else:
        page.note(f"No evaluation in this run folder: `personagraph evaluate DATA_DIR --save-to {data.folder.path}` "
                  f"writes one ({EVALUATION_FILE}), and the next report shows it.")
    return page.write(out)


def _summary_section(page: HtmlPage, data: RunReportData) -> None:
    metrics = data.metrics
    page.heading("Run summary")
    if data.updates:
        page.note(f"The profiles include {data.updates} `personagraph update`(s) since training; "
                  "the training figures are those of the trained run.")
    encoder = metrics.get("encoder", {})
    spectral = metrics.get("spectral", {})
    segments = metrics.get("segments", {})
    chosen = [{"setting": "best epoch", "value": metrics.get("best_epoch")},
              {"setting": "spectral width", "value": spectral.get("dim")},
              {"setting": "spectral mix", "value": spectral.get("mix")},
              *({"setting": f"validation {name}", "value": round(value, 4)}
                for name, value in metrics.get("validation", {}).items()),
              {"setting": "segments by", "value": segments.get("method")},
              {"setting": "segment silhouette", "value": _rounded(segments.get("silhouette"))}]
    stages = [{"stage": name, "seconds": stage["seconds"], "peak RSS MB": stage["peak_rss_mb"]}
              for name, stage in metrics.get("stages", {}).items()]
    if stages:
        stages.append({"stage": "total", "seconds": metrics.get("total_seconds"), "peak RSS MB": None})
    page.tables(
        ("Counts", [{"what": name.replace("_", " "), "number": value}
                    for name, value in metrics.get("counts", {}).items()]),
        ("Chosen settings", chosen),
        ("Stage times and memory", stages),
        ("Text encoder", [{"field": name.replace("_", " "), "value": value} for name, value in encoder.items()]),
    )
    if stages:
        page.note("peak RSS MB: the training process's peak resident memory when the stage ended.")
    page.folded_table("Training settings", [{"setting": name, "value": _plain(value)}
                                            for name, value in data.config.get("train", {}).items()])
    if "synced" in metrics:
        page.note("Synced to Neo4j: " + ", ".join(f"{name} {value:,}" if isinstance(value, int) else f"{name} {value}"
                                                  for name, value in metrics["synced"].items()))


def _training_section(page: HtmlPage, metrics: dict[str, Any]) -> None:
    page.heading("Training")
    history = metrics.get("history") or []
    if history:
        page.chart(training_curves_figure(history, int(metrics.get("best_epoch") or 0)), height=380)
    else:
        page.note("This run recorded no training history.")
    spectral = metrics.get("spectral", {})
    if spectral.get("tried"):
        chosen_dim, chosen_mix = int(spectral.get("dim") or 0), float(spectral.get("mix", 0.0))
        page.chart(spectral_grid_figure(spectral["tried"], chosen_dim, chosen_mix), height=380)
    else:
        page.note("No spectral grid: the run trained without the spectral filter (spectral width 0).")


def _profiles_section(page: HtmlPage, data: RunReportData, max_map_points: int, seed: int) -> None:
    profiles = data.profiles
    page.heading("Profiles")
    rows = stratified_sample(np.asarray(profiles["segment"]), max_map_points, seed)
    profile_map = ProfileMap.project(rows, data.vectors(rows))
    page.chart(profile_map_figure(profile_map, profiles["user_id"], profiles["segment"], profiles["segment_name"],
                                  profiles["top_tags"], data.num_users), height=620)
    summaries = segment_summaries(profiles["segment"], profiles["segment_name"], profiles["top_tags"])
    page.chart(segment_sizes_figure(summaries), height=max(300, 80 + 16 * len(summaries)))
    page.table([{"segment": s.id, "name": s.name, "users": s.users, "share": f"{s.users / data.num_users:.1%}",
                 "top tags (most frequent among its members)": ", ".join(s.top_tags)} for s in summaries],
               scroll=len(summaries) > 15)
    tags = tag_frequency(profiles["top_tags"])
    if tags:
        page.chart(tag_frequency_figure(tags, data.num_users), height=max(300, 60 + 20 * len(tags)))


def _activity_section(page: HtmlPage, data: RunReportData) -> None:
    page.heading("Activity")
    totals = {event: int(np.nansum(data.column(f"{event}_count")))
              for event in shop_schema().event_names if f"{event}_count" in data.profiles}
    if totals:
        page.chart(event_types_figure(totals), height=320)
    spend = data.column("spend")
    buyers = spend[spend > 0]
    page.chart(activity_figure({
        "events per user": BinnedCounts.logarithmic(data.column("event_count"), bins=20, integer=True),
        "days since the last event": BinnedCounts.linear(data.column("recency_days"), bins=30),
        f"spend per buyer ({int((spend > 0).sum()):,} buyers)": BinnedCounts.logarithmic(buyers, bins=20),
    }), height=380)


def _rounded(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return ", ".join(f"{name} {item}" for name, item in value.items())
    return "default" if value is None else value
