"""What the pipeline and the CLI need from a profile database, independent of how it is stored.

Writers (train, update) and readers (`similar`, `recommend`, `segments`, audiences) program
against this interface and never write a query: each capability is a method, and its query
language lives in the implementation. :class:`~personagraph.store.neo4j_profile_store.Neo4jProfileStore`
is the implementation on Neo4j; :func:`~personagraph.store.open_store.open_store` picks one.
:meth:`ProfileStore.run_cypher` is there for the user's own queries (`personagraph query`) only.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from personagraph.errors import PersonaGraphError
from personagraph.profiles.segment import Segment
from personagraph.shop.schema import schema_attributes, shop_schema
from personagraph.store.sync_state import SyncState

#: Node labels the store writes, each with the property that identifies a node.
NODE_KEYS: dict[str, str] = {
    "User": "id",
    "Item": "id",
    "Query": "id",
    "Category": "id",
    "Tag": "name",
    "Segment": "id",
}

#: ``RELATIONSHIP_FOR_EDGE``: the relationship type of each edge relation of the graph (the shop schema's).
__getattr__ = schema_attributes(__name__, RELATIONSHIP_FOR_EDGE="relationship_for_edge")
#: Item properties listing an item's nearest items (ids, best first) and their similarities, where the
#: run ranks with a neighbour score beside the profile score.
NEIGHBOURS, NEIGHBOUR_SIMILARITY = "neighbours", "neighbour_similarity"
#: A node's narrow search vector (a run's :class:`~personagraph.profiles.search_projection.SearchProjection`
#: of ``embedding``), on users and items where the run has one; the user index is then over it.
SEARCH_EMBEDDING = "search_embedding"
#: Relationships from a user to their profile, beside the shop schema's.
PROFILE_RELATIONSHIPS: frozenset[str] = frozenset({"INTERESTED_IN", "IN_SEGMENT"})


def relationship_types() -> frozenset[str]:
    """Every relationship type the store may write (types cannot be Cypher parameters)."""
    return frozenset(shop_schema().relationship_for_edge.values()) | PROFILE_RELATIONSHIPS


Row = Mapping[str, Any]


class SimilarUser(NamedTuple):
    """One hit of a similarity search: cosine similarity in [-1, 1] and the user's stored attributes."""

    id: str
    score: float
    properties: dict[str, Any]


class SimilarItem(NamedTuple):
    """One hit of an item search: cosine similarity in [-1, 1] and the item's stored attributes."""

    id: str
    score: float
    properties: dict[str, Any]


class StoredUser(NamedTuple):
    """A stored profile: its vector and its attributes (``run_id``, ``segment``, ``top_tags``, ...)."""

    id: str
    embedding: list[float]
    properties: dict[str, Any]


