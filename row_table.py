"""Rows kept as columns: what a sync writes when there are tens of millions of them.

A million-user run has some 25 million relationship rows; as Python dicts they take gigabytes
and minutes to build. A :class:`RowTable` holds them as one Arrow table, built with array
operations, and is still an iterable of rows: the UNWIND sync reads it a batch at a time, the
bulk importer takes the columns as they are.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

#: How vector columns are held: float32 lists (what the store keeps, half the bytes of float64).
VECTOR_TYPE = pa.list_(pa.float32())
#: Rows turned into Python dicts at a time while iterating.
BATCH_ROWS = 65536


class RowTable:
    """An iterable of row dicts backed by an Arrow table; a null cell is an absent key, as in a row dict."""

    def __init__(self, table: pa.Table, batch_rows: int = BATCH_ROWS) -> None:
        self.table = table
        self.batch_rows = batch_rows

    def __len__(self) -> int:
        return self.table.num_rows

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.table.to_batches(max_chunksize=self.batch_rows):
            for row in batch.to_pylist():
                yield {name: value for name, value in row.items() if value is not None}

    def __repr__(self) -> str:
        return f"RowTable({self.table.num_rows} rows: {', '.join(self.table.column_names)})"


def vector_column(block: np.ndarray) -> pa.Array:
    """A ``[rows, width]`` block as a column of float32 lists, one per row, from one buffer (no per-value work)."""
    block = np.ascontiguousarray(block, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(block.ravel()), block.shape[1]).cast(VECTOR_TYPE)


def with_constant(table: pa.Table, name: str, value: str) -> pa.Table:
    """``table`` with column ``name`` set to ``value`` in every row (replacing a column of that name)."""
    if name in table.column_names:
        table = table.drop_columns([name])
    return table.append_column(name, pa.repeat(pa.scalar(value, pa.string()), table.num_rows))
