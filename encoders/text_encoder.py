"""The one contract every text encoder follows, whatever library computes the vectors."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np


class TextEncoder(ABC):
    """Turns texts into unit-length float32 vectors, one row per text, in input order.

    Subclasses implement :meth:`_encode` for a non-empty list; :meth:`encode` owns the
    contract (empty input, dtype, shape, L2 normalisation) so every backend honours it
    the same way and callers can compare vectors with a dot product.
    """

    @property
    @abstractmethod
    def name(self) -> str:
        """Stable identifier of the model (also the embedding-cache key)."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of each embedding vector."""

    @abstractmethod
    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        """Vectors for a non-empty list of texts, shape ``[len(texts), dim]``."""

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        """Embed ``texts``: float32 ``[n, dim]``, rows L2-normalised, order preserved."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        vectors = np.asarray(self._encode(texts, batch_size, show_progress), dtype=np.float32)
        if vectors.shape != (len(texts), self.dim):
            raise RuntimeError(
                f"encoder {self.name!r} returned shape {vectors.shape} "
                f"for {len(texts)} texts of dimension {self.dim}"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, np.finfo(np.float32).tiny)
