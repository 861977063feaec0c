"""Ours: exactly the profile model that ``personagraph train`` produces, as a ranker.

Same :class:`TrainConfig` defaults, same text features (the evaluation attaches them
with :func:`~personagraph.profiles.train_pipeline.attach_text_features`), same early
stopping on validation Recall@20. The model has no per-user parameters, so for the test
figure the validation item is folded in: users and items are recomputed from the input
history graph with the trained weights, as the ``profiles`` stage of ``train`` does.
"""
from __future__ import annotations

import torch

from personagraph.gnn.profile_model import ProfileModel
from personagraph.gnn.profile_trainer import train_profile_model
from personagraph.gnn.ranker import Ranker, Scorer
from personagraph.gnn.ranking_data import RankingData
from personagraph.gnn.ranking_metrics import Targets
from personagraph.gnn.train_config import TrainConfig


class ProfileModelRanker(Ranker):
    """The heterogeneous profile GNN; its only tuning is the trainer's early stopping."""

    name = "ours"
    deterministic = False

    def __init__(self, seed: int = 0, batch_size: int = 1024, config: TrainConfig | None = None) -> None:
        super().__init__(seed, batch_size)
        self.config = config or TrainConfig(seed=seed)
        self.model: ProfileModel | None = None
        self._validation: dict[str, float] = {}

    def fit(self, train: RankingData, validation: Targets, progress: bool = False) -> None:
        result = train_profile_model(train.graph, validation, self.config, progress)
        self.model = result.model
        self._validation = result.best_metrics
        seconds = sum(record["seconds"] for record in result.history)
        self.chosen = {"best_epoch": result.best_epoch}
        self.tuning = [{"epochs_run": len(result.history), "best_epoch": result.best_epoch,
                        "seconds": round(seconds, 1)} | result.best_metrics]

    def validation_metrics(self) -> dict[str, float]:
        return dict(self._validation)

    def scorer(self, history: RankingData) -> Scorer:
        with torch.no_grad():
            users = self.model.user_embeddings(history.graph)
            items = self.model.item_embeddings(history.graph)
        return lambda batch: users[batch] @ items.T
