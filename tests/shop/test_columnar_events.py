"""The columnar events path gives exactly the row-exact reader's result, or declines."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from personagraph.shop.columnar_events import read_clean_parquet_events
from personagraph.shop.input_table import InputTable
from personagraph.shop.shop_reader import EVENT_COLUMNS, ITEM_COLUMNS, _read_tables, read_shop_files
from personagraph.shop.shop_validation_error import ShopValidationError
from personagraph.shop.timestamp_window import TimestampWindow

WINDOW = TimestampWindow.default(datetime(2026, 1, 1, tzinfo=timezone.utc))
BASE = 1735689600  # 2025-01-01T00:00:00Z


def write_shop(folder, events: dict[str, pa.Array | list]) -> None:
    folder.mkdir(exist_ok=True)
    pq.write_table(pa.table({"item_id": ["i1", "i2", "i3"], "title": ["a", "b", "c"]}), folder / "items.parquet")
    pq.write_table(pa.table(events), folder / "events.parquet")


def row_exact(folder):
    known = ITEM_COLUMNS + EVENT_COLUMNS
    return _read_tables(InputTable.open(folder / "items.parquet", known, False),
                        InputTable.open(folder / "events.parquet", known, False), "fail", WINDOW)


def assert_same(folder) -> None:
    expected = row_exact(folder).shop
    fast = read_clean_parquet_events(folder / "events.parquet", expected.catalog, WINDOW, progress=False)
    assert fast is not None, "the columnar path declined clean rows"
    assert fast.user_ids == expected.events.user_ids and fast.query_texts == expected.events.query_texts
    for name in ("user", "kind", "timestamp", "item", "query"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(expected.events, name), err_msg=name)


def events(**overrides) -> dict:
    columns = {
        "user_id": ["u2", "u1", "u2", "u10", "u1", "u3"],
        "event": ["view", "search", "purchase", "View ", "click", "search"],
        "timestamp": [f"2025-01-0{d}T10:00:0{d}Z" for d in (3, 1, 4, 2, 1, 5)],
        "item_id": ["i1", "", "i1", "i3", "i2", None],
        "query": ["", "  Cordless  DRILL", "", "", "", "beakers"],
    }
    columns.update(overrides)
    return columns


def test_clean_text_columns_read_like_the_row_reader(tmp_path):
    write_shop(tmp_path, events())
    assert_same(tmp_path)


@pytest.mark.parametrize("timestamps", [
    pa.array([BASE + 5, BASE, BASE + 9, BASE + 1, BASE, BASE + 2], pa.timestamp("s", tz="UTC")),
    pa.array([(BASE + 5) * 10**9 + 999, BASE * 10**9, BASE * 10**9, BASE * 10**9 + 1, BASE * 10**9,
              (BASE + 1) * 10**9], pa.timestamp("ns")),
    pa.array([BASE + 5, BASE, BASE + 9, BASE + 1, BASE, BASE + 2], pa.int64()),
    pa.array([BASE + 0.5, BASE, BASE + 9.25, BASE + 1, BASE, BASE + 2], pa.float64()),
    pa.array([20090, 20089, 20091, 20089, 20089, 20092], pa.date32()),
    pa.array(["2025-01-03 10:00:00", "2025-01-01T00:00:00+02:00", "1735689600", "2025-01-02T10:00:00Z",
              "2025-01-01T10:00:00.5Z", "2025-01-05"]),
], ids=["seconds-utc", "nanoseconds", "epoch-int", "epoch-float", "date", "mixed-text"])
def test_other_timestamp_types_read_like_the_row_reader(tmp_path, timestamps):
    write_shop(tmp_path, events(timestamp=timestamps))
    assert_same(tmp_path)


def test_integer_and_dictionary_id_columns_read_like_the_row_reader(tmp_path):
    write_shop(tmp_path, events(user_id=pa.array([2, 1, 2, 10, 1, 3], pa.int64()),
                                event=pa.array(["view", "search", "purchase", "view", "click", "search"]
                                               ).dictionary_encode()))
    assert_same(tmp_path)


def test_dictionary_values_no_row_uses_are_not_checked(tmp_path):
    """A writer may store every id of the file in each row group's dictionary; only the values rows use count."""
    unused = pa.array(["u2", "u1", "u10", "u3", " padded", ""])
    write_shop(tmp_path, events(user_id=pa.DictionaryArray.from_arrays(pa.array([0, 1, 0, 2, 1, 3], pa.int32()),
                                                                        unused)))
    assert " padded" in pq.read_table(tmp_path / "events.parquet").column("user_id").chunk(0).dictionary.to_pylist()
    assert_same(tmp_path)


