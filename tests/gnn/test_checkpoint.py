import copy

import pytest
import torch

from personagraph.errors import PersonaGraphError
from personagraph.gnn.checkpoint import EXPONENT_BEFORE_IT_WAS_SAVED, load_checkpoint, save_checkpoint
from personagraph.gnn.profile_model import ProfileModel
from personagraph.gnn.profile_trainer import train_profile_model
from personagraph.gnn.train_config import TrainConfig
from planted_interests import planted_shop


@pytest.mark.parametrize("text", [True, False], ids=["text", "id-only"])
def test_round_trip_gives_identical_embeddings(tmp_path, text):
    shop = planted_shop(text=text)
    config = TrainConfig(dim=8, epochs=2, batch_size=16)
    model = train_profile_model(shop.graph, shop.targets, config, progress=False).model
    path = save_checkpoint(tmp_path / "run" / "model.pt", model, config, "all-MiniLM-L6-v2", {"recall@20": 0.5})
    loaded = load_checkpoint(path)
    with torch.no_grad():
        assert torch.equal(loaded.model.user_embeddings(shop.graph), model.user_embeddings(shop.graph))
        assert torch.equal(loaded.model.item_embeddings(shop.graph), model.item_embeddings(shop.graph))
    assert loaded.config == config and not loaded.model.training
    assert loaded.encoder_name == "all-MiniLM-L6-v2" and loaded.metadata == {"recall@20": 0.5}


def test_round_trip_keeps_the_spectral_part(tmp_path):
    shop = planted_shop()
    model = ProfileModel.from_graph(shop.graph, dim=8, spectral_dim=6)
    model.set_spectral(model.spectral.truncated(4), 0.3)
    model.eval()
    path = save_checkpoint(tmp_path / "model.pt", model, TrainConfig(dim=8), "all-MiniLM-L6-v2")
    loaded = load_checkpoint(path).model
    assert loaded.out_dim == 13 and float(loaded.spectral_mix) == pytest.approx(0.3)
    with torch.no_grad():
        assert torch.equal(loaded.user_embeddings(shop.graph), model.user_embeddings(shop.graph))
        assert torch.equal(loaded.item_embeddings(shop.graph), model.item_embeddings(shop.graph))


def test_missing_or_foreign_files_are_actionable_errors(tmp_path):
    with pytest.raises(PersonaGraphError, match="train one first"):
        load_checkpoint(tmp_path / "absent.pt")
    (tmp_path / "notes.pt").write_text("not a checkpoint")
    with pytest.raises(PersonaGraphError, match="retrain"):
        load_checkpoint(tmp_path / "notes.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(PersonaGraphError, match="retrain"):
        load_checkpoint(tmp_path / "other.pt")


def spectral_model(exponent):
    shop = planted_shop()
    model = ProfileModel.from_graph(shop.graph, dim=8, spectral_dim=6, user_degree_exponent=exponent)
    model.set_spectral(model.spectral.truncated(4), 0.5)
    return shop, model.eval()


def test_the_degree_exponent_is_saved_and_profiles_after_loading(tmp_path):
    shop, model = spectral_model(0.75)
    path = save_checkpoint(tmp_path / "model.pt", model, TrainConfig(dim=8, user_degree_exponent=0.75), None)
    loaded = load_checkpoint(path)
    assert loaded.model.spectral.degree_exponent == 0.75 and loaded.config.user_degree_exponent == 0.75
    with torch.no_grad():
        assert torch.equal(loaded.model.user_embeddings(shop.graph), model.user_embeddings(shop.graph))
        default = copy.deepcopy(model)
        default.spectral.degree_exponent = 0.25
        assert not torch.allclose(default.user_embeddings(shop.graph), model.user_embeddings(shop.graph), atol=1e-4)


def test_training_passes_the_configured_exponent_to_the_model():
    shop = planted_shop()
    config = TrainConfig(dim=8, epochs=1, batch_size=16, spectral_dim=6, user_degree_exponent=0.75)
    model = train_profile_model(shop.graph, shop.targets, config, progress=False).model
    assert model.hparams["user_degree_exponent"] == 0.75
    assert model.spectral is None or model.spectral.degree_exponent == 0.75


def test_checkpoints_from_before_the_exponent_was_saved_load_with_the_old_constant(tmp_path):
    shop, model = spectral_model(0.25)
    path = save_checkpoint(tmp_path / "model.pt", model, TrainConfig(dim=8), None)
    saved = torch.load(path, weights_only=True)
    del saved["model_hparams"]["user_degree_exponent"], saved["train_config"]["user_degree_exponent"]
    torch.save(saved, path)
    loaded = load_checkpoint(path)
    assert loaded.model.spectral.degree_exponent == EXPONENT_BEFORE_IT_WAS_SAVED == 0.25
    assert loaded.config.user_degree_exponent == 0.25
    with torch.no_grad():
        assert torch.equal(loaded.model.user_embeddings(shop.graph), model.user_embeddings(shop.graph))
