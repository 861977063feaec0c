"""The events table read column by column with Arrow kernels, for clean data only.

The row-exact reader (``shop_reader`` over :class:`InputTable`) turns every row into Python
values, which is what lets it name ``file:line`` for each problem, but at tens of millions
of events that dominates a run. Clean data needs no such detail, so this path validates whole
record batches with Arrow compute kernels and builds the :class:`EventLog` from arrays. It
accepts a table only when every row would be accepted by the row-exact reader with the same
result; on anything else (a bad row, a value that needs normalising, a type it does not
handle, a damaged page) it returns ``None`` and the caller reads the table again row by row,
which then locates and words the problems. Python work is done per distinct value (event
names, query texts, user ids once), never per row, and no step costs more than once per row: a
Parquet dictionary column may repeat every id of the file in each batch, so only the dictionary
values a batch uses are checked, and item ids are looked up in the catalogue once, at the end.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from personagraph.shop.schema import ITEM, QUERY, shop_schema
from personagraph.shop.shop_data import Catalog, EventLog, normalise_query
from personagraph.shop.timestamp_window import EPOCH_SECONDS_LIMIT, TimestampWindow, parse_timestamp

#: Rows per record batch read from Parquet: a writer's row group (pyarrow's default), since every batch
#: decodes its own copy of a dictionary column's dictionary, which may hold all the file's ids.
BATCH_ROWS = 1 << 20
#: Every character Python's ``str.strip()`` removes, so ids that it would change are left to the row reader.
_PYTHON_SPACE = "".join(f"\\x{{{code:x}}}" for code in range(sys.maxunicode + 1) if chr(code).isspace())
_PADDED = f"^[{_PYTHON_SPACE}]|[{_PYTHON_SPACE}]$"
#: The ISO 8601 form Arrow's cast reads for all rows at once; other forms are parsed per distinct value.
_ISO_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
_MICROSECONDS_PER_UNIT = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": None}
#: Python's datetime range (years 1-9999) in microseconds from 1970, which the row reader can represent.
_MIN_US, _MAX_US = -62_135_596_800_000_000, 253_402_300_799_999_999


class _NotClean(Exception):
    """A value the row-exact reader would reject or normalise: read the table row by row instead."""


@dataclass
class _Columns:
    """What the batches gave so far: per-row codes and times, and the id columns as Arrow chunks."""

    kind: list[np.ndarray] = field(default_factory=list)
    timestamp: list[np.ndarray] = field(default_factory=list)
    items: list[pa.Array] = field(default_factory=list)  # item ids as text, null or empty for none
    named: list[np.ndarray] = field(default_factory=list)  # whether the row names an item
    users: list[pa.Array] = field(default_factory=list)
    queries: list[pa.Array] = field(default_factory=list)  # the query events' texts only
    query_rows: list[np.ndarray] = field(default_factory=list)  # where those events are, per batch
    rows: int = 0


def read_clean_parquet_events(path: Path, catalog: Catalog, window: TimestampWindow,
                              progress: bool = True) -> EventLog | None:
    """The events of a Parquet file when every row is clean, else ``None`` (read it row by row then)."""
    try:
        parquet = pq.ParquetFile(path)
        present = [name for name in ("user_id", "event", "timestamp", "item_id", "query")
                   if name in parquet.schema_arrow.names]
        with tqdm(total=parquet.metadata.num_rows, unit="row", unit_scale=True, desc=path.name,
                  disable=not progress, file=sys.stderr, leave=False) as bar:
            def batches() -> Iterable[pa.RecordBatch]:
                for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=present):
                    yield batch
                    bar.update(batch.num_rows)

            return clean_event_log(batches(), catalog, window)
    except (pa.ArrowException, OSError, ValueError, OverflowError):
        return None  # a damaged file: the row reader says where
    finally:
        # The event log holds numpy copies; Arrow's allocator would otherwise keep the batches'
        # memory (~50 bytes per event) for the rest of the process.
        pa.default_memory_pool().release_unused()


def clean_event_log(batches: Iterable[pa.RecordBatch | pa.Table], catalog: Catalog,
                    window: TimestampWindow) -> EventLog | None:
    """The :class:`EventLog` the row-exact reader would build from these rows, if all are clean, else ``None``."""
    schema = shop_schema()
    codes = {name: code for name, code in schema.event_code.items()}
    item_codes = np.array(sorted(schema.item_event_codes), dtype=np.int8)
    query_codes = np.array(sorted(schema.query_event_codes), dtype=np.int8)
    columns = _Columns()
    try:
        for batch in batches:
            _add_batch(batch, columns, codes, item_codes, query_codes, window)
        return _event_log(columns, pa.array(catalog.item_ids, pa.string()))
    except _NotClean:
        return None


def _add_batch(batch: pa.RecordBatch | pa.Table, columns: _Columns, codes: dict[str, int], item_codes: np.ndarray,
               query_codes: np.ndarray, window: TimestampWindow) -> None:
    rows = batch.num_rows
    if rows == 0:
        return
    names = batch.schema.names
    if "user_id" not in names or "event" not in names or "timestamp" not in names:
        raise _NotClean
    users = _text(batch.column("user_id"), allow_null=False, ids=True, allow_empty=False)
    kind = _event_codes(_text(batch.column("event"), allow_null=False), codes)
    timestamp = _seconds(batch.column("timestamp"), window)
    items = (_text(batch.column("item_id"), allow_null=True, ids=True) if "item_id" in names
             else pa.nulls(rows, pa.string()))
    queries = _text(batch.column("query"), allow_null=True) if "query" in names else pa.nulls(rows, pa.string())

    named = pc.fill_null(pc.greater(pc.utf8_length(items), 0), False).to_numpy(zero_copy_only=False)
    if np.any(np.isin(kind, item_codes) & ~named):
        raise _NotClean  # an item event without its item
    asks = np.flatnonzero(np.isin(kind, query_codes))
    columns.kind.append(kind)
    columns.timestamp.append(timestamp)
    columns.items.append(items)
    columns.named.append(named)
    columns.users.append(users)
    columns.queries.append(pc.fill_null(queries.take(pa.array(asks)), ""))
    columns.query_rows.append(asks + columns.rows)
    columns.rows += rows


def _text(column: pa.Array | pa.ChunkedArray, allow_null: bool, ids: bool = False, allow_empty: bool = True
          ) -> pa.Array:
    """A text column as plain strings, as the row reader would see it; refuses what it would read differently
    (NUL characters; for ``ids``, whitespace around a value). A dictionary column is checked once per
    distinct value its rows use, not on its whole dictionary (which the rows may use little of)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not allow_null and column.null_count:
        raise _NotClean
    if pa.types.is_dictionary(column.type):
        values = _plain_text(column.dictionary.take(pc.unique(column.indices).drop_null()))
        if not allow_null and values.null_count:
            raise _NotClean
        _refuse_unclean(values, ids, allow_empty)
        return _plain_text(column.dictionary.take(column.indices))
    column = _plain_text(column)
    _refuse_unclean(column, ids, allow_empty)
    return column


