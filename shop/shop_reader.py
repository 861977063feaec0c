"""Read and validate a shop's tables (``items``, ``events`` and optionally ``social``) into :class:`ShopData`.

A shop hands us a folder with ``items`` and ``events``, each as CSV, Parquet or JSON
Lines (chosen by extension), and may add ``social``: user–user links (``user_id``,
``other_user_id``, free-text ``relation``, optional ``timestamp``) whose two ends must be
users with events (a link to a user without events is a rejected row: it could only be
profiled as nobody). Rows are streamed (:class:`InputTable`) into compact numpy
buffers, so memory follows the data kept, not the file size. Every bad row becomes a
:class:`ValidationProblem` (``file:line: field: reason``); ``on_error="fail"`` raises them
all at once, ``"skip"`` keeps the good rows and hands back the bad ones for ``rejected.csv``.
A damaged file (an unbalanced quote, a corrupt Parquet page) is refused as a whole. Every
row read is accounted for (:class:`TableCount`): accepted or rejected, never lost. Event
times must lie in a :class:`TimestampWindow`, everything being checked here, before any
expensive stage runs.

Indexing rules (deterministic whatever the row order of the files):
items keep the order of the items file; users and queries are sorted by their text;
events are sorted by (user, timestamp), stably, so equal timestamps keep file order.
"""
from __future__ import annotations

import csv
import math
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Literal, overload

import numpy as np

from personagraph.errors import PersonaGraphError
from personagraph.shop.columnar_events import read_clean_parquet_events
from personagraph.shop.input_table import InputTable, Row
from personagraph.shop.rejected_row import RejectedRow
from personagraph.shop.schema import ITEM, QUERY, shop_schema
from personagraph.shop.shop_data import Catalog, EventLog, ShopData, normalise_query
from personagraph.shop.shop_reading import ShopReading
from personagraph.shop.shop_validation_error import MAX_LISTED_PROBLEMS, ShopValidationError
from personagraph.shop.social_links import SocialLinks, normalise_relation
from personagraph.shop.table_count import TableCount
from personagraph.shop.timestamp_window import TimestampWindow
from personagraph.shop.validation_problem import ValidationProblem

#: File extensions a table may have, in the order they are looked for.
TABLE_FORMATS: tuple[str, ...] = ("csv", "parquet", "jsonl")
ITEM_COLUMNS: tuple[str, ...] = ("item_id", "title", "description", "category", "brand", "price")
REQUIRED_ITEM_COLUMNS: tuple[str, ...] = ("item_id", "title")
EVENT_COLUMNS: tuple[str, ...] = ("user_id", "event", "timestamp", "item_id", "query")
REQUIRED_EVENT_COLUMNS: tuple[str, ...] = ("user_id", "event", "timestamp")
SOCIAL_COLUMNS: tuple[str, ...] = ("user_id", "other_user_id", "relation", "timestamp")
REQUIRED_SOCIAL_COLUMNS: tuple[str, ...] = ("user_id", "other_user_id", "relation")

OnError = Literal["fail", "skip"]


def find_table(data_dir: Path, name: str) -> Path:
    """The one ``name.csv`` / ``name.parquet`` / ``name.jsonl`` file in ``data_dir``."""
    found = find_optional_table(data_dir, name)
    if found is None:
        raise PersonaGraphError(
            f"no {name} table in {data_dir}: expected one of "
            + ", ".join(f"{name}.{ext}" for ext in TABLE_FORMATS)
        )
    return found


def find_optional_table(data_dir: Path, name: str) -> Path | None:
    """The one ``name.<format>`` file in ``data_dir``, or None when there is none."""
    found = [data_dir / f"{name}.{ext}" for ext in TABLE_FORMATS if (data_dir / f"{name}.{ext}").is_file()]
    if not found:
        return None
    if len(found) > 1:
        raise PersonaGraphError(
            f"several {name} tables in {data_dir} ({', '.join(p.name for p in found)}); keep only one"
        )
    return found[0]


