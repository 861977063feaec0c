"""A Neo4j server killed (SIGKILL) in the middle of a sync: one-line error, the next start names the
incomplete sync, and running the sync again leaves exactly the run.

Uses its OWN server (state folder under tmp, its own port), started and killed here: never the
shared test server.
"""
from __future__ import annotations

import os
import signal
import socket
import time

import pytest
from store_that_dies import StoreThatDies
from synthetic_run import expected_counts, synthetic_run

from personagraph.errors import PersonaGraphError
from personagraph.store.connection_settings import MAX_RETRY_SECONDS, ConnectionSettings
from personagraph.store.neo4j_profile_store import Neo4jProfileStore
from personagraph.store.neo4j_server import Neo4jServer
from personagraph.store.profile_sync import sync_changes
from personagraph.store.run_lineage import rows_of_other_runs


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _kill(server: Neo4jServer, pid: int) -> None:
    """SIGKILL this test's own server (by its pid) and wait until it is gone."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while server.is_running() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.slow
def test_a_sync_survives_its_server_being_killed(tmp_path) -> None:
    server = Neo4jServer(home=tmp_path / "neo4j", port=_free_port(), heap="256m", pagecache="64m")
    server.start(timeout=300)
    try:
        settings = ConnectionSettings.resolve(environ={}, server=server)
        old = synthetic_run([f"u{k}" for k in range(40)], items=20, dim=8)
        new = synthetic_run([f"u{k}" for k in range(0, 40, 2)] + ["newcomer"], items=12, dim=16, seed=1)
        with Neo4jProfileStore.connect(settings) as store:
            sync_changes(store, old, "run-a", progress=False)
            pid = server.status().pid
            started = time.monotonic()
            with pytest.raises(PersonaGraphError) as stopped:
                sync_changes(StoreThatDies(store, "users", after=2, die=lambda: _kill(server, pid)),
                             new, "run-b", progress=False, run_folder="/runs/b")
            assert time.monotonic() - started < 3 * MAX_RETRY_SECONDS + 20
        message = str(stopped.value)
        assert "\n" not in message and "stopped at step 'users'" in message
        assert "`personagraph sync --run /runs/b`" in message

        server.start(timeout=300)
        with Neo4jProfileStore.connect(settings) as store:
            state = store.sync_state()
            assert (state.active_run, state.pending_run, state.step) == ("run-a", "run-b", "users")
            with pytest.raises(PersonaGraphError, match="incomplete sync of run run-b \\(at step 'users'"):
                store.similar_users("u0")
            sync_changes(store, new, "run-b", progress=False, run_folder="/runs/b")
            counts = store.count_by_run()
            assert counts == {kind: {"run-b": n} for kind, n in expected_counts(new).items()}
            assert rows_of_other_runs(counts, "run-b") == {}
            assert len(store.similar_users("newcomer", k=5)) == 5
    finally:
        server.stop()
