"""Item-kNN: score an item by its cosine similarity to the items in the user's history.

Similarity is the cosine of two items' user vectors (columns of the user-item matrix),
each item keeping only its ``neighbours`` most similar items. A user's history can be
recency-weighted (the k-th newest item counts ``recency_decay ** k``), since on
sequential data the last items say most about the next one. Both are tuned on
validation. New history folds in: the similarities are recounted on the input history
with the chosen setting, as a deployed item-kNN would.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from personagraph.evaluation.ranker import Ranker, Scorer
from personagraph.evaluation.ranking_data import RankingData
from personagraph.evaluation.ranking_metrics import Targets

NEIGHBOURS_GRID: tuple[int, ...] = (50, 200, 800)
RECENCY_DECAY_GRID: tuple[float, ...] = (1.0, 0.8, 0.6, 0.4)
#: Entries of a dense similarity block computed at once (bounds memory on big catalogues).
BLOCK_ENTRIES = 20_000_000


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
        nearest, similarity = top_neighbours(train.interaction_matrix(), max(self.neighbours_grid))
        settings = [{"neighbours": k, "recency_decay": d} for k in self.neighbours_grid for d in self.recency_decay_grid]
        self.select(train, validation, settings,
                    lambda s: _scorer(train, nearest, similarity, s["neighbours"], s["recency_decay"]))

    def scorer(self, history: RankingData) -> Scorer:
        neighbours = self.chosen["neighbours"]
        nearest, similarity = top_neighbours(history.interaction_matrix(), neighbours)
        return _scorer(history, nearest, similarity, neighbours, self.chosen["recency_decay"])


def top_neighbours(interactions: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per item, its ``k`` most cosine-similar other items, best first: ``(indices, similarities)``,
    both ``[num_items, k]`` (similarity 0 where an item has fewer co-occurring items)."""
    binary = interactions.copy()
    binary.data[:] = 1.0
    num_items = binary.shape[1]
    k = min(k, max(num_items - 1, 1))
    norms = np.sqrt(np.asarray(binary.sum(axis=0)).ravel()).astype(np.float32)
    norms[norms == 0] = 1.0
    by_item = binary.T.tocsr()
    nearest = np.zeros((num_items, k), dtype=np.int64)
    similarity = np.zeros((num_items, k), dtype=np.float32)
    block = max(1, BLOCK_ENTRIES // max(num_items, 1))
    for start in range(0, num_items, block):
        stop = min(start + block, num_items)
        co_counts = (by_item[start:stop] @ binary).toarray().astype(np.float32)
        cosine = co_counts / norms[start:stop, None] / norms[None, :]
        cosine[np.arange(stop - start), np.arange(start, stop)] = 0.0
        top = np.argpartition(-cosine, k - 1, axis=1)[:, :k] if k < num_items else np.argsort(-cosine, axis=1)[:, :k]
        top_sim = np.take_along_axis(cosine, top, axis=1)
        order = np.argsort(-top_sim, axis=1, kind="stable")
        nearest[start:stop] = np.take_along_axis(top, order, axis=1)
        similarity[start:stop] = np.take_along_axis(top_sim, order, axis=1)
    return nearest, similarity


def _scorer(history: RankingData, nearest: np.ndarray, similarity: np.ndarray,
            neighbours: int, recency_decay: float) -> Scorer:
    num_items = nearest.shape[0]
    kept = min(neighbours, nearest.shape[1])
    rows = np.repeat(np.arange(num_items), kept)
    item_item = sp.csr_matrix((similarity[:, :kept].ravel(), (rows, nearest[:, :kept].ravel())),
                              shape=(num_items, num_items))
    weighted = history.interaction_matrix(recency_decay)

    def score(users: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy((weighted[users.numpy()] @ item_item).toarray().astype(np.float32))

    return score
