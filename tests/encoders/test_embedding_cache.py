"""The embedding cache is private: its texts include users' search queries."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np

from personagraph.encoders.embedding_cache import EmbeddingCache, text_key


def test_new_cache_folder_and_files_are_private(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache")
    key = text_key("red tea mug")
    cache.put("model", [key], np.ones((1, 4), dtype=np.float32))
    assert stat.S_IMODE(os.stat(tmp_path / "cache").st_mode) == 0o700
    files = list((tmp_path / "cache").iterdir())
    assert cache.path in files
    for path in files:  # the database and SQLite's -wal / -shm companions
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert np.array_equal(cache.get("model", [key], 4)[key], np.ones(4, dtype=np.float32))
