"""Write a shop's graph and its profiles to a :class:`ProfileStore`.

The store receives aggregated interactions (one relationship per user–item pair and event
type, with its count and latest time), not raw events: that is what Cypher users query,
and it keeps a re-sync idempotent.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import numpy as np
from torch_geometric.data import HeteroData
from tqdm.auto import tqdm

from personagraph.store.profile_store import RELATIONSHIP_FOR_EDGE, ProfileStore
from personagraph.shop.shop_data import ShopData
from personagraph.profiles.user_profiles import UserProfiles

#: Node label of each node type of the heterogeneous graph.
LABEL_FOR_NODE = {"user": "User", "item": "Item", "query": "Query", "category": "Category"}


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
    """Write nodes (items with their vectors), interactions and profiles; returns rows written per kind.

    Everything is an idempotent upsert, and a user's interactions, tags and segment
    replace that user's previous ones, so re-running a sync changes nothing.
    """
    names = _node_names(shop, graph)
    steps = [
        ("items", lambda: store.upsert_items(item_rows(shop, item_vectors))),
        ("categories", lambda: store.upsert_categories(category_rows(names["category"]))),
        ("queries", lambda: store.upsert_queries(
            {"id": text, "derived": derived_queries} for text in names["query"])),
        ("users", lambda: store.upsert_users(profiles.user_rows(), run_id)),
    ]
    for edge_type in graph.edge_types:
        source, relation, target = edge_type
        if relation.startswith("rev_"):
            continue
        rows = edge_rows(graph, edge_type, names[source], names[target])
        write = store.replace_relationships if source == "user" else store.upsert_relationships
        rel = RELATIONSHIP_FOR_EDGE[relation]
        steps.append((rel, lambda w=write, r=rel, s=source, t=target, rows=rows: w(
            r, LABEL_FOR_NODE[s], LABEL_FOR_NODE[t], rows)))
    steps += [
        ("tags", lambda: store.upsert_nodes("Tag", (
            {"name": label, "kind": kind}
            for label, kind in zip(profiles.tags.vocabulary.labels, profiles.tags.vocabulary.kinds)))),
        ("INTERESTED_IN", lambda: store.replace_relationships("INTERESTED_IN", "User", "Tag", profiles.tag_rows())),
        ("segments", lambda: _write_segments(store, profiles)),
        ("IN_SEGMENT", lambda: store.replace_relationships("IN_SEGMENT", "User", "Segment",
                                                           profiles.segment_link_rows())),
    ]
    return run_sync_steps(steps, "syncing to Neo4j", progress)


def run_sync_steps(steps: list[tuple[str, Callable[[], int]]], description: str, progress: bool) -> dict[str, int]:
    """Run named write steps in order under one progress bar; returns rows written per step."""
    written: dict[str, int] = {}
    bar = tqdm(steps, desc=description, unit="step", disable=not progress)
    for name, step in bar:
        bar.set_postfix_str(name)
        written[name] = step()
    return written


def category_rows(paths: list[str]) -> Iterator[dict[str, str]]:
    """Category nodes: the full path is the id, its last level the readable name."""
    return ({"id": path, "name": path.split(">")[-1].strip()} for path in paths)


def _node_names(shop: ShopData, graph: HeteroData) -> dict[str, list[str]]:
    return {
        "user": list(shop.events.user_ids),
        "item": list(shop.catalog.item_ids),
        "query": list(shop.events.query_texts),
        "category": list(graph["category"].names),
    }


def item_rows(shop: ShopData, item_vectors: np.ndarray) -> Iterator[dict[str, Any]]:
    catalog = shop.catalog
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


def edge_rows(graph: HeteroData, edge_type: tuple[str, str, str], sources: list[str], targets: list[str]) -> list[dict[str, Any]]:
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


def _write_segments(store: ProfileStore, profiles: UserProfiles) -> int:
    rows = profiles.segment_rows()
    written = store.upsert_nodes("Segment", rows)
    # Segments of an earlier run beyond this run's count no longer exist.
    store.run_cypher("MATCH (s:Segment) WHERE s.id >= $count DETACH DELETE s", {"count": len(rows)}, write=True)
    return written
