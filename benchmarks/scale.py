"""Benchmark how training grows with the shop: one epoch alone, and every stage of `personagraph train`.

For each size it generates a shop (``personagraph sample --users N --items N/10 --format
parquet``, about 15 events per user), runs ``personagraph train --json --no-sync`` on it, then
times one training epoch alone in a fresh process (text features come from the embedding cache
the run filled). Each measurement runs in its own process, so peak RSS is that process's.

With ``--neo4j`` the train also writes to Neo4j: to a managed server of the benchmark's own
(state folder ``<work>/neo4j``, port ``--port``), emptied before each size and stopped at the
end, so the load is a first ``train``'s (``--load``, default bulk: the import at every size, so
the two paths are compared at every size; auto takes what a user's first train takes, which is
UNWIND below ``AUTO_BULK_MIN_USERS``). Never the test server or a server someone else uses.

Prints a markdown table for the epoch alone and one row per stage and size: seconds, peak RSS
and rows per second (the stage's own unit), with the growth of each size over the previous one
next to the growth of the events: a stage that scales linearly grows like the events.

With ``--neo4j`` and ``--unwind-users N`` (default 20,000; 0 skips it) the bulk load is set
against the UNWIND path in the same run: after each size's train, a fresh process loads the run
folder (``Run.load``), takes a seeded random sample of N users, builds for them alone the rows
that ``run_changes`` (what ``personagraph sync`` writes) holds for them: their profile rows and every
relationship that starts at one of them (interactions, social links, interest tags, segment
link). It removes those users from the loaded database (``forget_users``, untimed) and times
``sync_changes`` writing them back as an update of the run the store holds (under that run's id,
so the rows are stamped as the import stamped them): the UNWIND path creates their nodes,
relationships and index entries as a first load does, into a database of the whole run's size.
The segment nodes go along (a few dozen rows): the sync replaces the set of segments whole, with
the sizes the removal lowered. The whole run's rows are not built: at a million users they would
not fit in memory. The counts of nodes and relationships by label, type and run must be the same
before the removal and after the sync. The table sets bulk rows/s (the train's sync stage) beside
the sample's UNWIND rows/s and projects the UNWIND time of all the run's rows from the sample's
rate.

Why a sample stands for the whole, and what it assumes: every relationship starts at one node,
and the users' relationships are nearly all of the rows, so a uniform sample of users is a
uniform sample of those rows. That the sample's rate is the whole's is an *assumption*: a MERGE
on an indexed id costs per row (an index lookup and the start node's links), not per database
size; the table names the database (nodes, relationships) it was measured against. The
projection leaves out what a whole load adds (building the rows, the item, query and category
rows, pruning other runs) while the bulk time includes building its rows. ``--load unwind``
checks the projection at a small size: the train's sync is then a whole UNWIND load, timed
beside the sample's rate.

    .venv/bin/python benchmarks/scale.py [--sizes 10000,100000[,1000000]] [--work /tmp/pg-scale] [--neo4j]
        [--port 17797] [--unwind-users 20000]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from personagraph.pipeline.run import Run
    from personagraph.store.neo4j_server import Neo4jServer
    from personagraph.store.profile_changes import ProfileChanges

STAGES = ("validate", "graph", "encode", "train", "profiles", "write", "sync")
#: Seed of the users whose rows the UNWIND sync writes again after their removal.
SAMPLE_SEED = 0


def _personagraph() -> list[str]:
    """The CLI of the interpreter running this script (so a PYTHONPATH override applies to it too)."""
    return [sys.executable, "-c", "import sys; from personagraph.cli.main import main; sys.argv[0] = 'personagraph'; "
            "sys.exit(main())"]


def _run(command: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"failed ({done.returncode}): {shlex.join(command)}\n{done.stderr[-3000:]}")
    return done.stdout


def _shop(work: Path, users: int) -> Path:
    folder = work / f"shop-{users}"
    if not (folder / "events.parquet").exists():
        _run(_personagraph() + ["sample", "--users", str(users), "--items", str(max(users // 10, 1)),
                                "--format", "parquet", "--out", str(folder)])
    return folder


def _train(shop: Path, work: Path, users: int, server: "Neo4jServer | None", load: str,
           max_minutes: float | None) -> dict:
    command = _personagraph() + ["train", str(shop), "--out", str(work / f"run-{users}"), "--json", "--quiet",
                                 "--cache-dir", str(work / ".embedding-cache")]
    command += ["--max-minutes", str(max_minutes)] if max_minutes else []
    if server is None:
        return json.loads(_run(command + ["--no-sync"]))
    _empty_database(server)
    env = {name: value for name, value in os.environ.items() if not name.startswith("NEO4J_")}
    env |= {"PERSONAGRAPH_HOME": str(server.home), "PERSONAGRAPH_NEO4J_PORT": str(server.port),
            "PERSONAGRAPH_LOAD": load}
    return json.loads(_run(command, env))


def _empty_database(server: "Neo4jServer") -> None:
    """A fresh, empty database: the server stopped, its database folders removed, started again."""
    server.stop()
    for kind in ("databases", "transactions"):
        shutil.rmtree(server.home / "data" / kind / "neo4j", ignore_errors=True)
    server.start(timeout=600)


def _epoch(shop: Path, work: Path, epochs: int) -> dict:
    command = [sys.executable, __file__, "--epoch-only", str(shop), "--work", str(work), "--epochs", str(epochs)]
    return json.loads(_run(command).strip().splitlines()[-1])


def measure_epoch(shop: Path, work: Path, epochs: int, dim: int | None = None) -> dict:
    """Seconds and peak RSS of training epochs alone, on the training graph ``train`` builds."""
    import torch

    from personagraph.encoders.load_text_encoder import load_text_encoder
    from personagraph.encoders.text_features import attach_text_features
    from personagraph.gnn.profile_model import ProfileModel
    from personagraph.gnn.distributed_training import DistributedTraining
    from personagraph.gnn.profile_trainer import (_RankingStep, _TargetCandidates, _train_epoch, _ValidationSample,
                                                  epoch_batch_size)
    from personagraph.gnn.train_config import TrainConfig
    from personagraph.gnn.user_interactions import UserInteractions
    from personagraph.graph.hetero_graph_builder import build_hetero_graph
    from personagraph.process_memory import heap_reused
    from personagraph.shop.leave_last_out import leave_last_out
    from personagraph.shop.shop_reader import read_shop_files
    from personagraph.shop.timestamp_window import TimestampWindow

    shop_data = read_shop_files(shop, "fail", False, TimestampWindow.default()).shop
    split = leave_last_out(shop_data)
    graph = build_hetero_graph(split.train)
    attach_text_features(shop_data, [graph], load_text_encoder(None, work / ".embedding-cache"), 64, False)
    config = TrainConfig(spectral_dim=0, dim=dim)  # the spectral filter is fitted once, outside the epochs
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    interactions = UserInteractions.from_graph(graph)
    candidates = _TargetCandidates(interactions, config.target_weights)
    model = ProfileModel.from_graph(graph, config.dim, config.use_item_ids, config.dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    step = _RankingStep(model, config.temperature)
    validation = _ValidationSample(interactions, torch.from_numpy(split.targets), config)
    baseline_rss = _peak_rss_mb(reset=True)
    epoch_seconds, evaluation_seconds = [], []
    with heap_reused():  # as `train` runs its epochs
        for _ in range(epochs):
            started = time.perf_counter()
            _train_epoch(step, optimizer, graph, interactions, candidates, config, generator, DistributedTraining())
            epoch_seconds.append(time.perf_counter() - started)
            started = time.perf_counter()
            validation.evaluate(model, graph)
            evaluation_seconds.append(time.perf_counter() - started)
    return {"users": int(graph["user"].num_nodes), "items": int(graph["item"].num_nodes),
            "edges": len(interactions), "events": len(shop_data.events),
            "batch_size": epoch_batch_size(candidates.num_users, config), "dim": model.dim,
            "epoch_seconds": min(epoch_seconds), "evaluation_seconds": min(evaluation_seconds),
            "rss_before_mb": baseline_rss, "peak_rss_mb": _peak_rss_mb()}


def _unwind(run: Path, work: Path, port: int, users: int) -> dict:
    command = [sys.executable, __file__, "--unwind-only", str(run), "--work", str(work), "--port", str(port),
               "--unwind-users", str(users)]
    return json.loads(_run(command).strip().splitlines()[-1])


def measure_unwind(run_dir: Path, server: "Neo4jServer", users: int, seed: int = SAMPLE_SEED) -> dict:
    """Seconds of ``sync_changes`` writing a sample of ``users`` users of the run the ``server`` holds, removed
    from it just before (so the UNWIND path creates them), with the database's counts by label, relationship
    type and run before the removal and after the sync."""
    import numpy as np

    from personagraph.pipeline.run import Run
    from personagraph.store.connection_settings import ConnectionSettings
    from personagraph.store.open_store import open_store
    from personagraph.store.profile_store import NODE_KEYS
    from personagraph.store.profile_sync import sync_changes

    run = Run.load(run_dir)
    everyone = run.shop.events.num_users
    chosen = np.sort(np.random.default_rng(seed).choice(everyone, size=min(users, everyone), replace=False))
    changes = sample_changes(run, chosen)
    with open_store(ConnectionSettings.resolve(environ={}, server=server)) as store:
        state = store.sync_state()
        if state.active_run != run.run_id or state.incomplete:
            sys.exit(f"the benchmark's Neo4j does not hold run {run.run_id} complete: {state.to_dict()}")
        before = store.count_by_run()
        # The sample's users leave first (untimed), so the timed sync creates their nodes and relationships
        # (and inserts their vectors into the index) as a first load does, into a database of the run's size.
        started = time.perf_counter()
        forgotten = store.forget_users(run.shop.events.user_ids[u] for u in chosen.tolist())
        forget_seconds = time.perf_counter() - started
        started = time.perf_counter()
        written = sync_changes(store, changes, run.run_id, progress=False, run_folder=run.folder.path)
        seconds = time.perf_counter() - started
        after, state_after = store.count_by_run(), store.sync_state()
    return {"users": len(chosen), "seed": seed, "written": written, "rows": sum(written.values()),
            "seconds": seconds, "forgotten": forgotten, "forget_seconds": forget_seconds,
            "peak_rss_mb": _peak_rss_mb(),
            "nodes": sum(n for kind, runs in before.items() if kind in NODE_KEYS for n in runs.values()),
            "relationships": sum(n for kind, runs in before.items() if kind not in NODE_KEYS for n in runs.values()),
            "counts_unchanged": before == after, "counts_before": before, "counts_after": after,
            "active_run_after": state_after.active_run, "complete_after": not state_after.incomplete}


def sample_changes(run: "Run", users: "np.ndarray") -> "ProfileChanges":
    """The rows ``run_changes(run)`` holds for ``users`` (sorted indices into the run's shop), as an update of
    the run: their profile rows, interest tags and segment link, and their interactions and social links (every
    relationship that starts at one of them), the social links of every user linking to one of them (their
    removal takes those links along), plus the segment nodes (the sync replaces the set of segments
    whole: without them it would delete the rest). Built for those users alone, since the whole run's rows do
    not fit in memory at a million users."""
    from dataclasses import replace

    import numpy as np
    import pyarrow.parquet as pq

    from personagraph.graph.hetero_graph_builder import build_hetero_graph
    from personagraph.pipeline.run_sync import segment_link_rows, user_rows
    from personagraph.profiles.profile_space import select_users
    from personagraph.store.profile_changes import ProfileChanges
    from personagraph.store.profile_sync import edge_rows, forward_edge_types

    shop = run.shop
    ids = [shop.events.user_ids[u] for u in users.tolist()]
    stored = pq.read_table(run.folder.profiles, filters=[("user_id", "in", ids)])
    if stored.num_rows != len(ids):
        sys.exit(f"{run.folder.profiles} holds {stored.num_rows} of the {len(ids)} users sampled")
    graph = build_hetero_graph(select_users(shop, users))
    targets = {"item": list(shop.catalog.item_ids), "query": list(shop.events.query_texts)}
    social = shop.social if shop.social is not None and len(shop.social) else None
    linkers = users
    if social is not None:
        # Removing the sample also removes the links others have to it: those users' links are written whole too.
        linkers = np.union1d(users, social.user[np.isin(social.other, users)])
        theirs = np.isin(social.user, linkers)
        social = replace(social, user=social.user[theirs], other=social.other[theirs],
                         relation=social.relation[theirs], timestamp=social.timestamp[theirs])
    profiles = run.space.profile_users(run.model, shop, users)  # for the interest-tag weights only, as run_changes
    return ProfileChanges(
        embedding_dim=len(stored.column("vector")[0]),
        users=user_rows(stored),
        interests=profiles.tag_rows(),
        segments=profiles.segment_rows(),
        segment_links=segment_link_rows(stored),
        edges={edge_type: edge_rows(graph, edge_type, ids, targets[edge_type[2]])
               for edge_type in forward_edge_types(graph) if edge_type[0] == "user" and edge_type[2] in targets},
        social_users=[shop.events.user_ids[u] for u in linkers.tolist()] if social is not None else [],
        social_links=social.rows(shop.events.user_ids) if social is not None else [],
        base_run_id=run.run_id,
        search_projection=run.search_projection,
    )


def _peak_rss_mb(reset: bool = False) -> float:
    """This process's peak RSS (VmHWM); ``reset`` restarts the peak at the current RSS (Linux)."""
    if reset and Path("/proc/self/clear_refs").exists():
        Path("/proc/self/clear_refs").write_text("5")
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _ratio(values: list[float], i: int) -> str:
    return "" if i == 0 or not values[i - 1] else f"{values[i] / values[i - 1]:.1f}x"


def _tables(rows: list[dict]) -> str:
    events = [r["epoch"]["events"] for r in rows]
    epoch = [r["epoch"]["epoch_seconds"] for r in rows]
    lines = ["| users | items | events | events growth | batch | epoch s | epoch growth | validation eval s "
             "| peak RSS MB (epoch process) | RSS added by the epochs MB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(rows):
        e = r["epoch"]
        lines.append(f"| {e['users']:,} | {e['items']:,} | {e['events']:,} | {_ratio(events, i)} | {e['batch_size']} "
                     f"| {e['epoch_seconds']:.2f} | {_ratio(epoch, i)} | {e['evaluation_seconds']:.2f} "
                     f"| {e['peak_rss_mb']:,.0f} | {e['peak_rss_mb'] - e['rss_before_mb']:,.0f} |")
    tables = "\n".join(lines) + "\n\n" + _stage_table([r["train"] for r in rows])
    tables += "\n\n" + _phase_table([r["train"] for r in rows])
    return tables + ("\n\n" + _load_table(rows) if any("unwind" in r for r in rows) else "")


def _stage_table(trains: list[dict]) -> str:
    """One row per stage and size: seconds, peak RSS, rate, and growth over the previous size."""
    events = [t["counts"]["events"] for t in trains]
    lines = ["| stage | users | events | events growth | seconds | seconds growth | peak RSS MB | rows/s | unit |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    stages = [s for s in STAGES if any(s in t["stages"] for t in trains)]
    for stage in [*stages, "total"]:
        seconds = [t["total_seconds"] if stage == "total" else t["stages"].get(stage, {}).get("seconds", float("nan"))
                   for t in trains]
        for i, t in enumerate(trains):
            record = t["stages"].get(stage, {})
            peak = max(s["peak_rss_mb"] for s in t["stages"].values()) if stage == "total" else record.get(
                "peak_rss_mb", float("nan"))
            rate = record.get("rows_per_second")
            unit = record.get("unit", "")
            if stage == "total":
                rate, unit = t["counts"]["events"] / t["total_seconds"], "events"
            elif stage == "train":
                unit = f"events ({record.get('epochs')} epochs)"
            elif stage == "sync":
                unit = f"rows ({t.get('load', {}).get('path', '?')})"
            lines.append(f"| {stage} | {t['counts']['users']:,} | {events[i]:,} | {_ratio(events, i)} "
                         f"| {seconds[i]:.1f} | {_ratio(seconds, i)} | {peak:,.0f} "
                         f"| {'' if rate is None else f'{rate:,.0f}'} | {unit} |")
    recall = ", ".join(f"{t['counts']['users']:,}: {t['validation']['recall@20']:.4f}" for t in trains)
    return "\n".join(lines) + f"\n\nvalidation Recall@20 by users: {recall}"


def _phase_table(trains: list[dict]) -> str:
    """The train stage part by part per size: seconds, and the peak RSS so far when each part ended
    (the first part that reaches the stage's peak is the one that set it)."""
    lines = ["| train part | users | seconds | seconds growth | peak RSS MB so far |", "|---|---:|---:|---:|---:|"]
    names = list(dict.fromkeys(name for t in trains for name in t["stages"]["train"].get("phases", {})))
    for name in names:
        seconds = [t["stages"]["train"].get("phases", {}).get(name, {}).get("seconds", float("nan")) for t in trains]
        for i, t in enumerate(trains):
            phase = t["stages"]["train"].get("phases", {}).get(name, {})
            lines.append(f"| {name} | {t['counts']['users']:,} | {seconds[i]:.1f} | {_ratio(seconds, i)} "
                         f"| {phase.get('peak_rss_mb', float('nan')):,.0f} |")
    return "\n".join(lines)


def _load_table(rows: list[dict]) -> str:
    """Bulk load against UNWIND per size: the bulk figures are the train's sync stage (metrics.json), the
    UNWIND ones a sample's, and the UNWIND time of all the rows is projected from the sample's rate."""
    lines = ["| users | database when sampled (nodes / relationships) | bulk rows | bulk s | bulk rows/s "
             "| UNWIND sample users | UNWIND sample rows | UNWIND s | UNWIND rows/s "
             "| UNWIND s for all bulk rows (projected from the sample) | speed-up (bulk ÷ UNWIND rows/s) "
             "| counts after the removal and re-sync equal those before |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    details = []
    for r in rows:
        if "unwind" not in r:
            continue
        bulk, unwind, users = r["train"]["stages"]["sync"], r["unwind"], r["train"]["counts"]["users"]
        path = r["train"].get("load", {}).get("path", "?")
        unwind_rate = unwind["rows"] / unwind["seconds"]
        bulk_rate = bulk["rows"] / bulk["seconds"]
        lines.append(
            f"| {users:,} | {unwind['nodes']:,} / {unwind['relationships']:,} | {bulk['rows']:,} "
            f"| {bulk['seconds']:.1f} | {bulk_rate:,.0f}{'' if path == 'bulk' else f' (path: {path}, not bulk)'} "
            f"| {unwind['users']:,} | {unwind['rows']:,} | {unwind['seconds']:.1f} | {unwind_rate:,.0f} "
            f"| {bulk['rows'] / unwind_rate:,.0f} ({bulk['rows'] / unwind_rate / 3600:.2f} h) "
            f"| {bulk_rate / unwind_rate:.1f}x | {'yes' if unwind['counts_unchanged'] else 'NO'} "
            f"(run {unwind['active_run_after']}, {'complete' if unwind['complete_after'] else 'INCOMPLETE'}) |")
        steps = r["train"].get("load", {}).get("steps", {})
        if steps:
            details.append(f"- {users:,} users, bulk load step by step: "
                           + ", ".join(f"{name} {step['seconds']:.1f} s" for name, step in steps.items()))
        written = ", ".join(f"{kind} {n:,}" for kind, n in unwind["written"].items())
        details.append(f"- {users:,} users: sample of {unwind['users']:,} (seed {unwind['seed']}) removed ({unwind['forget_seconds']:.1f} s, untimed) then written by UNWIND: {written}; "
                       f"UNWIND process peak RSS {unwind['peak_rss_mb']:,.0f} MB")
        if not unwind["counts_unchanged"]:
            details.append(f"  counts before {unwind['counts_before']}, after {unwind['counts_after']}")
    return "\n".join(lines + [""] + details)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated user counts (items = users / 10)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/pg-scale"), help="shops, runs and the text cache")
    parser.add_argument("--neo4j", action="store_true",
                        help="include the write to Neo4j (a managed server of the benchmark's own, in <work>/neo4j)")
    parser.add_argument("--port", type=int, default=17797, help="Bolt port of the benchmark's own Neo4j server")
    parser.add_argument("--load", default="bulk", choices=["auto", "bulk", "unwind"], help="train --load")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="train --max-minutes (the training stage's wall budget; default: none)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs timed alone (the fastest is reported)")
    parser.add_argument("--unwind-users", type=int, default=20000,
                        help="with --neo4j: users removed after the bulk load and written back by the UNWIND sync, "
                             "timed against it (0: skip)")
    parser.add_argument("--epoch-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dim", type=int, default=None,
                        help="with --epoch-only: the GNN part's width (default: train's)")
    parser.add_argument("--unwind-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epoch_only:
        print(json.dumps(measure_epoch(args.epoch_only, args.work, args.epochs, args.dim)))
        return
    if args.unwind_only:
        from personagraph.store.neo4j_server import Neo4jServer

        found = Neo4jServer(home=args.work / "neo4j", port=args.port)
        print(json.dumps(measure_unwind(args.unwind_only, found, args.unwind_users), default=str))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    print("$ " + shlex.join([Path(sys.executable).name, *sys.argv]), f"(cores: {os.cpu_count()}, "
          f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())})", flush=True)
    server = None
    if args.neo4j:
        from personagraph.store.neo4j_server import Neo4jServer

        server = Neo4jServer(home=args.work / "neo4j", port=args.port)
    rows = []
    try:
        for users in (int(size) for size in args.sizes.split(",")):
            started = time.perf_counter()
            shop = _shop(args.work, users)
            generated = time.perf_counter() - started
            train = _train(shop, args.work, users, server, args.load, args.max_minutes)
            rows.append({"train": train, "epoch": _epoch(shop, args.work, args.epochs)})
            if server is not None and args.unwind_users > 0:
                rows[-1]["unwind"] = _unwind(args.work / f"run-{users}", args.work, args.port, args.unwind_users)
            print(f"{users:,} users done (shop made in {generated:.0f} s; load average "
                  f"{' '.join(f'{x:.1f}' for x in os.getloadavg())})", file=sys.stderr, flush=True)
    finally:
        if server is not None:
            server.stop()
    print(_tables(rows))
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
