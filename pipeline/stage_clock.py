"""Wall time, peak memory and throughput per pipeline stage, for the run summary and metrics.json."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from personagraph.process_memory import timed


class StageClock:
    """Records, for each named stage, its seconds and the process's peak RSS when it ended, and, when
    told how many rows it handled (:meth:`count`), its rate, so a slow stage shows as a low rate
    rather than only as a long time that also grows with the shop."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, Any]] = {}
        self._counts: dict[str, dict[str, Any]] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        try:
            with timed(self.stages, name):
                yield
        finally:
            if name in self._counts:
                self.count(name, **self._counts.pop(name))

    def count(self, name: str, rows: int, unit: str, **details: Any) -> None:
        """Stage ``name`` handled ``rows`` ``unit`` (e.g. 12000 events); called inside the stage or after it.
        ``details`` (e.g. ``epochs=3``) are kept beside the rate."""
        if name not in self.stages:  # still running: applied when it ends
            self._counts[name] = {"rows": rows, "unit": unit, **details}
            return
        seconds = self.stages[name]["seconds"]
        self.stages[name] |= {"rows": int(rows), "unit": unit, **details,
                              "rows_per_second": round(rows / seconds, 1) if seconds > 0 else None}

    @property
    def total_seconds(self) -> float:
        return round(sum(s["seconds"] for s in self.stages.values()), 3)
