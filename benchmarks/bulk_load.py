"""Bulk import (``neo4j-admin database import full``) against the UNWIND sync, side by side.

For each size it makes up a whole run in memory: N users with 64-d vectors, N/10 items with
vectors, 100 categories, N/5 queries, 15 VIEWED and 2 SEARCHED links per user, 2 tags and a
segment per user. The same rows go (1) through ``sync_changes`` into an emptied database and
(2) through ``bulk_load`` into the same, emptied, database of a managed server of the
benchmark's own (``--home``, ``--port``; stopped at the end). Both times include creating the
constraints and vector indexes; the bulk time also includes writing the CSV files, stopping
the server and starting it again. Prints a markdown table.

Beside each time: rows per second and the growth over the previous size next to the growth of
the rows (a path that scales linearly grows like the rows). ``--batch-sizes`` repeats the UNWIND
sync with several transaction sizes (the store's ``batch_size``), to choose it by measurement.

    .venv/bin/python benchmarks/bulk_load.py [--sizes 10000,100000] [--batch-sizes 5000] [--home /tmp/pg-bulk-neo4j]
        [--port 17787]
"""
from __future__ import annotations

import argparse
import os
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
    parser.add_argument("--batch-sizes", default="5000", help="UNWIND transaction sizes to time (comma-separated)")
    args = parser.parse_args()
    batch_sizes = [int(size) for size in args.batch_sizes.split(",")]
    print(f"$ {' '.join(sys.argv)} (load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})", flush=True)
    server = Neo4jServer(home=args.home, port=args.port, heap="2g", pagecache="1g")
    results = []
    try:
        for users in (int(size) for size in args.sizes.split(",")):
            changes = made_up_run(users)
            rows = sum(len(list(rows)) for rows in (changes.users, changes.interests, changes.segments,
                                                   changes.segment_links, changes.items, changes.categories,
                                                   changes.queries, changes.tags, *changes.edges.values()))
            unwind = {}
            for batch_size in batch_sizes:
                _empty(server)
                settings = ConnectionSettings.resolve(environ={}, server=server)
                with Neo4jProfileStore.connect(settings, batch_size=batch_size) as store:
                    started = time.perf_counter()
                    sync_changes(store, changes, "bench", progress=False)
                    unwind[batch_size] = time.perf_counter() - started
            _empty(server)
            started = time.perf_counter()
            bulk_load(server, changes, "bench", progress=False)
            bulk = time.perf_counter() - started
            results.append((users, rows, unwind, bulk))
            print(f"{users:,} users: UNWIND {unwind} s, bulk {bulk:.1f} s (load average "
                  f"{' '.join(f'{x:.1f}' for x in os.getloadavg())})", file=sys.stderr, flush=True)
    finally:
        server.stop()
    print(_table(results))


def _growth(values: list[float], i: int) -> str:
    return "" if i == 0 else f"{values[i] / values[i - 1]:.1f}x"


def _table(results: list[tuple[int, int, dict[int, float], float]]) -> str:
    rows = [r[1] for r in results]
    best = [min(r[2].values()) for r in results]
    bulk = [r[3] for r in results]
    batches = list(results[0][2])
    lines = ["| users | rows (nodes + relationships) | rows growth | "
             + " | ".join(f"UNWIND s (batch {b:,})" for b in batches)
             + " | UNWIND rows/s (best) | UNWIND growth | bulk import s | bulk rows/s | bulk growth | speed-up |",
             "|---:" * (8 + len(batches)) + "|"]
    for i, (users, count, unwind, seconds) in enumerate(results):
        lines.append(f"| {users:,} | {count:,} | {_growth(rows, i)} | "
                     + " | ".join(f"{unwind[b]:.1f}" for b in batches)
                     + f" | {count / best[i]:,.0f} | {_growth(best, i)} | {seconds:.1f} | {count / seconds:,.0f} "
                     f"| {_growth(bulk, i)} | {best[i] / seconds:.1f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
