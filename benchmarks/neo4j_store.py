"""Benchmark the Neo4j profile store: write throughput and similar-user lookups at 100k users.

Runs its own throwaway managed server (own state folder and port), so nothing a user
or the test suite keeps is touched. Prints a markdown table.

    .venv/bin/python benchmarks/neo4j_store.py [--users 100000] [--dim 64] [--port 17688]
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.neo4j_profile_store import Neo4jProfileStore
from personagraph.store.neo4j_server import NEO4J_VERSION, Neo4jServer

REPO_ROOT = Path(__file__).resolve().parents[1]
BARE_UNWIND = (
    "UNWIND $rows AS row MERGE (u:User {id: row.id}) "
    "SET u.segment = row.segment, u.events = row.events, u.embedding = row.embedding, "
    "u.run_id = $run_id, u.updated_at = datetime()"
)
SINGLE_MERGE = (
    "MERGE (u:User {id: $id}) SET u.segment = $segment, u.events = $events, u.embedding = $embedding, "
    "u.run_id = $run_id, u.updated_at = datetime()"
)


def _rows(ids: list[str], vectors: np.ndarray) -> list[dict]:
    return [
        {"id": user_id, "embedding": vector.tolist(), "segment": i % 8, "events": i % 97}
        for i, (user_id, vector) in enumerate(zip(ids, vectors))
    ]


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--loop-rows", type=int, default=2000, help="rows written one MERGE at a time")
    parser.add_argument("--port", type=int, default=17688)
    parser.add_argument("--home", type=Path, default=REPO_ROOT / ".cache" / "neo4j-bench")
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--keep", action="store_true", help="leave the benchmark server running")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    server = Neo4jServer(home=args.home, port=args.port, heap=args.heap, pagecache="1g")
    print(f"starting the benchmark server ({server.home}, port {server.port})…", file=sys.stderr)
    server.start(timeout=300, progress=True)
    settings = ConnectionSettings.resolve(environ={}, server=server)
    rng = np.random.default_rng(args.seed)
    vectors = rng.standard_normal((args.users, args.dim)).astype(np.float32)
    ids = [f"user-{i}" for i in range(args.users)]
    rows = _rows(ids, vectors)
    try:
        with Neo4jProfileStore.connect(settings) as store:

            def fresh() -> None:
                store.delete_all()
                store.ensure_schema(args.dim)

            # Warm the JVM (JIT, page cache) so the first timed write is not penalised.
            fresh()
            store.upsert_users(rows[:5000], run_id="warm-up")

            fresh()
            print("bare single-statement UNWIND…", file=sys.stderr)
            bare_s = _timed(lambda: store.driver.execute_query(BARE_UNWIND, rows=rows, run_id="bare"))

            fresh()
            print("store upsert_users…", file=sys.stderr)
            store_s = _timed(lambda: store.upsert_users(rows, run_id="bench"))
            assert store.count("User") == args.users

            loop_rows = _rows([f"loop-{i}" for i in range(args.loop_rows)], vectors[: args.loop_rows])
            print("per-row MERGE loop…", file=sys.stderr)

            def merge_each() -> None:
                with store.driver.session() as session:
                    for row in loop_rows:
                        session.run(SINGLE_MERGE, row, run_id="loop").consume()

            loop_s = _timed(merge_each)
            store.run_cypher("MATCH (u:User) WHERE u.id STARTS WITH 'loop-' DETACH DELETE u", write=True)

            print("similar-user lookups…", file=sys.stderr)
            queries = rng.choice(args.users, size=args.queries, replace=False)
            unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
            latencies, recalls = [], []
            for query in queries:
                start = time.perf_counter()
                hits = store.similar_users(ids[query], k=10)
                latencies.append(time.perf_counter() - start)
                exact = unit @ unit[query]
                exact[query] = -np.inf
                expected = {ids[i] for i in np.argpartition(-exact, 10)[:10]}
                recalls.append(len(expected & {hit.id for hit in hits}) / 10)
    finally:
        if not args.keep:
            server.stop()

    store_rate, bare_rate = args.users / store_s, args.users / bare_s
    loop_rate = args.loop_rows / loop_s
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    recall = float(np.mean(recalls))
    results = [
        ("store `upsert_users` (batches of 5,000)", f"{store_rate:,.0f} users/s ({store_s:.1f} s)", ""),
        ("bare single-statement `UNWIND … MERGE`", f"{bare_rate:,.0f} users/s ({bare_s:.1f} s)", ""),
        ("store / bare UNWIND", f"{store_rate / bare_rate:.2f}×", "≥ 0.8×"),
        (f"per-row `MERGE` loop ({args.loop_rows:,} rows)", f"{loop_rate:,.0f} users/s", ""),
        ("store / per-row loop", f"{store_rate / loop_rate:.1f}×", "≥ 50×"),
        (f"`similar_users` k=10 p50 ({args.queries:,} queries)", f"{p50:.1f} ms", "≤ 10 ms"),
        ("`similar_users` k=10 p99", f"{p99:.1f} ms", ""),
        ("recall@10 vs exact cosine", f"{recall:.3f}", "≥ 0.95"),
    ]
    print(
        f"\n{args.users:,} users × {args.dim}-d random profiles, Neo4j {NEO4J_VERSION} Community "
        f"(heap {args.heap}, page cache 1g), localhost Bolt; {os.cpu_count()} CPUs, "
        f"load average at the end {os.getloadavg()[0]:.1f}\n"
    )
    print("| measure | result | target |\n| --- | --- | --- |")
    for name, value, target in results:
        print(f"| {name} | {value} | {target} |")
    print(f"\ncommand: .venv/bin/python benchmarks/neo4j_store.py {shlex.join(sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    main()
