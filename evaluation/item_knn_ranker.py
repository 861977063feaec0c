"""Item-kNN: score an item by its cosine similarity to the items in the user's history.

Similarity is the cosine of two items' user vectors (columns of the user-item matrix),
each item keeping only its ``neighbours`` most similar items
(:class:`~personagraph.graph.item_neighbours.ItemNeighbours`). A user's history can be
recency-weighted (the k-th newest item counts ``recency_decay ** k``), since on
sequential data the last items say most about the next one; and co-occurrences can be
weighted by ``degree ** -e`` of the user behind them (a weighted cosine). All are tuned on
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
from personagraph.graph.item_neighbours import (NEIGHBOUR_COUNTS, RECENCY_DECAYS, USER_WEIGHT_EXPONENTS,
                                                ItemNeighbours)


class ItemKNNRanker(Ranker):
    """Cosine item-item neighbourhood model over the user-item matrix (scipy.sparse)."""

    name = "itemknn"

    def __init__(self, seed: int = 0, batch_size: int = 1024,
                 neighbours_grid: Sequence[int] = NEIGHBOUR_COUNTS,
                 recency_decay_grid: Sequence[float] = RECENCY_DECAYS,
                 user_weight_grid: Sequence[float] = USER_WEIGHT_EXPONENTS) -> None:
        super().__init__(seed, batch_size)
        self.neighbours_grid = tuple(neighbours_grid)
        self.recency_decay_grid = tuple(recency_decay_grid)
        self.user_weight_grid = tuple(user_weight_grid)

    def fit(self, train: RankingData, validation: Targets, progress: bool = False) -> None:
        matrix, tables = train.interaction_matrix(), {}

        def table(exponent: float) -> ItemNeighbours:  # settings come by exponent: one table alive at a time
            if exponent not in tables:
                tables.clear()
                tables[exponent] = ItemNeighbours.fit(matrix, max(self.neighbours_grid), exponent)
            return tables[exponent]

        settings = [{"neighbours": k, "recency_decay": d, "user_weight_exponent": e}
                    for e in self.user_weight_grid for k in self.neighbours_grid for d in self.recency_decay_grid]
        self.select(train, validation, settings, lambda s: _scorer(train, table(s["user_weight_exponent"]),
                                                                   s["neighbours"], s["recency_decay"]))

    def scorer(self, history: RankingData) -> Scorer:
        neighbours = self.chosen["neighbours"]
        table = ItemNeighbours.fit(history.interaction_matrix(), neighbours, self.chosen["user_weight_exponent"])
        return _scorer(history, table, neighbours, self.chosen["recency_decay"])


def _scorer(history: RankingData, table: ItemNeighbours, neighbours: int, recency_decay: float) -> Scorer:
    item_item = table.cut(neighbours).matrix()
    weighted = history.interaction_matrix(recency_decay)

    def score(users: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy((weighted[users.numpy()] @ item_item).toarray().astype(np.float32))

    return score
