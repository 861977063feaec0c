"""Reliability of PersonaGraph, printed as one table: bad input, a Neo4j that dies mid-sync, lookups under load.

    .venv/bin/python benchmarks/reliability.py [--fuzz-cases 1000] [--port 17691] [--work /tmp/personagraph-reliability]

1. Fuzzed shop files (the generator of tests/shop/test_reader_properties.py): every case is read;
   a *traceback* is any exception other than the readers' one-line errors, a *partial write* a
   reading whose rows do not add up (read = accepted + rejected) or that lets bad rows through.
2. Sync: a sample run A is trained (no sync) and synced; then run B (other users, other vector
   width) is synced and the server is killed (SIGKILL) in the middle of each sync step in turn.
   After each kill the server is restarted, the store must name the incomplete sync (or still
   serve A when it died before the sync began), and `sync_run` finishes B; then users and
   relationships are compared with run B's rows: duplicates, missing and rows of other runs.
3. Lookups: 8 threads x 1,000 `similar_users` on the synced run B: errors, p50, p99.

Runs its own Neo4j (state folder under --work, port --port) and stops it at the end.
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "shop"))  # the fuzz generator of the reader tests

from personagraph.datasets.sample_shop import generate_sample_shop  # noqa: E402
from personagraph.errors import PersonaGraphError  # noqa: E402
from personagraph.gnn.train_config import TrainConfig  # noqa: E402
from personagraph.pipeline.run import Run  # noqa: E402
from personagraph.pipeline.run_sync import run_changes, sync_run  # noqa: E402
from personagraph.pipeline.train_pipeline import TrainOptions, run_training  # noqa: E402
from personagraph.store.connection_settings import ConnectionSettings  # noqa: E402
from personagraph.store.neo4j_profile_store import Neo4jProfileStore  # noqa: E402
from personagraph.store.neo4j_server import Neo4jServer  # noqa: E402
from personagraph.shop.schema import shop_schema  # noqa: E402
from personagraph.store.profile_sync import sync_changes  # noqa: E402
from personagraph.store.run_lineage import rows_of_other_runs  # noqa: E402

STEPS = ["begin", "schema", "items", "categories", "queries", "users", "VIEWED", "CLICKED", "ADDED_TO_CART",
         "PURCHASED", "SEARCHED", "LEADS_TO", "IN_CATEGORY", "SOCIAL", "tags", "INTERESTED_IN", "segments", "IN_SEGMENT",
         "prune", "commit"]


# -- 1. fuzzed input ---------------------------------------------------------------------
def fuzz(cases: int) -> dict[str, Any]:
    from hypothesis import HealthCheck, given, settings
    from test_reader_properties import check_case, shop_cases

    tried = {"cases": 0, "tracebacks": 0, "partial": 0}

    @settings(max_examples=cases, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(shop_cases())
    def run(case: dict) -> None:
        tried["cases"] += 1
        try:
            check_case(case)
        except AssertionError:
            tried["partial"] += 1
        except Exception:  # noqa: BLE001  (what is counted: anything that would be a traceback)
            tried["tracebacks"] += 1

    run()
    return tried


# -- 2. Neo4j killed during a sync -------------------------------------------------------
class KilledStore(Neo4jProfileStore):
    """The real store, whose server is SIGKILLed once the sync has marked ``step`` and written one
    batch of it (or as it leaves a step of a single batch)."""

    def __init__(self, store: Neo4jProfileStore, step: str, kill: Callable[[], None]) -> None:
        super().__init__(store.driver, store.database, batch_size=100)
        self.dies_at, self._kill, self.step, self.batches, self.killed = step, kill, "begin", 0, False

    def kill(self) -> None:
        if not self.killed:
            self.killed = True
            self._kill()

    def begin_sync(self, run_id: str, run_folder: str | None, kind: str) -> None:
        if self.dies_at == "begin":
            self.kill()
        super().begin_sync(run_id, run_folder, kind)

    def mark_sync_step(self, step: str) -> None:
        if self.step == self.dies_at:  # leaving the step without a second batch: now
            self.kill()
        self.step, self.batches = step, 0
        super().mark_sync_step(step)
        if step == self.dies_at and step in ("schema", "prune", "commit"):
            self.kill()

    def _execute(self, work: Any, write: bool, *args: Any) -> Any:
        if write and self.step == self.dies_at:
            self.batches += 1
            if self.batches == 3:  # the marker and one batch are written
                self.kill()
        return super()._execute(work, write, *args)

    def close(self) -> None:  # the driver is the wrapped store's
        pass


def kill(server: Neo4jServer, pid: int) -> None:
    """SIGKILL the server, and wait until it is gone (a restart must not find it still dying)."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while server.is_running() and time.monotonic() < deadline:
        time.sleep(0.1)


def train(root: Path, name: str, users: int, dim: int, seed: int) -> Path:
    generate_sample_shop(root / f"shop-{name}", users=users, items=150, seed=seed)
    options = TrainOptions(data_dir=root / f"shop-{name}", out_dir=root / "runs" / name,
                           config=TrainConfig(dim=dim, epochs=2, seed=seed, spectral_dim=0),
                           cache_dir=REPO_ROOT / ".cache" / "embedding-cache", progress=False)
    run_training(options, None, log=lambda line: None)
    return options.out_dir


