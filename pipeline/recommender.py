"""Items to recommend to a stored user: the items whose vectors score highest against the user's.

Users and items live in one space where the model's score is the dot product of unit
vectors, i.e. their cosine, so the store's item-vector search ranks items exactly as the
model does. Everything is read from the store; no model or run folder is needed.
"""
from __future__ import annotations

from typing import NamedTuple

from personagraph.errors import PersonaGraphError
from personagraph.store.profile_store import ProfileStore


class Recommendation(NamedTuple):
    """One recommended item: the model's score (cosine of user and item vectors) and what it is."""

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
        hits = self.store.nearest_items(user.embedding, k, exclude_seen_by=None if include_seen else user_id)
        return [
            Recommendation(hit.id, hit.score, hit.properties.get("title"), hit.properties.get("category"),
                           hit.properties.get("price"))
            for hit in hits
        ]
