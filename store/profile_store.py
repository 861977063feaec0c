"""What the pipeline and the CLI need from a profile database, independent of how it is stored.

Writers (the train pipeline) and readers (`similar`, `query`, audiences) program against
this interface; :class:`~personagraph.store.neo4j_profile_store.Neo4jProfileStore` is the
implementation on Neo4j.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

#: Node labels the store writes, each with the property that identifies a node.
NODE_KEYS: dict[str, str] = {
    "User": "id",
    "Item": "id",
    "Query": "id",
    "Category": "id",
    "Tag": "name",
    "Segment": "id",
}

#: Relationship type for each edge type of the heterogeneous graph.
RELATIONSHIP_FOR_EDGE: dict[str, str] = {
    "view": "VIEWED",
    "click": "CLICKED",
    "add_to_cart": "ADDED_TO_CART",
    "purchase": "PURCHASED",
    "search": "SEARCHED",
    "leads_to": "LEADS_TO",
    "in_category": "IN_CATEGORY",
}

#: Every relationship type the store may write (types cannot be Cypher parameters).
RELATIONSHIP_TYPES: frozenset[str] = frozenset(RELATIONSHIP_FOR_EDGE.values()) | {"INTERESTED_IN", "IN_SEGMENT"}

Row = Mapping[str, Any]


class SimilarUser(NamedTuple):
    """One hit of a similarity search: cosine similarity in [-1, 1] and the user's stored attributes."""

    id: str
    score: float
    properties: dict[str, Any]


class ProfileStore(ABC):
    """A database of user profiles (vectors + attributes) and the shop graph around them."""

    @abstractmethod
    def ensure_schema(self, embedding_dim: int) -> None:
        """Create the key constraints and the user-vector index (idempotent)."""

    @abstractmethod
    def upsert_nodes(self, label: str, rows: Iterable[Row]) -> int:
        """Create or update nodes of ``label`` (a key of :data:`NODE_KEYS`); returns the rows written."""

    @abstractmethod
    def upsert_users(self, rows: Iterable[Row], run_id: str) -> int:
        """Create or update users: each row has ``id``, ``embedding`` and scalar / list attributes."""

    def upsert_items(self, rows: Iterable[Row]) -> int:
        return self.upsert_nodes("Item", rows)

    def upsert_queries(self, rows: Iterable[Row]) -> int:
        return self.upsert_nodes("Query", rows)

    def upsert_categories(self, rows: Iterable[Row]) -> int:
        return self.upsert_nodes("Category", rows)

    @abstractmethod
    def upsert_relationships(self, rel_type: str, start_label: str, end_label: str, rows: Iterable[Row]) -> int:
        """Create or update relationships from rows with ``start``, ``end`` and properties."""

    @abstractmethod
    def replace_relationships(self, rel_type: str, start_label: str, end_label: str, rows: Iterable[Row]) -> int:
        """Like :meth:`upsert_relationships`, but a start node's other ``rel_type`` links are removed."""

    @abstractmethod
    def similar_users(
        self, user_id: str, k: int = 10, where: Mapping[str, Any] | None = None
    ) -> list[SimilarUser]:
        """The ``k`` users whose vectors are closest to ``user_id``'s, optionally filtered by attributes."""

    @abstractmethod
    def nearest_users(
        self, vector: Sequence[float], k: int = 10, where: Mapping[str, Any] | None = None
    ) -> list[SimilarUser]:
        """The ``k`` users closest to a raw vector, optionally filtered by attributes."""

    @abstractmethod
    def run_cypher(
        self, query: str, params: Mapping[str, Any] | None = None, write: bool = False
    ) -> list[dict[str, Any]]:
        """Run a query (read-only unless ``write``) and return its records as plain JSON-able dicts."""

    @abstractmethod
    def count(self, label: str) -> int:
        """How many nodes have ``label``."""

    @abstractmethod
    def delete_all(self) -> None:
        """Remove every node and relationship (the schema stays)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> "ProfileStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
