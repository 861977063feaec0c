"""Write a shop's graph and its profiles to a :class:`ProfileStore`: one path for `train` and `update`.

The store receives aggregated interactions (one relationship per user–item pair and event
type, with its count and latest time), not raw events: that is what Cypher users query,
and it keeps a re-sync idempotent. `train` hands :func:`sync_changes` the whole shop
(:func:`sync_profiles`); `update` hands it what it touched.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from functools import partial
from typing import Any

import numpy as np
from torch_geometric.data import HeteroData
from tqdm.auto import tqdm

from personagraph.profiles.user_profiles import UserProfiles
from personagraph.shop.schema import EdgeType, shop_schema
from personagraph.shop.shop_data import Catalog, ShopData
from personagraph.store.profile_changes import ProfileChanges
from personagraph.store.profile_store import ProfileStore

#: Node label of each node type of the heterogeneous graph.
LABEL_FOR_NODE = {"user": "User", "item": "Item", "query": "Query", "category": "Category"}


def sync_changes(
    store: ProfileStore,
    changes: ProfileChanges,
    run_id: str,
    progress: bool = True,
    description: str = "syncing to Neo4j",
) -> dict[str, int]:
    """Write ``changes`` (the profiles under ``run_id``); returns rows written per kind.

    Nodes go first, so every link finds both ends. Everything is an idempotent upsert, and a
    user's interactions, tags and segment replace that user's previous ones, so re-running a
    sync changes nothing.
    """
    profiles = changes.profiles
    steps: list[tuple[str, Callable[[], int]]] = [
        ("items", partial(store.upsert_items, changes.items)),
        ("categories", partial(store.upsert_categories, changes.categories)),
        ("queries", partial(store.upsert_queries, changes.queries)),
        ("users", lambda: store.upsert_users(profiles.user_rows(), run_id)),
    ]
    for (source, relation, target), rows in changes.edges.items():
        write = store.replace_relationships if source == "user" else store.upsert_relationships
        rel_type = shop_schema().relationship_for_edge[relation]
        steps.append((rel_type, partial(write, rel_type, LABEL_FOR_NODE[source], LABEL_FOR_NODE[target], rows)))
    steps += [
        ("tags", partial(store.upsert_nodes, "Tag", changes.tags)),
        ("INTERESTED_IN", lambda: store.replace_relationships("INTERESTED_IN", "User", "Tag", profiles.tag_rows())),
        ("segments", lambda: store.replace_segments(profiles.segment_rows())),
        ("IN_SEGMENT", lambda: store.replace_relationships("IN_SEGMENT", "User", "Segment",
                                                           profiles.segment_link_rows())),
    ]
    written: dict[str, int] = {}
    bar = tqdm(steps, desc=description, unit="step", disable=not progress)
    for name, step in bar:
        bar.set_postfix_str(name)
        written[name] = step()
    return written


def sync_profiles(
    store: ProfileStore,
    shop: ShopData,
    graph: HeteroData,
    profiles: UserProfiles,
    item_vectors: np.ndarray,
    run_id: str,
    derived_queries: bool = False,
    progress: bool = True,
) -> dict[str, int]:
    """Write the whole shop: nodes (items with their vectors), interactions and every profile."""
    names = {
        "user": list(shop.events.user_ids),
        "item": list(shop.catalog.item_ids),
        "query": list(shop.events.query_texts),
        "category": list(graph["category"].names),
    }
    changes = ProfileChanges(
        profiles,
        items=item_rows(shop.catalog, item_vectors),
        categories=category_rows(names["category"]),
        queries=query_rows(names["query"], derived_queries),
        tags=tag_rows(profiles),
        edges={
            edge_type: edge_rows(graph, edge_type, names[edge_type[0]], names[edge_type[2]])
            for edge_type in forward_edge_types(graph)
        },
    )
    return sync_changes(store, changes, run_id, progress)


def forward_edge_types(graph: HeteroData) -> list[EdgeType]:
    """The graph's edge types but the ``rev_*`` mirrors (the store's relationships have a direction)."""
    return [edge_type for edge_type in graph.edge_types if not edge_type[1].startswith("rev_")]


def item_rows(catalog: Catalog, item_vectors: np.ndarray) -> Iterator[dict[str, Any]]:
    """Item nodes with their vectors (``item_vectors[i]`` is the catalogue's ``i``-th item)."""
    for i, item_id in enumerate(catalog.item_ids):
        price = float(catalog.prices[i])
        yield {
            "id": item_id,
            "title": catalog.titles[i],
            "category": catalog.categories[i],
            "brand": catalog.brands[i],
            "price": None if math.isnan(price) else price,
            "embedding": item_vectors[i].tolist(),
        }


def category_rows(paths: Iterable[str]) -> Iterator[dict[str, str]]:
    """Category nodes: the full path is the id, its last level the readable name."""
    return ({"id": path, "name": path.split(">")[-1].strip()} for path in paths)


def query_rows(texts: Iterable[str], derived: bool) -> Iterator[dict[str, Any]]:
    """Query nodes; ``derived`` says a converter made the shop's queries up from item texts."""
    return ({"id": text, "derived": derived} for text in texts)


def tag_rows(profiles: UserProfiles) -> Iterator[dict[str, str]]:
    """Tag nodes of the profiles' tag vocabulary."""
    vocabulary = profiles.tags.vocabulary
    return ({"name": label, "kind": kind} for label, kind in zip(vocabulary.labels, vocabulary.kinds))


def edge_rows(
    graph: HeteroData, edge_type: EdgeType, sources: list[str], targets: list[str]
) -> list[dict[str, Any]]:
    """Relationship rows of one edge type: ``start`` / ``end`` names, event ``count``, ``last_at`` time."""
    store = graph[edge_type]
    src, dst = store.edge_index.tolist()
    counts = store.count.tolist()
    last = store.last_ts.tolist()
    rows = []
    for s, t, count, ts in zip(src, dst, counts, last):
        row: dict[str, Any] = {"start": sources[s], "end": targets[t], "count": int(count)}
        if not math.isnan(ts):
            row["last_at"] = datetime.fromtimestamp(ts, tz=timezone.utc)
        rows.append(row)
    return rows
