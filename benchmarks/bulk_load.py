"""Bulk import (``neo4j-admin database import full``) against the UNWIND sync, side by side.

For each size it makes up a whole run in memory: N users with 64-d vectors, N/10 items with
vectors, 100 categories, N/5 queries, 15 VIEWED and 2 SEARCHED links per user, 2 tags and a
segment per user. The same rows go (1) through ``sync_changes`` into an emptied database and
(2) through ``bulk_load`` into the same, emptied, database of a managed server of the
benchmark's own (``--home``, ``--port``; stopped at the end). Both times include creating the
constraints and vector indexes; the bulk time also includes writing the CSV files, stopping
the server and starting it again. Prints a markdown table.

    .venv/bin/python benchmarks/bulk_load.py [--sizes 10000,100000] [--home /tmp/pg-bulk-neo4j] [--port 17787]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from personagraph.store.bulk_import import bulk_load
from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.neo4j_profile_store import Neo4jProfileStore
from personagraph.store.neo4j_server import Neo4jServer
from personagraph.store.profile_changes import ProfileChanges
from personagraph.store.profile_sync import sync_changes

DIM = 64
VIEWS_PER_USER = 15


def made_up_run(users: int, seed: int = 0) -> ProfileChanges:
    """A whole run's rows, built with numpy and turned into the row dicts both paths take."""
    from datetime import datetime, timezone

    rng = np.random.default_rng(seed)
    items, queries = max(users // 10, 1), max(users // 5, 1)
    user_ids = [f"u{k}" for k in range(users)]
    item_ids = [f"i{k}" for k in range(items)]
    query_ids = [f"query {k}" for k in range(queries)]
    user_vectors = rng.standard_normal((users, DIM)).astype(np.float32)
    item_vectors = rng.standard_normal((items, DIM)).astype(np.float32)
    segment = rng.integers(0, 8, users)
    viewed = rng.integers(0, items, (users, VIEWS_PER_USER))
    searched = rng.integers(0, queries, (users, 2))
    last = 1_735_689_600 + rng.integers(0, 15_000_000, (users, VIEWS_PER_USER))

    return ProfileChanges(
        embedding_dim=DIM,
        users=[{"id": user, "embedding": vector, "segment": int(s), "top_tags": [f"tag {s}", f"tag {s + 1}"],
                "events": VIEWS_PER_USER} for user, vector, s in zip(user_ids, user_vectors, segment)],
        interests=[{"start": user, "end": f"tag {s + n}", "weight": 0.5} for user, s in zip(user_ids, segment)
                   for n in range(2)],
        segments=[{"id": s, "name": f"segment {s}", "size": int((segment == s).sum())} for s in range(8)],
        segment_links=[{"start": user, "end": int(s)} for user, s in zip(user_ids, segment)],
        items=[{"id": item, "title": f"Item {item}", "category": f"c{k % 100}", "price": 9.99, "embedding": vector}
               for k, (item, vector) in enumerate(zip(item_ids, item_vectors))],
        categories=[{"id": f"c{k}", "name": f"c{k}"} for k in range(100)],
        queries=[{"id": query, "derived": False} for query in query_ids],
        tags=[{"name": f"tag {k}", "kind": "category"} for k in range(10)],
        edges={
            ("user", "view", "item"): [
                {"start": user_ids[u], "end": item_ids[i], "count": 1,
                 "last_at": datetime.fromtimestamp(int(t), tz=timezone.utc)}
                for u, (row, times) in enumerate(zip(viewed.tolist(), last.tolist())) for i, t in zip(row, times)],
            ("user", "search", "query"): [{"start": user_ids[u], "end": query_ids[q], "count": 1}
                                          for u, row in enumerate(searched.tolist()) for q in row],
            ("item", "in_category", "category"): [{"start": item, "end": f"c{k % 100}"}
                                                   for k, item in enumerate(item_ids)],
        },
    )


def _empty(server: Neo4jServer) -> None:
    server.start(timeout=600)
    with Neo4jProfileStore.connect(ConnectionSettings.resolve(environ={}, server=server)) as store:
        store.delete_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--home", type=Path, default=Path("/tmp/pg-bulk-neo4j"))
    parser.add_argument("--port", type=int, default=17787)
    args = parser.parse_args()
    server = Neo4jServer(home=args.home, port=args.port, heap="2g", pagecache="1g")
    results = []
    try:
        for users in (int(size) for size in args.sizes.split(",")):
            changes = made_up_run(users)
            rows = sum(len(list(rows)) for rows in (changes.users, changes.interests, changes.segments,
                                                   changes.segment_links, changes.items, changes.categories,
                                                   changes.queries, changes.tags, *changes.edges.values()))
            _empty(server)
            with Neo4jProfileStore.connect(ConnectionSettings.resolve(environ={}, server=server)) as store:
                started = time.perf_counter()
                sync_changes(store, changes, "bench", progress=False)
                unwind = time.perf_counter() - started
            _empty(server)
            changes = made_up_run(users)  # the same rows again (the sync consumed nothing, but stay honest)
            started = time.perf_counter()
            bulk_load(server, changes, "bench", progress=False)
            bulk = time.perf_counter() - started
            results.append((users, rows, unwind, bulk))
            print(f"{users:,} users: UNWIND {unwind:.1f} s, bulk {bulk:.1f} s", file=sys.stderr, flush=True)
    finally:
        server.stop()
    print("| users | rows (nodes + relationships) | UNWIND sync s | rows/s | bulk import s | rows/s | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for users, rows, unwind, bulk in results:
        print(f"| {users:,} | {rows:,} | {unwind:.1f} | {rows / unwind:,.0f} | {bulk:.1f} | {rows / bulk:,.0f} | "
              f"{unwind / bulk:.1f}x |")


if __name__ == "__main__":
    main()
