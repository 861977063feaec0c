"""Read and validate a shop's two tables (``items`` and ``events``) into :class:`ShopData`.

A shop hands us a folder with ``items`` and ``events``, each as CSV, Parquet or JSON
Lines (chosen by extension). Rows are streamed (csv module, one JSON object per line,
pyarrow record batches) into compact numpy buffers, so memory follows the data kept,
not the file size. Every bad row becomes a :class:`ValidationProblem`
(``file:line: field: reason``); ``on_error="fail"`` raises them all at once, ``"skip"``
keeps the good rows and hands back the bad ones for ``rejected.csv``.

Indexing rules (deterministic whatever the row order of the files):
items keep the order of the items file; users and queries are sorted by their text;
events are sorted by (user, timestamp), stably, so equal timestamps keep file order.
"""
from __future__ import annotations

import csv
import json
import math
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, overload

import numpy as np
import pyarrow.parquet as pq
from tqdm import tqdm

from personagraph.errors import PersonaGraphError
from personagraph.shop.rejected_row import RejectedRow
from personagraph.shop.shop_data import (
    EVENT_CODE,
    EVENT_TYPES,
    ITEM_EVENTS,
    Catalog,
    EventLog,
    ShopData,
    normalise_query,
)
from personagraph.shop.shop_validation_error import MAX_LISTED_PROBLEMS, ShopValidationError
from personagraph.shop.validation_problem import ValidationProblem

#: File extensions a table may have, in the order they are looked for.
TABLE_FORMATS: tuple[str, ...] = ("csv", "parquet", "jsonl")
ITEM_COLUMNS: tuple[str, ...] = ("item_id", "title", "description", "category", "brand", "price")
REQUIRED_ITEM_COLUMNS: tuple[str, ...] = ("item_id", "title")
EVENT_COLUMNS: tuple[str, ...] = ("user_id", "event", "timestamp", "item_id", "query")
REQUIRED_EVENT_COLUMNS: tuple[str, ...] = ("user_id", "event", "timestamp")
#: Epoch values at or above this are almost surely milliseconds (seconds would be year 5138+).
EPOCH_SECONDS_LIMIT = 1e11
#: Bytes (or Parquet rows) read between two progress-bar updates, to keep tqdm cheap.
PROGRESS_STEP = 1 << 20

OnError = Literal["fail", "skip"]
#: One input row: its location label, its values as text by column, and a problem
#: with the row's structure (wrong field count, bad JSON) as (field, reason), if any.
Row = tuple[str, dict[str, str], tuple[str, str] | None]


@dataclass
class _Table:
    """One opened input table: its display name, its columns and a stream of its rows."""

    name: str
    columns: list[str]
    rows: Iterator[Row]


def find_table(data_dir: Path, name: str) -> Path:
    """The one ``name.csv`` / ``name.parquet`` / ``name.jsonl`` file in ``data_dir``."""
    found = [data_dir / f"{name}.{ext}" for ext in TABLE_FORMATS if (data_dir / f"{name}.{ext}").is_file()]
    if not found:
        raise PersonaGraphError(
            f"no {name} table in {data_dir}: expected one of "
            + ", ".join(f"{name}.{ext}" for ext in TABLE_FORMATS)
        )
    if len(found) > 1:
        raise PersonaGraphError(
            f"several {name} tables in {data_dir} ({', '.join(p.name for p in found)}); keep only one"
        )
    return found[0]


