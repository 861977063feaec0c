"""Benchmark live profiles on Amazon Scientific: inductive users, cold-start items, speed of update and profile.

    .venv/bin/python benchmarks/live_profiles.py [--epochs 15] [--port 17689] [--work /tmp/personagraph-live-bench]

Protocol (leave-one-out, test targets; every interaction is a purchase, queries are derived):

1. Inductive users: 20% of the users are left out of training entirely and profiled by
   `update` from their history; their Recall@20 on the test target against the users seen
   in training (all items ranked, the history excluded), by the profile vectors alone and by
   the ranking `recommend` uses (with the run's neighbour score beside them where training chose one).
2. Cold-start items: 5% of the items, and every event on them, are left out of training and
   added by the same `update` (items file + events); how often such an item, being a user's
   next item, is in that user's top 20. Popularity can never rank them (no training events).
3. Speed: `update` of 1% new events (the test-target events of random users), synced to a
   throwaway Neo4j, against retraining (the same reduced-epoch training, synced) and against
   recomputing and writing every profile (all users pooled, profiles.parquet and a full sync);
   `OnlineProfiler.profile` p50 for users with at most 50 events, with the model loaded.

Runs its own Neo4j (own state folder under --work, port --port) and stops it at the end.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from personagraph.shop.leave_last_out import leave_last_out
from personagraph.gnn.train_config import TrainConfig
from personagraph.datasets.amazon_scientific_converter import convert_amazon_scientific
from personagraph.store.connection_settings import ConnectionSettings
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.store.neo4j_profile_store import Neo4jProfileStore
from personagraph.store.neo4j_server import Neo4jServer
from personagraph.shop.shop_data import EVENT_TYPES, ShopData
from personagraph.shop.shop_reader import read_shop
from personagraph.pipeline.incremental_update import IncrementalUpdate
from personagraph.pipeline.online_profiler import OnlineProfiler
from personagraph.store.profile_sync import sync_profiles
from personagraph.pipeline.run import Run
from personagraph.gnn.neighbour_blend import NeighbourBlend
from personagraph.pipeline.run_folder import RunFolder
from personagraph.pipeline.train_pipeline import TrainOptions, run_training

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCE = REPO_ROOT.parent / "shared" / "datasets" / "amazon-scientific"
K = 20


def event_table(shop: ShopData, rows: np.ndarray) -> pa.Table:
    """Events ``rows`` of the shop in the events-file format."""
    events = shop.events
    return pa.table({
        "user_id": [events.user_ids[u] for u in events.user[rows].tolist()],
        "event": [EVENT_TYPES[k] for k in events.kind[rows].tolist()],
        "timestamp": events.timestamp[rows],
        "item_id": [shop.catalog.item_ids[i] if i >= 0 else None for i in events.item[rows].tolist()],
        "query": [events.query_texts[q] if q >= 0 else None for q in events.query[rows].tolist()],
    })


def item_table(shop: ShopData, items: np.ndarray) -> pa.Table:
    catalog = shop.catalog
    pick = items.tolist()
    return pa.table({
        "item_id": [catalog.item_ids[i] for i in pick], "title": [catalog.titles[i] for i in pick],
        "category": [catalog.categories[i] for i in pick], "brand": [catalog.brands[i] for i in pick],
        "description": [catalog.descriptions[i] for i in pick], "price": catalog.prices[items],
    })


def hits_at_k(scores: np.ndarray, history: list[set[int]], targets: np.ndarray) -> np.ndarray:
    """Per user: is the target among the top K items by score, the user's history excluded."""
    scores = scores.copy()
    for row, seen in enumerate(history):
        scores[row, list(seen)] = -np.inf
    top = np.argpartition(-scores, K, axis=1)[:, :K]
    return (top == targets[:, None]).any(axis=1)


