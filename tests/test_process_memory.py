import time

from personagraph.process_memory import peak_rss_mb, timed


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
