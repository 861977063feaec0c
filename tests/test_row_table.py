"""Rows held as columns read back as the row dicts they stand for."""
from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from personagraph.row_table import RowTable


def test_null_cells_are_absent_keys_and_batches_join_up():
    table = pa.table({"start": ["a", "b", "c"], "count": [1, None, 3],
                      "last_at": pa.array([datetime(2025, 1, 1, tzinfo=timezone.utc), None, None],
                                          pa.timestamp("us", tz="UTC"))})
    rows = RowTable(table, batch_rows=2)
    assert len(rows) == 3
    assert list(rows) == [{"start": "a", "count": 1, "last_at": datetime(2025, 1, 1, tzinfo=timezone.utc)},
                          {"start": "b"}, {"start": "c", "count": 3}]
    assert list(rows) == list(rows)  # read twice, like a list


@given(st.lists(st.tuples(st.text(max_size=5), st.one_of(st.none(), st.integers(-2**40, 2**40))), max_size=40),
       st.integers(1, 7))
def test_any_rows_round_trip(pairs, batch_rows):
    rows = [{"start": start} | ({} if count is None else {"count": count}) for start, count in pairs]
    table = pa.table({"start": pa.array([s for s, _ in pairs], pa.string()),
                      "count": pa.array([c for _, c in pairs], pa.int64())})
    assert list(RowTable(table, batch_rows)) == rows


def test_a_constant_column_replaces_one_of_the_same_name():
    from personagraph.row_table import with_constant

    table = with_constant(pa.table({"start": ["a", "b"], "run_id": ["old", None]}), "run_id", "r1")
    assert table.column_names == ["start", "run_id"] and table.column("run_id").to_pylist() == ["r1", "r1"]
    assert with_constant(pa.table({"x": pa.array([], pa.int64())}), "run_id", "r").num_rows == 0