def write_row_groups(folder, user_ids: list[list[str]]) -> None:
    """Events in one row group per list of user ids, each with its own user and item dictionaries."""
    groups = [pa.table({"user_id": pa.array(users).dictionary_encode(), "event": ["view"] * len(users),
                        "timestamp": [f"2025-01-0{d % 9 + 1}T00:00:00Z" for d in range(len(users))],
                        "item_id": pa.array([f"i{d % 3 + 1}" for d in range(len(users))]).dictionary_encode()})
              for users in user_ids]
    write_shop(folder, {})
    pq.write_table(pa.concat_tables(groups), folder / "events.parquet", row_group_size=3)


def test_row_groups_with_their_own_dictionaries_read_like_the_row_reader(tmp_path):
    write_row_groups(tmp_path, [["u2", "u1", "u2"], ["u3", "u1", "u4"], ["u4", "u0", "u5"]])
    assert pq.ParquetFile(tmp_path / "events.parquet").num_row_groups == 3
    assert_same(tmp_path)


def test_an_unclean_id_in_a_later_row_group_is_left_to_the_row_reader(tmp_path):
    write_row_groups(tmp_path, [["u2", "u1", "u2"], ["u3", "u1", "u4"], ["u4", "u0 ", "u5"]])
    catalog = row_exact_catalog(tmp_path)
    assert read_clean_parquet_events(tmp_path / "events.parquet", catalog, WINDOW, progress=False) is None


@pytest.mark.parametrize("change", [
    {"user_id": [" u2", "u1", "u2", "u10", "u1", "u3"]},  # padded: the row reader strips it
    {"user_id": ["u2", "", "u2", "u10", "u1", "u3"]},
    {"user_id": pa.array([" u2", "u1", "u2", "u10", "u1", "u3"]).dictionary_encode()},  # checked per distinct id
    {"item_id": pa.array(["i1", "", "i1 ", "i3", "i2", None]).dictionary_encode()},
    {"event": ["view", "search", "purchase", "like", "click", "search"]},
    {"item_id": ["i1", "", "i9", "i3", "i2", None]},  # unknown item
    {"item_id": ["", "", "i1", "i3", "i2", None]},  # a view without its item
    {"query": ["", "  ", "", "", "", "beakers"]},  # a search without its text
    {"query": ["", "a\0b", "", "", "", "beakers"]},
    {"timestamp": ["2025-01-03T10:00:00Z", "1980-01-01T00:00:00Z"] + ["2025-01-01T00:00:00Z"] * 4},
    {"timestamp": ["2025-02-30T10:00:00Z"] + ["2025-01-01T00:00:00Z"] * 5},
    {"timestamp": pa.array([BASE * 1000] * 6, pa.int64())},  # milliseconds
    {"timestamp": pa.array([BASE, None, BASE, BASE, BASE, BASE], pa.float64())},
])
def test_anything_unclean_is_left_to_the_row_reader(tmp_path, change):
    write_shop(tmp_path, events(**change))
    catalog = row_exact_catalog(tmp_path)
    assert read_clean_parquet_events(tmp_path / "events.parquet", catalog, WINDOW, progress=False) is None


def row_exact_catalog(folder):
    from personagraph.shop.shop_reader import _Problems, _read_items

    table = InputTable.open(folder / "items.parquet", ITEM_COLUMNS, False)
    return _read_items(table, _Problems("fail"))[0]


def test_a_bad_row_is_still_located_by_the_row_reader(tmp_path):
    write_shop(tmp_path, events(item_id=["i1", "", "i9", "i3", "i2", None]))
    with pytest.raises(ShopValidationError) as raised:
        read_shop_files(tmp_path, progress=False, timestamp_window=WINDOW)
    assert "events.parquet:row 3: item_id: unknown item 'i9'" in str(raised.value)
    reading = read_shop_files(tmp_path, "skip", progress=False, timestamp_window=WINDOW)
    assert [str(count) for count in reading.tables][1] == "events.parquet: 6 rows read = 5 accepted + 1 rejected"


def test_clean_rows_are_counted(tmp_path):
    write_shop(tmp_path, events())
    reading = read_shop_files(tmp_path, progress=False, timestamp_window=WINDOW)
    assert str(reading.tables[1]) == "events.parquet: 6 rows read = 6 accepted + 0 rejected"