def _plain_text(column: pa.Array) -> pa.Array:
    data_type = column.type
    if pa.types.is_integer(data_type):  # str(int) and Arrow's cast write the same digits
        return column.cast(pa.string())
    if pa.types.is_null(data_type):
        return pa.nulls(len(column), pa.string())
    if pa.types.is_large_string(data_type):
        return column.cast(pa.string())
    if not pa.types.is_string(data_type):
        raise _NotClean
    return column


def _refuse_unclean(column: pa.Array, ids: bool, allow_empty: bool) -> None:
    _refuse_nul(column)
    if ids:
        _refuse_padded(column, allow_empty)


def _refuse_nul(column: pa.Array) -> None:
    if pc.any(pc.match_substring(column, "\0")).as_py():
        raise _NotClean


def _refuse_padded(column: pa.Array, allow_empty: bool) -> None:
    """Ids with whitespace around them (which the row reader strips) or empty ones (which it rejects)."""
    if pc.any(pc.match_substring_regex(column, _PADDED)).as_py():
        raise _NotClean
    if not allow_empty and pc.any(pc.equal(pc.utf8_length(column), 0)).as_py():
        raise _NotClean


def _event_codes(events: pa.Array, codes: dict[str, int]) -> np.ndarray:
    """Event codes, the names normalised as the row reader does, once per distinct name."""
    encoded = pc.dictionary_encode(events)
    lookup = np.array([codes.get(name.strip().lower(), -1) for name in encoded.dictionary.to_pylist()], dtype=np.int16)
    kind = lookup[encoded.indices.to_numpy(zero_copy_only=False)]
    if np.any(kind < 0):
        raise _NotClean
    return kind.astype(np.int8)


