"""What a run folder tells the report: its config, its metrics, its profiles and an optional evaluation.

Everything is read from the files `personagraph train` (and `personagraph evaluate --save-to`)
left behind, without torch or the store, so a report can be made wherever the folder is.
Profile vectors are read only for the rows asked for, a batch at a time, so a large run's
report does not hold every vector in memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from personagraph.errors import PersonaGraphError
from personagraph.pipeline.run_folder import RunFolder

#: The `personagraph evaluate` result saved into a run folder (`--save-to RUN_DIR`), shown by the report.
EVALUATION_FILE = "evaluation.json"
_VECTOR_BATCH_ROWS = 65_536
#: The `profiles.parquet` columns the report reads, besides the ``<event>_count`` ones (never the vectors whole).
_COLUMNS = frozenset({"user_id", "segment", "segment_name", "top_tags", "recency_days", "spend"})


@dataclass
class RunReportData:
    """A run folder's recorded facts; ``profiles`` holds the `profiles.parquet` columns the report shows."""

    folder: RunFolder
    config: dict[str, Any]
    metrics: dict[str, Any]
    profiles: dict[str, list[Any]]
    evaluation: dict[str, Any] | None
    updates: int  # how many `personagraph update`s rewrote profiles since training

    @classmethod
    def read(cls, run_dir: str | Path) -> "RunReportData":
        folder = RunFolder(run_dir)
        for name in ("config.json", "metrics.json", folder.profiles.name):
            if not (folder.path / name).is_file():
                what = "does not exist" if not folder.path.is_dir() else f"has no {name}"
                raise PersonaGraphError(f"{folder.path} is not a finished run folder (it {what}); pass the folder "
                                        "`personagraph train --out` wrote, after training has finished")
        columns = [name for name in pq.read_schema(folder.profiles).names if name in _COLUMNS or name.endswith("_count")]
        profiles = pq.read_table(folder.profiles, columns=columns).to_pydict()
        evaluation_file = folder.path / EVALUATION_FILE
        evaluation = folder.read_json(EVALUATION_FILE) if evaluation_file.is_file() else None
        updates = sum(1 for _ in (folder.path / "updates").glob("[0-9]*")) if (folder.path / "updates").is_dir() else 0
        return cls(folder=folder, config=folder.read_json("config.json"), metrics=folder.read_json("metrics.json"),
                   profiles=profiles, evaluation=evaluation, updates=updates)

    @property
    def num_users(self) -> int:
        return len(self.profiles["user_id"])

    def column(self, name: str, dtype: Any = np.float64) -> np.ndarray:
        """A numeric profile column as an array (missing values as NaN)."""
        return np.array([np.nan if value is None else value for value in self.profiles[name]], dtype=dtype)

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """``[len(rows), dim]`` the profile vectors of ``rows`` (ascending row numbers of `profiles.parquet`)."""
        rows = np.asarray(rows, dtype=np.int64)
        parts, start = [], 0
        for batch in pq.ParquetFile(self.folder.profiles).iter_batches(batch_size=_VECTOR_BATCH_ROWS,
                                                                         columns=["vector"]):
            wanted = rows[(rows >= start) & (rows < start + batch.num_rows)] - start
            if wanted.size:
                column = batch.column(0)
                flat = column.flatten().to_numpy(zero_copy_only=False)
                parts.append(flat.reshape(batch.num_rows, column.type.list_size)[wanted])
            start += batch.num_rows
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 0), dtype=np.float32)
