"""Wall time and peak memory of a named piece of work, for stage summaries and their breakdowns;
and how the C allocator treats the big blocks of a training loop."""
from __future__ import annotations

import ctypes
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


#: glibc's ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4
#: Where glibc's adaptive threshold for mapping a block apart settles once big blocks were freed
#: (its ``DEFAULT_MMAP_THRESHOLD_MAX``; the trim threshold follows at twice that), and its default count.
_SETTLED_MMAP_THRESHOLD, _DEFAULT_MMAP_MAX = 32 * 1024 * 1024, 65536
#: Free memory the heap keeps at its top while reused (``mallopt`` takes an int).
_KEPT_FREE = 2**31 - 1


def _glibc() -> ctypes.CDLL | None:
    """This process's C library when it is glibc (it has ``mallopt`` and ``malloc_trim``), else ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


@contextmanager
def heap_reused() -> Iterator[None]:
    """Within the block, glibc's malloc serves big blocks from its heap and keeps the freed ones there.

    Every training step allocates and frees tensors of up to hundreds of MB (the logits, dropout
    masks, gradients). glibc maps any block above 32 MiB fresh from the system and unmaps it when
    freed, so each step paid a page fault per 4 KiB to get zeroed pages again: a cost that grew
    faster than the shop, since the blocks grow with the batch. Afterwards large blocks are mapped
    apart again (from where glibc's own adaptive threshold settles) and the heap's free memory goes
    back to the system (``malloc_trim``). Elsewhere than on glibc nothing changes.
    """
    libc = _glibc()
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_MAX, 0)
    libc.mallopt(_M_TRIM_THRESHOLD, _KEPT_FREE)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
        libc.mallopt(_M_MMAP_THRESHOLD, _SETTLED_MMAP_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, 2 * _SETTLED_MMAP_THRESHOLD)
        libc.malloc_trim(0)
