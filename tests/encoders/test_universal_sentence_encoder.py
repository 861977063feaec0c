import numpy as np
import pytest

from personagraph.encoders.load_text_encoder import load_text_encoder
from personagraph.encoders.universal_sentence_encoder import UniversalSentenceEncoder
from personagraph.errors import PersonaGraphError


@pytest.mark.slow  # loading the 30 MB numpy weights takes seconds on a busy CPU
def test_unit_vectors_independent_of_batching_and_sensible():
    encoder = load_text_encoder("use:multilingual-v3")
    assert isinstance(encoder, UniversalSentenceEncoder)
    assert encoder.name == "use:multilingual-v3" and encoder.dim == 512
    texts = ["cordless drill", "power drill driver", "glass beaker"]
    together = encoder.encode(texts, batch_size=64)
    np.testing.assert_allclose(together, encoder.encode(texts, batch_size=1), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    drill, driver, beaker = together
    assert drill @ driver > drill @ beaker + 0.2
    assert encoder.encode([]).shape == (0, 512)


def test_unknown_model_names_the_one_there_is():
    with pytest.raises(PersonaGraphError, match="multilingual-v3"):
        load_text_encoder("use:large-v5")
