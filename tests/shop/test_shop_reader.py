import csv
import json
import math
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from personagraph.errors import PersonaGraphError
from personagraph.shop.shop_data import EVENT_CODE
from personagraph.shop.shop_reader import read_shop, read_shop_files, shop_from_rows, write_rejected
from personagraph.shop.shop_validation_error import ShopValidationError
from personagraph.shop.timestamp_window import TimestampWindow

ITEMS_CSV = (
    "item_id,title,description,category,brand,price\n"
    'A,Drill,"Two-line\ndescription",Tools>Power Tools > Drills,Voltaro,99.5\n'  # lines 2-3
    "B,,,,,\n"  # line 4: ID-only item, unknown price
    "C,Beaker,,Lab > Glassware,,abc\n"  # line 5: bad price
    "A,Drill again,,,,1\n"  # line 6: duplicate
)
EVENTS_CSV = (
    "user_id,event,timestamp,item_id,query\n"
    "u2,view,2025-01-01T00:00:10Z,A,\n"  # 2
    "u1,search,1735689600,B, Cordless  DRILL \n"  # 3
    "u1,teleport,1735689600,A,\n"  # 4: unknown event
    "u1,view,yesterday,A,\n"  # 5: bad timestamp
    "u1,purchase,1735689700,Z,\n"  # 6: unknown item
    "u1,search,1735689700,,  \n"  # 7: empty query
    "u1,view,1735689800,,\n"  # 8: item event without item
    "u1,view,1735689900,C,\n"  # 9: item whose row was rejected
    "u1,view,2025-01-01T00:00:05,A,\n"  # 10: naive ISO = UTC
)


def write(folder, name, text):
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def problems_of(data_dir):
    with pytest.raises(ShopValidationError) as caught:
        read_shop(data_dir, progress=False)
    return [str(problem) for problem in caught.value.problems], caught.value.total


def test_csv_problems_name_file_physical_line_and_field(tmp_path):
    write(tmp_path, "items.csv", ITEMS_CSV)
    write(tmp_path, "events.csv", EVENTS_CSV)
    problems, total = problems_of(tmp_path)
    assert problems == [
        "items.csv:5: price: not a number: 'abc'",
        "items.csv:6: item_id: duplicate of 'A' at items.csv:2",
        "events.csv:4: event: unknown event type 'teleport'; expected one of view, click, add_to_cart, purchase, search",
        "events.csv:5: timestamp: cannot read 'yesterday' as ISO 8601 or epoch seconds",
        "events.csv:6: item_id: unknown item 'Z' (not in items.csv)",
        "events.csv:7: query: empty; a search event needs its query text",
        "events.csv:8: item_id: empty; a 'view' event needs the item it is about",
        "events.csv:9: item_id: item 'C' was rejected in items.csv",
    ]
    assert total == 8


def test_skip_keeps_good_rows_sorted_by_user_then_time(tmp_path):
    write(tmp_path, "items.csv", ITEMS_CSV)
    write(tmp_path, "events.csv", EVENTS_CSV)
    shop, rejected = read_shop(tmp_path, on_error="skip", progress=False)
    catalog, events = shop.catalog, shop.events
    assert catalog.item_ids == ["A", "B"]
    assert catalog.categories == ["Tools > Power Tools > Drills", ""]
    assert catalog.descriptions[0] == "Two-line\ndescription"
    assert catalog.prices[0] == 99.5 and math.isnan(catalog.prices[1])
    assert catalog.text(1) == ""  # an ID-only item has no text
    assert events.user_ids == ["u1", "u2"]  # sorted by id
    assert events.query_texts == ["cordless drill"]
    start = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()
    # u1 searched at epoch 1735689600 (00:00:00 UTC), then viewed at the naive 00:00:05 (read as UTC)
    assert events.user.tolist() == [0, 0, 1]
    assert events.timestamp.tolist() == [start, start + 5, start + 10]
    assert events.kind.tolist() == [EVENT_CODE["search"], EVENT_CODE["view"], EVENT_CODE["view"]]
    assert events.item.tolist() == [1, 0, 0]  # the search carries the clicked item B
    assert events.query.tolist() == [0, -1, -1]
    assert [str(row.problem) for row in rejected][:2] == [
        "items.csv:5: price: not a number: 'abc'",
        "items.csv:6: item_id: duplicate of 'A' at items.csv:2",
    ]
    assert len(rejected) == 8
    assert rejected[2].values == {"user_id": "u1", "event": "teleport", "timestamp": "1735689600",
                                  "item_id": "A", "query": ""}


