"""The bulk load fills an empty managed Neo4j as the UNWIND sync would, on a server of this module's own.

The server lives in a temporary state folder on a free port and is stopped at the end; the
shared test server only receives the same changes through ``sync_changes``, for comparison.
"""
from __future__ import annotations

import socket
from collections.abc import Iterator

import numpy as np
import pytest
from synthetic_run import expected_counts, synthetic_run

from personagraph.errors import PersonaGraphError
from personagraph.store.bulk_import import bulk_load
from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.neo4j_profile_store import STATE_LABEL, Neo4jProfileStore
from personagraph.store.neo4j_server import Neo4jServer
from personagraph.store.profile_sync import sync_changes

pytestmark = pytest.mark.slow
USERS = [f"u{k}" for k in range(12)]
_SNAPSHOT = (
    f"MATCH (n) WHERE NOT n:{STATE_LABEL} RETURN labels(n) AS labels, "
    "[k IN keys(n) WHERE NOT k IN ['updated_at', 'embedding'] | [k, n[k]]] AS properties, "
    "[x IN coalesce(n.embedding, []) | round(x, 5)] AS vector ORDER BY labels, properties"
)
_LINKS = (
    "MATCH (a)-[r]->(b) RETURN type(r) AS type, coalesce(a.id, a.name) AS start, coalesce(b.id, b.name) AS end, "
    "[k IN keys(r) | [k, r[k]]] AS properties ORDER BY type, start, end"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def own_server(tmp_path_factory) -> Iterator[Neo4jServer]:
    """A managed server of this module alone (never the shared test server), stopped afterwards."""
    server = Neo4jServer(home=tmp_path_factory.mktemp("bulk-neo4j"), port=_free_port())
    yield server
    server.stop()


def _snapshot(store: Neo4jProfileStore) -> tuple[list, list]:
    nodes = store.run_cypher(_SNAPSHOT)
    for node in nodes:
        node["properties"] = sorted(map(tuple, node["properties"]))
    links = store.run_cypher(_LINKS)
    for link in links:
        link["properties"] = sorted(map(tuple, link["properties"]))
    return sorted(nodes, key=repr), sorted(links, key=repr)


def test_bulk_load_fills_an_empty_server_as_the_sync_would(own_server, profile_store):
    changes = synthetic_run(USERS, items=8, dim=6)
    written = bulk_load(own_server, changes, "run-a", progress=False)
    assert own_server.is_running()
    with Neo4jProfileStore.connect(ConnectionSettings.resolve(environ={}, server=own_server)) as loaded:
        counts = expected_counts(synthetic_run(USERS, items=8, dim=6))
        for label in ("User", "Item", "Query", "Category", "Tag", "Segment"):
            assert loaded.count(label) == counts[label]
        state = loaded.sync_state()
        assert state.active_run == "run-a" and not state.incomplete
        assert loaded.embedding_dim() == 6
        vector = np.random.default_rng(0).standard_normal(6)
        assert [hit.id for hit in loaded.nearest_users(vector, k=3)]  # the vector index answers
        bulk_nodes, bulk_links = _snapshot(loaded)
    sync_changes(profile_store, synthetic_run(USERS, items=8, dim=6), "run-a", progress=False)
    synced_nodes, synced_links = _snapshot(profile_store)
    assert bulk_nodes == synced_nodes
    assert bulk_links == synced_links
    assert written["users"] == len(USERS) and written["VIEWED"] == 2 * len(USERS)


def test_bulk_load_refuses_a_database_that_holds_data(own_server):
    own_server.start()
    with pytest.raises(PersonaGraphError, match="is not empty"):
        bulk_load(own_server, synthetic_run(USERS, items=8, dim=6), "run-b", progress=False)
