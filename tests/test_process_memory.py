import resource
import sys
import time

import pytest
import torch

from personagraph.process_memory import heap_reused, peak_rss_mb, timed


def test_a_timed_block_records_its_seconds_and_the_peak_so_far():
    record: dict = {}
    before = peak_rss_mb()
    with timed(record, "wait"):
        time.sleep(0.05)
    assert record["wait"]["seconds"] >= 0.05 and record["wait"]["peak_rss_mb"] >= round(before, 1)


def test_a_block_that_fails_is_still_recorded():
    record: dict = {}
    try:
        with timed(record, "fails"):
            raise RuntimeError("stopped")
    except RuntimeError:
        pass
    assert set(record["fails"]) == {"seconds", "peak_rss_mb"}


def _page_faults_of_big_blocks(rounds: int = 24, size: int = 48 * 2**20) -> int:
    """Minor page faults while a big tensor (as a training step makes) is allocated, written and freed
    ``rounds`` times (numpy would not do: it asks for huge pages)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(rounds):
        block = torch.ones(size // 4)
        del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def _resident_mb() -> float:
    """This process's resident memory now (not its peak)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_big_blocks_reuse_the_heap_inside_the_block_and_its_memory_goes_back_after():
    mapped = _page_faults_of_big_blocks()  # each 48 MiB block mapped fresh: ~12k faults a round
    with heap_reused():
        reused = _page_faults_of_big_blocks()  # the freed block is soon reused as it is
        block = torch.ones(64 * 2**20)  # 256 MiB, freed: kept by the heap while inside
        del block
        kept = _resident_mb()
    assert reused < mapped / 2
    assert kept - _resident_mb() > 128  # given back to the system on the way out
