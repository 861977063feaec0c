"""Items to recommend to a stored user: the items whose vectors score highest against the user's.

Users and items live in one space where the model's score is the dot product of unit
vectors, i.e. their cosine, so the item-vector index of the store ranks items exactly as
the model does. Everything is read from the store; no model or run folder is needed.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from personagraph.errors import PersonaGraphError
from personagraph.store.neo4j_profile_store import VECTOR_INDEXES
from personagraph.store.profile_store import ProfileStore

#: The vector index over ``(:Item).embedding`` (cosine, unit vectors in the users' space).
ITEM_VECTOR_INDEX = VECTOR_INDEXES["Item"]
#: Candidates fetched per wanted item at first, since the user's own items are filtered out after the index.
_OVERSAMPLE = 4
_MIN_CANDIDATES = 50

_QUERY = """
MATCH (u:User {id: $user_id})
WITH u WHERE u.embedding IS NOT NULL
CALL db.index.vector.queryNodes($index, $candidates, u.embedding) YIELD node AS item, score
WHERE $include_seen OR NOT EXISTS { (u)-[:VIEWED|CLICKED|ADDED_TO_CART|PURCHASED]->(item) }
RETURN item.id AS id, 2 * score - 1 AS score, item.title AS title, item.category AS category, item.price AS price
ORDER BY score DESC, id
LIMIT $k
"""


class Recommendation(NamedTuple):
    """One recommended item: the model's score (cosine of user and item vectors) and what it is."""

    id: str
    score: float
    title: str | None
    category: str | None
    price: float | None


class Recommender:
    """Ranks a stored user's items by the model's score, through the store's item-vector index."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store

    def recommend(self, user_id: str, k: int = 10, include_seen: bool = False) -> list[Recommendation]:
        """The ``k`` best items for ``user_id``; items the user already interacted with are left
        out (as when the model is evaluated) unless ``include_seen``."""
        if k < 1:
            raise PersonaGraphError(f"k must be at least 1, got {k}")
        self._check_user(user_id)
        total = self.store.count("Item")
        candidates = min(max(_OVERSAMPLE * k, _MIN_CANDIDATES), max(total, 1))
        params: dict[str, Any] = {"user_id": user_id, "index": ITEM_VECTOR_INDEX, "k": k,
                                  "include_seen": include_seen}
        while True:
            rows = self._search(params | {"candidates": candidates})
            if len(rows) >= k or candidates >= total:
                return [Recommendation(**row) for row in rows]
            candidates = min(candidates * 4, total)

    def _check_user(self, user_id: str) -> None:
        rows = self.store.run_cypher(
            "MATCH (u:User {id: $id}) RETURN u.embedding IS NOT NULL AS stored", {"id": user_id}
        )
        if not rows or not rows[0]["stored"]:
            raise PersonaGraphError(
                f"no user {user_id!r} in Neo4j — check the id, or store profiles first (`personagraph train`)"
            )

    def _search(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            return self.store.run_cypher(_QUERY, params)
        except PersonaGraphError as exc:
            indexes = self.store.run_cypher(
                "SHOW VECTOR INDEXES YIELD name WHERE name = $name RETURN name", {"name": ITEM_VECTOR_INDEX}
            )
            if not indexes:
                raise PersonaGraphError(
                    f"Neo4j has no item vectors (vector index {ITEM_VECTOR_INDEX!r}); "
                    "store them by training again (`personagraph train`)"
                ) from None
            raise exc
