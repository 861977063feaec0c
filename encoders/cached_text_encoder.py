"""A text encoder that remembers what it encoded, so re-runs only embed new or changed texts."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from personagraph.encoders.embedding_cache import EmbeddingCache, text_key
from personagraph.encoders.text_encoder import TextEncoder


class CachedTextEncoder(TextEncoder):
    """Wraps ``encoder`` with an on-disk cache keyed by ``encoder.name`` and a text hash.

    Identical texts within one call are encoded once. Missing texts are encoded
    longest first (as sentence-transformers does, to keep padding low) in chunks that
    are stored as soon as they are done, so an interrupted run keeps its progress.
    ``last_hits`` / ``last_misses`` count the distinct texts of the last call that
    came from the cache / had to be encoded.
    """

    def __init__(
        self, encoder: TextEncoder, cache_dir: str | Path, chunk_size: int = 2048
    ) -> None:
        self.encoder = encoder
        self.cache = EmbeddingCache(cache_dir)
        self.chunk_size = chunk_size
        self.last_hits = 0
        self.last_misses = 0

    @property
    def name(self) -> str:
        return self.encoder.name

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        unique_texts = list(dict.fromkeys(texts))
        keys = [text_key(text) for text in unique_texts]
        stored = self.cache.get(self.name, keys, self.dim)
        missing = [i for i, key in enumerate(keys) if key not in stored]
        self.last_hits = len(unique_texts) - len(missing)
        self.last_misses = len(missing)

        missing.sort(key=lambda i: len(unique_texts[i]), reverse=True)
        with tqdm(
            total=len(missing), unit="text", desc=f"encoding with {self.name}",
            disable=not show_progress or not missing,
        ) as progress:
            for start in range(0, len(missing), self.chunk_size):
                chunk = missing[start : start + self.chunk_size]
                vectors = self.encoder.encode(
                    [unique_texts[i] for i in chunk], batch_size=batch_size
                )
                chunk_keys = [keys[i] for i in chunk]
                self.cache.put(self.name, chunk_keys, vectors)
                stored.update(zip(chunk_keys, vectors))
                progress.update(len(chunk))

        row_of_text = {text: stored[key] for text, key in zip(unique_texts, keys)}
        return np.stack([row_of_text[text] for text in texts])
