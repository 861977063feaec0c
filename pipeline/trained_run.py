"""A finished training run brought back to life: its model, text encoder, shop and graph.

`explain` and `audience` need what produced the stored profiles, not only the profiles:
the checkpoint, the encoder it was trained with, and the graph of the shop it read, with
the same text features (from the embedding cache the run filled, so nothing is re-encoded).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch_geometric.data import HeteroData

from personagraph.encoders.load_text_encoder import load_text_encoder
from personagraph.encoders.sentence_transformer_encoder import DEFAULT_MODEL_NAME
from personagraph.encoders.text_encoder import TextEncoder
from personagraph.errors import PersonaGraphError
from personagraph.gnn.checkpoint import load_checkpoint
from personagraph.gnn.profile_model import ProfileModel
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.shop.shop_data import ShopData
from personagraph.pipeline.run_folder import RunFolder, trained_run_id
from personagraph.encoders.text_features import attach_text_features

#: Where `personagraph train` puts run folders by default (relative to the working directory).
DEFAULT_RUNS_DIR = Path("runs")


@dataclass
class TrainedRun:
    """The parts of a run folder that recompute profiles: ``model(graph)`` gives the stored vectors."""

    folder: RunFolder
    config: dict[str, Any]
    model: ProfileModel
    encoder: TextEncoder
    shop: ShopData
    graph: HeteroData

    @property
    def run_id(self) -> str:
        return self.config["run_id"]

    @classmethod
    def load(cls, path: str | Path, cache_dir: str | Path | None = None, progress: bool = True) -> "TrainedRun":
        """Load the run in ``path``; ``cache_dir`` is the embedding cache (default: the one
        the run recorded in ``config.json``)."""
        folder = RunFolder(path)
        config_path = folder.path / "config.json"
        if not config_path.is_file() or not folder.checkpoint.is_file():
            raise PersonaGraphError(
                f"{folder.path} is not a run folder (no config.json or checkpoint.pt); "
                "pass the folder `personagraph train --out` wrote"
            )
        config = folder.read_json("config.json")
        checkpoint = load_checkpoint(folder.checkpoint)
        shop, _ = folder.current_shop(progress)
        graph = build_hetero_graph(shop)
        encoder_name = checkpoint.encoder_name
        encoder_spec = None if encoder_name in (None, DEFAULT_MODEL_NAME) else encoder_name
        encoder = load_text_encoder(encoder_spec, cache_dir or config["embedding_cache"])
        attach_text_features(shop, [graph], encoder, batch_size=64, progress=progress)
        return cls(folder=folder, config=config, model=checkpoint.model, encoder=encoder, shop=shop, graph=graph)

    def user_index(self, user_id: str) -> int:
        """The user's index in the run's shop, or a clear error for an id the shop does not have."""
        try:
            return self.shop.events.user_ids.index(user_id)
        except ValueError:
            raise PersonaGraphError(
                f"no user {user_id!r} in the run's shop data ({self.config['data_dir']}) — check the id"
            ) from None


def find_run_folder(run_id: str, runs_dir: str | Path = DEFAULT_RUNS_DIR) -> RunFolder:
    """The run folder under ``runs_dir`` whose ``config.json`` records ``run_id``.

    Profiles in Neo4j carry the id of the run that wrote them, so the commands that need
    the model find it without being told, as long as the run folder is where
    `personagraph train` put it.
    """
    runs = Path(runs_dir)
    for config_path in sorted(runs.glob("*/config.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        folder = RunFolder(config_path.parent)
        if folder.read_json("config.json").get("run_id") == trained_run_id(run_id):
            return folder
    raise PersonaGraphError(
        f"the stored profiles come from run {run_id!r}, but no folder under {runs.resolve()} holds it — "
        "pass --run RUN_DIR (the folder `personagraph train --out` wrote)"
    )
