import pytest
import torch

from personagraph.errors import PersonaGraphError
from personagraph.gnn.checkpoint import load_checkpoint, save_checkpoint
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