def compare(store: Neo4jProfileStore, run_dir: Path) -> dict[str, int]:
    """Duplicates, missing and foreign users and relationships of the store against the run's rows
    (a relationship is its type, its ends and, for SOCIAL, its relation)."""
    run = Run.load(run_dir)
    changes = run_changes(run)
    users = {row["id"] for row in changes.users}
    links = {("INTERESTED_IN", row["start"], row["end"], None) for row in changes.interests}
    links |= {("IN_SEGMENT", row["start"], row["end"], None) for row in changes.segment_links}
    links |= {("SOCIAL", row["start"], row["end"], row["relation"]) for row in changes.social_links}
    names = shop_schema().relationship_for_edge
    for (_, relation, _), rows in changes.edges.items():
        links |= {(names[relation], row["start"], row["end"], None) for row in rows}
    stored_users = store.run_cypher("MATCH (u:User) RETURN u.id AS id", write=True)
    stored_links = store.run_cypher("MATCH (a)-[r]->(b) RETURN type(r) AS type, coalesce(a.id, a.name) AS a, "
                                    "coalesce(b.id, b.name) AS b, r.relation AS relation", write=True)
    user_ids = [row["id"] for row in stored_users]
    link_keys = [(row["type"], row["a"], row["b"], row["relation"]) for row in stored_links]
    return {
        "duplicate users": len(user_ids) - len(set(user_ids)),
        "missing users": len(users - set(user_ids)),
        "duplicate relationships": len(link_keys) - len(set(link_keys)),
        "missing relationships": len(links - set(link_keys)),
        "rows of other runs": sum(rows_of_other_runs(store.count_by_run(), run.run_id).values()),
    }


def kill_during_syncs(work: Path, server: Neo4jServer, steps: list[str]) -> list[dict[str, Any]]:
    settings = ConnectionSettings.resolve(environ={}, server=server)
    run_a = train(work, "a", users=300, dim=16, seed=5)
    run_b = train(work, "b", users=200, dim=24, seed=6)
    results = []
    for step in steps:
        sync_run(run_a, lambda: Neo4jProfileStore.connect(settings), progress=False)
        pid = server.status().pid
        started = time.monotonic()
        run = Run.load(run_b)
        with Neo4jProfileStore.connect(settings) as store:
            try:
                sync_changes(KilledStore(store, step, lambda: kill(server, pid)), run_changes(run),
                             run.run_id, progress=False, run_folder=run_b)
                message = "(not killed)"
            except PersonaGraphError as error:
                message = str(error)
        seconds = time.monotonic() - started
        server.start(timeout=300)
        with Neo4jProfileStore.connect(settings) as store:
            state = store.sync_state()
            named = state.pending_run == run.run_id and state.step == step
            served_a = not state.incomplete and state.active_run == Run.load(run_a).run_id
        sync_run(run_b, lambda: Neo4jProfileStore.connect(settings), progress=False)
        with Neo4jProfileStore.connect(settings) as store:
            counts = compare(store, run_b)
        results.append({"step": step, "error lines": message.count("\n") + 1, "failed after s": round(seconds, 1),
                        "named on restart": named, "A still served": served_a, **counts})
        print(results[-1], message, file=sys.stderr, flush=True)
    return results


# -- 3. lookups under load -----------------------------------------------------------------
def lookups(server: Neo4jServer, threads: int = 8, per_thread: int = 1000) -> dict[str, Any]:
    settings = ConnectionSettings.resolve(environ={}, server=server)
    with Neo4jProfileStore.connect(settings) as store:
        users = [row["id"] for row in store.run_cypher("MATCH (u:User) RETURN u.id AS id")]

        def worker(seed: int) -> tuple[list[float], int]:
            rng, latencies, errors = random.Random(seed), [], 0
            for _ in range(per_thread):
                started = time.perf_counter()
                try:
                    store.similar_users(rng.choice(users), k=10)
                except Exception:  # noqa: BLE001  (counted)
                    errors += 1
                latencies.append(time.perf_counter() - started)
            return latencies, errors

        with ThreadPoolExecutor(threads) as pool:
            outcomes = list(pool.map(worker, range(threads)))
    latencies = sorted(value for outcome, _ in outcomes for value in outcome)
    return {"lookups": len(latencies), "errors": sum(errors for _, errors in outcomes),
            "p50 ms": round(1000 * statistics.median(latencies), 2),
            "p99 ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz-cases", type=int, default=1000)
    parser.add_argument("--port", type=int, default=17691)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "personagraph-reliability")
    parser.add_argument("--steps", default=",".join(STEPS), help="Sync steps to kill Neo4j in (comma-separated).")
    args = parser.parse_args()
    logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)

    fuzzed = fuzz(args.fuzz_cases)
    print(f"\n1. fuzzed shop files: {fuzzed['cases']:,} cases tried, {fuzzed['tracebacks']} tracebacks, "
          f"{fuzzed['partial']} partial writes")
    server = Neo4jServer(home=args.work / "neo4j", port=args.port)
    server.start(timeout=300)
    try:
        killed = kill_during_syncs(args.work, server, [step for step in args.steps.split(",") if step])
        loaded = lookups(server)
    finally:
        server.stop()
    print("\n2. Neo4j killed (SIGKILL) during each sync step of run B, restarted, B synced again:\n")
    columns = list(killed[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in killed:
        print("| " + " | ".join(str(row[column]) for column in columns) + " |")
    print(f"\n3. 8 threads x 1,000 `similar` lookups: {loaded['lookups']:,} lookups, {loaded['errors']} errors, "
          f"p50 {loaded['p50 ms']} ms, p99 {loaded['p99 ms']} ms")


if __name__ == "__main__":
    main()