@overload
def read_shop(data_dir: str | Path, on_error: Literal["fail"] = "fail", progress: bool = True,
              timestamp_window: TimestampWindow | None = None) -> ShopData: ...
@overload
def read_shop(
    data_dir: str | Path, on_error: Literal["skip"], progress: bool = True,
    timestamp_window: TimestampWindow | None = None,
) -> tuple[ShopData, list[RejectedRow]]: ...
def read_shop(data_dir, on_error="fail", progress=True, timestamp_window=None):
    """Read and validate the shop in ``data_dir``.

    With ``on_error="fail"`` any bad row raises :class:`ShopValidationError` (first 20
    problems and the total) and nothing is returned. With ``"skip"`` the result is
    ``(shop, rejected)``: the shop built from the good rows and the rows left out.
    A missing required column or damaged file raises in both modes.
    Event times outside ``timestamp_window`` (default: :meth:`TimestampWindow.default`)
    are bad rows. Progress bars (bytes for CSV/JSONL, rows for Parquet) go to stderr.
    """
    reading = read_shop_files(data_dir, on_error, progress, timestamp_window)
    return (reading.shop, reading.rejected) if on_error == "skip" else reading.shop


def read_shop_files(data_dir: str | Path, on_error: OnError = "fail", progress: bool = True,
                    timestamp_window: TimestampWindow | None = None) -> ShopReading:
    """:func:`read_shop`, also telling how many rows of each file were read, accepted and rejected."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise PersonaGraphError(f"{data_dir} is not a folder; give the folder that holds items.* and events.*")
    items_path, events_path = find_table(data_dir, "items"), find_table(data_dir, "events")
    social_path = find_optional_table(data_dir, "social")
    known = ITEM_COLUMNS + EVENT_COLUMNS + SOCIAL_COLUMNS
    window = timestamp_window or TimestampWindow.default()
    clean_events = None
    if events_path.suffix == ".parquet":  # columnar first; row by row only when some row is not clean
        clean_events = partial(read_clean_parquet_events, events_path, window=window, progress=progress)
    return _read_tables(InputTable.open(items_path, known, progress), InputTable.open(events_path, known, progress),
                        on_error, window,
                        InputTable.open(social_path, known, progress) if social_path is not None else None,
                        clean_events=clean_events)


@overload
def shop_from_rows(
    items: Iterable[Mapping[str, object]], events: Iterable[Mapping[str, object]], on_error: Literal["fail"] = "fail",
    timestamp_window: TimestampWindow | None = None, social: Iterable[Mapping[str, object]] | None = None,
) -> ShopData: ...
@overload
def shop_from_rows(
    items: Iterable[Mapping[str, object]], events: Iterable[Mapping[str, object]], on_error: Literal["skip"],
    timestamp_window: TimestampWindow | None = None, social: Iterable[Mapping[str, object]] | None = None,
) -> tuple[ShopData, list[RejectedRow]]: ...
def shop_from_rows(items, events, on_error="fail", timestamp_window=None, social=None):
    """Validate in-memory rows (dicts with the file columns) exactly as :func:`read_shop` does.

    For generators and converters that already hold the rows: no file round trip,
    same checks, except that times are not bounded unless ``timestamp_window`` is given
    (synthetic rows use small epoch seconds). Problems are located as ``items:row N`` /
    ``events:row N`` (``social:row N`` for the optional ``social`` rows).
    """
    reading = _read_tables(InputTable.from_rows("items", items), InputTable.from_rows("events", events), on_error,
                           timestamp_window or TimestampWindow.any_time(),
                           InputTable.from_rows("social", social) if social is not None else None)
    return (reading.shop, reading.rejected) if on_error == "skip" else reading.shop


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
        self.rows_of: Counter[str] = Counter()  # rejected rows by file

    def add(self, problem: ValidationProblem, values: dict[str, str]) -> None:
        self.total += 1
        self.rows_of[problem.file] += 1
        if len(self.listed) < MAX_LISTED_PROBLEMS:
            self.listed.append(problem)
        if self.skip:
            self.rejected.append(RejectedRow(values=values, problem=problem))

    def raise_if_failing(self) -> None:
        if self.total and not self.skip:
            raise ShopValidationError(self.listed, self.total)


def _read_tables(items: InputTable, events: InputTable, on_error: OnError, window: TimestampWindow,
                 social: InputTable | None = None,
                 clean_events: Callable[[Catalog], EventLog | None] | None = None) -> ShopReading:
    """``clean_events`` (given the catalogue) may read the events table column by column when all of its
    rows are clean; it returns ``None`` otherwise, and the events are read row by row."""
    problems = _Problems(on_error)
    tables = [(items, REQUIRED_ITEM_COLUMNS), (events, REQUIRED_EVENT_COLUMNS)]
    if social is not None and social.columns:  # an empty table (no header) is a shop without links
        tables.append((social, REQUIRED_SOCIAL_COLUMNS))
    missing = [
        ValidationProblem(table.name, "", column, "required column missing (columns found: "
                          + (", ".join(table.columns) or "none") + ")")
        for table, required in tables
        for column in required
        if column not in table.columns
    ]
    if missing:
        raise ShopValidationError(missing, len(missing), "Add the missing column(s). Required: items: "
                                  + ", ".join(REQUIRED_ITEM_COLUMNS) + "; events: "
                                  + ", ".join(REQUIRED_EVENT_COLUMNS) + "; social (optional table): "
                                  + ", ".join(REQUIRED_SOCIAL_COLUMNS) + ".")
    item_rows, event_rows = _ScreenedRows(items.rows), _ScreenedRows(events.rows)
    catalog, rejected_item_ids = _read_items(InputTable(items.name, items.columns, item_rows), problems)
    events_log = clean_events(catalog) if clean_events is not None and not problems.total else None
    if events_log is not None:
        event_rows.read = len(events_log)
    else:
        events_log = _read_events(InputTable(events.name, events.columns, event_rows), catalog, rejected_item_ids,
                                  items.name, problems, window)
    links = None
    if social is not None:
        social_rows = _ScreenedRows(social.rows)
        links = _read_social(InputTable(social.name, social.columns, social_rows), events_log, events.name,
                             problems, window)
    problems.raise_if_failing()
    counts = [_count(items.name, item_rows.read, len(catalog), problems),
              _count(events.name, event_rows.read, len(events_log), problems)]
    if links is not None:
        counts.append(_count(social.name, social_rows.read, len(links), problems))
    if not len(catalog):
        raise PersonaGraphError(f"{items.name} holds no valid items ({counts[0]}); a shop needs at least one item")
    return ShopReading(ShopData(catalog=catalog, events=events_log, social=links), problems.rejected, counts)


def _read_social(table: InputTable, events: EventLog, events_name: str, problems: _Problems,
                 window: TimestampWindow) -> SocialLinks:
    """Links between users of the event log; a link to a user without events is a bad row."""
    user_index = {user_id: i for i, user_id in enumerate(events.user_ids)}
    users, others, timestamps = array("q"), array("q"), array("d")
    relations: list[str] = []
    for location, values, row_problem in table.rows:
        problem = row_problem
        if problem is None:
            user_id = values.get("user_id", "").strip()
            other_id = values.get("other_user_id", "").strip()
            relation = normalise_relation(values.get("relation", ""))
            stamp = values.get("timestamp", "").strip()
            timestamp, timestamp_reason = window.parse(stamp) if stamp else (math.nan, "")
            for field, given in (("user_id", user_id), ("other_user_id", other_id)):
                if problem is None and not given:
                    problem = (field, "empty")
                elif problem is None and given not in user_index:
                    problem = (field, f"unknown user {given!r} (no events in {events_name}); links join users "
                               "with events")
            if problem is None:
                if not relation:
                    problem = ("relation", "empty; say what links the users (e.g. follows, friend, invited)")
                elif user_id == other_id:
                    problem = ("other_user_id", f"the same user as user_id ({user_id!r}); a link joins two users")
                elif timestamp_reason:
                    problem = ("timestamp", timestamp_reason)
        if problem is not None:
            problems.add(ValidationProblem(table.name, location, *problem), values)
            continue
        users.append(user_index[user_id])
        others.append(user_index[other_id])
        timestamps.append(timestamp)
        relations.append(relation)
    return SocialLinks.from_named(np.frombuffer(users, dtype=np.int64), np.frombuffer(others, dtype=np.int64),
                                  relations, np.frombuffer(timestamps, dtype=np.float64))


class _ScreenedRows:
    """The rows of a table, counted, with a NUL character made a row problem: text never holds
    one, so it means a damaged or binary file, and the store would keep it invisibly."""

    def __init__(self, rows: Iterator[Row]) -> None:
        self.rows = rows
        self.read = 0

    def __iter__(self) -> Iterator[Row]:
        for location, values, problem in self.rows:
            self.read += 1
            if problem is None:
                nul = next((column for column, value in values.items() if "\0" in value), None)
                if nul is not None:
                    problem = (nul, "holds a NUL character; the file is damaged or not text")
                    values = {column: value.replace("\0", "\\0") for column, value in values.items()}
            yield location, values, problem


def _count(name: str, read: int, accepted: int, problems: _Problems) -> TableCount:
    """The table's accounting, checked: a row neither accepted nor rejected would be a silent loss."""
    rejected = problems.rows_of[name]
    if read != accepted + rejected:
        raise PersonaGraphError(f"{name}: {read} rows read but {accepted} accepted + {rejected} rejected; "
                                "this is a bug, please report it with the file")
    return TableCount(name, read, accepted, rejected)


