"""What one sync writes to a profile store: `train` passes the whole shop, `update` what it touched."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from personagraph.profiles.user_profiles import UserProfiles
from personagraph.shop.schema import EdgeType
from personagraph.store.profile_store import Row


@dataclass
class ProfileChanges:
    """Rows for :func:`~personagraph.store.profile_sync.sync_changes`, all written as idempotent upserts.

    Args:
        profiles: the users to write (vector, attributes, interest tags, segment link) and every
            segment with its current size.
        items: item nodes with their vectors.
        categories: category nodes.
        queries: query nodes.
        tags: tag nodes (the update's vocabulary is the trained one, so it passes none).
        edges: rows of each forward edge type of the graph; a user's links of a type replace
            that user's earlier ones, other links are added to.
    """

    profiles: UserProfiles
    items: Iterable[Row] = ()
    categories: Iterable[Row] = ()
    queries: Iterable[Row] = ()
    tags: Iterable[Row] = ()
    edges: Mapping[EdgeType, Iterable[Row]] = field(default_factory=dict)
