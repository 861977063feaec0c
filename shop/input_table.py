"""One input table (CSV, JSON Lines, Parquet or rows in memory) as a stream of located rows.

The readers turn a damaged *file* into a one-line :class:`PersonaGraphError` at
``file:line`` (an unbalanced quote, bytes that are not UTF-8, a corrupt Parquet page) and a
damaged *row* into a row problem, so that the validation in ``shop_reader`` can account
for every row: accepted, rejected, or the whole file refused. Nothing here guesses: a
quoted CSV value may only run over several lines in a ``description``, since a stray quote
anywhere else would silently swallow the rows after it.
"""
from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from personagraph.errors import PersonaGraphError

#: Columns whose CSV values may hold line breaks (inside quotes).
MULTILINE_COLUMNS: frozenset[str] = frozenset({"description"})
#: Bytes (or Parquet rows) read between two progress-bar updates, to keep tqdm cheap.
PROGRESS_STEP = 1 << 20
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_UNITS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}

#: One input row: its location label, its values as text by column, and a problem
#: with the row's structure (wrong field count, bad JSON) as (field, reason), if any.
Row = tuple[str, dict[str, str], tuple[str, str] | None]


@dataclass
class InputTable:
    """One opened input table: its display name, its columns and a stream of its rows."""

    name: str
    columns: list[str]
    rows: Iterator[Row]

    @classmethod
    def open(cls, path: Path, known_columns: Iterable[str], progress: bool = True) -> "InputTable":
        """The table in ``path`` (format by extension); only ``known_columns`` are read from Parquet."""
        opener: Callable[[Path, frozenset[str], bool], InputTable] = {
            ".csv": _csv_table, ".jsonl": _jsonl_table, ".parquet": _parquet_table
        }[path.suffix]
        return opener(path, frozenset(known_columns), progress)

    @classmethod
    def from_rows(cls, name: str, rows: Iterable[Mapping[str, object]]) -> "InputTable":
        """In-memory rows (dicts with the file columns), located as ``row N``."""
        iterator = iter(rows)
        first = next(iterator, None)
        columns = [str(key) for key in first] if first is not None else []

        def located() -> Iterator[Row]:
            if first is None:
                return
            yield "row 1", {str(key): as_text(value) for key, value in first.items()}, None
            for number, row in enumerate(iterator, start=2):
                yield f"row {number}", {str(key): as_text(value) for key, value in row.items()}, None

        return cls(name, columns, located())


def as_text(value: object) -> str:
    """A cell as text, whatever the format gave (None / NaN mean empty)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value if isinstance(value, str) else str(value)


# -- text files ------------------------------------------------------------------------
def _text_lines(path: Path, progress: bool) -> Iterator[str]:
    """The file's lines as text. The progress bar (bytes) starts after the first line,
    which is read when the table is opened, so that only the table being read shows a bar."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise PersonaGraphError(f"{path}: cannot open it ({exc.strerror}); check that it exists and is readable") \
            from None
    with handle:
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
        raise PersonaGraphError(f"{path.name}:{number}: not UTF-8 text ({exc.reason}); save the file as UTF-8") \
            from None


def _refuse_nul_header(path: Path, header: Iterable[str]) -> None:
    if any("\0" in column for column in header):
        raise PersonaGraphError(f"{path.name}:1: the header holds NUL bytes, so the file is not UTF-8 text "
                                "(UTF-16?); save it as UTF-8")