def _read_items(table: InputTable, problems: _Problems) -> tuple[Catalog, set[str]]:
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
    table: InputTable, catalog: Catalog, rejected_item_ids: set[str], items_name: str, problems: _Problems,
    window: TimestampWindow,
) -> EventLog:
    user_index: dict[str, int] = {}
    query_index: dict[str, int] = {}
    users, kinds, timestamps, items, queries = array("q"), array("b"), array("d"), array("q"), array("q")
    schema = shop_schema()
    target_of = {event.name: event.target for event in schema.events}
    for location, values, row_problem in table.rows:
        problem = row_problem
        if problem is None:
            user_id = values.get("user_id", "").strip()
            event = values.get("event", "").strip().lower()
            timestamp, timestamp_reason = window.parse(values.get("timestamp", ""))
            item_id = values.get("item_id", "").strip()
            item = catalog.index.get(item_id, -1) if item_id else -1
            target = target_of.get(event)
            query = normalise_query(values.get("query", "")) if target == QUERY else ""
            if not user_id:
                problem = ("user_id", "empty")
            elif target is None:
                problem = ("event", f"unknown event type {values.get('event', '')!r}; expected one of "
                           + ", ".join(schema.event_names))
            elif timestamp_reason:
                problem = ("timestamp", timestamp_reason)
            elif target == ITEM and not item_id:
                problem = ("item_id", f"empty; a {event!r} event needs the item it is about")
            elif item_id and item < 0:
                problem = ("item_id", f"item {item_id!r} was rejected in {items_name}"
                           if item_id in rejected_item_ids else f"unknown item {item_id!r} (not in {items_name})")
            elif target == QUERY and not query:
                problem = ("query", f"empty; a {event} event needs its query text")
        if problem is not None:
            problems.add(ValidationProblem(table.name, location, *problem), values)
            continue
        users.append(user_index.setdefault(user_id, len(user_index)))
        kinds.append(schema.event_code[event])
        timestamps.append(timestamp)
        items.append(item)
        queries.append(query_index.setdefault(query, len(query_index)) if target == QUERY else -1)

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
