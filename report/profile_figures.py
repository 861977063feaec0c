"""Charts of the profiles: the 2-D map by segment, segment sizes, tag frequency and activity."""
from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from personagraph.report.binned_counts import BinnedCounts
from personagraph.report.profile_map import ProfileMap
from personagraph.report.profile_statistics import SegmentSummary

#: Enough distinct colours that neighbouring segments rarely share one.
_PALETTE = qualitative.Dark24 + qualitative.Light24
_HOVER_TAGS = 3


def profile_map_figure(profile_map: ProfileMap, user_ids: Sequence[str], segments: Sequence[int],
                       segment_names: Sequence[str], top_tags: Sequence[Sequence[str] | None],
                       total_users: int) -> go.Figure:
    """One trace per segment (largest first); hovering a point shows the user, segment and top tags.
    The per-user sequences are indexed by ``profile_map.rows``."""
    rows = profile_map.rows
    labels = np.asarray([segments[row] for row in rows])
    order = sorted(set(labels.tolist()), key=lambda label: (-int((labels == label).sum()), label))
    figure = go.Figure()
    for position, label in enumerate(order):
        members = np.flatnonzero(labels == label)
        text = [f"{html.escape(user_ids[rows[i]])}<br>{html.escape(', '.join((top_tags[rows[i]] or [])[:_HOVER_TAGS]))}"
                for i in members]
        figure.add_trace(go.Scatter(
            x=profile_map.coordinates[members, 0], y=profile_map.coordinates[members, 1], mode="markers",
            name=segment_names[rows[members[0]]], text=text,
            marker={"size": 5, "color": _PALETTE[position % len(_PALETTE)]},
            hovertemplate="%{text}<br>%{fullData.name}<extra></extra>",
        ))
    first, second = profile_map.explained
    shown = f"{len(rows):,} of {total_users:,} users" if len(rows) < total_users else f"all {total_users:,} users"
    figure.update_layout(title=f"User profiles by segment ({shown}; PCA of the unit profile vectors)",
                         xaxis_title=f"axis 1 ({first:.0%} of variance)", yaxis_title=f"axis 2 ({second:.0%})",
                         legend={"itemsizing": "constant"})
    return figure


def segment_sizes_figure(summaries: Sequence[SegmentSummary]) -> go.Figure:
    ordered = list(reversed(summaries))  # largest at the top
    figure = go.Figure(go.Bar(
        x=[s.users for s in ordered], y=[f"{s.id}: {s.name}" for s in ordered], orientation="h",
        text=[html.escape(", ".join(s.top_tags)) for s in ordered],
        hovertemplate="%{y}<br>%{x:,} users<br>%{text}<extra></extra>", textposition="none",
    ))
    figure.update_layout(title="Segment sizes", xaxis_title="users")
    return figure


def tag_frequency_figure(tags: Sequence[tuple[str, int]], total_users: int) -> go.Figure:
    ordered = list(reversed(tags))
    figure = go.Figure(go.Bar(x=[count for _, count in ordered], y=[html.escape(tag) for tag, _ in ordered],
                              orientation="h", hovertemplate="%{y}: %{x:,} users<extra></extra>"))
    figure.update_layout(title=f"Most frequent tags (users with the tag among their top tags, of {total_users:,})",
                         xaxis_title="users")
    return figure


def activity_figure(distributions: dict[str, BinnedCounts]) -> go.Figure:
    """One histogram per ``title -> counts``, side by side."""
    figure = make_subplots(rows=1, cols=len(distributions), subplot_titles=list(distributions))
    for column, binned in enumerate(distributions.values(), start=1):
        figure.add_trace(go.Bar(x=binned.labels, y=binned.counts, showlegend=False,
                                hovertemplate="%{x}: %{y:,} users<extra></extra>"), row=1, col=column)
        figure.update_xaxes(type="category", row=1, col=column)
    figure.update_yaxes(title_text="users", row=1, col=1)
    return figure


def event_types_figure(totals: dict[str, int]) -> go.Figure:
    figure = go.Figure(go.Bar(x=list(totals), y=list(totals.values()), hovertemplate="%{x}: %{y:,}<extra></extra>"))
    figure.update_layout(title="Events by type", yaxis_title="events")
    return figure
