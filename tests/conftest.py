"""Shared fixtures: a real Neo4j test server, separate from the user's own database.

The server lives in ``<repo>/.cache/neo4j-test`` on Bolt port 17687 (override with
``PERSONAGRAPH_TEST_HOME`` / ``PERSONAGRAPH_TEST_NEO4J_PORT``). It is started once
and left running, so later test runs reuse it; CI stops it. If it cannot start, the
tests that need it error out rather than skip.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from planted_split import assert_beats_random, planted, planted_data  # noqa: F401  (shared fixtures)
from trained_sample import TrainedSample, trained_sample

from personagraph.cli.main import cli

from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.neo4j_profile_store import Neo4jProfileStore
from personagraph.store.neo4j_server import Neo4jServer, file_lock

REPO_ROOT = Path(__file__).resolve().parents[1]
NEO4J_FIXTURES = frozenset({"neo4j_server", "neo4j_settings", "profile_store"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the server carry the ``neo4j`` marker without having to say so."""
    for item in items:
        if NEO4J_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.neo4j)


@pytest.fixture(scope="session")
def neo4j_server() -> Neo4jServer:
    """The running test server (started here unless it already runs)."""
    server = Neo4jServer(
        home=os.environ.get("PERSONAGRAPH_TEST_HOME", REPO_ROOT / ".cache" / "neo4j-test"),
        port=int(os.environ.get("PERSONAGRAPH_TEST_NEO4J_PORT", "17687")),
    )
    server.start(timeout=300)
    return server


@pytest.fixture(scope="session")
def neo4j_settings(neo4j_server: Neo4jServer) -> ConnectionSettings:
    """The test server's URI, password and pinned TLS certificate, resolved as commands do."""
    return ConnectionSettings.resolve(environ={}, server=neo4j_server)


@pytest.fixture(scope="session")
def neo4j_cli_env(neo4j_server: Neo4jServer, neo4j_settings: ConnectionSettings) -> dict[str, str]:
    """Environment that points `personagraph` commands at the test server (its state folder holds the certificate).
    `train` never bulk-imports there: the import stops the server that concurrent test sessions share."""
    return {"NEO4J_URI": neo4j_settings.uri, "NEO4J_USERNAME": neo4j_settings.user,
            "NEO4J_PASSWORD": neo4j_settings.password, "PERSONAGRAPH_HOME": str(neo4j_server.home),
            "PERSONAGRAPH_NEO4J_PORT": str(neo4j_server.port), "PERSONAGRAPH_LOAD": "unwind"}


@pytest.fixture
def profile_store(neo4j_server: Neo4jServer, neo4j_settings: ConnectionSettings) -> Iterator[Neo4jProfileStore]:
    """An emptied store; tests from concurrent pytest runs take turns, since they share one database."""
    with file_lock(neo4j_server.home / "tests.lock"):
        with Neo4jProfileStore.connect(neo4j_settings) as store:
            store.delete_all()
            yield store


@pytest.fixture(scope="module")
def sample(neo4j_server: Neo4jServer, neo4j_settings: ConnectionSettings, tmp_path_factory) -> Iterator[TrainedSample]:
    """A small sample shop trained and synced once per test module (the module owns the database meanwhile)."""
    with trained_sample(neo4j_server, neo4j_settings, tmp_path_factory.mktemp("sample")) as trained:
        yield trained


@pytest.fixture
def run_cli(sample: TrainedSample, neo4j_cli_env: dict[str, str]):
    """Invoke `personagraph ...` against the test server holding ``sample``."""

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env=neo4j_cli_env, input=input)

    return run