@overload
def read_shop(data_dir: str | Path, on_error: Literal["fail"] = "fail", progress: bool = True) -> ShopData: ...
@overload
def read_shop(
    data_dir: str | Path, on_error: Literal["skip"], progress: bool = True
) -> tuple[ShopData, list[RejectedRow]]: ...
def read_shop(data_dir, on_error="fail", progress=True):
    """Read and validate the shop in ``data_dir``.

    With ``on_error="fail"`` any bad row raises :class:`ShopValidationError` (first 20
    problems and the total) and nothing is returned. With ``"skip"`` the result is
    ``(shop, rejected)``: the shop built from the good rows and the rows left out.
    A missing required column or unreadable file raises in both modes.
    Progress bars (bytes for CSV/JSONL, rows for Parquet) go to stderr.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise PersonaGraphError(f"{data_dir} is not a folder; give the folder that holds items.* and events.*")
    items_path, events_path = find_table(data_dir, "items"), find_table(data_dir, "events")
    return _read_tables(_open_table(items_path, progress), _open_table(events_path, progress), on_error)


@overload
def shop_from_rows(
    items: Iterable[Mapping[str, object]], events: Iterable[Mapping[str, object]], on_error: Literal["fail"] = "fail"
) -> ShopData: ...
@overload
def shop_from_rows(
    items: Iterable[Mapping[str, object]], events: Iterable[Mapping[str, object]], on_error: Literal["skip"]
) -> tuple[ShopData, list[RejectedRow]]: ...
def shop_from_rows(items, events, on_error="fail"):
    """Validate in-memory rows (dicts with the file columns) exactly as :func:`read_shop` does.

    For generators and converters that already hold the rows: no file round trip,
    same checks. Problems are located as ``items:row N`` / ``events:row N``.
    """
    return _read_tables(_memory_table("items", items), _memory_table("events", events), on_error)


def write_rejected(rejected: Iterable[RejectedRow], path: str | Path) -> int:
    """Write rejected rows to a CSV (``file, line, field, reason`` then the original
    columns) so the shop can fix and resend them; returns how many were written."""
    rejected = list(rejected)
    value_columns: dict[str, None] = {}
    for row in rejected:
        value_columns.update(dict.fromkeys(row.values))
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "line", "field", "reason", *value_columns])
        for row in rejected:
            problem = row.problem
            writer.writerow(
                [problem.file, problem.location, problem.field, problem.reason]
                + [row.values.get(column, "") for column in value_columns]
            )
    return len(rejected)


class _Problems:
    """Counts problems; keeps the first few for the error, and in skip mode the rejected rows."""

    def __init__(self, on_error: OnError) -> None:
        if on_error not in ("fail", "skip"):
            raise PersonaGraphError(f"on_error must be 'fail' or 'skip', not {on_error!r}")
        self.skip = on_error == "skip"
        self.listed: list[ValidationProblem] = []
        self.total = 0
        self.rejected: list[RejectedRow] = []

    def add(self, problem: ValidationProblem, values: dict[str, str]) -> None:
        self.total += 1
        if len(self.listed) < MAX_LISTED_PROBLEMS:
            self.listed.append(problem)
        if self.skip:
            self.rejected.append(RejectedRow(values=values, problem=problem))

    def raise_if_failing(self) -> None:
        if self.total and not self.skip:
            raise ShopValidationError(self.listed, self.total)


def _read_tables(items: _Table, events: _Table, on_error: OnError):
    problems = _Problems(on_error)
    missing = [
        ValidationProblem(table.name, "", column, "required column missing (columns found: "
                          + (", ".join(table.columns) or "none") + ")")
        for table, required in ((items, REQUIRED_ITEM_COLUMNS), (events, REQUIRED_EVENT_COLUMNS))
        for column in required
        if column not in table.columns
    ]
    if missing:
        raise ShopValidationError(missing, len(missing), "Add the missing column(s). Required: items: "
                                  + ", ".join(REQUIRED_ITEM_COLUMNS) + "; events: "
                                  + ", ".join(REQUIRED_EVENT_COLUMNS) + ".")
    catalog, rejected_item_ids = _read_items(items, problems)
    events_log = _read_events(events, catalog, rejected_item_ids, items.name, problems)
    problems.raise_if_failing()
    if not len(catalog):
        raise PersonaGraphError(f"{items.name} holds no valid items; a shop needs at least one item")
    shop = ShopData(catalog=catalog, events=events_log)
    return (shop, problems.rejected) if problems.skip else shop


def _read_items(table: _Table, problems: _Problems) -> tuple[Catalog, set[str]]:
    ids: list[str] = []
    titles: list[str] = []
    categories: list[str] = []
    brands: list[str] = []
    descriptions: list[str] = []
    prices = array("d")
    first_location: dict[str, str] = {}
    rejected_ids: set[str] = set()
    for location, values, row_problem in table.rows:
        item_id = values.get("item_id", "").strip()
        problem = row_problem
        if problem is None:
            price, price_reason = _parse_price(values.get("price", ""))
            if not item_id:
                problem = ("item_id", "empty")
            elif item_id in first_location:
                problem = ("item_id", f"duplicate of {item_id!r} at {table.name}:{first_location[item_id]}")
            elif price_reason:
                problem = ("price", price_reason)
        if problem is not None:
            problems.add(ValidationProblem(table.name, location, *problem), values)
            if item_id and item_id not in first_location:
                rejected_ids.add(item_id)
            continue
        first_location[item_id] = location
        ids.append(item_id)
        titles.append(values.get("title", "").strip())
        categories.append(normalise_category(values.get("category", "")))
        brands.append(values.get("brand", "").strip())
        descriptions.append(values.get("description", "").strip())
        prices.append(price)
    catalog = Catalog(
        item_ids=ids, titles=titles, categories=categories, brands=brands,
        descriptions=descriptions, prices=np.frombuffer(prices, dtype=np.float64).copy(),
    )
    return catalog, rejected_ids


def _read_events(
    table: _Table, catalog: Catalog, rejected_item_ids: set[str], items_name: str, problems: _Problems
) -> EventLog:
    user_index: dict[str, int] = {}
    query_index: dict[str, int] = {}
    users, kinds, timestamps, items, queries = array("q"), array("b"), array("d"), array("q"), array("q")
    search_code = EVENT_CODE["search"]
    for location, values, row_problem in table.rows:
        problem = row_problem
        if problem is None:
            user_id = values.get("user_id", "").strip()
            event = values.get("event", "").strip().lower()
            timestamp, timestamp_reason = parse_timestamp(values.get("timestamp", ""))
            item_id = values.get("item_id", "").strip()
            item = catalog.index.get(item_id, -1) if item_id else -1
            query = normalise_query(values.get("query", "")) if event == "search" else ""
            if not user_id:
                problem = ("user_id", "empty")
            elif event not in EVENT_CODE:
                problem = ("event", f"unknown event type {values.get('event', '')!r}; expected one of "
                           + ", ".join(EVENT_TYPES))
            elif timestamp_reason:
                problem = ("timestamp", timestamp_reason)
            elif event in ITEM_EVENTS and not item_id:
                problem = ("item_id", f"empty; a {event!r} event needs the item it is about")
            elif item_id and item < 0:
                problem = ("item_id", f"item {item_id!r} was rejected in {items_name}"
                           if item_id in rejected_item_ids else f"unknown item {item_id!r} (not in {items_name})")
            elif event == "search" and not query:
                problem = ("query", "empty; a search event needs its query text")
        if problem is not None:
            problems.add(ValidationProblem(table.name, location, *problem), values)
            continue
        users.append(user_index.setdefault(user_id, len(user_index)))
        code = EVENT_CODE[event]
        kinds.append(code)
        timestamps.append(timestamp)
        items.append(item)
        queries.append(query_index.setdefault(query, len(query_index)) if code == search_code else -1)

    user_ids, user = _sorted_codes(user_index, np.frombuffer(users, dtype=np.int64))
    query_texts, query = _sorted_codes(query_index, np.frombuffer(queries, dtype=np.int64))
    timestamp = np.frombuffer(timestamps, dtype=np.float64)
    order = np.lexsort((timestamp, user))  # stable: ties keep file order
    return EventLog(
        user_ids=user_ids,
        user=user[order],
        kind=np.frombuffer(kinds, dtype=np.int8)[order],
        timestamp=timestamp[order],
        item=np.frombuffer(items, dtype=np.int64)[order],
        query=query[order],
        query_texts=query_texts,
    )


def _sorted_codes(index: dict[str, int], codes: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Renumber first-seen codes so that they follow the sorted order of their texts (-1 stays)."""
    texts = list(index)
    order = sorted(range(len(texts)), key=texts.__getitem__)
    new_code = np.empty(len(texts) + 1, dtype=np.int64)
    new_code[np.asarray(order, dtype=np.int64)] = np.arange(len(texts), dtype=np.int64)
    new_code[-1] = -1  # codes of -1 index the last slot
    return [texts[i] for i in order], new_code[codes]