def _csv_table(path: Path, known_columns: frozenset[str], progress: bool) -> InputTable:
    reader = csv.reader(_text_lines(path, progress), strict=True)
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise PersonaGraphError(_csv_error(path.name, 1, reader.line_num, exc)) from None
    _refuse_nul_header(path, header)
    columns = [column.strip() for column in header]
    duplicated = sorted({column for column in columns if columns.count(column) > 1})
    if duplicated:
        raise PersonaGraphError(f"{path.name}:1: column(s) {', '.join(duplicated)} appear more than once in the header")

    def rows() -> Iterator[Row]:
        end = reader.line_num
        while True:
            start = end + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise PersonaGraphError(_csv_error(path.name, start, reader.line_num, exc)) from None
            end = reader.line_num
            if not fields:  # blank line
                continue
            if end > start:
                _refuse_stray_line_breaks(path.name, columns, fields, start, end)
            values = dict(zip(columns, fields))
            if len(fields) != len(columns):
                yield str(start), values, ("row", f"has {len(fields)} fields, the header has {len(columns)}")
            else:
                yield str(start), values, None

    return InputTable(path.name, columns, rows())


def _refuse_stray_line_breaks(name: str, columns: list[str], fields: list[str], start: int, end: int) -> None:
    for i, value in enumerate(fields):
        column = columns[i] if i < len(columns) else f"field {i + 1}"
        if ("\n" in value or "\r" in value) and column not in MULTILINE_COLUMNS:
            raise PersonaGraphError(
                f"{name}:{start}: {column}: a quoted value runs over lines {start}-{end}, which only "
                f"{', '.join(sorted(MULTILINE_COLUMNS))} may do; is a quote unbalanced? Close it, or "
                'double a quote inside a value ("")'
            )


def _csv_error(name: str, start: int, line: int, exc: csv.Error) -> str:
    """A csv module error as ``file:line: what: how to fix``, at the line where the row began."""
    text = str(exc)
    if "unexpected end of data" in text:
        return (f"{name}:{start}: unbalanced quote: the quoted value that starts on line {start} never closes "
                'and would swallow the rest of the file; close it, or double a quote inside a value ("")')
    if "field larger than field limit" in text:
        return (f"{name}:{start}: a value longer than {csv.field_size_limit():,} characters (lines {start}-{line}); "
                "is a quote unbalanced? Close it, or shorten the value")
    if "expected after" in text:
        where = f"line {line}" if line == start else f"line {line}, lines after the row began on line {start}"
        return (f"{name}:{start}: unbalanced quote: a quoted value ends at {where} in the middle of a field; "
                'double a quote inside a value ("") or quote the whole value')
    if "new-line character seen in unquoted field" in text:
        return (f"{name}:{line}: a bare carriage return (\\r) inside a line; save the file with \\n or \\r\\n "
                "line ends")
    return f"{name}:{line}: not valid CSV ({text})"


def _jsonl_table(path: Path, known_columns: frozenset[str], progress: bool) -> InputTable:
    lines = enumerate(_text_lines(path, progress), start=1)
    parsed: list[tuple[int, str, object]] = []  # lines read while looking for the first object
    for number, text in lines:
        if not text.strip():
            continue
        parsed.append((number, text, _json_or_error(text)))
        if isinstance(parsed[-1][2], dict):
            break
    columns = [str(key) for key in parsed[-1][2]] if parsed and isinstance(parsed[-1][2], dict) else []
    _refuse_nul_header(path, columns)

    def rows() -> Iterator[Row]:
        for number, text, value in parsed:
            yield _json_row(number, text, value, known_columns)
        for number, text in lines:
            if text.strip():
                yield _json_row(number, text, _json_or_error(text), known_columns)

    return InputTable(path.name, columns, rows())


