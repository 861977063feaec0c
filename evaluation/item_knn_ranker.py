"""Item-kNN: score an item by its cosine similarity to the items in the user's history.

Similarity is the cosine of two items' user vectors (columns of the user-item matrix),
each item keeping only its ``neighbours`` most similar items
(:class:`~personagraph.graph.item_neighbours.ItemNeighbours`). A user's history can be
recency-weighted (the k-th newest item counts ``recency_decay ** k``), since on
sequential data the last items say most about the next one. Both are tuned on
validation. New history folds in: the similarities are recounted on the input history
with the chosen setting, as a deployed item-kNN would.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from personagraph.evaluation.ranker import Ranker, Scorer
from personagraph.evaluation.ranking_data import RankingData
from personagraph.evaluation.ranking_metrics import Targets
from personagraph.graph.item_neighbours import ItemNeighbours

NEIGHBOURS_GRID: tuple[int, ...] = (50, 200, 800)
RECENCY_DECAY_GRID: tuple[float, ...] = (1.0, 0.8, 0.6, 0.4)


class ItemKNNRanker(Ranker):
    """Cosine item-item neighbourhood model over the user-item matrix (scipy.sparse)."""

    name = "itemknn"

    def __init__(self, seed: int = 0, batch_size: int = 1024,
                 neighbours_grid: Sequence[int] = NEIGHBOURS_GRID,
                 recency_decay_grid: Sequence[float] = RECENCY_DECAY_GRID) -> None:
        super().__init__(seed, batch_size)
        self.neighbours_grid = tuple(neighbours_grid)
        self.recency_decay_grid = tuple(recency_decay_grid)

    def fit(self, train: RankingData, validation: Targets, progress: bool = False) -> None:
        table = ItemNeighbours.fit(train.interaction_matrix(), max(self.neighbours_grid))
        settings = [{"neighbours": k, "recency_decay": d} for k in self.neighbours_grid for d in self.recency_decay_grid]
        self.select(train, validation, settings,
                    lambda s: _scorer(train, table, s["neighbours"], s["recency_decay"]))

    def scorer(self, history: RankingData) -> Scorer:
        neighbours = self.chosen["neighbours"]
        table = ItemNeighbours.fit(history.interaction_matrix(), neighbours)
        return _scorer(history, table, neighbours, self.chosen["recency_decay"])


def _scorer(history: RankingData, table: ItemNeighbours, neighbours: int, recency_decay: float) -> Scorer:
    item_item = table.cut(neighbours).matrix()
    weighted = history.interaction_matrix(recency_decay)

    def score(users: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy((weighted[users.numpy()] @ item_item).toarray().astype(np.float32))

    return score
