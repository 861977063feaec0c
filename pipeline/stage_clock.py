"""Wall time and peak memory per pipeline stage, for the run summary and metrics.json."""
from __future__ import annotations

import resource
import sys
import time
from contextlib import contextmanager
from typing import Iterator


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class StageClock:
    """Records, for each named stage, its seconds and the process's peak RSS when it ended."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = {
                "seconds": round(time.perf_counter() - start, 3),
                "peak_rss_mb": round(peak_rss_mb(), 1),
            }

    @property
    def total_seconds(self) -> float:
        return round(sum(s["seconds"] for s in self.stages.values()), 3)
