"""Vector search at scale: the user index over full profiles vs over narrow search vectors.

For each number of users, loads profiles into a private managed Neo4j (its own state folder
and port, started and stopped here), then for the full width and each search width measures
the index build, `similar_users` latency (p50 / p99) and recall@10 against the exact cosine of
the full profiles on ``--queries`` users, both as the store answers (index candidates ranked by
the full profiles) and in the index's own order (no re-ranking). With a run folder it also
reports the Recall@20 of the run's profiles cut to each search width (the trade-off if the
narrow vector were the profile): leave-last-out targets of ``--recall-users`` sampled users,
ranked against every item with their purchases excluded, profiles pooled over the run's
frozen space (which saw the held-out events too, so the absolute figures are optimistic; the
comparison between widths is like for like).

Profiles are the run's own (a seeded subset when fewer users are asked for); more users than
the run has are synthetic, drawn from a Gaussian with the run's mean and top-256 principal
spectrum plus isotropic rest, re-normalised (no cluster structure beyond that: harder for
HNSW than real profiles). Prints a markdown table.

    .venv/bin/python benchmarks/vector_search.py --run RUN_DIR [--users 10000,100000] [--dims 64,128,256]
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from personagraph.profiles.search_projection import SearchProjection
from personagraph.store import neo4j_profile_store
from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.neo4j_profile_store import Neo4jProfileStore
from personagraph.store.neo4j_server import NEO4J_VERSION, Neo4jServer
from personagraph.store.over_fetch import PROJECTED_FACTOR, candidate_counts

K = 10
#: The index's own top-k (what `similar` returned before re-ranking), from as many candidates as the store asks.
INDEX_ORDER = ("MATCH (me:User {id: $id}) CALL db.index.vector.queryNodes('user_embedding', $candidates, "
               "coalesce(me.search_embedding, me.embedding)) YIELD node, score WHERE node.id <> $id "
               "RETURN node.id AS id ORDER BY score DESC LIMIT $k")
SET_SEARCH = ("UNWIND $rows AS row MATCH (u:User {id: row.id}) "
              "CALL db.create.setNodeVectorProperty(u, 'search_embedding', row.v) RETURN count(*) AS n")


def run_profiles(run_dir: Path) -> tuple[list[str], np.ndarray]:
    table = pq.read_table(run_dir / "profiles.parquet", columns=["user_id", "vector"])
    vectors = np.asarray(table.column("vector").to_pylist(), dtype=np.float32)
    return table.column("user_id").to_pylist(), vectors


def draw_profiles(real: np.ndarray, users: int, seed: int) -> tuple[list[str], np.ndarray, str]:
    rng = np.random.default_rng(seed)
    if users <= len(real):
        rows = np.sort(rng.choice(len(real), users, replace=False))
        return [f"u{i}" for i in rows], real[rows], "the run's profiles"
    mean = real.mean(axis=0)
    centred = real[rng.choice(len(real), min(len(real), 50_000), replace=False)] - mean
    _, singular, directions = np.linalg.svd(centred, full_matrices=False)
    top = min(256, len(singular))
    scale = singular / np.sqrt(len(centred))
    rest = float(np.sqrt((scale[top:] ** 2).sum() / max(real.shape[1] - top, 1)))
    vectors = np.empty((users, real.shape[1]), dtype=np.float32)
    for start in range(0, users, 50_000):
        n = min(50_000, users - start)
        draw = mean + (rng.standard_normal((n, top)) * scale[:top]) @ directions[:top]
        vectors[start:start + n] = draw + rest * rng.standard_normal((n, real.shape[1]))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [f"s{i}" for i in range(users)], vectors, "synthetic, drawn to match the run's spectrum"


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    truth = []
    for start in range(0, len(queries), 100):
        batch = queries[start:start + 100]
        scores = unit[batch] @ unit.T
        scores[np.arange(len(batch)), batch] = -np.inf
        truth += [set(row.tolist()) for row in np.argpartition(-scores, K, axis=1)[:, :K]]
    return truth


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def measure(search, ids: list[str], queries: np.ndarray, truth: list[set[int]]) -> tuple[float, float, float]:
    """p50 and p99 latency (ms) and mean recall@10 of ``search(user_id) -> hit ids``."""
    index = {user_id: i for i, user_id in enumerate(ids)}
    for query in queries[:20]:  # warm the JIT and the page cache
        search(ids[query])
    latencies, recalls = [], []
    for query, expected in zip(queries, truth):
        start = time.perf_counter()
        hits = search(ids[query])
        latencies.append((time.perf_counter() - start) * 1000)
        recalls.append(len(expected & {index[hit] for hit in hits}) / K)
    p50, p99 = np.percentile(latencies, [50, 99])
    return float(p50), float(p99), float(np.mean(recalls))


def recall_at_20(run_dir: Path, projections: dict[int, SearchProjection], users: int, seed: int) -> dict[str, float]:
    """Recall@20 of leave-last-out targets with the full profiles and with each projection of them."""
    import torch

    from personagraph.evaluation.ranking_data import RankingData
    from personagraph.evaluation.ranking_metrics import evaluate_scorer
    from personagraph.gnn.user_interactions import UserInteractions
    from personagraph.graph.hetero_graph_builder import build_hetero_graph
    from personagraph.pipeline.run import Run
    from personagraph.profiles.profile_space import select_users
    from personagraph.shop.leave_last_out import leave_last_out

    torch.set_num_threads(2)
    run = Run.load(run_dir)
    split = leave_last_out(run.shop)
    with_target = np.flatnonzero(split.targets >= 0)
    chosen = np.sort(np.random.default_rng(seed).choice(with_target, min(users, len(with_target)), replace=False))
    shop = select_users(split.train, chosen)
    vectors = run.space.user_vectors(run.model, UserInteractions.from_graph(build_hetero_graph(shop)))
    items = np.asarray(run.item_vectors, dtype=np.float32)
    excluded = RankingData(shop).excluded
    targets = torch.from_numpy(split.targets[chosen])
    widths = {"full": vectors} | {str(d): (vectors @ p.components.T) @ p.components for d, p in projections.items()}
    results = {}
    for name, users_space in widths.items():
        user_tensor, item_tensor = torch.from_numpy(np.ascontiguousarray(users_space)), torch.from_numpy(items)
        results[name] = evaluate_scorer(lambda batch: user_tensor[batch] @ item_tensor.T, excluded, targets,
                                        [20])["recall@20"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="run folder whose profiles to search")
    parser.add_argument("--users", default="10000,100000", help="comma-separated numbers of users")
    parser.add_argument("--dims", default="64,128,256", help="comma-separated search widths")
    parser.add_argument("--factors", default=str(PROJECTED_FACTOR),
                        help="comma-separated over-fetch factors for the search widths (the store's is "
                             f"{PROJECTED_FACTOR})")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--recall-users", type=int, default=5000, help="0: skip the Recall@20 trade-off")
    parser.add_argument("--home", type=Path, default=Path("/tmp/engF/neo4j-vector-search"))
    parser.add_argument("--port", type=int, default=27687)
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--pagecache", default="3g")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [int(n) for n in args.users.split(",")]
    dims = [int(d) for d in args.dims.split(",")]
    factors = [int(f) for f in args.factors.split(",")]

    real_ids, real = run_profiles(args.run)
    width = real.shape[1]
    print(f"{len(real_ids):,} profiles of {width} dimensions in {args.run}", file=sys.stderr)
    server = Neo4jServer(home=args.home, port=args.port, heap=args.heap, pagecache=args.pagecache)
    print(f"starting the benchmark server ({server.home}, port {server.port})…", file=sys.stderr)
    server.start(timeout=300, progress=True)
    lines, sources = [], {}
    try:
        with Neo4jProfileStore.connect(ConnectionSettings.resolve(environ={}, server=server)) as store:
            for users in sizes:
                ids, vectors, sources[users] = draw_profiles(real, users, args.seed)
                queries = np.random.default_rng(args.seed + 1).choice(users, min(args.queries, users), replace=False)
                truth = exact_neighbours(vectors, queries)
                store.delete_all()
                store.ensure_schema(width)
                store.run_cypher("DROP INDEX user_embedding IF EXISTS", write=True)  # built after the load
                rows = ({"id": user_id, "embedding": vector} for user_id, vector in zip(ids, vectors))
                print(f"{users:,} users: loading the full profiles…", file=sys.stderr)
                load_s = timed(lambda: store.upsert_users(rows, run_id="bench"))
                build_s = timed(lambda: store.ensure_schema(width))
                similar = lambda user_id: [hit.id for hit in store.similar_users(user_id, k=K)]  # noqa: E731
                p50, p99, recall = measure(similar, ids, queries, truth)
                lines.append((users, "full", f"{load_s:.0f} s", f"{build_s:.0f} s", "re-ranked (exact)", p50, p99,
                              recall))
                base = next(candidate_counts(K, lambda: users))  # the store's first candidate count

                def index_order(user_id: str, candidates: int) -> list[str]:
                    return [row["id"] for row in store.run_cypher(
                        INDEX_ORDER, {"id": user_id, "candidates": candidates, "k": K})]

                p50, p99, recall = measure(lambda u: index_order(u, base), ids, queries, truth)
                lines.append((users, "full", "", "", f"index order, {base} candidates", p50, p99, recall))
                for dim in dims:
                    if dim >= width:
                        continue
                    projection = SearchProjection.fit(vectors, dim, args.seed)
                    searched = projection.apply(vectors)
                    batches = [[{"id": user_id, "v": vector.tolist()} for user_id, vector in
                                zip(ids[start:start + 5000], searched[start:start + 5000])]
                               for start in range(0, users, 5000)]
                    print(f"{users:,} users: {dim}-d search vectors…", file=sys.stderr)
                    store.run_cypher("DROP INDEX user_embedding IF EXISTS", write=True)
                    search_s = timed(lambda: [store.run_cypher(SET_SEARCH, {"rows": batch}, write=True)
                                              for batch in batches])
                    build_s = timed(lambda: store.ensure_schema(width, dim))
                    for factor in factors:
                        neo4j_profile_store.PROJECTED_FACTOR = factor
                        p50, p99, recall = measure(similar, ids, queries, truth)
                        lines.append((users, str(dim), f"+{search_s:.0f} s" if factor == factors[0] else "",
                                      f"{build_s:.0f} s" if factor == factors[0] else "",
                                      f"re-ranked, {base * factor} candidates", p50, p99, recall))
                    neo4j_profile_store.PROJECTED_FACTOR = PROJECTED_FACTOR
                    p50, p99, recall = measure(lambda u: index_order(u, base * PROJECTED_FACTOR), ids, queries, truth)
                    lines.append((users, str(dim), "", "", f"index order, {base * PROJECTED_FACTOR} candidates",
                                  p50, p99, recall))
    finally:
        server.stop()
    # As `train` fits it: on the run's own profiles.
    projections = {dim: SearchProjection.fit(real, dim, args.seed) for dim in dims if dim < width}
    trade_off = recall_at_20(args.run, projections, args.recall_users, args.seed) if args.recall_users else {}

    print(f"\nprofiles {width}-d ({', '.join(f'{n:,}: {s}' for n, s in sources.items())}); Neo4j {NEO4J_VERSION} "
          f"Community (heap {args.heap}, page cache {args.pagecache}), localhost Bolt; {os.cpu_count()} CPUs, "
          f"load average at the end {os.getloadavg()[0]:.1f}; {args.queries:,} queries, k={K}\n")
    print("| users | index over | load | index build | `similar` answers in | p50 | p99 | recall@10 |")
    print("| ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |")
    for users, over, load, build, mode, p50, p99, recall in lines:
        over = "full profile" if over == "full" else f"{over}-d search vector"
        print(f"| {users:,} | {over} | {load} | {build} | {mode} | {p50:.1f} ms | {p99:.1f} ms | {recall:.3f} |")
    if trade_off:
        print(f"\nRecall@20 (leave-last-out, {args.recall_users:,} users) of the run's profiles cut to each width:\n")
        print("| profile | Recall@20 |\n| --- | ---: |")
        for name, value in trade_off.items():
            kept = "" if name == "full" else f" (keeps {projections[int(name)].energy_kept:.1%} of the energy)"
            print(f"| {'full ' + str(width) + '-d' if name == 'full' else name + '-d projection'}{kept} | {value:.4f} |")
    print(f"\ncommand: .venv/bin/python benchmarks/vector_search.py {shlex.join(sys.argv[1:])}")


if __name__ == "__main__":
    main()
