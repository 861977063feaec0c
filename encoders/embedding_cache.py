"""On-disk store of text embeddings, keyed by model name and a hash of the text.

SQLite (standard library, write-ahead log) holds one row per (model, text hash) with
the float32 vector as a blob: every write is a transaction, so a crash mid-write loses
at most the batch being written and never corrupts what was stored before. Measured
here for 100k texts: ~210 MB, a few seconds to look all of them up.
"""
from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np

from personagraph.errors import PersonaGraphError
from personagraph.private_files import make_private_dir, make_private_file

#: SQLite allows at most 999 bound parameters per statement in older builds.
_LOOKUP_CHUNK = 900


def text_key(text: str) -> bytes:
    """128-bit BLAKE2b digest of the UTF-8 text: a changed text gets a new key."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class EmbeddingCache:
    """Embeddings stored under ``cache_dir/embeddings.sqlite``, shared by all models."""

    FILE_NAME = "embeddings.sqlite"

    def __init__(self, cache_dir: str | Path) -> None:
        self.path = Path(cache_dir) / self.FILE_NAME
        try:
            # Private: the texts behind the vectors include users' search queries. SQLite gives
            # its -wal and -shm files the database file's mode.
            make_private_dir(self.path.parent)
            make_private_file(self.path)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS embedding ("
                    " model TEXT NOT NULL, key BLOB NOT NULL, vector BLOB NOT NULL,"
                    " UNIQUE (model, key))"
                )
        except (OSError, sqlite3.Error) as exc:
            raise PersonaGraphError(
                f"cannot use the embedding cache {self.path}: {exc}; "
                "pass another cache folder or delete this file"
            ) from exc

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=60)) as db:
            db.execute("PRAGMA synchronous=NORMAL")  # with WAL: still consistent after a crash
            with db:
                yield db

    def get(self, model: str, keys: Sequence[bytes], dim: int) -> dict[bytes, np.ndarray]:
        """The stored vectors among ``keys`` for ``model`` (absent keys are left out)."""
        found: dict[bytes, np.ndarray] = {}
        with self._connect() as db:
            for start in range(0, len(keys), _LOOKUP_CHUNK):
                chunk = keys[start : start + _LOOKUP_CHUNK]
                rows = db.execute(
                    "SELECT key, vector FROM embedding WHERE model = ? AND key IN "
                    f"({','.join('?' * len(chunk))})",
                    (model, *chunk),
                )
                for key, blob in rows:
                    if len(blob) != dim * 4:
                        raise PersonaGraphError(
                            f"embedding cache {self.path} holds {len(blob) // 4}-dimensional "
                            f"vectors for model {model!r}, which now gives {dim}; "
                            "delete the cache file to rebuild it"
                        )
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, model: str, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store ``vectors[i]`` under ``keys[i]`` in one transaction."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO embedding (model, key, vector) VALUES (?, ?, ?)",
                ((model, key, vector.tobytes()) for key, vector in zip(keys, vectors)),
            )

    def count(self, model: str | None = None) -> int:
        """Number of stored vectors, for one model or all."""
        with self._connect() as db:
            if model is None:
                return db.execute("SELECT COUNT(*) FROM embedding").fetchone()[0]
            return db.execute(
                "SELECT COUNT(*) FROM embedding WHERE model = ?", (model,)
            ).fetchone()[0]
