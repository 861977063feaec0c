"""Resolution order of the connection settings (pure logic, no server)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from personagraph.errors import PersonaGraphError
from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.neo4j_server import Neo4jServer

SECRET = "local-secret-123"


@pytest.fixture
def managed(tmp_path: Path) -> Neo4jServer:
    server = Neo4jServer(home=tmp_path, cache=tmp_path / "cache", port=17001)
    server.password_file.write_text(SECRET)
    return server


def test_managed_server_is_the_fallback(managed: Neo4jServer) -> None:
    settings = ConnectionSettings.resolve(environ={}, server=managed)
    assert settings == ConnectionSettings("bolt://127.0.0.1:17001", "neo4j", SECRET, None, managed.certificate_file)


def test_environment_overrides_managed_server(managed: Neo4jServer) -> None:
    environ = {
        "NEO4J_URI": "neo4j+s://abc.databases.neo4j.io",
        "NEO4J_USERNAME": "alice",
        "NEO4J_PASSWORD": "env-pw",
        "NEO4J_DATABASE": "shop",
    }
    settings = ConnectionSettings.resolve(environ=environ, server=managed)
    assert settings == ConnectionSettings("neo4j+s://abc.databases.neo4j.io", "alice", "env-pw", "shop")


def test_explicit_values_override_environment(managed: Neo4jServer) -> None:
    environ = {"NEO4J_URI": "bolt://env:7687", "NEO4J_USERNAME": "env", "NEO4J_PASSWORD": "env-pw"}
    settings = ConnectionSettings.resolve(
        uri="bolt://cli:7687", user="cli", password="cli-pw", database="db", environ=environ, server=managed
    )
    assert settings == ConnectionSettings("bolt://cli:7687", "cli", "cli-pw", "db")


def test_remote_uri_never_gets_the_local_password(managed: Neo4jServer) -> None:
    settings = ConnectionSettings.resolve(environ={"NEO4J_URI": "bolt://elsewhere:7687"}, server=managed)
    assert settings.password is None


def test_managed_uri_given_explicitly_uses_the_stored_password(managed: Neo4jServer) -> None:
    assert ConnectionSettings.resolve(uri=managed.uri, environ={}, server=managed).password == SECRET


def test_process_environment_is_read(managed: Neo4jServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_URI", "bolt://from-env:7687")
    monkeypatch.setenv("NEO4J_PASSWORD", "pw")
    assert ConnectionSettings.resolve(server=managed).uri == "bolt://from-env:7687"


def test_password_never_shown(managed: Neo4jServer) -> None:
    settings = ConnectionSettings.resolve(environ={}, server=managed)
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert "neo4j@bolt://127.0.0.1:17001" == str(settings)


def test_routing_scheme_at_the_managed_address_keeps_the_pin(managed: Neo4jServer) -> None:
    settings = ConnectionSettings.resolve(uri="neo4j://127.0.0.1:17001", environ={}, server=managed)
    assert (settings.password, settings.trusted_certificate) == (SECRET, managed.certificate_file)


@pytest.mark.parametrize("uri", ["neo4j+s://127.0.0.1:17001", "neo4j+ssc://127.0.0.1:17001", "neo4j://127.0.0.1:17002",
                                 "neo4j://elsewhere:17001"])
def test_other_servers_and_self_trusting_schemes_get_no_local_secret(managed: Neo4jServer, uri: str) -> None:
    settings = ConnectionSettings.resolve(uri=uri, environ={}, server=managed)
    assert (settings.password, settings.trusted_certificate) == (None, None)


def test_cluster_and_aura_schemes_are_accepted(managed: Neo4jServer) -> None:
    for uri in ("neo4j://cluster.example:7687", "neo4j+s://abc.databases.neo4j.io", "neo4j+ssc://10.0.0.5"):
        assert ConnectionSettings.resolve(uri=uri, password="pw", environ={}, server=managed).uri == uri


def test_pinned_certificate_needs_a_scheme_whose_tls_can_be_set(managed: Neo4jServer) -> None:
    settings = ConnectionSettings("neo4j+s://127.0.0.1:17001", password=SECRET,
                                  trusted_certificate=managed.certificate_file)
    with pytest.raises(PersonaGraphError, match="bolt:// or neo4j://") as raised:
        settings.open_driver()
    assert SECRET not in str(raised.value)


def test_credentials_in_the_uri_never_shown(managed: Neo4jServer) -> None:
    settings = ConnectionSettings.resolve(uri=f"neo4j+s://alice:{SECRET}@abc.databases.neo4j.io", environ={},
                                          server=managed)
    assert SECRET not in str(settings) and SECRET not in repr(settings)
    with pytest.raises(PersonaGraphError) as raised:
        dataclasses.replace(settings, uri=f"http://alice:{SECRET}@abc.databases.neo4j.io").open_driver()
    assert SECRET not in str(raised.value)
