"""Wall time and peak memory of a named piece of work, for stage summaries and their breakdowns."""
from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@contextmanager
def timed(record: dict[str, dict[str, Any]], name: str) -> Iterator[None]:
    """Set ``record[name]`` to the seconds the block took and the process's peak RSS when it ended
    (a peak so far: the first piece of work whose figure reaches the final peak is the one that set it)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        record[name] = {"seconds": round(time.perf_counter() - start, 3), "peak_rss_mb": round(peak_rss_mb(), 1)}
