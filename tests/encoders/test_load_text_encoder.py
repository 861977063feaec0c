import numpy as np
import pytest

from personagraph.encoders.cached_text_encoder import CachedTextEncoder
from personagraph.encoders.load_text_encoder import load_text_encoder
from personagraph.encoders.sentence_transformer_encoder import DEFAULT_MODEL_NAME


@pytest.mark.slow
def test_default_spec_with_cache_dir_gives_cached_packaged_model(tmp_path):
    encoder = load_text_encoder("default", cache_dir=tmp_path)
    assert isinstance(encoder, CachedTextEncoder)
    assert encoder.name == DEFAULT_MODEL_NAME
    cold = encoder.encode(["cordless drill", "glass beaker"])
    warm = load_text_encoder(None, cache_dir=tmp_path).encode(["glass beaker", "cordless drill"])
    np.testing.assert_array_equal(cold[::-1], warm)
