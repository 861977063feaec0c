"""Resolution order of the connection settings (pure logic, no server)."""
from __future__ import annotations

from pathlib import Path

import pytest

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
