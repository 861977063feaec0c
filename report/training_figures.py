"""How training went: loss and validation ranking per epoch, and the spectral width / mix grid."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

#: The colour that marks what training chose.
CHOSEN_COLOUR = "#b42318"
#: What training keeps the best epoch by (the trainer's selection metric); starred on its curve.
SELECTION_METRIC = "recall@20"


def training_curves_figure(history: Sequence[dict[str, float]], best_epoch: int) -> go.Figure:
    """Loss (left) and every validation metric recorded (right) per epoch; the kept epoch is marked."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Training loss", "Validation ranking"))
    epochs = [int(record["epoch"]) for record in history]
    figure.add_trace(go.Scatter(x=epochs, y=[record["loss"] for record in history], mode="lines+markers",
                                name="loss"), row=1, col=1)
    metrics = sorted({name for record in history for name in record if "@" in name},
                     key=lambda name: (int(name.split("@")[1]), name))
    for name in metrics:
        evaluated = [record for record in history if name in record]
        figure.add_trace(go.Scatter(x=[int(r["epoch"]) for r in evaluated], y=[r[name] for r in evaluated],
                                    mode="lines+markers", name=name), row=1, col=2)
    if best_epoch:
        figure.add_vline(x=best_epoch, line_dash="dash", line_color=CHOSEN_COLOUR, row="all", col="all")
        chosen = next((record for record in history if int(record["epoch"]) == best_epoch), None)
        selected = SELECTION_METRIC if SELECTION_METRIC in metrics else metrics[-1] if metrics else None
        if chosen is not None and selected is not None:
            figure.add_trace(go.Scatter(x=[best_epoch], y=[chosen.get(selected)], mode="markers",
                                        name=f"chosen epoch {best_epoch}",
                                        marker={"symbol": "star", "size": 16, "color": CHOSEN_COLOUR}), row=1, col=2)
    figure.update_xaxes(title_text="epoch")
    return figure


def spectral_grid_figure(tried: Sequence[dict[str, float]], chosen_dim: int, chosen_mix: float) -> go.Figure:
    """One line per spectral width over the mixes tried, each point the best filter shape tried at that
    width and mix; the chosen setting is a star (a mix of 0 is the GNN alone, whatever the width)."""
    metric = next(name for name in tried[0] if "@" in name)
    figure = go.Figure()
    widths = sorted({int(row["spectral_dim"]) for row in tried})
    for width in widths:
        best: dict[float, float] = {}
        for row in tried:
            if int(row["spectral_dim"]) == width:
                best[row["mix"]] = max(best.get(row["mix"], float("-inf")), row[metric])
        mixes = sorted(best)
        figure.add_trace(go.Scatter(x=mixes, y=[best[mix] for mix in mixes], mode="lines+markers",
                                    name=f"width {width}"))
    last = tried[-1]  # the trainer reports its choice last, beside the filter alone
    chosen = dict(last) if "filter_alone" in last else _chosen_row(tried, chosen_dim or widths[-1], chosen_mix)
    if chosen is not None:
        figure.add_trace(go.Scatter(x=[chosen["mix"]], y=[chosen[metric]], mode="markers", name="chosen",
                                    marker={"symbol": "star", "size": 16, "color": CHOSEN_COLOUR}))
    figure.update_layout(title=f"Spectral filter on validation ({metric} per mix and width)",
                         xaxis_title="mix (0 = GNN only, 1 = spectral only)", yaxis_title=metric)
    return figure


def _chosen_row(tried: Sequence[dict[str, float]], width: int, mix: float) -> dict[str, Any] | None:
    for row in tried:
        if int(row["spectral_dim"]) == width and abs(row["mix"] - mix) < 1e-6:
            return dict(row)
    return None