def _seconds(column: pa.Array | pa.ChunkedArray, window: TimestampWindow) -> np.ndarray:
    """Epoch seconds as the row reader computes them (through text), all inside ``window``."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if column.null_count:
        raise _NotClean
    data_type = column.type
    if pa.types.is_dictionary(data_type):
        column, data_type = column.cast(data_type.value_type), data_type.value_type
    if pa.types.is_timestamp(data_type):
        raw = column.cast(pa.int64()).to_numpy()
        per_unit = _MICROSECONDS_PER_UNIT[data_type.unit]
        if per_unit is not None and np.any(np.abs(raw) > _MAX_US // per_unit):
            raise _NotClean
        micros = raw // 1000 if per_unit is None else raw * per_unit
        if np.any((micros < _MIN_US) | (micros > _MAX_US)) or np.any(np.abs(micros) >= 2**53):
            raise _NotClean  # beyond 2**53 microseconds a float division could round unlike Python's
        seconds = micros / 1e6
    elif pa.types.is_date32(data_type):
        seconds = column.cast(pa.int32()).to_numpy().astype(np.float64) * 86400.0
    elif pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
        seconds = column.cast(pa.float64()).to_numpy()
        if not np.all(np.isfinite(seconds)) or np.any(np.abs(seconds) >= EPOCH_SECONDS_LIMIT):
            raise _NotClean
    elif pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        seconds = _text_seconds(column.cast(pa.string()))
    else:
        raise _NotClean
    if np.any(seconds < window.earliest) or np.any(seconds > window.latest):
        raise _NotClean
    return seconds


def _text_seconds(texts: pa.Array) -> np.ndarray:
    """ISO ``...Z`` texts by Arrow's strict ISO 8601 cast, the rest once per distinct text with the row
    reader's parser."""
    _refuse_nul(texts)
    plain = pc.match_substring_regex(texts, _ISO_UTC).to_numpy(zero_copy_only=False)
    seconds = np.empty(len(texts), dtype=np.float64)
    if plain.any():
        # the cast refuses impossible dates and times (February 30th, 25:00), as Python does
        try:
            parsed = texts.filter(pa.array(plain)).cast(pa.timestamp("s", tz="UTC"))
        except pa.ArrowInvalid:
            raise _NotClean from None
        seconds[plain] = parsed.cast(pa.int64()).to_numpy(zero_copy_only=False)
    if not plain.all():
        rest = pc.dictionary_encode(texts.filter(pa.array(~plain)))
        values = []
        for text in rest.dictionary.to_pylist():
            value, reason = parse_timestamp(text)
            if reason:
                raise _NotClean
            values.append(value)
        seconds[~plain] = np.asarray(values, dtype=np.float64)[rest.indices.to_numpy(zero_copy_only=False)]
    if np.any(seconds < _MIN_US / 1e6):
        raise _NotClean  # year 0, which Arrow reads and Python does not
    return seconds


def _event_log(columns: _Columns, catalog_ids: pa.Array) -> EventLog:
    if not columns.rows:
        return EventLog(user_ids=[], user=np.zeros(0, np.int64), kind=np.zeros(0, np.int8),
                        timestamp=np.zeros(0, np.float64), item=np.zeros(0, np.int64), query=np.zeros(0, np.int64),
                        query_texts=[])
    item = _item_codes(columns, catalog_ids)
    user_ids, user = _sorted_codes(pa.chunked_array(columns.users, pa.string()))
    query_texts, query = _query_codes(columns)
    timestamp = np.concatenate(columns.timestamp)
    order = np.lexsort((timestamp, user))  # stable: ties keep file order, as in the row reader
    return EventLog(user_ids=user_ids, user=user[order], kind=np.concatenate(columns.kind)[order],
                    timestamp=timestamp[order], item=item[order], query=query[order], query_texts=query_texts)


def _item_codes(columns: _Columns, catalog_ids: pa.Array) -> np.ndarray:
    """Each row's catalogue index (-1 for none), in one lookup: Arrow builds the catalogue's hash table per call."""
    found = pc.index_in(pa.chunked_array(columns.items, pa.string()), value_set=catalog_ids)
    item = np.asarray(pc.fill_null(found, -1).to_numpy(), dtype=np.int64)
    named = np.concatenate(columns.named)
    if np.any(named & (item < 0)):
        raise _NotClean  # an unknown or rejected item
    return np.where(named, item, -1)


def _sorted_codes(values: pa.ChunkedArray) -> tuple[list[str], np.ndarray]:
    """Distinct values in sorted order (UTF-8 byte order is code point order, as Python sorts) and each row's code."""
    distinct = pc.unique(values)
    distinct = distinct.take(pc.sort_indices(distinct))
    codes = pc.index_in(values, value_set=distinct)
    return distinct.to_pylist(), np.asarray(codes.to_numpy(), dtype=np.int64)


def _query_codes(columns: _Columns) -> tuple[list[str], np.ndarray]:
    """Query codes of every row (-1 for events without a query); texts normalised once per distinct text."""
    query = np.full(columns.rows, -1, dtype=np.int64)
    texts = pa.chunked_array(columns.queries, pa.string())
    if not len(texts):
        return [], query
    distinct = pc.unique(texts)
    normalised = [normalise_query(text) for text in distinct.to_pylist()]
    if not all(normalised):
        raise _NotClean  # a query event without query text
    query_texts = sorted(set(normalised))
    code_of = {text: code for code, text in enumerate(query_texts)}
    raw_code = np.array([code_of[text] for text in normalised], dtype=np.int64)
    query[np.concatenate(columns.query_rows)] = raw_code[pc.index_in(texts, value_set=distinct).to_numpy()]
    return query_texts, query
