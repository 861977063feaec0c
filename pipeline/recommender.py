"""Items to recommend to a stored user: the items whose vectors score highest against the user's.

Users and items live in one space where the model's score is the dot product of unit
vectors, i.e. their cosine, so the store's item-vector search ranks items exactly as the
model does. Where training chose to rank with a neighbour score (item-kNN's or a low-pass
filter's) beside it (:mod:`~personagraph.gnn.neighbour_blend`), the store holds each item's neighbour list and the
blend; the candidates are then the vector search's best ``k`` and every item with a neighbour
score, which holds the exact top ``k`` (any other item scores its cosine alone, below those
``k``). Everything is read from the store; no model or run folder is needed.
"""
from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

import numpy as np
import torch

from personagraph.errors import PersonaGraphError
from personagraph.gnn.neighbour_blend import NeighbourBlend
from personagraph.graph.item_neighbours import recency_weighted
from personagraph.store.profile_store import ProfileStore


class Recommendation(NamedTuple):
    """One recommended item: the model's ranking score (the cosine of user and item vectors, plus the
    weighted neighbour score where the run ranks with one) and what it is."""

    id: str
    score: float
    title: str | None
    category: str | None
    price: float | None


class Recommender:
    """Ranks a stored user's items by the model's score, through the store's item-vector search."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store

    def recommend(self, user_id: str, k: int = 10, include_seen: bool = False) -> list[Recommendation]:
        """The ``k`` best items for ``user_id``; items the user already interacted with are left
        out (as when the model is evaluated) unless ``include_seen``."""
        if k < 1:
            raise PersonaGraphError(f"k must be at least 1, got {k}")
        user = self.store.require_user(user_id)
        blend = NeighbourBlend.from_dict(self.store.sync_state().blend_settings())
        if not blend.active:
            hits = self.store.nearest_items(user.embedding, k, exclude_seen_by=None if include_seen else user_id)
            return [_recommendation(hit.id, hit.score, hit.properties) for hit in hits]
        history = self.store.item_history(user_id)
        neighbour = self._neighbour_scores(history, blend)
        top = max(neighbour.values(), default=0.0)
        seen = set() if include_seen else {item for item, _ in history}
        nearest = self.store.nearest_items(user.embedding, k, None if include_seen else user_id)
        # The best cosine over all items, as training scales by: the first hit when nothing was left out.
        best_hit = nearest[:1] if include_seen else self.store.nearest_items(user.embedding, 1)
        profile_top = best_hit[0].score if best_hit else 1.0
        hits = {hit.id: hit for hit in nearest}
        hits |= {hit.id: hit for hit in self.store.score_items(
            user.embedding, [item for item in neighbour if item not in hits and item not in seen])}
        items = list(hits)
        combined = blend.combine(torch.tensor([[hits[item].score for item in items]]),
                                 torch.tensor([[neighbour.get(item, 0.0) for item in items]]),
                                 profile_top=profile_top, neighbour_top=top)
        ranked = dict(zip(items, combined[0].tolist()))
        best = sorted(ranked, key=lambda item: (-ranked[item], item))[:k]
        return [_recommendation(item, ranked[item], hits[item].properties) for item in best]

    def _neighbour_scores(self, history: list[tuple[str, float | None]], blend: NeighbourBlend) -> dict[str, float]:
        """Each item's summed similarity to the user's items, weighted by their recency as training weighed them."""
        if not history:
            return {}
        times = np.array([np.nan if time is None else time for _, time in history], dtype=np.float64)
        weights = recency_weighted(np.zeros(len(history), dtype=np.int64), np.arange(len(history)), times,
                                   (1, len(history)), blend.recency_decay).toarray()[0]
        lists = self.store.item_neighbour_lists([item for item, _ in history])
        scores: dict[str, float] = defaultdict(float)
        for (item, _), weight in zip(history, weights):
            neighbours, similarity = lists.get(item, ([], []))
            for other, value in zip(neighbours[: blend.neighbours], similarity[: blend.neighbours]):
                scores[other] += float(weight) * value
        return scores


def _recommendation(item_id: str, score: float, properties: dict) -> Recommendation:
    return Recommendation(item_id, score, properties.get("title"), properties.get("category"),
                          properties.get("price"))
