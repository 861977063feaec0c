"""Ours: exactly the profile model that ``personagraph train`` produces, as a ranker.

Same :class:`TrainConfig` defaults, same text features (the evaluation attaches them
with :func:`~personagraph.encoders.text_features.attach_text_features`), same early
stopping on validation Recall@20. The model has no per-user parameters, so for the test
figure the validation item is folded in: users and items are recomputed from the input
history graph with the trained weights, and the spectral filter is refitted to that graph
with its chosen width and mix, as ``train`` does before computing profiles. Where validation
chose a neighbour score beside the profile score, its table is recounted on the input history
the same way.
"""
from __future__ import annotations

import copy

import torch

from personagraph.gnn.neighbour_blend import NeighbourBlend
from personagraph.gnn.profile_model import ProfileModel
from personagraph.gnn.profile_trainer import TrainResult, train_profile_model
from personagraph.evaluation.ranker import SELECTION_METRIC, Ranker, Scorer
from personagraph.evaluation.ranking_data import RankingData
from personagraph.evaluation.ranking_metrics import Targets, as_csr, dot_product_scorer
from personagraph.gnn.train_config import TrainConfig
from personagraph.gnn.user_interactions import UserInteractions


def one_target_per_user(targets: Targets, num_users: int) -> torch.Tensor:
    """``[num_users]`` one validation item per user (-1 = none), as the trainer's early stopping takes
    them: a given split's sets (held out at random) give their first item."""
    if isinstance(targets, torch.Tensor) and targets.dim() == 1:
        return targets
    indptr, items = as_csr(targets, num_users)
    one = torch.full((num_users,), -1, dtype=torch.long)
    has = indptr[1:] > indptr[:-1]
    one[has] = items[indptr[:-1][has]]
    return one


def stopped_by_budget(result: TrainResult, config: TrainConfig) -> bool:
    """Whether training ended on ``config.max_minutes``: fewer epochs than allowed while early
    stopping had not yet seen ``patience`` evaluations without gain after the best epoch."""
    if not config.max_minutes or len(result.history) >= config.epochs:
        return False
    stale = sum(1 for record in result.history if record["epoch"] > result.best_epoch and SELECTION_METRIC in record)
    return stale < config.patience


class ProfileModelRanker(Ranker):
    """The heterogeneous profile GNN; its tuning is the trainer's early stopping and spectral choice."""

    name = "ours"
    deterministic = False

    def __init__(self, seed: int = 0, batch_size: int = 1024, config: TrainConfig | None = None) -> None:
        super().__init__(seed, batch_size)
        self.config = config or TrainConfig(seed=seed)
        self.model: ProfileModel | None = None
        self.blend = NeighbourBlend()
        self._validation: dict[str, float] = {}

    def fit(self, train: RankingData, validation: Targets, progress: bool = False) -> None:
        result = train_profile_model(train.graph, one_target_per_user(validation, train.num_users), self.config,
                                     progress, spectral_targets=validation)
        self.model = result.model
        self.blend = result.neighbour_blend
        self._validation = result.best_metrics
        self.stopped_by_budget = ["training"] if stopped_by_budget(result, self.config) else []
        seconds = sum(record["seconds"] for record in result.history)
        spectral = self.model.spectral
        self.chosen = {"best_epoch": result.best_epoch, "spectral_dim": spectral.k if spectral is not None else 0,
                       "spectral_mix": round(float(self.model.spectral_mix), 4),
                       **(spectral.shape if spectral is not None else {}),
                       **{name: round(value, 4) for name, value in (result.spectral_tuning or [{}])[-1].items()
                          if name in ("filter_alone", "gain_over_filter", "gnn_within_noise")},
                       "neighbour_weight": self.blend.weight,
                       **({name: value for name, value in self.blend.as_dict().items() if name != "weight"}
                          if self.blend.active else {}),
                       **{name: round(value, 4) for name, value in (result.neighbour_tuning or [{}])[-1].items()
                          if name in ("neighbour_gain", "neighbour_standard_error")}}
        self.tuning = [{"epochs_run": len(result.history), "best_epoch": result.best_epoch,
                        "seconds": round(seconds, 1)} | result.best_metrics, *result.spectral_tuning,
                       *result.neighbour_tuning]

    def validation_metrics(self) -> dict[str, float]:
        return dict(self._validation)

    def scorer(self, history: RankingData) -> Scorer:
        return self.blended(dot_product_scorer(*self.vectors(history)), history)

    def validation_scorer(self, train: RankingData) -> Scorer:
        """The trained model on the training graph as is: its spectral part was fitted there and
        cut to the chosen width, which a refit of that width would only approximate."""
        with torch.no_grad():
            output = self.model(train.graph)
        return self.blended(dot_product_scorer(output.user_vectors, output.item_vectors), train)

    def blended(self, profile_scorer: Scorer, data: RankingData) -> Scorer:
        """The profile scores with the chosen neighbour score beside them, its table recounted on
        ``data``'s history (as `personagraph train` counts it on the whole shop)."""
        if not self.blend.active:
            return profile_scorer
        interactions = UserInteractions.from_graph(data.graph)
        table = self.blend.fit_table(interactions.item_matrix(data.num_items))
        history = interactions.item_matrix(data.num_items, self.blend.recency_decay)
        return self.blend.scorer(profile_scorer, table, history)

    def vectors(self, history: RankingData) -> tuple[torch.Tensor, torch.Tensor]:
        """User and item vectors for ``history``, as `personagraph train` makes them after tuning:
        the spectral filter refitted to the history."""
        model = copy.deepcopy(self.model)
        model.refit_spectral(history.graph, self.seed)
        with torch.no_grad():
            output = model(history.graph)
        return output.user_vectors, output.item_vectors
