"""Benchmark how training grows with the shop: one epoch alone, and every stage of `personagraph train`.

For each size it generates a shop (``personagraph sample --users N --items N/10 --format
parquet``, about 15 events per user), runs ``personagraph train --json --no-sync`` on it, then
times one training epoch alone in a fresh process (text features come from the embedding cache
the run filled). Each measurement runs in its own process, so peak RSS is that process's.

With ``--neo4j`` the train also writes to Neo4j: to a managed server of the benchmark's own
(state folder ``<work>/neo4j``, port ``--port``), emptied before each size and stopped at the
end, so the load path is the one a first ``train`` takes (``--load``; auto = bulk import into
the empty database). Never the test server or a server someone else uses.

Prints a markdown table for the epoch alone and one row per stage and size: seconds, peak RSS
and rows per second (the stage's own unit), with the growth of each size over the previous one
next to the growth of the events: a stage that scales linearly grows like the events.

    .venv/bin/python benchmarks/scale.py [--sizes 10000,100000[,1000000]] [--work /tmp/pg-scale] [--neo4j]
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

STAGES = ("validate", "graph", "encode", "train", "profiles", "write", "sync")


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


def measure_epoch(shop: Path, work: Path, epochs: int) -> dict:
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
    from personagraph.shop.leave_last_out import leave_last_out
    from personagraph.shop.shop_reader import read_shop_files
    from personagraph.shop.timestamp_window import TimestampWindow

    shop_data = read_shop_files(shop, "fail", False, TimestampWindow.default()).shop
    split = leave_last_out(shop_data)
    graph = build_hetero_graph(split.train)
    attach_text_features(shop_data, [graph], load_text_encoder(None, work / ".embedding-cache"), 64, False)
    config = TrainConfig(spectral_dim=0)  # the spectral filter is fitted once, outside the epochs
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
    for _ in range(epochs):
        started = time.perf_counter()
        _train_epoch(step, optimizer, graph, interactions, candidates, config, generator, DistributedTraining())
        epoch_seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        validation.evaluate(model, graph)
        evaluation_seconds.append(time.perf_counter() - started)
    return {"users": int(graph["user"].num_nodes), "items": int(graph["item"].num_nodes),
            "edges": len(interactions), "events": len(shop_data.events),
            "batch_size": epoch_batch_size(candidates.num_users, config),
            "epoch_seconds": min(epoch_seconds), "evaluation_seconds": min(evaluation_seconds),
            "rss_before_mb": baseline_rss, "peak_rss_mb": _peak_rss_mb()}


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
    return "\n".join(lines) + "\n\n" + _stage_table([r["train"] for r in rows])


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated user counts (items = users / 10)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/pg-scale"), help="shops, runs and the text cache")
    parser.add_argument("--neo4j", action="store_true",
                        help="include the write to Neo4j (a managed server of the benchmark's own, in <work>/neo4j)")
    parser.add_argument("--port", type=int, default=17797, help="Bolt port of the benchmark's own Neo4j server")
    parser.add_argument("--load", default="auto", choices=["auto", "bulk", "unwind"], help="train --load")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="train --max-minutes (the training stage's wall budget; default: none)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs timed alone (the fastest is reported)")
    parser.add_argument("--epoch-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epoch_only:
        print(json.dumps(measure_epoch(args.epoch_only, args.work, args.epochs)))
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
            print(f"{users:,} users done (shop made in {generated:.0f} s; load average "
                  f"{' '.join(f'{x:.1f}' for x in os.getloadavg())})", file=sys.stderr, flush=True)
    finally:
        if server is not None:
            server.stop()
    print(_tables(rows))
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