def _json_or_error(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        return exc
    except RecursionError:
        return ValueError("nested too deeply")


def _json_row(number: int, text: str, value: object, known_columns: frozenset[str]) -> Row:
    if not isinstance(value, dict):
        if isinstance(value, json.JSONDecodeError):
            reason = f"not valid JSON ({value.msg})"
        elif isinstance(value, ValueError):
            reason = f"not valid JSON ({value})"
        else:
            reason = "not a JSON object"
        return str(number), {"raw": text.rstrip("\r\n")}, ("row", reason)
    values = {str(key): as_text(cell) for key, cell in value.items()}
    for key, cell in value.items():
        if key in known_columns and isinstance(cell, (dict, list, bool)):
            kind = "true/false" if isinstance(cell, bool) else f"a JSON {'object' if isinstance(cell, dict) else 'list'}"
            return str(number), values, (key, f"{kind}; expected text or a number")
    if "\\u" in text or "\\U" in text:  # escapes are the only way to an unpaired surrogate
        for key, cell in values.items():
            try:
                cell.encode("utf-8")
            except UnicodeEncodeError:
                return str(number), {k: v.encode("utf-8", "backslashreplace").decode("utf-8")
                                     for k, v in values.items()}, (key, "holds an unpaired \\ud800-\\udfff escape; "
                                                                   "not valid Unicode text")
    return str(number), values, None


# -- Parquet ---------------------------------------------------------------------------
def _readable_type(data_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(data_type):
        return _readable_type(data_type.value_type)
    return (pa.types.is_string(data_type) or pa.types.is_large_string(data_type) or pa.types.is_integer(data_type)
            or pa.types.is_floating(data_type) or pa.types.is_decimal(data_type) or pa.types.is_timestamp(data_type)
            or pa.types.is_date(data_type) or pa.types.is_null(data_type))


def _parquet_table(path: Path, known_columns: frozenset[str], progress: bool) -> InputTable:
    try:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
        num_rows = parquet.metadata.num_rows
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise PersonaGraphError(f"{path.name}: cannot read it as Parquet ({' '.join(str(exc).split())}); "
                                "export it again") from None
    columns = list(schema.names)
    known = [column for column in dict.fromkeys(columns) if column in known_columns]
    for column in known:
        data_type = schema.field(column).type
        if not _readable_type(data_type):
            kinds = "text (string), a number or a timestamp" if column == "timestamp" else "text (string) or a number"
            raise PersonaGraphError(f"{path.name}: column {column} has type {data_type}; store it as {kinds}")

    def rows() -> Iterator[Row]:
        number = 0
        with tqdm(total=num_rows, unit="row", unit_scale=True, desc=path.name,
                  disable=not progress, file=sys.stderr, leave=False) as bar:
            for group in range(parquet.num_row_groups):  # one at a time, so a damaged page is located
                batches = parquet.iter_batches(batch_size=PROGRESS_STEP // 16, row_groups=[group], columns=known)
                while True:
                    try:
                        batch = next(batches, None)
                        cells = {} if batch is None else {column: _cells(batch.column(column)) for column in known}
                    except (pa.ArrowException, OSError, ValueError, OverflowError) as exc:
                        raise PersonaGraphError(
                            f"{path.name}:row {number + 1}: cannot read row group {group} "
                            f"({' '.join(str(exc).split())}); the file is damaged, export it again") from None
                    if batch is None:
                        break
                    for i in range(batch.num_rows):
                        number += 1
                        problem = next(((column, cells[column][i][1]) for column in known if cells[column][i][1]),
                                       None)
                        yield f"row {number}", {column: cells[column][i][0] for column in known}, problem
                    bar.update(batch.num_rows)

    return InputTable(path.name, columns, rows())


def _cells(array: pa.Array) -> list[tuple[str, str]]:
    """(text, problem) per cell; timestamps go through integers, since pyarrow's own conversion
    raises for dates Python cannot hold (year 10000 and later)."""
    if pa.types.is_timestamp(array.type):
        per_second = _UNITS_PER_SECOND[array.type.unit]
        return [_timestamp_text(value, per_second, array.type.unit)
                for value in array.cast(pa.int64()).to_pylist()]
    return [(as_text(value.isoformat() if isinstance(value, date) else value), "") for value in array.to_pylist()]


def _timestamp_text(value: int | None, per_second: int, unit: str) -> tuple[str, str]:
    if value is None:
        return "", ""
    try:
        return (_EPOCH + timedelta(microseconds=value * 1_000_000 // per_second)).isoformat(), ""
    except OverflowError:
        return f"{value} {unit}", f"{value} {unit} after 1970-01-01 is outside the dates that can be read (years 1-9999)"
