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
from personagraph.shop.shop_reader import read_shop, shop_from_rows, write_rejected
from personagraph.shop.shop_validation_error import ShopValidationError

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
    write(tmp_path, "events.csv", "user_id,event,timestamp,item_id\n" + "u1,view,1,NOPE\n" * 25)
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
    from_files = read_shop(tmp_path, progress=False).events
    for name in ("user", "kind", "timestamp", "item", "query"):
        np.testing.assert_array_equal(getattr(from_files, name), getattr(shop.events, name))


def test_missing_column_advice_is_to_add_it_not_to_skip(tmp_path):
    write(tmp_path, "items.csv", "item_id\nA\n")
    write(tmp_path, "events.csv", "user_id,event,timestamp\n")
    with pytest.raises(ShopValidationError, match=r"Add the missing column\(s\)\. Required: items: item_id, title;"):
        read_shop(tmp_path, progress=False)
