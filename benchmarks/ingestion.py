"""How generating and reading a shop grow with its size.

For each size it times ``personagraph sample --users N --items N/10 --format parquet`` (the
generator, writing Parquet) and then ``read_shop_files`` on the written folder (validation
included), each in a fresh process so that peak RSS is that step's. Prints a markdown table
with events, seconds, events per second, peak RSS and the growth of each size over the
previous one next to the growth of the events (linear work grows like the events).

    .venv/bin/python benchmarks/ingestion.py [--sizes 100000,300000,1000000] [--work /tmp/pg-ingestion]
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def _child(step: str, folder: Path, users: int) -> None:
    """One measured step in this process; prints its JSON result."""
    started = time.perf_counter()
    if step == "generate":
        from personagraph.datasets.sample_shop import generate_sample_shop

        result = generate_sample_shop(folder, users=users, items=max(users // 10, 1), fmt="parquet")
        events = len(result.shop.events)
    else:
        from personagraph.shop.shop_reader import read_shop_files

        events = len(read_shop_files(folder, progress=False).shop.events)
    seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "events": events, "rss_mib": rss}))


def _measure(step: str, folder: Path, users: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", step, str(folder), str(users)],
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{step} {users} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--work", type=Path, default=Path("/tmp/pg-ingestion"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]), int(args.child[2]))
        return
    rows = []
    for users in (int(size) for size in args.sizes.split(",")):
        folder = args.work / f"shop-{users}"
        shutil.rmtree(folder, ignore_errors=True)
        generated = _measure("generate", folder, users)
        read = _measure("read", folder, users)
        size_mb = sum(path.stat().st_size for path in folder.iterdir()) / 1e6
        rows.append((users, generated, read, size_mb))
        print(f"{users:,} users done: generate {generated['seconds']:.1f} s, read {read['seconds']:.1f} s",
              file=sys.stderr, flush=True)
    print("| users | events | Parquet MB | generate s | events/s | peak RSS MiB | read s | events/s | peak RSS MiB "
          "| events growth | generate growth | read growth |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    previous = None
    for users, generated, read, size_mb in rows:
        events = generated["events"]
        growth = ("", "", "") if previous is None else (
            f"{events / previous[0]:.1f}x", f"{generated['seconds'] / previous[1]:.1f}x",
            f"{read['seconds'] / previous[2]:.1f}x")
        print(f"| {users:,} | {events:,} | {size_mb:.0f} | {generated['seconds']:.1f} | "
              f"{events / generated['seconds']:,.0f} | {generated['rss_mib']:,.0f} | {read['seconds']:.1f} | "
              f"{events / read['seconds']:,.0f} | {read['rss_mib']:,.0f} | {' | '.join(growth)} |")
        previous = (events, generated["seconds"], read["seconds"])


if __name__ == "__main__":
    main()
