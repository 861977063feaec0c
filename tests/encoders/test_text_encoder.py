import numpy as np
import pytest

from personagraph.encoders.text_encoder import TextEncoder


class HashingEncoder(TextEncoder):
    """A tiny deterministic encoder: unnormalised vectors from a seeded generator."""

    def __init__(self, dim: int = 8) -> None:
        self._dim = dim
        self.batches: list[list[str]] = []

    @property
    def name(self) -> str:
        return "test/hashing"

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts, batch_size, show_progress):
        self.batches.append(list(texts))
        return np.stack(
            [np.random.default_rng(abs(hash(t)) % 2**32).normal(size=self._dim) * 5 for t in texts]
        )


def test_encode_returns_normalised_float32_rows_in_order():
    encoder = HashingEncoder()
    texts = ["drill", "beaker", "saw", "drill"]
    vectors = encoder.encode(texts)
    assert vectors.dtype == np.float32
    assert vectors.shape == (4, 8)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(vectors[0], vectors[3])
    single = encoder.encode(["beaker"])
    np.testing.assert_allclose(vectors[1], single[0], rtol=1e-6)


def test_empty_input_gives_zero_rows_without_calling_the_backend():
    encoder = HashingEncoder(dim=5)
    vectors = encoder.encode([])
    assert vectors.shape == (0, 5)
    assert vectors.dtype == np.float32
    assert encoder.batches == []


def test_rejects_a_backend_that_breaks_the_shape():
    class Broken(HashingEncoder):
        def _encode(self, texts, batch_size, show_progress):
            return np.ones((len(texts) + 1, self.dim))

    with pytest.raises(RuntimeError, match="returned shape"):
        Broken().encode(["a"])


def test_rejects_a_non_positive_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        HashingEncoder().encode(["a"], batch_size=0)
