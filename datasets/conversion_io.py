"""What the dataset converters share: reading source lines with located errors, and
writing the shop format (``items.parquet``, ``events.parquet``, ``dataset.json``).

Converted folders hold only the converted tables and their description, never
copies of the source files.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from personagraph.errors import PersonaGraphError

#: Synthetic timestamps start here (2018-01-01T00:00:00Z) and advance one day per step:
#: the sources give an order, not times.
SYNTHETIC_EPOCH = 1_514_764_800
DAY_SECONDS = 86_400
#: Bumped when the layout of converted folders changes.
FORMAT_VERSION = 1


def source_file(src_dir: str | Path, name: str) -> Path:
    """``src_dir/name``, or an error saying which file the converter needs."""
    src_dir = Path(src_dir)
    if not src_dir.is_dir():
        raise PersonaGraphError(f"{src_dir} is not a folder; give the folder that holds {name}")
    path = src_dir / name
    if not path.is_file():
        raise PersonaGraphError(f"{path} not found: the source folder must hold {name}")
    return path


def source_error(path: Path, line_number: int, problem: str) -> PersonaGraphError:
    return PersonaGraphError(f"{path}:{line_number}: {problem}")


def read_lines(path: Path, show_progress: bool = False, unit: str = "line") -> Iterator[tuple[int, str]]:
    """``(line number, line without its newline)`` for each line of a UTF-8 text file."""
    with path.open("rb") as handle, tqdm(
        desc=path.name, unit=unit, disable=not show_progress, file=sys.stderr, leave=False
    ) as progress:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, raw.rstrip(b"\r\n").decode("utf-8")
            except UnicodeDecodeError as exc:
                raise source_error(path, number, f"not UTF-8 text ({exc.reason})") from exc
            progress.update()


def parse_int(path: Path, line_number: int, text: str, what: str) -> int:
    if not text.isdigit():
        raise source_error(path, line_number, f"{what} must be a non-negative integer, got {text!r}")
    return int(text)


def synthetic_timestamps(positions: np.ndarray) -> np.ndarray:
    """Epoch seconds for 0-based positions in a user's sequence: one day apart."""
    return SYNTHETIC_EPOCH + positions.astype(np.int64) * DAY_SECONDS


def id_strings(codes: np.ndarray, names: list[str]) -> pa.Array:
    """``names[codes]`` as an Arrow string array, without a Python loop over the rows."""
    dictionary = pa.DictionaryArray.from_arrays(pa.array(codes, type=pa.int64()), pa.array(names, type=pa.string()))
    return pc.cast(dictionary, pa.string())


def items_table(item_ids: list[str], titles: list[str], categories: list[str], brands: list[str]) -> pa.Table:
    """The shop ``items`` table; the sources have no descriptions or prices."""
    count = len(item_ids)
    return pa.table({
        "item_id": pa.array(item_ids, type=pa.string()),
        "title": pa.array(titles, type=pa.string()),
        "description": pa.array([""] * count, type=pa.string()),
        "category": pa.array(categories, type=pa.string()),
        "brand": pa.array(brands, type=pa.string()),
        "price": pa.nulls(count, type=pa.float64()),
    })


def write_converted_dataset(out_dir: str | Path, tables: dict[str, pa.Table], description: dict) -> Path:
    """Write each table to ``out_dir/<name>.parquet`` and ``description`` to ``dataset.json``.

    Each file goes to a temporary name first and is renamed into place, and
    ``dataset.json`` comes last, so a folder with a ``dataset.json`` is complete.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "dataset.json").unlink(missing_ok=True)
        for name, table in tables.items():
            _replace(out_dir / f"{name}.parquet", lambda tmp, table=table: pq.write_table(table, tmp))
        text = json.dumps(description, indent=2, ensure_ascii=False) + "\n"
        _replace(out_dir / "dataset.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise PersonaGraphError(f"cannot write the converted dataset to {out_dir}: {exc}") from exc
    return out_dir


def _replace(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)
