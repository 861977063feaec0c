"""`open_store` picks the backend by the URI's scheme."""
from __future__ import annotations

import pytest

from personagraph.errors import PersonaGraphError
from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.neo4j_profile_store import Neo4jProfileStore
from personagraph.store.open_store import BACKENDS, open_store


def test_bolt_and_neo4j_uris_open_the_neo4j_store(neo4j_settings: ConnectionSettings) -> None:
    assert {"bolt", "neo4j", "neo4j+s"} <= set(BACKENDS)
    with open_store(neo4j_settings) as store:
        assert isinstance(store, Neo4jProfileStore)
        assert store.count("Segment") >= 0


def test_an_unknown_scheme_gets_the_neo4j_advice() -> None:
    with pytest.raises(PersonaGraphError, match="Neo4j URI 'http://x'"):
        open_store(ConnectionSettings("http://x", "neo4j", "pw"))
