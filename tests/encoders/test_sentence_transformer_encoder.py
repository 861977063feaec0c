import pytest

from personagraph.encoders.sentence_transformer_encoder import (
    DEFAULT_MODEL_NAME,
    SentenceTransformerEncoder,
)
from personagraph.errors import PersonaGraphError


@pytest.mark.slow
def test_default_model_gives_sensible_similarities():
    encoder = SentenceTransformerEncoder()
    assert encoder.name == DEFAULT_MODEL_NAME
    assert encoder.dim == 384
    drill, driver, beaker = encoder.encode(["cordless drill", "power drill driver", "glass beaker"])
    assert drill @ driver > drill @ beaker + 0.2
    assert encoder.encode([]).shape == (0, 384)


def test_unloadable_local_folder_names_the_model(tmp_path):
    with pytest.raises(PersonaGraphError, match=str(tmp_path)):
        SentenceTransformerEncoder(str(tmp_path))