def normalise_category(text: str) -> str:
    """``"Tools>Sanding >  Rolls"`` and ``"Tools > Sanding > Rolls"`` are the same category."""
    return " > ".join(part.strip() for part in text.split(">") if part.strip())


def parse_timestamp(text: str) -> tuple[float, str]:
    """Epoch seconds from ISO 8601 (naive means UTC) or a number of epoch seconds;
    the second value is the reason when the text cannot be used (else empty)."""
    text = text.strip()
    if not text:
        return math.nan, "empty"
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return math.nan, f"cannot read {text!r} as ISO 8601 or epoch seconds"
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp(), ""
    if not math.isfinite(seconds):
        return math.nan, f"not a finite number: {text!r}"
    if abs(seconds) >= EPOCH_SECONDS_LIMIT:
        return math.nan, f"{text!r} looks like epoch milliseconds; give epoch seconds"
    return seconds, ""


def _parse_price(text: str) -> tuple[float, str]:
    text = text.strip()
    if not text:
        return math.nan, ""
    try:
        price = float(text)
    except ValueError:
        return math.nan, f"not a number: {text!r}"
    if not math.isfinite(price) or price < 0:
        return math.nan, f"must be a finite number >= 0, not {text!r}"
    return price, ""


def _as_text(value: object) -> str:
    """A cell as text, whatever the format gave (None / NaN mean empty)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value if isinstance(value, str) else str(value)


def _open_table(path: Path, progress: bool) -> _Table:
    opener: Callable[[Path, bool], _Table] = {
        ".csv": _csv_table, ".jsonl": _jsonl_table, ".parquet": _parquet_table
    }[path.suffix]
    return opener(path, progress)


def _text_lines(path: Path, progress: bool) -> Iterator[str]:
    """The file's lines as text. The progress bar (bytes) starts after the first line,
    which is read when the table is opened, so that only the table being read shows a bar."""
    with path.open("rb") as handle:
        first = handle.readline()
        yield _decode(path, first, 1, "utf-8-sig")
        with tqdm(total=path.stat().st_size, initial=len(first), unit="B", unit_scale=True, desc=path.name,
                  disable=not progress, file=sys.stderr, leave=False) as bar:
            pending = 0
            for number, raw in enumerate(handle, start=2):
                pending += len(raw)
                if pending >= PROGRESS_STEP:
                    bar.update(pending)
                    pending = 0
                yield _decode(path, raw, number, "utf-8")
            bar.update(pending)


def _decode(path: Path, raw: bytes, number: int, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise PersonaGraphError(f"{path.name}:{number}: not UTF-8 text ({exc.reason}); save the file as UTF-8") from exc


def _csv_table(path: Path, progress: bool) -> _Table:
    reader = csv.reader(_text_lines(path, progress))
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise PersonaGraphError(f"{path.name}:1: not valid CSV ({exc})") from exc
    columns = [column.strip() for column in header]
    duplicated = sorted({column for column in columns if columns.count(column) > 1})
    if duplicated:
        raise PersonaGraphError(f"{path.name}:1: column(s) {', '.join(duplicated)} appear more than once in the header")

    def rows() -> Iterator[Row]:
        previous_line = reader.line_num
        try:
            for fields in reader:
                line, previous_line = previous_line + 1, reader.line_num
                if not fields:  # blank line
                    continue
                values = dict(zip(columns, fields))
                if len(fields) != len(columns):
                    yield str(line), values, ("row", f"has {len(fields)} fields, the header has {len(columns)}")
                else:
                    yield str(line), values, None
        except csv.Error as exc:
            raise PersonaGraphError(f"{path.name}:{reader.line_num}: not valid CSV ({exc})") from exc

    return _Table(path.name, columns, rows())


def _jsonl_table(path: Path, progress: bool) -> _Table:
    lines = enumerate(_text_lines(path, progress), start=1)
    parsed: list[tuple[int, str, object]] = []  # lines read while looking for the first object
    for number, text in lines:
        if not text.strip():
            continue
        parsed.append((number, text, _json_or_error(text)))
        if isinstance(parsed[-1][2], dict):
            break
    columns = list(parsed[-1][2]) if parsed and isinstance(parsed[-1][2], dict) else []

    def rows() -> Iterator[Row]:
        for number, text, value in parsed:
            yield _json_row(number, text, value)
        for number, text in lines:
            if text.strip():
                yield _json_row(number, text, _json_or_error(text))

    return _Table(path.name, columns, rows())


def _json_or_error(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        return exc


def _json_row(number: int, text: str, value: object) -> Row:
    if isinstance(value, dict):
        return str(number), {str(key): _as_text(cell) for key, cell in value.items()}, None
    reason = f"not valid JSON ({value.msg})" if isinstance(value, json.JSONDecodeError) else "not a JSON object"
    return str(number), {"raw": text.rstrip("\r\n")}, ("row", reason)


def _parquet_table(path: Path, progress: bool) -> _Table:
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise PersonaGraphError(f"{path.name}: cannot read it as Parquet ({exc})") from exc
    columns = list(parquet.schema_arrow.names)
    known = [column for column in columns if column in ITEM_COLUMNS + EVENT_COLUMNS]

    def rows() -> Iterator[Row]:
        number = 0
        with tqdm(total=parquet.metadata.num_rows, unit="row", unit_scale=True, desc=path.name,
                  disable=not progress, file=sys.stderr, leave=False) as bar:
            for batch in parquet.iter_batches(batch_size=PROGRESS_STEP // 16, columns=known):
                cells = {column: batch.column(column).to_pylist() for column in known}
                for i in range(batch.num_rows):
                    number += 1
                    yield f"row {number}", {column: _as_text(cells[column][i]) for column in known}, None
                bar.update(batch.num_rows)

    return _Table(path.name, columns, rows())


def _memory_table(name: str, rows: Iterable[Mapping[str, object]]) -> _Table:
    iterator = iter(rows)
    first = next(iterator, None)
    columns = list(first) if first is not None else []

    def located() -> Iterator[Row]:
        if first is None:
            return
        yield "row 1", {str(key): _as_text(value) for key, value in first.items()}, None
        for number, row in enumerate(iterator, start=2):
            yield f"row {number}", {str(key): _as_text(value) for key, value in row.items()}, None

    return _Table(name, columns, located())
