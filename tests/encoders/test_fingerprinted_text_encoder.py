import shutil

import pytest

from personagraph.encoders.fingerprinted_text_encoder import model_folder_fingerprint
from personagraph.encoders.load_text_encoder import load_text_encoder
from personagraph.errors import PersonaGraphError


def test_fingerprint_follows_contents_not_location(tmp_path):
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights v1")
    (folder / "1_Pooling" / "config.json").write_text("{}")
    first = model_folder_fingerprint(folder)
    copy = shutil.copytree(folder, tmp_path / "copy")
    assert model_folder_fingerprint(copy) == first
    (folder / "model.safetensors").write_bytes(b"weights v2")
    assert model_folder_fingerprint(folder) != first
    (copy / "1_Pooling" / "config.json").rename(copy / "1_Pooling" / "other.json")
    assert model_folder_fingerprint(copy) != first


def test_a_recorded_name_of_a_changed_folder_is_refused(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"retrained weights")
    with pytest.raises(PersonaGraphError, match="changed since it was recorded"):
        load_text_encoder(f"{tmp_path}@000000000000")
