"""Benchmark how training grows with the shop: one epoch alone, and every stage of `personagraph train`.

For each size it generates a shop (``personagraph sample --users N --items N/10 --format
parquet``, about 15 events per user), runs ``personagraph train --json --no-sync`` on it
(``--neo4j``: with the sync to the managed server, which must be running), then times one
training epoch alone in a fresh process (text features come from the embedding cache the
run filled). Each measurement runs in its own process, so peak RSS is that process's.
Prints a markdown table per part and the growth of each size over the previous one next to
the growth of the events: linear training grows like the events.

    .venv/bin/python benchmarks/scale.py [--sizes 10000,100000[,1000000]] [--work /tmp/pg-scale] [--neo4j]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

STAGES = ("validate", "graph", "encode", "train", "profiles", "write", "sync")


def _personagraph() -> list[str]:
    """The CLI of the interpreter running this script (so a PYTHONPATH override applies to it too)."""
    return [sys.executable, "-c", "import sys; from personagraph.cli.main import main; sys.argv[0] = 'personagraph'; "
            "sys.exit(main())"]


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"failed ({done.returncode}): {shlex.join(command)}\n{done.stderr[-3000:]}")
    return done.stdout


def _shop(work: Path, users: int) -> Path:
    folder = work / f"shop-{users}"
    if not (folder / "events.parquet").exists():
        _run(_personagraph() + ["sample", "--users", str(users), "--items", str(max(users // 10, 1)),
                                "--format", "parquet", "--out", str(folder)])
    return folder


def _train(shop: Path, work: Path, users: int, neo4j: bool) -> dict:
    command = _personagraph() + ["train", str(shop), "--out", str(work / f"run-{users}"), "--json", "--quiet",
                                 "--cache-dir", str(work / ".embedding-cache")]
    return json.loads(_run(command + ([] if neo4j else ["--no-sync"])))


def _epoch(shop: Path, work: Path, epochs: int) -> dict:
    command = [sys.executable, __file__, "--epoch-only", str(shop), "--work", str(work), "--epochs", str(epochs)]
    return json.loads(_run(command).strip().splitlines()[-1])


def measure_epoch(shop: Path, work: Path, epochs: int) -> dict:
    """Seconds and peak RSS of training epochs alone, on the training graph ``train`` builds."""
    import torch

    from personagraph.encoders.load_text_encoder import load_text_encoder
    from personagraph.encoders.text_features import attach_text_features
    from personagraph.gnn.profile_model import ProfileModel
    from personagraph.gnn.profile_trainer import _TargetCandidates, _train_epoch, _ValidationSample, epoch_batch_size
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
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    validation = _ValidationSample(interactions, torch.from_numpy(split.targets), config)
    baseline_rss = _peak_rss_mb(reset=True)
    epoch_seconds, evaluation_seconds = [], []
    for _ in range(epochs):
        started = time.perf_counter()
        _train_epoch(model, optimizer, graph, interactions, candidates, config, generator)
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
    stages = [s for s in STAGES if any(s in r["train"]["stages"] for r in rows)]
    lines += ["", "| users | " + " | ".join(f"{s} s" for s in stages) + " | total s | epochs | peak RSS MB "
              "| events/s (whole run) | validation R@20 |", "|---" * (len(stages) + 6) + "|"]
    for r in rows:
        t = r["train"]
        seconds = [t["stages"].get(s, {}).get("seconds", float("nan")) for s in stages]
        peak = max(s["peak_rss_mb"] for s in t["stages"].values())
        lines.append(f"| {t['counts']['users']:,} | " + " | ".join(f"{x:.1f}" for x in seconds)
                     + f" | {t['total_seconds']:.1f} | {len(t['history'])} | {peak:,.0f} "
                     f"| {t['counts']['events'] / t['total_seconds']:,.0f} | {t['validation']['recall@20']:.4f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated user counts (items = users / 10)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/pg-scale"), help="shops, runs and the text cache")
    parser.add_argument("--neo4j", action="store_true", help="include the sync to the managed Neo4j server")
    parser.add_argument("--epochs", type=int, default=2, help="epochs timed alone (the fastest is reported)")
    parser.add_argument("--epoch-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epoch_only:
        print(json.dumps(measure_epoch(args.epoch_only, args.work, args.epochs)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    print("$ " + shlex.join([Path(sys.executable).name, *sys.argv]), f"(cores: {os.cpu_count()})", flush=True)
    rows = []
    for users in (int(size) for size in args.sizes.split(",")):
        shop = _shop(args.work, users)
        train = _train(shop, args.work, users, args.neo4j)
        rows.append({"train": train, "epoch": _epoch(shop, args.work, args.epochs)})
        print(f"{users:,} users done", file=sys.stderr, flush=True)
    print(_tables(rows))


if __name__ == "__main__":
    main()
