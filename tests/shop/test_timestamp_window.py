import math
from datetime import datetime, timezone

import pytest

from personagraph.errors import PersonaGraphError
from personagraph.shop.timestamp_window import DEFAULT_NOT_BEFORE, TimestampWindow, parse_timestamp

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)


def test_default_window_is_1990_to_one_day_after_now():
    window = TimestampWindow.default(NOW)
    assert window.earliest == DEFAULT_NOT_BEFORE.timestamp()
    assert window.latest == NOW.timestamp() + 86_400
    assert str(window) == "1990-01-01T00:00:00Z .. 2025-06-02T00:00:00Z"
    assert window.parse("2025-06-01T23:00:00Z") == (NOW.timestamp() + 23 * 3600, "")
    assert window.parse("2025-06-03")[1].startswith("'2025-06-03' is after 2025-06-02T00:00:00Z")


def test_year_one_with_an_offset_is_a_reason_not_an_overflow():
    seconds, reason = parse_timestamp("0001-01-01T00:00:00+05:00")
    assert reason == "" and seconds < -6e10
    assert TimestampWindow.default(NOW).parse("0001-01-01T00:00:00+05:00")[1].startswith("'0001-01-01T00:00:00+05:00' "
                                                                                         "is before 1990-01-01")


def test_options_set_either_bound_and_a_bad_one_is_a_clear_error():
    window = TimestampWindow.from_options("2020-01-01", None, NOW)
    assert window.earliest == datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp()
    assert window.latest == NOW.timestamp() + 86_400
    assert TimestampWindow.from_options(None, "1735689600", NOW).latest == 1735689600.0
    with pytest.raises(PersonaGraphError, match=r"--not-after: cannot read 'tomorrow'"):
        TimestampWindow.from_options(None, "tomorrow", NOW)
    with pytest.raises(PersonaGraphError, match="is empty"):
        TimestampWindow.from_options("2030-01-01", "2020-01-01", NOW)


def test_recorded_window_reads_back_and_none_recorded_means_any_time():
    window = TimestampWindow.default(NOW)
    assert TimestampWindow.from_dict(window.to_dict()) == window
    assert TimestampWindow.from_dict(None) == TimestampWindow.any_time()
    assert TimestampWindow.any_time().parse("1") == (1.0, "")
    assert math.isinf(TimestampWindow.any_time().latest)
