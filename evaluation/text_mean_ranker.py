"""Text-only: a user is the mean text embedding of their items; items rank by cosine to it.

What the language model alone knows, without any training: the baseline that shows
what the graph and the learned weights add. The mean can be recency-weighted (the
k-th newest item counts ``recency_decay ** k``), tuned on validation. Not applicable
to ID-only data.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from personagraph.evaluation.ranker import Ranker, Scorer
from personagraph.evaluation.ranking_data import RankingData
from personagraph.evaluation.ranking_metrics import Targets

RECENCY_DECAY_GRID: tuple[float, ...] = (1.0, 0.7, 0.4, 0.1)


class TextMeanRanker(Ranker):
    """Cosine between an item's text embedding and the (weighted) mean of the user's items'."""

    name = "text"

    def __init__(self, seed: int = 0, batch_size: int = 1024,
                 recency_decay_grid: Sequence[float] = RECENCY_DECAY_GRID) -> None:
        super().__init__(seed, batch_size)
        self.recency_decay_grid = tuple(recency_decay_grid)

    def not_applicable_reason(self, data: RankingData) -> str | None:
        return None if data.item_text() is not None else "the items have no text (ID-only data)"

    def fit(self, train: RankingData, validation: Targets, progress: bool = False) -> None:
        settings = [{"recency_decay": d} for d in self.recency_decay_grid]
        self.select(train, validation, settings, lambda s: _scorer(train, s["recency_decay"]))

    def scorer(self, history: RankingData) -> Scorer:
        return _scorer(history, self.chosen["recency_decay"])


def _scorer(history: RankingData, recency_decay: float) -> Scorer:
    item_text = nn.functional.normalize(history.item_text().float(), dim=-1)
    weighted = history.interaction_matrix(recency_decay)
    text = item_text.numpy()

    def score(users: torch.Tensor) -> torch.Tensor:
        user_vectors = torch.from_numpy(np.asarray(weighted[users.numpy()] @ text, dtype=np.float32))
        return nn.functional.normalize(user_vectors, dim=-1) @ item_text.T

    return score
