"""Vector search at scale: the user index over full profiles vs over narrow search vectors.

For each number of users, loads profiles into a private managed Neo4j (its own state folder
and port, started and stopped here), then for the full width and each search width measures
the index build, `similar_users` latency (p50 / p99) and recall@10 against the exact cosine of
the full profiles on ``--queries`` users, both as the store answers (the index searches
``--factors`` times the candidates it returns to be re-ranked; those candidates are ranked by
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

With ``--loaded-home`` it loads nothing: it starts the managed Neo4j in that state folder (which
already holds the run's users, e.g. bulk-loaded by `personagraph train`), answers `similar_users`
for ``--queries`` seeded users exactly as the store does, only reading, and stops the server.
Recall@10 is against the exact cosine of the run's full profiles and of its search vectors,
computed by streaming ``profiles.parquet`` in record batches (a running top-k per query), so a
million profiles never sit in memory at once; an exact search over the search vectors with the
store's candidate counts, re-ranked by the full profiles, shows what the projection alone loses.

    .venv/bin/python benchmarks/vector_search.py --run RUN_DIR [--users 10000,100000] [--dims 64,128,256]
    .venv/bin/python benchmarks/vector_search.py --run RUN_DIR --loaded-home NEO4J_HOME --port PORT [--factors 2,4]
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Iterator
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
#: Cosines closer than this are ties (float32 arithmetic): a hit that close to the 10th exact cosine is as near.
TIE = 1e-6
Neighbours = list[set[int]]  # per query, the rows of its neighbours
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


def measure(search, ids: list[str], queries: np.ndarray) -> tuple[float, float, Neighbours]:
    """p50 and p99 latency (ms) of ``search(user_id) -> hit ids`` over the ``queries`` rows, and its hits' rows."""
    index = {user_id: i for i, user_id in enumerate(ids)}
    for query in queries[:20]:  # warm the JIT and the page cache
        search(ids[query])
    latencies, found = [], []
    for query in queries:
        start = time.perf_counter()
        hits = search(ids[query])
        latencies.append((time.perf_counter() - start) * 1000)
        found.append({index[hit] for hit in hits})
    p50, p99 = np.percentile(latencies, [50, 99])
    return float(p50), float(p99), found


def recall_of(found: Neighbours, truth: Neighbours) -> float:
    return float(np.mean([len(expected & hits) / K for hits, expected in zip(found, truth)]))


def profile_batches(path: Path, rows: int, with_ids: bool = False) -> Iterator[tuple[list[str], np.ndarray]]:
    """``(user ids or [], float32 profiles)`` of ``profiles.parquet``, ``rows`` at a time."""
    columns = ["user_id", "vector"] if with_ids else ["vector"]
    # Buffered page reads: without them pyarrow holds a whole (here 1M-row) column chunk at once.
    reader = pq.ParquetFile(path, buffer_size=1 << 24, pre_buffer=False)
    for batch in reader.iter_batches(batch_size=rows, columns=columns):
        column = batch.column("vector")
        vectors = column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), column.type.list_size)
        yield (batch.column("user_id").to_pylist() if with_ids else []), vectors


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def keep_best(best: tuple[np.ndarray, ...], scores: np.ndarray, carried: np.ndarray, offset: int
              ) -> tuple[np.ndarray, ...]:
    """Merge a batch into each query's running best: ``best`` is (scores, rows, carried) ``[queries, size]``,
    ``scores`` and ``carried`` (a second score kept alongside) are ``[queries, batch]``."""
    size = best[0].shape[1]
    if scores.shape[1] > size:
        columns = np.argpartition(scores, scores.shape[1] - size, axis=1)[:, -size:]
    else:
        columns = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    merged = [np.concatenate([kept, new], axis=1) for kept, new in zip(best, (
        np.take_along_axis(scores, columns, 1), columns + offset, np.take_along_axis(carried, columns, 1)))]
    top = np.argpartition(merged[0], merged[0].shape[1] - size, axis=1)[:, -size:]
    return tuple(np.take_along_axis(part, top, 1) for part in merged)


