import numpy as np

from personagraph.encoders.cached_text_encoder import CachedTextEncoder
from personagraph.encoders.text_encoder import TextEncoder


class CountingEncoder(TextEncoder):
    """Deterministic fake backend that records every text it is asked to encode."""

    def __init__(self, name: str = "test/counting", dim: int = 6) -> None:
        self._name = name
        self._dim = dim
        self.encoded: list[str] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts, batch_size, show_progress):
        self.encoded.extend(texts)
        seed = sum(map(ord, self._name))
        return np.stack(
            [np.random.default_rng([seed, *map(ord, t)]).normal(size=self._dim) for t in texts]
        )


def test_second_run_encodes_nothing_and_returns_the_same_vectors(tmp_path):
    texts = ["cordless drill", "glass beaker", "cordless drill", "safety goggles"]
    first = CachedTextEncoder(CountingEncoder(), tmp_path)
    cold = first.encode(texts)
    assert sorted(first.encoder.encoded) == sorted(set(texts))  # duplicates encoded once
    assert (first.last_hits, first.last_misses) == (0, 3)

    second = CachedTextEncoder(CountingEncoder(), tmp_path)  # a new process, same folder
    warm = second.encode(texts)
    assert second.encoder.encoded == []
    assert (second.last_hits, second.last_misses) == (3, 0)
    np.testing.assert_array_equal(cold, warm)
    np.testing.assert_allclose(cold, CountingEncoder().encode(texts), rtol=1e-6)


def test_changed_text_reencodes_only_that_text(tmp_path):
    encoder = CachedTextEncoder(CountingEncoder(), tmp_path, chunk_size=2)
    encoder.encode(["drill", "beaker", "saw", "tape"])
    encoder.encoder.encoded.clear()
    vectors = encoder.encode(["drill", "beaker (250 ml)", "saw", "tape"])
    assert encoder.encoder.encoded == ["beaker (250 ml)"]
    assert (encoder.last_hits, encoder.last_misses) == (3, 1)
    np.testing.assert_allclose(vectors[1], CountingEncoder().encode(["beaker (250 ml)"])[0], rtol=1e-6)


def test_models_do_not_share_entries(tmp_path):
    CachedTextEncoder(CountingEncoder("model-a"), tmp_path).encode(["drill", "saw"])
    other = CachedTextEncoder(CountingEncoder("model-b"), tmp_path)
    vectors_b = other.encode(["drill", "saw"])
    assert other.encoder.encoded == ["drill", "saw"]
    assert other.cache.count("model-a") == 2 and other.cache.count("model-b") == 2
    vectors_a = CachedTextEncoder(CountingEncoder("model-a"), tmp_path).encode(["drill", "saw"])
    assert not np.allclose(vectors_a, vectors_b)


def test_empty_call_and_contract(tmp_path):
    encoder = CachedTextEncoder(CountingEncoder(dim=4), tmp_path)
    assert encoder.encode([]).shape == (0, 4)
    vectors = encoder.encode(["b", "a"], batch_size=1)
    assert vectors.dtype == np.float32 and vectors.shape == (2, 4)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    assert encoder.name == "test/counting" and encoder.dim == 4
