"""Histograms as bin labels and counts, computed here, so a report carries a few numbers per chart
instead of one value per user."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class BinnedCounts:
    """``counts[i]`` values fell in the bin ``labels[i]``; ``missing`` values (NaN) were left out."""

    labels: list[str]
    counts: list[int]
    missing: int

    @classmethod
    def linear(cls, values: np.ndarray, bins: int = 30) -> "BinnedCounts":
        known, missing = _known(values)
        if not known.size:
            return cls([], [], missing)
        counts, edges = np.histogram(known, bins=bins if known.min() < known.max() else 1)
        return cls([f"{_short(lo)}–{_short(hi)}" for lo, hi in zip(edges[:-1], edges[1:])], counts.tolist(), missing)

    @classmethod
    def logarithmic(cls, values: np.ndarray, bins: int = 30, integer: bool = False) -> "BinnedCounts":
        """Bins growing geometrically, for long-tailed values (counts, money); zeros get a bin of their own.
        ``integer`` values get whole-number bins, labelled by the numbers they hold."""
        known, missing = _known(values)
        known = known[known >= 0]
        labels, counts = [], []
        zeros = int((known == 0).sum())
        if zeros:
            labels.append("0")
            counts.append(zeros)
        positive = known[known > 0]
        if positive.size:
            low, high = float(positive.min()), float(positive.max())
            if integer:
                edges = np.unique(np.round(np.geomspace(max(low, 1.0), high + 1, bins + 1)))
                if edges[-1] <= high:
                    edges = np.append(edges, high + 1)
            else:
                edges = np.geomspace(low, high, bins + 1) if low < high else np.array([low, high])
            binned, edges = np.histogram(positive, bins=edges)
            for lo, hi, count in zip(edges[:-1], edges[1:], binned):
                if integer:
                    labels.append(f"{int(lo)}" if hi - lo <= 1 else f"{int(lo)}–{int(hi) - 1}")
                else:
                    labels.append(f"{_short(lo)}–{_short(hi)}")
                counts.append(int(count))
        return cls(labels, counts, missing)


def _known(values: np.ndarray) -> tuple[np.ndarray, int]:
    values = np.asarray(values, dtype=np.float64)
    known = values[~np.isnan(values)]
    return known, int(values.size - known.size)


def _short(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
