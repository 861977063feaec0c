"""Most-popular: every user gets the items with the most distinct users, their own excluded.

The floor any personalised model has to clear; it folds new history in by recounting.
"""
from __future__ import annotations

import numpy as np
import torch

from personagraph.evaluation.ranker import Ranker, Scorer
from personagraph.evaluation.ranking_data import RankingData
from personagraph.evaluation.ranking_metrics import Targets


class PopularityRanker(Ranker):
    """Scores an item by how many users in the input history touched it (no hyper-parameters)."""

    name = "popularity"

    def fit(self, train: RankingData, validation: Targets, progress: bool = False) -> None:
        self.select(train, validation, [{}], lambda _: self.scorer(train))

    def scorer(self, history: RankingData) -> Scorer:
        counts = np.bincount(history.interaction_matrix().indices, minlength=history.num_items)
        popularity = torch.from_numpy(counts.astype(np.float32))
        return lambda users: popularity.repeat(users.numel(), 1)
