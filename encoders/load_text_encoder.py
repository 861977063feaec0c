"""Build the text encoder that a ``--model`` option names."""
from __future__ import annotations

from pathlib import Path

from personagraph.encoders.cached_text_encoder import CachedTextEncoder
from personagraph.encoders.sentence_transformer_encoder import SentenceTransformerEncoder
from personagraph.encoders.text_encoder import TextEncoder

#: Spellings of ``--model`` that mean the packaged all-MiniLM-L6-v2.
DEFAULT_MODEL_SPECS = (None, "", "default")


def load_text_encoder(
    spec: str | None = None, cache_dir: str | Path | None = None, device: str = "cpu"
) -> TextEncoder:
    """``None`` / ``"default"``: the packaged all-MiniLM-L6-v2 (offline); otherwise a
    sentence-transformers model name or local folder. With ``cache_dir`` the encoder
    keeps its embeddings on disk there (:class:`CachedTextEncoder`)."""
    model = None if spec in DEFAULT_MODEL_SPECS else spec
    encoder: TextEncoder = SentenceTransformerEncoder(model, device=device)
    if cache_dir is not None:
        encoder = CachedTextEncoder(encoder, cache_dir)
    return encoder
