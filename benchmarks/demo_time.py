"""How long the main job of `make demo` takes on this machine: train on data/sample (cold embedding
cache, sync to the local Neo4j) and one `similar` lookup. Target: within 3 minutes on 2 cores.

    .venv/bin/python benchmarks/demo_time.py [--data data/sample] [--keep-cache]

Uses the managed Neo4j of PERSONAGRAPH_HOME / PERSONAGRAPH_NEO4J_PORT (started if needed).
Prints a markdown table of the stages `personagraph train` reports, and the totals.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "personagraph.cli"]


def run(args: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(CLI + args, check=True, capture_output=True, text=True, cwd=REPO)
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO / "data" / "sample"))
    parser.add_argument("--keep-cache", action="store_true", help="reuse a warm embedding cache")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="personagraph-demo-"))
    try:
        start_s, _ = run(["neo4j", "start"])
        cache = REPO / "runs" / ".embedding-cache" if args.keep_cache else work / "cache"
        train_s, out = run(["train", args.data, "--out", str(work / "run"), "--cache-dir", str(cache),
                            "--quiet", "--json"])
        summary = json.loads(out)
        user = summary_user(args.data)
        similar_s, _ = run(["similar", user, "-k", "5"])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("| stage | seconds | peak RSS MB |\n| --- | ---: | ---: |")
    for name, stage in summary["stages"].items():
        print(f"| {name} | {stage['seconds']:.1f} | {stage['peak_rss_mb']:.0f} |")
    print(f"| **`personagraph neo4j start`** (process) | {start_s:.1f} | |")
    print(f"| **`personagraph train`** (process, incl. imports) | {train_s:.1f} | |")
    print(f"| **`personagraph similar`** (process) | {similar_s:.1f} | |")
    total = start_s + train_s + similar_s
    print(f"\ndemo main job: {total:.1f} s (target ≤ 180 s) — {'met' if total <= 180 else 'NOT met'}; "
          f"cache {'warm' if args.keep_cache else 'cold'}; load average {os.getloadavg()[0]:.1f}; "
          f"validation recall@20 {summary['validation'].get('recall@20', float('nan')):.4f}")


def summary_user(data: str) -> str:
    """The first user of the events table, as `make demo` picks it."""
    with open(Path(data) / "events.csv", encoding="utf-8") as events:
        events.readline()
        return events.readline().split(",", 1)[0]


if __name__ == "__main__":
    main()