class ProfileStore(ABC):
    """A database of user profiles (vectors + attributes) and the shop graph around them."""

    @abstractmethod
    def ensure_schema(self, embedding_dim: int, search_dim: int | None = None) -> None:
        """Create the key constraints and the vector indexes (idempotent): the user index over the
        users' ``search_dim``-wide ``search_embedding`` when given, else over their ``embedding``."""

    @abstractmethod
    def upsert_nodes(self, label: str, rows: Iterable[Row]) -> int:
        """Create or update nodes of ``label`` (a key of :data:`NODE_KEYS`); returns the rows written."""

    @abstractmethod
    def upsert_users(self, rows: Iterable[Row], run_id: str) -> int:
        """Create or update users: each row has ``id``, ``embedding``, optionally ``search_embedding``
        (the run's narrow search vector; a row without one clears it) and scalar / list attributes."""

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
        """The ``k`` users whose vectors are closest to ``user_id``'s, optionally filtered by attributes.

        Ranked by the cosine of the full profiles, also when the index is over search vectors."""

    @abstractmethod
    def nearest_users(
        self, vector: Sequence[float], k: int = 10, where: Mapping[str, Any] | None = None,
        search_vector: Sequence[float] | None = None,
    ) -> list[SimilarUser]:
        """The ``k`` users closest to a raw profile vector, optionally filtered by attributes; when the
        stored run has a search projection, ``search_vector`` is the vector's projection (what the
        index is over) and the hits are ranked by the cosine of the full vectors."""

    @abstractmethod
    def nearest_items(
        self, vector: Sequence[float], k: int = 10, exclude_seen_by: str | None = None
    ) -> list[SimilarItem]:
        """The ``k`` items closest to a vector (in the users' space), best first; ``exclude_seen_by``
        leaves out the items that user viewed, clicked, carted or bought."""

    @abstractmethod
    def score_items(self, vector: Sequence[float], item_ids: Sequence[str]) -> list[SimilarItem]:
        """Each stored item of ``item_ids`` scored by its cosine with ``vector`` (ids not stored are left
        out), in no particular order: :meth:`nearest_items` for a given set of items."""

    @abstractmethod
    def item_history(self, user_id: str) -> list[tuple[str, float | None]]:
        """Each item the user viewed, clicked, carted or bought, with its latest time (epoch seconds;
        ``None`` when the log had none)."""

    @abstractmethod
    def item_neighbour_lists(self, item_ids: Sequence[str]) -> dict[str, tuple[list[str], list[float]]]:
        """Per item of ``item_ids`` that has them, its stored neighbours and their similarities."""

    @abstractmethod
    def stored_user(self, user_id: str) -> StoredUser | None:
        """The stored profile of ``user_id``, or ``None`` when there is none (or it has no vector)."""

    def require_user(self, user_id: str) -> StoredUser:
        """:meth:`stored_user`, or an error saying how to get that profile stored."""
        user = self.stored_user(user_id)
        if user is None:
            raise PersonaGraphError(
                f"no user {user_id!r} in Neo4j — check the id, or store profiles first (`personagraph train`)"
            )
        return user

    @abstractmethod
    def active_run_id(self) -> str | None:
        """The run id of the profiles readers see (an update's, after an update), or ``None``;
        refuses while a sync is incomplete (:meth:`SyncState.require_complete`)."""

    # -- the sync marker: see store/profile_sync.py for how a sync uses it ----------------
    @abstractmethod
    def sync_state(self) -> SyncState:
        """The active run and any unfinished sync (never refuses: `personagraph status` reads it)."""

    @abstractmethod
    def begin_sync(self, run_id: str, run_folder: str | None, kind: str) -> None:
        """Mark a sync of ``run_id`` pending: from now until :meth:`commit_sync` readers refuse."""

    @abstractmethod
    def mark_sync_step(self, step: str) -> None:
        """Record the step the pending sync is writing, so an interrupted one can be named."""

    @abstractmethod
    def prune_other_runs(self, run_id: str) -> dict[str, int]:
        """Remove every node and relationship not written under ``run_id`` (in batches); returns
        how many nodes and relationships went."""

    @abstractmethod
    def commit_sync(self, run_id: str, run_folder: str | None, embedding_dim: int,
                    neighbour_blend: dict[str, Any] | None = None) -> None:
        """Make ``run_id`` the active run and clear the pending sync; ``neighbour_blend`` (a whole run's)
        records how the run ranks items, ``None`` keeps what is recorded."""

    @abstractmethod
    def count_by_run(self) -> dict[str, dict[str | None, int]]:
        """Nodes per label and relationships per type, counted by the ``run_id`` that wrote them."""

    @abstractmethod
    def segments(self) -> list[Segment]:
        """The stored segments, by id."""

    @abstractmethod
    def replace_segments(self, rows: Iterable[Row]) -> int:
        """Create or update segments (rows with ``id``, ``name``, ``size``, ...); segments not among
        the rows (an earlier run's extra ones) are removed with their links. Returns the rows written."""

    @abstractmethod
    def run_cypher(
        self, query: str, params: Mapping[str, Any] | None = None, write: bool = False
    ) -> list[dict[str, Any]]:
        """Run a user's query (read-only unless ``write``) and return its records as plain JSON-able dicts.

        For `personagraph query` only: product code calls the capability methods above."""

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

    # -- erasure (personagraph forget) -------------------------------------------------
    @abstractmethod
    def forget_users(self, user_ids: Iterable[str]) -> dict[str, int]:
        """Delete these users' nodes with every relationship they have (interactions, tags, segment),
        lowering the size of the segments they were in. Returns how many were removed per kind
        (``users``, each relationship type, ``segment_sizes_lowered``); ids not stored count nothing."""

    @abstractmethod
    def users_referenced(self, user_ids: Iterable[str]) -> int:
        """How many nodes or relationships still hold one of these ids in any property (a full scan:
        the check after an erasure, not a lookup)."""

    # -- social links ------------------------------------------------------------------
    @abstractmethod
    def replace_social_links(self, user_ids: Iterable[str], rows: Iterable[Row]) -> int:
        """Make the links out of ``user_ids`` exactly ``rows`` (``start``, ``end``, ``relation``, optional
        ``since``): one ``(:User)-[:SOCIAL {relation}]->(:User)`` per start, end and relation; links of
        these users that are not in ``rows`` are deleted. Returns how many links were written."""
