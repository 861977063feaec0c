"""`StageClock` gives each stage its seconds, peak memory and, when told its rows, their rate."""
from __future__ import annotations

import time

import pytest

from personagraph.pipeline.stage_clock import StageClock


def test_a_counted_stage_gets_its_rate_whether_counted_inside_or_after_it():
    clock = StageClock()
    with clock.stage("read"):
        clock.count("read", 1000, "events")
        time.sleep(0.05)
    with clock.stage("train"):
        time.sleep(0.05)
    clock.count("train", 300, "events", epochs=3)
    with clock.stage("idle"):
        pass
    read, train = clock.stages["read"], clock.stages["train"]
    assert read["unit"] == "events" and read["rows"] == 1000
    assert read["rows_per_second"] == pytest.approx(1000 / read["seconds"], rel=0.01)
    assert train["epochs"] == 3 and train["rows_per_second"] == pytest.approx(300 / train["seconds"], rel=0.01)
    assert "rows_per_second" not in clock.stages["idle"] and clock.stages["idle"]["peak_rss_mb"] > 0
