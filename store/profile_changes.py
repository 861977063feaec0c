"""What one sync writes to a profile store: `train` passes the whole shop, `update` what it touched."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
import pyarrow as pa

from personagraph.profiles.search_projection import SearchProjection
from personagraph.profiles.user_profiles import UserProfiles
from personagraph.row_table import VECTOR_TYPE, RowTable, vector_column
from personagraph.shop.schema import EdgeType
from personagraph.store.profile_store import SEARCH_EMBEDDING, Row


@dataclass
class ProfileChanges:
    """Rows for :func:`~personagraph.store.profile_sync.sync_changes`, all written as idempotent upserts.

    Args:
        embedding_dim: width of the user (and item) vectors; the vector indexes are made this wide.
        users: user nodes (``id``, ``embedding``, attributes).
        interests: (user)-[:INTERESTED_IN {weight}]->(tag) rows.
        segments: every segment of the run, with its current size.
        segment_links: (user)-[:IN_SEGMENT]->(segment) rows.
        items: item nodes with their vectors.
        categories: category nodes.
        queries: query nodes.
        tags: tag nodes (the update's vocabulary is the trained one, so it passes none).
        edges: rows of each forward edge type of the graph; a user's links of a type replace
            that user's earlier ones, other links are added to.
        social_users: users whose ``SOCIAL`` links ``social_links`` replace (none: links left alone).
        social_links: ``(:User)-[:SOCIAL {relation, since}]->(:User)`` rows (``start``, ``end``,
            ``relation``, optional ``since``).
        base_run_id: ``None`` when the rows are a whole run: everything else is removed from the
            store. Otherwise they change the run the store holds, which must be ``base_run_id``
            (the state they were computed from), or the store would mix two states.
        search_projection: the run's search projection; then every user row gets its
            ``search_embedding`` and the user index is over those (``None``: over the profiles).
            Item rows get theirs too, so a query can look users up from an item (same space).
        neighbour_blend: how the run ranks items (:class:`~personagraph.gnn.neighbour_blend.NeighbourBlend`
            as a dict), recorded with the run; ``None`` leaves the store's as it is (an update).
    """

    embedding_dim: int
    users: Iterable[Row] = ()
    interests: Iterable[Row] = ()
    segments: Iterable[Row] = ()
    segment_links: Iterable[Row] = ()
    items: Iterable[Row] = ()
    categories: Iterable[Row] = ()
    queries: Iterable[Row] = ()
    tags: Iterable[Row] = ()
    edges: Mapping[EdgeType, Iterable[Row]] = field(default_factory=dict)
    base_run_id: str | None = None
    social_users: Sequence[str] = ()
    social_links: Iterable[Row] = ()
    search_projection: SearchProjection | None = None
    neighbour_blend: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.search_projection is not None:
            self.users = _with_search_vectors(self.users, self.search_projection)
            self.items = _with_search_vectors(self.items, self.search_projection)

    @property
    def search_dim(self) -> int | None:
        """Width of the users' search vectors (what the user index is over), ``None`` without a projection."""
        return None if self.search_projection is None else self.search_projection.dim

    @classmethod
    def from_profiles(cls, profiles: UserProfiles, **rows: Any) -> "ProfileChanges":
        """The changes that write ``profiles`` (vectors, attributes, tags, segments), plus ``rows``."""
        return cls(
            embedding_dim=int(profiles.vectors.shape[1]),
            users=profiles.user_rows(),
            interests=profiles.tag_rows(),
            segments=profiles.segment_rows(),
            segment_links=profiles.segment_link_rows(),
            **rows,
        )

    @property
    def whole_run(self) -> bool:
        return self.base_run_id is None


def _with_search_vectors(rows: Iterable[Row], projection: SearchProjection, batch: int = 4096) -> Iterable[Row]:
    """The rows with the projection of their ``embedding`` as ``search_embedding``, one matrix product
    per ``batch`` rows; as lazy as the rows given (a list stays a list, so it can be read twice, and rows
    held as columns get a column)."""
    if isinstance(rows, RowTable):
        return RowTable(rows.table.append_column(SEARCH_EMBEDDING, _projected_column(rows.table, projection, batch)))

    def projected() -> Iterator[Row]:
        iterator = iter(rows)
        while chunk := list(islice(iterator, batch)):
            searched = projection.apply(np.asarray([row["embedding"] for row in chunk], dtype=np.float32))
            yield from ({**row, SEARCH_EMBEDDING: vector} for row, vector in zip(chunk, searched.tolist()))

    return list(projected()) if isinstance(rows, (list, tuple)) else projected()


def _projected_column(table: pa.Table, projection: SearchProjection, batch: int) -> pa.ChunkedArray:
    """The projection of a table's ``embedding`` column (float32 lists of one width), ``batch`` rows at a time."""
    chunks = []
    for start in range(0, table.num_rows, batch):
        embedding = table.column("embedding").slice(start, batch).combine_chunks()
        block = embedding.flatten().to_numpy(zero_copy_only=False).reshape(len(embedding), -1)
        chunks.append(vector_column(projection.apply(block)))
    return pa.chunked_array(chunks, VECTOR_TYPE)
