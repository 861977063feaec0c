"""The store through the routing ``neo4j://`` scheme (how a cluster or Aura is reached), on the real test server.

A single Community server answers routing requests with itself as router, reader and writer,
so the driver takes the routed path: each transaction is sent by its access mode, as on a
cluster. The managed server's certificate stays pinned through this scheme.
"""
from __future__ import annotations

from collections.abc import Iterator

import neo4j
import pytest

from personagraph.file_locks import file_lock
from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.neo4j_profile_store import Neo4jProfileStore
from personagraph.store.neo4j_server import Neo4jServer
from test_profile_store_contract import users as sample_users


@pytest.fixture
def routed_store(neo4j_server: Neo4jServer) -> Iterator[Neo4jProfileStore]:
    """An emptied store opened with ``neo4j://`` at the managed server's address (taking turns like ``profile_store``)."""
    settings = ConnectionSettings.resolve(uri=f"neo4j://127.0.0.1:{neo4j_server.port}", environ={}, server=neo4j_server)
    assert settings.trusted_certificate == neo4j_server.certificate_file  # still pinned, and given the password
    assert settings.password is not None
    with file_lock(neo4j_server.home / "tests.lock"):
        with Neo4jProfileStore.connect(settings) as store:
            store.delete_all()
            yield store


def test_writes_and_reads_go_through_the_routing_driver(routed_store: Neo4jProfileStore) -> None:
    assert isinstance(routed_store.driver, neo4j.Neo4jDriver)  # routing, not the direct bolt driver
    ids, vectors, rows = sample_users(20, 8)
    routed_store.ensure_schema(8)
    assert routed_store.upsert_users(rows, run_id="run-1") == 20
    assert routed_store.count("User") == 20
    stored = routed_store.stored_user("u3")
    assert stored is not None and stored.embedding == pytest.approx(vectors[3].tolist(), rel=1e-6)
    hits = routed_store.similar_users("u3", k=3)
    assert len(hits) == 3 and "u3" not in [hit.id for hit in hits]


def test_sync_marker_written_then_read_in_other_sessions(routed_store: Neo4jProfileStore) -> None:
    """Begin, commit and read the marker: separate sessions, chained by the store's bookmarks."""
    routed_store.begin_sync("run-2", "/runs/x", "full")
    assert routed_store.sync_state().pending_run == "run-2"
    routed_store.commit_sync("run-2", "/runs/x", 8)
    assert routed_store.active_run_id() == "run-2"


def test_the_store_sends_its_reads_as_reads(routed_store: Neo4jProfileStore) -> None:
    """A cluster serves reads from followers only when told; a write inside the store's read path is refused."""
    with pytest.raises(neo4j.exceptions.Neo4jError, match="(?i)read"):
        routed_store._read("CREATE (:Segment {id: -1}) RETURN 1 AS x")
    assert routed_store.count("Segment") == 0
