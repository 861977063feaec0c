"""Names for encoders loaded from a local model folder that change when the folder's files do.

A folder such as ``models/shop-minilm`` can be fine-tuned again in place. Its path alone
would then key the embedding cache to vectors of the old weights, and a saved run would
silently reload weights it was not trained with. Adding a hash of the folder's contents
to the name makes both notice.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from personagraph.encoders.text_encoder import TextEncoder

#: Separates the model path from its fingerprint in an encoder name.
FINGERPRINT_SEPARATOR = "@"
_READ_CHUNK = 1 << 20


def model_folder_fingerprint(folder: str | Path) -> str:
    """12 hex digits of a BLAKE2b hash over every file's relative path and bytes.

    Contents, not modification times, so a copied folder keeps its fingerprint. Hashing
    runs at about 1 GB/s, small next to loading the model.
    """
    root = Path(folder)
    digest = hashlib.blake2b(digest_size=6)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(_READ_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


class FingerprintedTextEncoder(TextEncoder):
    """``encoder`` under the name ``<folder>@<fingerprint>``; the vectors are unchanged."""

    def __init__(self, encoder: TextEncoder, folder: str, fingerprint: str) -> None:
        self.encoder = encoder
        self._name = f"{folder}{FINGERPRINT_SEPARATOR}{fingerprint}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        return self.encoder.encode(texts, batch_size, show_progress)