def run_ranking_scores(run_dir: Path, user_ids: list[str], item_ids: list[str], profile_scores: np.ndarray
                       ) -> tuple[np.ndarray, NeighbourBlend]:
    """The scores `recommend` ranks by: the profile scores with the run's neighbour score beside them
    (from each user's history in the run, the held-out users' added by `update`), where training chose one."""
    run = Run.load(run_dir)
    blend = run.neighbour_blend
    in_run = run.neighbour_scores(user_ids)  # columns in the run's item order
    if in_run is None:
        return profile_scores, blend
    position = {item_id: index for index, item_id in enumerate(run.shop.catalog.item_ids)}
    neighbour = in_run[:, [position[item_id] for item_id in item_ids]]
    combined = blend.combine(torch.from_numpy(profile_scores.astype(np.float32)), torch.from_numpy(neighbour))
    return combined.numpy(), blend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--port", type=int, default=17689)
    parser.add_argument("--work", type=Path, default=Path("/tmp/personagraph-live-bench"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work: Path = args.work
    shutil.rmtree(work / "run", ignore_errors=True)
    rng = np.random.default_rng(args.seed)

    data = work / "sci"
    if not (data / "dataset.json").is_file():
        convert_amazon_scientific(SOURCE, data, derived_queries=True)  # as in the recorded run
    shop = read_shop(data, progress=False)
    split = leave_last_out(shop)
    history_shop, targets = split.train, split.targets
    events, catalog = history_shop.events, shop.catalog
    num_users = events.num_users
    held_users = np.zeros(num_users, bool)
    held_users[rng.choice(num_users, num_users // 5, replace=False)] = True
    cold_items = np.zeros(len(catalog), bool)
    cold_items[rng.choice(len(catalog), len(catalog) // 20, replace=False)] = True

    # Training data: the seen users' history without the cold items (and without those items' events).
    on_cold = (events.item >= 0) & cold_items[np.maximum(events.item, 0)]
    train_rows = np.flatnonzero(~held_users[events.user] & ~on_cold)
    (work / "train").mkdir(parents=True, exist_ok=True)
    pq.write_table(item_table(shop, np.flatnonzero(~cold_items)), work / "train" / "items.parquet")
    pq.write_table(event_table(history_shop, train_rows), work / "train" / "events.parquet")
    shutil.copy(data / "dataset.json", work / "train" / "dataset.json")
    update_dir = work / "update"
    update_dir.mkdir(exist_ok=True)
    pq.write_table(item_table(shop, np.flatnonzero(cold_items)), update_dir / "items.parquet")
    pq.write_table(event_table(history_shop, np.flatnonzero(held_users[events.user] | on_cold)),
                   update_dir / "events.parquet")

    server = Neo4jServer(home=work / "neo4j", port=args.port)
    server.start(timeout=300)
    settings = ConnectionSettings.resolve(environ={}, server=server)
    try:
        with Neo4jProfileStore.connect(settings) as store:
            store.delete_all()
        open_store = lambda: Neo4jProfileStore.connect(settings)  # noqa: E731
        options = TrainOptions(data_dir=work / "train", out_dir=work / "run",
                               config=TrainConfig(epochs=args.epochs, seed=args.seed),
                               cache_dir=REPO_ROOT / ".cache" / "embedding-cache", progress=False)
        summary = run_training(options, open_store, log=lambda line: None)
        retrain_seconds = summary["total_seconds"]
        first = IncrementalUpdate.apply(work / "run", update_dir / "events.parquet", update_dir / "items.parquet",
                                        open_store, progress=False)

        # -- quality -------------------------------------------------------------------
        profiles = pq.read_table(work / "run" / "profiles.parquet", columns=["user_id", "vector"]).to_pydict()
        user_vector = dict(zip(profiles["user_id"], profiles["vector"]))
        items = pq.read_table(work / "run" / "item_vectors.parquet").to_pydict()
        item_vector = dict(zip(items["item_id"], items["vector"]))
        item_vectors = np.asarray([item_vector[item_id] for item_id in catalog.item_ids], dtype=np.float32)
        history: list[set[int]] = [set() for _ in range(num_users)]
        for u, i in zip(events.user.tolist(), events.item.tolist()):
            if i >= 0:
                history[u].add(i)
        evaluated = np.flatnonzero(targets >= 0)
        vectors = np.asarray([user_vector[events.user_ids[u]] for u in evaluated], dtype=np.float32)
        profile_scores = vectors @ item_vectors.T
        evaluated_history = [history[u] for u in evaluated]
        hit = hits_at_k(profile_scores, evaluated_history, targets[evaluated])
        ranked, blend = run_ranking_scores(work / "run", [events.user_ids[u] for u in evaluated],
                                           list(catalog.item_ids), profile_scores)
        ranked_hit = hits_at_k(ranked, evaluated_history, targets[evaluated])
        target_cold = cold_items[targets[evaluated]]
        seen, unseen = ~held_users[evaluated] & ~target_cold, held_users[evaluated] & ~target_cold
        trained_items = events.item[train_rows]
        popularity = np.bincount(trained_items[trained_items >= 0], minlength=len(catalog)).astype(np.float32)
        popularity_hit = hits_at_k(np.repeat(popularity[None, :], len(evaluated), axis=0), evaluated_history,
                                   targets[evaluated])

        # -- speed: 1% new events (each chosen user's test-target events) ---------------------
        full_events = shop.events
        kept = {(u, t) for u, t in zip(events.user.tolist(), events.timestamp.tolist())}
        is_target_event = np.asarray([(u, t) not in kept for u, t in zip(full_events.user.tolist(),
                                                                            full_events.timestamp.tolist())])
        wanted = len(full_events) // 100
        candidates = np.flatnonzero(is_target_event & ~held_users[full_events.user])
        chosen_users = rng.permutation(np.unique(full_events.user[candidates]))
        rows: list[int] = []
        for u in chosen_users.tolist():
            if len(rows) >= wanted:
                break
            rows.extend(candidates[full_events.user[candidates] == u].tolist())
        pq.write_table(event_table(shop, np.asarray(rows)), update_dir / "one_percent.parquet")
        started = time.perf_counter()
        second = IncrementalUpdate.apply(work / "run", update_dir / "one_percent.parquet", None, open_store,
                                         progress=False)
        update_seconds = time.perf_counter() - started

        started = time.perf_counter()
        live = Run.load(work / "run")
        checkpoint, space, live_shop = live.checkpoint, live.space, live.shop
        everybody = space.profile_users(checkpoint.model, live_shop)
        run = RunFolder(work / "run")
        run.write_profiles(everybody.user_ids, everybody.vectors, everybody.attribute_columns())
        with open_store() as store:
            sync_profiles(store, live_shop, build_hetero_graph(live_shop), everybody, space.item_vectors(checkpoint.model),
                          "full-recomputation", True, progress=False)
        full_seconds = time.perf_counter() - started

        # -- speed: one profile on the fly ------------------------------------------------
        profiler = OnlineProfiler.from_run(work / "run")
        short = [u for u in np.flatnonzero(held_users).tolist() if (events.user == u).sum() <= 50][:200]
        requests = []
        for u in short:
            rows_u = np.flatnonzero(events.user == u)
            requests.append(event_table(history_shop, rows_u).to_pylist())
        latencies = {}
        for threads in (torch.get_num_threads(), 1):
            torch.set_num_threads(threads)
            timings = []
            for request in requests:
                begin = time.perf_counter()
                profiler.profile(request, user_id="visitor")
                timings.append(time.perf_counter() - begin)
            latencies[threads] = 1000 * statistics.median(timings[10:])
    finally:
        server.stop()

    rows_out = [
        ("users profiled", f"{int(seen.sum()):,} seen in training, {int(unseen.sum()):,} inductive (20% held out)"),
        ("Recall@20, users seen in training", f"{hit[seen].mean():.4f}"),
        ("Recall@20, inductive users (by update)", f"{hit[unseen].mean():.4f} "
                                                   f"({hit[unseen].mean() / hit[seen].mean():.2f}x seen)"),
        ("ranking of `recommend`", "profile vectors alone" if not blend.active else
         f"profile vectors + {blend.weight:g} x {blend.similarity} neighbour score ({blend.neighbours} per item)"),
        ("Recall@20 by that ranking: seen / inductive users",
         f"{ranked_hit[seen].mean():.4f} / {ranked_hit[unseen].mean():.4f} "
         f"({ranked_hit[unseen].mean() / ranked_hit[seen].mean():.2f}x seen)"),
        ("Recall@20, popularity (seen users)", f"{popularity_hit[seen].mean():.4f}"),
        ("cold-start items (5%, added by update)", f"{int(cold_items.sum())} items, {int(target_cold.sum())} users "
                                                   "whose next item is one"),
        ("cold item in that user's top 20: model", f"{hit[target_cold].mean():.4f}"),
        ("cold item in that user's top 20: popularity", f"{popularity_hit[target_cold].mean():.4f}"),
        ("cold item in top 20: chance", f"{K / len(catalog):.4f}"),
        ("first update (held-out users + cold items)",
         f"{first.counts['events_added']:,} events, {first.counts['users_added']:,} users added, "
         f"{first.counts['users_refreshed']:,} refreshed, {sum(s['seconds'] for s in first.stages.values()):.1f} s"),
        ("update of 1% new events (synced)",
         f"{second.counts['events_added']:,} events, {second.counts['users_refreshed']:,} users refreshed: "
         f"{update_seconds:.2f} s (" + ", ".join(f"{n} {s['seconds']:.2f}" for n, s in second.stages.items()) + ")"),
        ("retraining (synced)", f"{retrain_seconds:.1f} s ({args.epochs} epochs at most, encoder cache "
                                f"{summary['encoder']['cache_hits']} hits / {summary['encoder']['encoded']} encoded) "
                                f"= {retrain_seconds / update_seconds:.1f}x the update"),
        ("recompute + write all profiles (synced)", f"{full_seconds:.1f} s = {full_seconds / update_seconds:.1f}x "
                                                    "the update"),
        ("profile on the fly, <= 50 events, p50",
         ", ".join(f"{ms:.1f} ms with {threads} torch thread(s)" for threads, ms in latencies.items())),
    ]
    print(f"Amazon Scientific, seed {args.seed}, {args.epochs} training epochs at most (reduced), "
          f"best epoch {summary['best_epoch']}\n")
    print("| measure | value |\n| --- | --- |")
    for name, value in rows_out:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