def top_rows(best: tuple[np.ndarray, ...], by: int, size: int) -> Neighbours:
    """Each query's ``size`` rows with the highest ``best[by]`` (0: the scores it was kept by, 2: the carried)."""
    order = np.argsort(-best[by], axis=1, kind="stable")[:, :size]
    return [set(row.tolist()) for row in np.take_along_axis(best[1], order, 1)]


def query_profiles(path: Path, queries: np.ndarray, width: int, rows: int) -> tuple[list[str], np.ndarray]:
    """All user ids of ``path`` and the profiles of the ``queries`` rows, in one pass of ``rows`` at a time."""
    ids: list[str] = []
    found = np.zeros((len(queries), width), dtype=np.float32)
    for batch_ids, vectors in profile_batches(path, rows, with_ids=True):
        inside = np.flatnonzero((queries >= len(ids)) & (queries < len(ids) + len(vectors)))
        found[inside] = vectors[queries[inside] - len(ids)]
        ids += batch_ids
    return ids, found


def streamed_truths(path: Path, queries: np.ndarray, full_queries: np.ndarray, projection: SearchProjection,
                    candidates: list[int], rows: int
                    ) -> tuple[Neighbours, np.ndarray, Neighbours, dict[int, Neighbours]]:
    """Per query row (itself excluded): the exact top 10 by the full profiles and its 10th and 11th best
    cosines, the exact top 10 by the search vectors, and for each candidate count the exact top candidates
    by the search vectors re-ranked by the full profiles; one pass over ``path``, ``rows`` profiles at a time."""
    full_queries = unit_rows(full_queries)
    search_queries = projection.apply(full_queries)
    empty = (lambda size: (np.full((len(queries), size), -np.inf, np.float32), np.full((len(queries), size), -1),
                           np.full((len(queries), size), -np.inf, np.float32)))
    by_full, by_search = empty(K + 1), empty(max(candidates))
    offset = 0
    for _, vectors in profile_batches(path, rows):
        full = full_queries @ unit_rows(vectors).T
        search = search_queries @ projection.apply(vectors).T
        inside = np.flatnonzero((queries >= offset) & (queries < offset + len(vectors)))
        full[inside, queries[inside] - offset] = search[inside, queries[inside] - offset] = -np.inf
        by_full = keep_best(by_full, full, full, offset)
        by_search = keep_best(by_search, search, full, offset)
        offset += len(vectors)
        print(f"exact neighbours: {offset:,} profiles", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    reranked = {}
    for count in candidates:
        order = np.argsort(-by_search[0], axis=1, kind="stable")[:, :count]
        shortlist = tuple(np.take_along_axis(part, order, 1) for part in by_search)
        reranked[count] = top_rows(shortlist, 2, K)
    return top_rows(by_full, 0, K), -np.sort(-by_full[0], axis=1)[:, K - 1:], top_rows(by_search, 0, K), reranked


def exact_cosines(path: Path, full_queries: np.ndarray, found: list[Neighbours], rows: int
                  ) -> dict[tuple[int, int], float]:
    """The full-profile cosine of every (query index, hit row) in ``found``, in one pass over ``path``."""
    pairs = np.array(sorted({(i, row) for hits in found for i, rows_of in enumerate(hits) for row in rows_of}))
    full_queries = unit_rows(full_queries)
    cosines, offset = {}, 0
    for _, vectors in profile_batches(path, rows):
        inside = pairs[(pairs[:, 1] >= offset) & (pairs[:, 1] < offset + len(vectors))]
        values = np.einsum("ij,ij->i", full_queries[inside[:, 0]], unit_rows(vectors[inside[:, 1] - offset]))
        cosines |= {(int(i), int(row)): float(value) for (i, row), value in zip(inside, values)}
        offset += len(vectors)
    return cosines


def tied_recall(found: Neighbours, cosines: dict[tuple[int, int], float], tenth: np.ndarray) -> float:
    """Recall@10 where a hit as near as the 10th exact neighbour (within :data:`TIE`) counts as a true one:
    with duplicate profiles the exact top 10 is one arbitrary pick among equals."""
    return float(np.mean([sum(cosines[i, row] >= tenth[i] - TIE for row in hits) / K
                          for i, hits in enumerate(found)]))


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


def measure_loaded(args: argparse.Namespace, factors: list[int]) -> None:
    """`similar_users` on the users already in ``args.loaded_home``'s database (nothing written)."""
    path = args.run / "profiles.parquet"
    projection = SearchProjection.load(args.run / "search_projection.npz")
    users = pq.ParquetFile(path).metadata.num_rows
    queries = np.random.default_rng(args.seed + 1).choice(users, min(args.queries, users), replace=False)
    base = next(candidate_counts(K, lambda: users))  # the store's first candidate count
    counts = sorted({base, base * PROJECTED_FACTOR})  # re-ranked counts of the exact searches
    print(f"exact neighbours of {len(queries):,} users among {users:,} ({projection.width}-d profiles, "
          f"{projection.dim}-d search vectors)…", file=sys.stderr)
    start = time.perf_counter()
    ids, query_vectors = query_profiles(path, queries, projection.width, args.batch_rows)
    by_full, cutoff, by_search, reranked = streamed_truths(path, queries, query_vectors, projection, counts,
                                                          args.batch_rows)
    truth_s = time.perf_counter() - start
    load_start = os.getloadavg()
    server = Neo4jServer(home=args.loaded_home, port=args.port, heap=args.heap, pagecache=args.pagecache)
    print(f"starting the loaded server ({server.home}, port {server.port})…", file=sys.stderr)
    launched = server.start(timeout=900, progress=True)
    lines = []
    try:
        with Neo4jProfileStore.connect(ConnectionSettings.resolve(environ={}, server=server)) as store:
            check_loaded(store, path, [ids[row] for row in queries[:20]], query_vectors[:20])
            similar = lambda user_id: [hit.id for hit in store.similar_users(user_id, k=K)]  # noqa: E731
            for factor in factors:
                neo4j_profile_store.PROJECTED_FACTOR = factor
                lines.append(("`similar_users`: the index's best by search vector re-ranked by the full profiles",
                              f"{base * factor} ({base})", *measure(similar, ids, queries)))
            neo4j_profile_store.PROJECTED_FACTOR = PROJECTED_FACTOR

            def index_order(user_id: str) -> list[str]:
                return [row["id"] for row in store.run_cypher(
                    INDEX_ORDER, {"id": user_id, "candidates": base * PROJECTED_FACTOR, "k": K})]

            lines.append(("the index's own order (no re-ranking)", f"{base * PROJECTED_FACTOR} (–)",
                          *measure(index_order, ids, queries)))
    finally:
        neo4j_profile_store.PROJECTED_FACTOR = PROJECTED_FACTOR
        if launched:  # a server that was already running is left running
            server.stop()
    load_end = os.getloadavg()
    lines += [(f"exact {projection.dim}-d search (numpy), re-ranked by the full profiles", f"{count} ({count})", None,
               None, reranked[count]) for count in counts]
    cosines = exact_cosines(path, query_vectors, [found for *_, found in lines], args.batch_rows)

    print(f"\n{users:,} users of {args.run} ({projection.width}-d profiles, {projection.dim}-d search vectors "
          f"indexed); Neo4j {NEO4J_VERSION} Community (heap {args.heap}, page cache {args.pagecache}), localhost "
          f"Bolt; {os.cpu_count()} CPUs, load average {' / '.join(f'{v:.2f}' for v in load_start)} (1 / 5 / 15 min) "
          f"before the server started, {' / '.join(f'{v:.2f}' for v in load_end)} after it stopped; "
          f"{len(queries):,} queries, k={K}; exact neighbours streamed in {truth_s:.0f} s; the exact top 10 is not "
          f"unique (11th cosine within {TIE:g} of the 10th) for {np.mean(cutoff[:, 1] >= cutoff[:, 0] - TIE):.1%} "
          "of the queries\n")
    print(f"| `similar` answers in | searched (re-ranked) | p50 | p99 | recall@10 (exact, full {projection.width}-d) "
          f"| same, ties counted | recall@10 (exact, {projection.dim}-d search) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for mode, count, p50, p99, found in lines:
        latency = "— | —" if p50 is None else f"{p50:.1f} ms | {p99:.1f} ms"
        print(f"| {mode} | {count} | {latency} | {recall_of(found, by_full):.3f} | "
              f"{tied_recall(found, cosines, cutoff[:, 0]):.3f} | {recall_of(found, by_search):.3f} |")
    print(f"\ncommand: .venv/bin/python benchmarks/vector_search.py {shlex.join(sys.argv[1:])}")


def check_loaded(store: Neo4jProfileStore, path: Path, user_ids: list[str], profiles: np.ndarray) -> None:
    """Refuse to measure a database that holds other profiles than the run folder's (the recall would be void)."""
    for user_id, profile in zip(user_ids, profiles):
        stored = store.run_cypher("MATCH (u:User {id: $id}) RETURN u.embedding AS v", {"id": user_id})
        if not stored or stored[0]["v"] is None or not np.allclose(stored[0]["v"], profile, atol=1e-6):
            sys.exit(f"user {user_id} in the database has no profile or another one than in {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="run folder whose profiles to search")
    parser.add_argument("--users", default="10000,100000", help="comma-separated numbers of users")
    parser.add_argument("--dims", default="64,128,256", help="comma-separated search widths")
    parser.add_argument("--factors", default=str(PROJECTED_FACTOR),
                        help="comma-separated search breadths of an index over search vectors, as multiples "
                             f"of the candidates re-ranked (the store's is {PROJECTED_FACTOR})")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--recall-users", type=int, default=5000, help="0: skip the Recall@20 trade-off")
    parser.add_argument("--home", type=Path, default=Path("/tmp/engF/neo4j-vector-search"))
    parser.add_argument("--port", type=int, default=27687)
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--pagecache", default="3g")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loaded-home", type=Path,
                        help="measure the users already in this managed Neo4j state folder (loads nothing; "
                             "--users, --dims and --recall-users do not apply)")
    parser.add_argument("--batch-rows", type=int, default=50_000,
                        help="profiles per streamed batch with --loaded-home")
    args = parser.parse_args()
    sizes = [int(n) for n in args.users.split(",")]
    dims = [int(d) for d in args.dims.split(",")]
    factors = [int(f) for f in args.factors.split(",")]
    if args.loaded_home is not None:
        measure_loaded(args, factors)
        return

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
                p50, p99, hits = measure(similar, ids, queries)
                lines.append((users, "full", f"{load_s:.0f} s", f"{build_s:.0f} s", "re-ranked (exact)", p50, p99,
                              recall_of(hits, truth)))
                base = next(candidate_counts(K, lambda: users))  # the store's first candidate count

                def index_order(user_id: str, candidates: int) -> list[str]:
                    return [row["id"] for row in store.run_cypher(
                        INDEX_ORDER, {"id": user_id, "candidates": candidates, "k": K})]

                p50, p99, hits = measure(lambda u: index_order(u, base), ids, queries)
                lines.append((users, "full", "", "", f"index order, {base} candidates", p50, p99,
                              recall_of(hits, truth)))
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
                        p50, p99, hits = measure(similar, ids, queries)
                        lines.append((users, str(dim), f"+{search_s:.0f} s" if factor == factors[0] else "",
                                      f"{build_s:.0f} s" if factor == factors[0] else "",
                                      f"searched {base * factor}, best {base} re-ranked", p50, p99,
                                      recall_of(hits, truth)))
                    neo4j_profile_store.PROJECTED_FACTOR = PROJECTED_FACTOR
                    p50, p99, hits = measure(lambda u: index_order(u, base * PROJECTED_FACTOR), ids, queries)
                    lines.append((users, str(dim), "", "", f"index order, {base * PROJECTED_FACTOR} candidates",
                                  p50, p99, recall_of(hits, truth)))
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
