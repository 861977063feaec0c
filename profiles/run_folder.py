"""The folder a training run leaves behind: everything needed to trace, reuse or audit it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


class RunFolder:
    """Names and writes the files of one run (`checkpoint.pt`, `config.json`, `profiles.parquet`,
    `metrics.json`, `rejected.csv`), so no other module hard-codes them."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def run_id(self) -> str:
        return self.read_json("config.json")["run_id"]

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def profiles(self) -> Path:
        return self.path / "profiles.parquet"

    @property
    def item_vectors(self) -> Path:
        return self.path / "item_vectors.parquet"

    @property
    def rejected(self) -> Path:
        return self.path / "rejected.csv"

    def create(self) -> "RunFolder":
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    def write_json(self, name: str, payload: dict[str, Any]) -> Path:
        target = self.path / name
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n", encoding="utf-8")
        tmp.replace(target)
        return target

    def read_json(self, name: str) -> dict[str, Any]:
        return json.loads((self.path / name).read_text(encoding="utf-8"))

    def write_profiles(self, user_ids: list[str], vectors: np.ndarray, columns: dict[str, Any]) -> Path:
        """`user_id`, `vector` and the readable attribute columns."""
        return _write_vectors(self.profiles, "user_id", user_ids, vectors, columns)

    def write_item_vectors(self, item_ids: list[str], vectors: np.ndarray) -> Path:
        """`item_id`, `vector`: the items in the users' space (score = dot product)."""
        return _write_vectors(self.item_vectors, "item_id", item_ids, vectors, {})


def _write_vectors(path: Path, id_name: str, ids: list[str], vectors: np.ndarray, columns: dict[str, Any]) -> Path:
    """A parquet table of ids, fixed-size float32 vectors and extra columns, written atomically."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    vector_column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1])
    table = pa.table({id_name: pa.array(ids, pa.string()), "vector": vector_column, **columns})
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
