"""Property-based tests of the shop readers: whatever a file holds, every row is accounted for
(read = accepted + rejected) or the reader refuses the file with a located PersonaGraphError;
never another exception. Readers run before any store is opened, so nothing bad can reach it.

The default run tries a fast subset; ``-m slow`` runs well over a thousand generated shops.
"""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personagraph.cli.main import cli
from personagraph.errors import PersonaGraphError
from personagraph.shop.shop_reader import read_shop_files
from personagraph.shop.shop_validation_error import ShopValidationError

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FULL = settings(max_examples=1_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Where an error may point: a file, and optionally its line (text) or row (Parquet).
LOCATED = re.compile(r"\b(items|events)\.(csv|jsonl|parquet)(:(\d+|row \d+))?\b")

EVENT_NAMES = ["view", "click", "add_to_cart", "purchase", "search"]
GOOD_TIMES = st.sampled_from(["2025-01-01T00:00:00Z", "1735689600", "2024-12-31 23:59:59", "2025-03-01"])
BAD_TIMES = st.sampled_from(["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59Z", "1735689600000", "0", "-5",
                             "yesterday", "", "nan", "inf", "2025-13-01", "1e10", "  ", "2025-01-01T00:00:00+25:00"])
NASTY_TEXT = st.text(max_size=12) | st.sampled_from(['"', '""', 'a"b', "\0", "\r", "\n", ",", "é", "🛒", "\ufeff",
                                                    "x" * 300])
ANY_VALUE = st.one_of(NASTY_TEXT, st.integers(), st.floats(allow_nan=True), st.none(), st.booleans(),
                      st.lists(st.integers(), max_size=2))


@st.composite
def shop_rows(draw) -> tuple[list[dict], list[dict]]:
    """Mostly valid items and events, with some cells replaced by anything at all."""
    item_ids = draw(st.lists(st.sampled_from(["A", "B", "C", "D", "é", "1"]), min_size=1, max_size=4, unique=True))
    items = [{"item_id": item_id, "title": draw(NASTY_TEXT), "price": draw(st.sampled_from(["", "3.5", "12", "0", "-1", "x"]))}
             for item_id in item_ids]
    events = []
    for _ in range(draw(st.integers(0, 12))):
        event = draw(st.sampled_from(EVENT_NAMES))
        row = {"user_id": draw(st.sampled_from(["u1", "u2", "u3"])), "event": event,
               "timestamp": draw(GOOD_TIMES | BAD_TIMES) if draw(st.booleans()) else draw(GOOD_TIMES),
               "item_id": draw(st.sampled_from(item_ids + [""])), "query": "drill" if event == "search" else ""}
        events.append(row)
    for rows in (items, events):
        for row in rows:
            if draw(st.integers(0, 5)) == 0:  # mixed types, missing and extra columns
                column = draw(st.sampled_from(sorted(row) + ["extra"]))
                if draw(st.booleans()):
                    row[column] = draw(ANY_VALUE)
                else:
                    row.pop(column, None)
    return items, events


def to_csv(rows: list[dict]) -> bytes:
    import csv
    import io

    columns = list(dict.fromkeys(column for row in rows for column in row)) or ["item_id", "title"]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


def to_jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode("utf-8")


def to_parquet(rows: list[dict], path: Path, kinds: dict[str, str]) -> None:
    """One column per key, typed as ``kinds`` says (text by default), so types can clash with the schema."""
    columns = list(dict.fromkeys(column for row in rows for column in row)) or ["item_id", "title"]
    arrays = {}
    for column in columns:
        cells = [row.get(column) for row in rows]
        kind = kinds.get(column, "string")
        if kind == "int":
            arrays[column] = pa.array([hash(str(c)) % 10**12 if c is not None else None for c in cells], pa.int64())
        elif kind == "float":
            arrays[column] = pa.array([float(len(str(c))) if c is not None else None for c in cells], pa.float64())
        elif kind == "timestamp":
            arrays[column] = pa.array([hash(str(c)) % 2**62 - 2**61 for c in cells], pa.timestamp("ms"))
        elif kind == "list":
            arrays[column] = pa.array([[str(c)] for c in cells], pa.list_(pa.string()))
        else:
            arrays[column] = pa.array([None if c is None else str(c).encode("utf-8", "replace").decode("utf-8")
                                       for c in cells], pa.string())
    pq.write_table(pa.table(arrays), path, compression="none", row_group_size=4)


@st.composite
def corruptions(draw) -> list[tuple[str, int, bytes]]:
    """Edits of a file's bytes: (kind, position 0..1e6 scaled to the file, bytes)."""
    kinds = st.sampled_from(["insert", "delete", "truncate", "overwrite"])
    payload = st.sampled_from([b'"', b"\0", b"\xff", b"\xc3", b"\r", b"\n", b",", b",,,", b"\n\n", b"x" * 140_000,
                               b'"\n"', b"\xef\xbb\xbf", b"{", b"}"]) | st.binary(max_size=8)
    return draw(st.lists(st.tuples(kinds, st.integers(0, 10**6), payload), max_size=3))


def corrupt(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    for kind, where, payload in edits:
        at = where * len(data) // 10**6 if data else 0
        if kind == "insert":
            data = data[:at] + payload + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + len(payload):]
        elif kind == "truncate":
            data = data[:at]
        else:
            data = data[:at] + payload + data[at + len(payload):]
    return data


@st.composite
def shop_cases(draw) -> dict:
    items, events = draw(shop_rows())
    return {
        "items": items, "events": events,
        "formats": (draw(st.sampled_from(["csv", "jsonl", "parquet"])), draw(st.sampled_from(["csv", "jsonl", "parquet"]))),
        "kinds": draw(st.dictionaries(st.sampled_from(["user_id", "timestamp", "item_id", "title", "price", "query"]),
                                      st.sampled_from(["int", "float", "timestamp", "list", "string"]), max_size=2))
        if draw(st.booleans()) else {},
        "item_edits": draw(corruptions()) if draw(st.integers(0, 3)) == 0 else [],
        "event_edits": draw(corruptions()) if draw(st.booleans()) else [],
        "encoding": draw(st.sampled_from(["utf-8"] * 10 + ["latin-1", "utf-16"])),
        "on_error": draw(st.sampled_from(["fail", "skip", "skip"])),
    }


def write_case(case: dict, folder: Path) -> dict[str, bytes]:
    """The case's two tables in ``folder``; returns the bytes written for text tables."""
    written = {}
    for name, rows, fmt, edits in (("items", case["items"], case["formats"][0], case["item_edits"]),
                                   ("events", case["events"], case["formats"][1], case["event_edits"])):
        path = folder / f"{name}.{fmt}"
        if fmt == "parquet":
            to_parquet(rows, path, case["kinds"])
            path.write_bytes(corrupt(path.read_bytes(), edits))
            continue
        data = to_csv(rows) if fmt == "csv" else to_jsonl(rows)
        if case["encoding"] != "utf-8" and name == "events":
            data = data.decode("utf-8", "replace").encode(case["encoding"], "replace")
        data = corrupt(data, edits)
        path.write_bytes(data)
        written[path.name] = data
    return written


def non_blank_lines(name: str, data: bytes) -> int:
    """Lines of a text table a reader must account for: all but the CSV header and blank lines."""
    lines = data.decode("utf-8-sig").split("\n")
    if name.endswith(".csv"):
        return sum(1 for line in lines[1:] if line.strip("\r"))
    return sum(1 for line in lines if line.strip())


def check_case(case: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        written = write_case(case, folder)
        try:
            reading = read_shop_files(folder, case["on_error"], progress=False)
        except ShopValidationError as error:
            assert error.total >= len(error.problems) >= 1
            for problem in error.problems:
                assert LOCATED.search(f"{problem.file}:{problem.location}" if problem.location else problem.file)
                assert problem.location == "" or re.fullmatch(r"\d+|row \d+", problem.location)
            return
        except PersonaGraphError as error:
            message = str(error)
            assert LOCATED.search(message), message
            assert "\n" not in message, message
            return
    # Success: every row read was accepted or rejected, and nothing else happened to it.
    counts = {table.file: table for table in reading.tables}
    for table in reading.tables:
        assert table.rows_read == table.rows_accepted + table.rows_rejected
    items, events = reading.tables
    assert items.rows_accepted == len(reading.shop.catalog) >= 1
    assert events.rows_accepted == len(reading.shop.events)
    assert len(reading.rejected) == items.rows_rejected + events.rows_rejected
    if case["on_error"] == "fail":
        assert not reading.rejected
    # Every non-blank line of a text events table is a row: none can vanish into another.
    if events.file in written:
        assert events.rows_read == non_blank_lines(events.file, written[events.file]), counts
    if not len(reading.shop.events):
        return
    times = reading.shop.events.timestamp
    assert (times >= 631152000).all() and (times.max() <= 4102444800)  # 1990 .. 2100: the window held


@FAST
@given(shop_cases())
def test_readers_account_for_every_row_or_refuse_at_a_place(case):
    check_case(case)


@pytest.mark.slow
@FULL
@given(shop_cases())
def test_readers_account_for_every_row_or_refuse_at_a_place_many(case):
    check_case(case)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shop_cases())
def test_stats_never_shows_a_traceback(case):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_case(case, folder)
        result = CliRunner().invoke(cli, ["stats", str(folder), "--on-error", case["on_error"],
                                          "--rejected", str(folder / "rejected.csv")])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        assert LOCATED.search(result.output), result.output