def test_write_rejected_keeps_location_problem_and_original_values(tmp_path):
    data_dir = write(tmp_path / "shop", "items.csv", ITEMS_CSV)
    write(data_dir, "events.csv", EVENTS_CSV)
    _, rejected = read_shop(data_dir, on_error="skip", progress=False)
    assert write_rejected(rejected, tmp_path / "rejected.csv") == 8
    with (tmp_path / "rejected.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8
    assert rows[0]["file"] == "items.csv" and rows[0]["line"] == "5" and rows[0]["field"] == "price"
    assert rows[0]["price"] == "abc" and rows[0]["title"] == "Beaker" and rows[0]["user_id"] == ""
    assert rows[3]["file"] == "events.csv" and rows[3]["line"] == "5" and rows[3]["timestamp"] == "yesterday"


def test_missing_required_column_is_one_problem_in_both_modes(tmp_path):
    write(tmp_path, "items.csv", "item_id,title\nA,Drill\n")
    write(tmp_path, "events.csv", "user_id,timestamp,item_id\nu1,1,A\nu2,2,A\n")
    for on_error in ("fail", "skip"):
        with pytest.raises(ShopValidationError) as caught:
            read_shop(tmp_path, on_error=on_error, progress=False)
        assert caught.value.total == 1
        assert str(caught.value.problems[0]) == (
            "events.csv: event: required column missing (columns found: user_id, timestamp, item_id)"
        )


def test_error_lists_first_twenty_problems_and_the_total(tmp_path):
    write(tmp_path, "items.csv", "item_id,title\nA,Drill\n")
    write(tmp_path, "events.csv", "user_id,event,timestamp,item_id\n" + "u1,view,1735689600,NOPE\n" * 25)
    with pytest.raises(ShopValidationError) as caught:
        read_shop(tmp_path, progress=False)
    message = str(caught.value)
    assert len(caught.value.problems) == 20 and caught.value.total == 25
    assert "events.csv:21: item_id: unknown item 'NOPE'" in message
    assert "events.csv:22:" not in message and "and 5 more" in message
    assert isinstance(caught.value, PersonaGraphError)


@pytest.mark.parametrize(("text", "expected"), [
    ("1735689600", 1735689600.0),
    ("1735689600.5", 1735689600.5),
    ("2025-01-01T00:00:00Z", 1735689600.0),
    ("2025-01-01T02:00:00+02:00", 1735689600.0),
    ("2025-01-01 00:00:00", 1735689600.0),
    ("2025-01-01", 1735689600.0),
])
def test_iso_and_epoch_timestamps(tmp_path, text, expected):
    write(tmp_path, "items.csv", "item_id,title\nA,Drill\n")
    write(tmp_path, "events.csv", f"user_id,event,timestamp,item_id\nu1,view,{text},A\n")
    assert read_shop(tmp_path, progress=False).events.timestamp.tolist() == [expected]


def test_epoch_milliseconds_are_rejected_with_a_hint(tmp_path):
    write(tmp_path, "items.csv", "item_id,title\nA,Drill\n")
    write(tmp_path, "events.csv", "user_id,event,timestamp,item_id\nu1,view,1735689600000,A\n")
    assert problems_of(tmp_path)[0] == [
        "events.csv:2: timestamp: '1735689600000' looks like epoch milliseconds; give epoch seconds"
    ]


def test_jsonl_problems_use_physical_lines(tmp_path):
    items = [{"item_id": "A", "title": "Drill", "price": 12}, {"item_id": "B", "title": "Saw", "price": None}]
    write(tmp_path, "items.jsonl", "\n".join(json.dumps(row) for row in items) + "\n")
    write(tmp_path, "events.jsonl", "\n".join([
        json.dumps({"user_id": "u1", "event": "view", "timestamp": 1735689600, "item_id": "A"}),
        "",  # blank line 2 is skipped but counted
        "{not json",
        json.dumps({"user_id": "u1", "event": "search", "timestamp": "2025-01-01T00:00:00Z", "query": ""}),
        json.dumps({"user_id": "u1", "event": "purchase", "timestamp": 1735689700, "item_id": "Q"}),
    ]) + "\n")
    problems, total = problems_of(tmp_path)
    assert total == 3 and problems[0].startswith("events.jsonl:3: row: not valid JSON")
    assert problems[1:] == [
        "events.jsonl:4: query: empty; a search event needs its query text",
        "events.jsonl:5: item_id: unknown item 'Q' (not in items.jsonl)",
    ]
    shop, rejected = read_shop(tmp_path, on_error="skip", progress=False)
    assert shop.catalog.prices[0] == 12.0 and math.isnan(shop.catalog.prices[1])
    assert len(shop.events) == 1 and rejected[0].values == {"raw": "{not json"}


def test_parquet_problems_name_rows(tmp_path):
    pq.write_table(pa.table({"item_id": ["A", "B"], "title": ["Drill", "Saw"], "price": [3.5, -1.0]}),
                   tmp_path / "items.parquet")
    moment = datetime(2025, 1, 1, tzinfo=timezone.utc)
    pq.write_table(pa.table({
        "user_id": ["u1", "u1", "u2"],
        "event": ["view", "add_to_cart", "view"],
        "timestamp": [moment, moment, moment],
        "item_id": ["A", None, "A"],
    }), tmp_path / "events.parquet")
    problems, total = problems_of(tmp_path)
    assert total == 2 and problems == [
        "items.parquet:row 2: price: must be a finite number >= 0, not '-1.0'",
        "events.parquet:row 2: item_id: empty; a 'add_to_cart' event needs the item it is about",
    ]
    shop, _ = read_shop(tmp_path, on_error="skip", progress=False)
    assert shop.events.timestamp.tolist() == [moment.timestamp()] * 2
    assert shop.events.user_ids == ["u1", "u2"]


def test_table_must_exist_once(tmp_path):
    write(tmp_path, "items.csv", "item_id,title\nA,Drill\n")
    with pytest.raises(PersonaGraphError, match="no events table"):
        read_shop(tmp_path, progress=False)
    write(tmp_path, "events.csv", "user_id,event,timestamp,item_id\n")
    write(tmp_path, "events.jsonl", "")
    with pytest.raises(PersonaGraphError, match="several events tables"):
        read_shop(tmp_path, progress=False)


def test_equal_timestamps_keep_file_order_and_rows_match_files(tmp_path):
    items = [{"item_id": "A", "title": "Drill"}, {"item_id": "B", "title": "Saw"}]
    events = [
        {"user_id": "u9", "event": "view", "timestamp": 5, "item_id": "B"},
        {"user_id": "u1", "event": "view", "timestamp": 7, "item_id": "A"},
        {"user_id": "u9", "event": "purchase", "timestamp": 5, "item_id": "B"},
        {"user_id": "u9", "event": "view", "timestamp": 1, "item_id": "A"},
    ]
    shop = shop_from_rows(items, events)
    assert shop.events.user_ids == ["u1", "u9"]
    assert shop.events.timestamp.tolist() == [7, 1, 5, 5]
    assert shop.events.kind.tolist() == [0, 0, 0, 3]
    write(tmp_path, "items.jsonl", "".join(json.dumps(row) + "\n" for row in items))
    write(tmp_path, "events.jsonl", "".join(json.dumps(row) + "\n" for row in events))
    from_files = read_shop(tmp_path, progress=False, timestamp_window=TimestampWindow.any_time()).events
    for name in ("user", "kind", "timestamp", "item", "query"):
        np.testing.assert_array_equal(getattr(from_files, name), getattr(shop.events, name))


def test_missing_column_advice_is_to_add_it_not_to_skip(tmp_path):
    write(tmp_path, "items.csv", "item_id\nA\n")
    write(tmp_path, "events.csv", "user_id,event,timestamp\n")
    with pytest.raises(ShopValidationError, match=r"Add the missing column\(s\)\. Required: items: item_id, title;"):
        read_shop(tmp_path, progress=False)


# -- damaged input: every row accounted for, or the file refused at file:line ----------------
ITEMS_ONE = "item_id,title\nA,Drill\n"
GOOD_EVENT = "u1,view,2025-01-01T00:00:00Z,A,\n"
EVENTS_HEADER = "user_id,event,timestamp,item_id,query\n"


def refused(data_dir, on_error="fail") -> str:
    """The one-line error a damaged file gives, in either mode."""
    with pytest.raises(PersonaGraphError) as caught:
        read_shop(data_dir, on_error=on_error, progress=False)
    assert not isinstance(caught.value, ShopValidationError)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_stray_quote_no_longer_swallows_the_rest_of_the_file(tmp_path):
    # Before: the search's query became the rest of the file, 0 rows rejected, 230 events gone.
    write(tmp_path, "items.csv", ITEMS_ONE)
    write(tmp_path, "events.csv", EVENTS_HEADER + GOOD_EVENT * 3 + 'u2,search,2025-01-01T00:00:00Z,,"drill\n'
          + GOOD_EVENT * 230)
    for on_error in ("fail", "skip"):
        message = refused(tmp_path, on_error)
        assert message.startswith("events.csv:5: unbalanced quote: the quoted value that starts on line 5 never closes")


def test_a_quoted_value_over_lines_is_refused_outside_descriptions(tmp_path):
    write(tmp_path, "items.csv", ITEMS_ONE)
    write(tmp_path, "events.csv", EVENTS_HEADER + GOOD_EVENT + 'u2,search,2025-01-01T00:00:00Z,,"drill\n'
          + 'u3,view,2025-01-01T00:00:00Z,A,\n' + 'u4,view,2025-01-01T00:00:00Z,A,x"\n')
    message = refused(tmp_path)
    assert message.startswith("events.csv:3: query: a quoted value runs over lines 3-5")
    write(tmp_path, "events.csv", EVENTS_HEADER + 'u2,search,2025-01-01T00:00:00Z,,"drill\nu3,view,"2025"x,A,\n')
    assert refused(tmp_path).startswith("events.csv:2: unbalanced quote: a quoted value ends at line 3")


def test_accounting_of_rows_read_accepted_and_rejected(tmp_path):
    write(tmp_path, "items.csv", ITEMS_CSV)
    write(tmp_path, "events.csv", EVENTS_CSV + "\n\n")  # trailing blank lines are no rows
    reading = read_shop_files(tmp_path, on_error="skip", progress=False)
    assert [str(table) for table in reading.tables] == [
        "items.csv: 4 rows read = 2 accepted + 2 rejected",
        "events.csv: 9 rows read = 3 accepted + 6 rejected",
    ]
    assert len(reading.rejected) == 8 and len(reading.shop.events) == 3


def test_header_only_events_read_as_an_empty_log(tmp_path):
    write(tmp_path, "items.csv", ITEMS_ONE)
    write(tmp_path, "events.csv", EVENTS_HEADER)
    reading = read_shop_files(tmp_path, progress=False)
    assert len(reading.shop.events) == 0 and str(reading.tables[1]) == "events.csv: 0 rows read = 0 accepted + 0 rejected"


@pytest.mark.parametrize(("timestamp", "reason"), [
    ("0001-01-01T00:00:00+05:00", "'0001-01-01T00:00:00+05:00' is before 1990-01-01T00:00:00Z"),
    ("1", "'1' is before 1990-01-01T00:00:00Z"),
    ("9999-12-31T23:59:59Z", "'9999-12-31T23:59:59Z' is after "),
    ("4102444800", "'4102444800' is after "),  # 2100-01-01
])
def test_timestamps_outside_the_window_are_rejected_rows(tmp_path, timestamp, reason):
    write(tmp_path, "items.csv", ITEMS_ONE)
    write(tmp_path, "events.csv", EVENTS_HEADER + GOOD_EVENT + f"u2,view,{timestamp},A,\n")
    problems, total = problems_of(tmp_path)
    assert total == 1 and problems[0].startswith(f"events.csv:3: timestamp: {reason}")
    reading = read_shop_files(tmp_path, on_error="skip", progress=False)
    assert str(reading.tables[1]) == "events.csv: 2 rows read = 1 accepted + 1 rejected"
    # No far-future row reaches the shop, where it would set every user's recency to millions of days.
    assert reading.shop.events.timestamp.max() == datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()
    anything = TimestampWindow.from_options("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z")
    assert len(read_shop(tmp_path, progress=False, timestamp_window=anything).events) == 2


def test_a_single_problem_is_one_line(tmp_path):
    write(tmp_path, "items.csv", ITEMS_ONE)
    write(tmp_path, "events.csv", EVENTS_HEADER + "u2,view,0001-01-01T00:00:00+05:00,A,\n")
    with pytest.raises(ShopValidationError) as caught:
        read_shop(tmp_path, progress=False)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("events.csv:2: timestamp: ")


def test_nul_characters_are_rejected_rows_and_a_utf16_file_is_refused(tmp_path):
    write(tmp_path, "items.csv", ITEMS_ONE)
    write(tmp_path, "events.csv", EVENTS_HEADER + GOOD_EVENT + "u\0,view,2025-01-01T00:00:00Z,A,\n")
    problems, _ = problems_of(tmp_path)
    assert problems == ["events.csv:3: user_id: holds a NUL character; the file is damaged or not text"]
    (tmp_path / "events.csv").write_bytes(EVENTS_HEADER.encode("utf-16-le"))
    assert refused(tmp_path).startswith("events.csv:1: the header holds NUL bytes")
    (tmp_path / "events.csv").write_bytes(EVENTS_HEADER.encode("utf-16"))
    assert refused(tmp_path).startswith("events.csv:1: not UTF-8 text")


def test_a_huge_field_and_a_bare_carriage_return_are_refused_at_their_line(tmp_path):
    write(tmp_path, "items.csv", ITEMS_ONE)
    write(tmp_path, "events.csv", EVENTS_HEADER + GOOD_EVENT + "u2,search,2025-01-01T00:00:00Z,," + "x" * 200_000 + "\n")
    assert refused(tmp_path).startswith("events.csv:3: a value longer than 131,072 characters")
    write(tmp_path, "events.csv", EVENTS_HEADER + GOOD_EVENT + "u2,view,2025\r01,A,\n")
    assert refused(tmp_path).startswith("events.csv:3: a bare carriage return")


def test_jsonl_values_that_are_not_text_or_numbers_are_rejected_rows(tmp_path):
    write(tmp_path, "items.csv", ITEMS_ONE)
    write(tmp_path, "events.jsonl", "\n".join([
        json.dumps({"user_id": "u1", "event": "view", "timestamp": "2025-01-01T00:00:00Z", "item_id": "A"}),
        json.dumps({"user_id": ["u1"], "event": "view", "timestamp": "2025-01-01T00:00:00Z", "item_id": "A"}),
        json.dumps({"user_id": "u1", "event": "view", "timestamp": True, "item_id": "A"}),
        '{"user_id": "\\ud800", "event": "view", "timestamp": "2025-01-01T00:00:00Z", "item_id": "A"}',
        "[" * 100_000 + "]" * 100_000,
    ]) + "\n")
    problems, total = problems_of(tmp_path)
    assert total == 4
    assert problems[:3] == [
        "events.jsonl:2: user_id: a JSON list; expected text or a number",
        "events.jsonl:3: timestamp: true/false; expected text or a number",
        "events.jsonl:4: user_id: holds an unpaired \\ud800-\\udfff escape; not valid Unicode text",
    ]
    assert problems[3].startswith("events.jsonl:5: row: not valid JSON")


def parquet_events(path, timestamps, **columns):
    n = len(timestamps)
    pq.write_table(pa.table({"user_id": [f"u{i}" for i in range(n)], "event": ["view"] * n,
                             "timestamp": timestamps, "item_id": ["A"] * n, **columns}), path,
                   compression="none", row_group_size=100)


def test_a_corrupt_parquet_page_is_refused_at_its_row(tmp_path):
    write(tmp_path, "items.csv", ITEMS_ONE)
    path = tmp_path / "events.parquet"
    parquet_events(path, [1735689600 + i for i in range(500)])
    assert len(read_shop(tmp_path, progress=False).events) == 500
    data = bytearray(path.read_bytes())
    offset = pq.ParquetFile(path).metadata.row_group(2).column(0).data_page_offset
    data[offset:offset + 30] = b"\xff" * 30
    path.write_bytes(bytes(data))
    for on_error in ("fail", "skip"):
        assert refused(tmp_path, on_error).startswith("events.parquet:row 201: cannot read row group 2 (")
    path.write_bytes(bytes(data[:len(data) // 2]))
    assert refused(tmp_path).startswith("events.parquet: cannot read it as Parquet (")


def test_a_parquet_timestamp_out_of_range_is_a_rejected_row(tmp_path):
    write(tmp_path, "items.csv", ITEMS_ONE)
    far = pa.array([1735689600_000, 2**62], pa.timestamp("ms"))
    parquet_events(tmp_path / "events.parquet", far)
    problems, total = problems_of(tmp_path)
    assert total == 1 and problems[0].startswith(f"events.parquet:row 2: timestamp: {2**62} ms after 1970-01-01 "
                                                 "is outside the dates")
    parquet_events(tmp_path / "events.parquet", pa.array([datetime(2025, 1, 1), datetime(1, 1, 1)], pa.timestamp("us")))
    problems, _ = problems_of(tmp_path)
    assert problems[0].startswith("events.parquet:row 2: timestamp: '0001-01-01T00:00:00+00:00' is before")


def test_a_parquet_column_of_an_unreadable_type_is_refused(tmp_path):
    write(tmp_path, "items.csv", ITEMS_ONE)
    parquet_events(tmp_path / "events.parquet", [1735689600], query=[["a", "b"]])
    message = refused(tmp_path)
    assert message.startswith("events.parquet: column query has type list<")
    assert message.endswith("store it as text (string) or a number")
