"""The bulk import's CSV files are the same whether rows are converted in one chunk or in many.

No Neo4j here: only the files :class:`ImportFiles` writes (the import itself is tested in
``test_bulk_import.py``).
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

from personagraph.store import bulk_import
from personagraph.store.bulk_import import ImportFiles, _rows_per_chunk, _table
from personagraph.store.profile_changes import ProfileChanges

DIM = 5
USERS = 23  # divides none of the chunk sizes below


def _user_rows(seed: int = 0) -> list[dict]:
    """Users whose vectors are Python lists (as ``UserProfiles.user_rows`` yields them), one without a
    vector, the search vector only from the 8th user on, empty and odd-text tag lists."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(USERS):
        row = {"id": f"u{k}", "segment": k % 3, "top_tags": [] if k % 4 == 0 else [f"tag {k}", 'say "hi", then\nbye']}
        if k != 11:
            row["embedding"] = rng.standard_normal(DIM).astype(np.float32).tolist()
        if k >= 8:
            row["search_embedding"] = rng.standard_normal(3).tolist()
        rows.append(row)
    return rows


def _changes() -> ProfileChanges:
    rows = _user_rows()
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    return ProfileChanges(
        embedding_dim=DIM,
        users=iter(rows),  # a generator, as train passes them
        interests=[{"start": row["id"], "end": "tag 1", "weight": 0.25 * (k % 4)} for k, row in enumerate(rows)],
        segments=[{"id": s, "name": f"segment {s}", "size": 8} for s in range(3)],
        segment_links=[{"start": row["id"], "end": k % 3} for k, row in enumerate(rows)],
        items=[{"id": f"i{j}", "title": f"Item, {j}", "embedding": np.full(DIM, j / 7)} for j in range(4)],
        categories=[],  # a label without rows: no file
        queries=[{"id": "q0", "derived": False}],
        tags=[{"name": "tag 1", "kind": "category"}],
        edges={("user", "view", "item"): [
            {"start": row["id"], "end": f"i{k % 4}", "count": k, "last_at": start.replace(hour=k % 24)}
            for k, row in enumerate(rows + rows[:5])]},  # repeated pairs: the last row wins
    )


def _files(folder: Path, chunk_cells: int, threads: int = 1) -> tuple[dict[str, int], dict[str, bytes], ImportFiles]:
    folder.mkdir()
    files = ImportFiles(folder, "run-a", chunk_cells=chunk_cells, threads=threads)
    written = files.write(_changes())
    return written, {path.name: path.read_bytes() for path in sorted(folder.iterdir())}, files


class _StoppedClock(datetime):
    """The load time (``updated_at``) of every write, so two writes can be compared byte for byte."""

    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=tz)


def test_chunked_files_are_the_files_of_one_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(bulk_import, "datetime", _StoppedClock)
    written, whole, files = _files(tmp_path / "whole", chunk_cells=10**9)
    # one row per chunk; chunks that leave a remainder; converted by threads, written in order
    for cells, threads in ((1, 1), (7, 1), (40, 1), (1, 3), (7, 2)):
        chunked_written, chunked, chunked_files = _files(tmp_path / f"cells-{cells}-{threads}", cells, threads)
        assert chunked_written == written
        assert chunked == whole
        assert chunked_files.multiline and files.multiline  # a tag holds a line break
    assert written["categories"] == 0 and not any(name.startswith("nodes-Category") for name in whole)
    assert written["users"] == USERS and whole["nodes-User.csv"].count(b"\n") > USERS  # quoted line breaks


def test_a_chunk_is_sized_by_cells_counting_every_array_element():
    table = pa.table({"id": ["a", "b"], "n": [1, 2], "vector": pa.array([[1.0] * 6, [2.0] * 6])})
    assert _rows_per_chunk(table, 80) == 10  # 1 + 1 + 6 cells a row
    assert _rows_per_chunk(table, 3) == 1  # never less than a row
    assert _rows_per_chunk(table.slice(0, 0), 81) == 27  # no rows: every column counts one


def test_vectors_converted_by_chunks_make_the_same_table():
    whole = _table(_user_rows(), chunk_rows=USERS)
    for chunk_rows in (1, 5, 8):
        chunked = _table(iter(_user_rows()), chunk_rows=chunk_rows)
        assert chunked.schema == whole.schema
        assert chunked.combine_chunks().equals(whole.combine_chunks())
    assert whole.column_names == ["id", "segment", "top_tags", "embedding", "search_embedding"]
    assert whole.column("embedding")[11].as_py() is None and whole.column("search_embedding")[7].as_py() is None
    assert _table(iter([])).num_rows == 0
