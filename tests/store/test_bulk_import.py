"""The bulk load fills an empty managed Neo4j as the UNWIND sync would, on a server of this module's own.

The server lives in a temporary state folder on a free port and is stopped at the end; the
shared test server only receives the same changes through ``sync_changes``, for comparison.
"""
from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import numpy as np
import pytest
from click.testing import CliRunner
from synthetic_run import expected_counts, synthetic_run
from trained_sample import EMBEDDING_CACHE

from personagraph.cli.main import cli
from personagraph.datasets.sample_shop import generate_sample_shop

from personagraph.errors import PersonaGraphError
from personagraph.pipeline.recommender import Recommender
from personagraph.pipeline.run_load import load_refusal
from personagraph.store.bulk_import import AUTO_BULK_MIN_USERS, bulk_load
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


def _emptied(server: Neo4jServer) -> None:
    """The module's server running with an empty database (what `train` bulk-loads into)."""
    server.start(timeout=600)
    with Neo4jProfileStore.connect(ConnectionSettings.resolve(environ={}, server=server)) as store:
        store.delete_all()


def _assert_same(bulk: tuple[list, list], synced: tuple[list, list]) -> None:
    """Equal snapshots, or the first rows only one side holds (a whole snapshot is too long to read)."""
    for kind, bulk_rows, synced_rows in zip(("nodes", "relationships"), bulk, synced):
        only_bulk = [row for row in bulk_rows if row not in synced_rows][:2]
        only_synced = [row for row in synced_rows if row not in bulk_rows][:2]
        assert not only_bulk and not only_synced, f"{kind}: bulk only {only_bulk}; UNWIND only {only_synced}"
        assert len(bulk_rows) == len(synced_rows)


def _served(store: Neo4jProfileStore, user_ids: list[str]) -> dict[str, list[str]]:
    """What readers answer: the similar users of some users, the items nearest their vectors, and their
    recommendations (with the neighbour score where the run ranks with one)."""
    answers = {}
    for user_id in user_ids:
        answers[f"similar {user_id}"] = [hit.id for hit in store.similar_users(user_id, k=5)]
        vector = np.asarray(store.stored_user(user_id).embedding)
        answers[f"items {user_id}"] = [hit.id for hit in store.nearest_items(vector, k=5)]
        answers[f"recommended {user_id}"] = [item.id for item in Recommender(store).recommend(user_id, k=5)]
    return answers


def _status(env: dict[str, str | None]) -> dict:
    result = CliRunner().invoke(cli, ["status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    return {name: status[name] for name in ("active_run", "active_run_folder", "embedding_dim", "pending_run",
                                             "complete", "counts", "rows_of_other_runs")}


def test_train_into_an_empty_managed_server_bulk_loads_what_the_unwind_sync_writes(
        own_server, profile_store, neo4j_cli_env, tmp_path):
    _emptied(own_server)
    generate_sample_shop(tmp_path / "shop", users=120, items=60, seed=2)
    run_dir = tmp_path / "runs" / "shop"
    own_env = {"PERSONAGRAPH_HOME": str(own_server.home), "PERSONAGRAPH_NEO4J_PORT": str(own_server.port),
               "NEO4J_URI": None, "NEO4J_USERNAME": None, "NEO4J_PASSWORD": None, "NEO4J_DATABASE": None,
               "PERSONAGRAPH_LOAD": None}
    # `auto` leaves a shop this small to UNWIND (faster there); `--load bulk` imports it anyway.
    assert load_refusal("auto", own_server) is None and load_refusal("auto", own_server, AUTO_BULK_MIN_USERS) is None
    assert "UNWIND is faster" in load_refusal("auto", own_server, 120)
    trained = CliRunner().invoke(cli, ["train", str(tmp_path / "shop"), "--out", str(run_dir), "--epochs", "2",
                                       "--dim", "8", "--spectral-dim", "16", "--neighbour-weight", "0.3",
                                       "--cache-dir", str(EMBEDDING_CACHE),
                                       "--load", "bulk", "--quiet", "--json"], env=own_env)
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout)
    assert summary["load"]["path"] == "bulk"
    assert list(summary["load"]["steps"]) == ["write files", "stop", "import", "start", "indexes",
                                              "empty lists and commit"]
    assert summary["synced"]["users"] == summary["counts"]["users"]
    assert summary["stages"]["sync"]["rows"] == sum(summary["synced"].values())
    assert own_server.is_running()

    # The same run through the UNWIND path (`personagraph sync` of the run folder) into the test server.
    synced = CliRunner().invoke(cli, ["sync", "--run", str(run_dir), "--quiet"], env=neo4j_cli_env)
    assert synced.exit_code == 0, synced.output
    users = sorted(row["id"] for row in profile_store.run_cypher("MATCH (u:User) RETURN u.id AS id"))[:4]
    with Neo4jProfileStore.connect(ConnectionSettings.resolve(environ={}, server=own_server)) as loaded:
        _assert_same(_snapshot(loaded), _snapshot(profile_store))  # item neighbour lists included
        assert _served(loaded, users) == _served(profile_store, users)
        assert loaded.sync_state().blend_settings() == profile_store.sync_state().blend_settings()
        assert loaded.sync_state().blend_settings()["weight"] == 0.3
        bulk_state, unwind_state = loaded.sync_state(), profile_store.sync_state()
    assert bulk_state.active_run == unwind_state.active_run == summary["run_id"]
    assert bulk_state.active_run_folder == unwind_state.active_run_folder == str(run_dir.resolve())
    assert bulk_state.embedding_dim == unwind_state.embedding_dim and not bulk_state.incomplete
    assert _status(own_env) == _status(neo4j_cli_env)

    # The run folder again, by `sync` (as after `train --no-sync`): the same import, the same database.
    _emptied(own_server)
    resynced = CliRunner().invoke(cli, ["sync", "--run", str(run_dir), "--load", "bulk", "--quiet", "--json"],
                                  env=own_env)
    assert resynced.exit_code == 0, resynced.output
    assert json.loads(resynced.stdout)["load"]["path"] == "bulk"
    with Neo4jProfileStore.connect(ConnectionSettings.resolve(environ={}, server=own_server)) as loaded:
        _assert_same(_snapshot(loaded), _snapshot(profile_store))
        assert _served(loaded, users) == _served(profile_store, users)
    assert _status(own_env) == _status(neo4j_cli_env)
    # A second import would replace what the store holds: refused in one line, before any work.
    refused = CliRunner().invoke(cli, ["sync", "--run", str(run_dir), "--load", "bulk", "--quiet"], env=own_env)
    assert refused.exit_code == 1 and len(refused.output.strip().splitlines()) == 1
    assert "--load bulk imports into the managed Neo4j only when it is empty" in refused.output
    text = CliRunner().invoke(cli, ["sync", "--run", str(run_dir), "--quiet"], env=own_env)
    assert text.exit_code == 0 and "synced by UNWIND batches (the database already holds data" in text.stdout


def test_train_text_summary_names_the_load_path_and_the_rates(own_server, tmp_path):
    _emptied(own_server)
    with Neo4jProfileStore.connect(ConnectionSettings.resolve(environ={}, server=own_server)) as store:
        store.upsert_nodes("Tag", [{"name": "not empty", "kind": "category", "run_id": "old"}])
    generate_sample_shop(tmp_path / "shop", users=60, items=30, seed=1)
    env = {"PERSONAGRAPH_HOME": str(own_server.home), "PERSONAGRAPH_NEO4J_PORT": str(own_server.port),
           "NEO4J_URI": None, "NEO4J_PASSWORD": None, "PERSONAGRAPH_LOAD": None}
    trained = CliRunner().invoke(cli, ["train", str(tmp_path / "shop"), "--out", str(tmp_path / "run"),
                                       "--epochs", "1", "--dim", "8", "--spectral-dim", "0", "--cache-dir",
                                       str(EMBEDDING_CACHE), "--quiet"], env=env)
    assert trained.exit_code == 0, trained.output
    assert "synced to Neo4j by UNWIND batches (the database already holds data" in trained.stdout
    assert "events/s (1 epochs)" in trained.stdout and "users/s" in trained.stdout
    refused = CliRunner().invoke(cli, ["train", str(tmp_path / "shop"), "--out", str(tmp_path / "run"),
                                       "--epochs", "1", "--load", "bulk", "--quiet"], env=env)
    assert refused.exit_code == 1 and "--load bulk imports into the managed Neo4j only when it is empty" \
        in refused.output and len(refused.output.strip().splitlines()) == 1


def test_a_failed_import_leaves_the_database_empty_and_says_so_in_one_line(own_server):
    _emptied(own_server)
    broken = synthetic_run(USERS, items=8, dim=6)
    broken.segment_links = [*broken.segment_links, {"start": "nobody", "end": 0}]  # a link to no user
    with pytest.raises(PersonaGraphError) as failure:
        bulk_load(own_server, broken, "run-c", progress=False, run_folder="/runs/c")
    message = str(failure.value)
    assert "\n" not in message and "failed while importing the CSV files" in message and "database is empty" in message
    assert own_server.is_running()
    with Neo4jProfileStore.connect(ConnectionSettings.resolve(environ={}, server=own_server)) as store:
        assert store.run_cypher("MATCH (n) RETURN count(n) AS n") == [{"n": 0}]
        assert store.sync_state().active_run is None and not store.sync_state().incomplete


def test_a_failure_after_the_import_leaves_a_pending_sync_that_sync_finishes(own_server, monkeypatch):
    _emptied(own_server)

    def index_build_fails(store, *dims):
        raise PersonaGraphError("the index build failed")

    with monkeypatch.context() as patched:
        patched.setattr(Neo4jProfileStore, "ensure_schema", index_build_fails)
        with pytest.raises(PersonaGraphError) as failure:
            bulk_load(own_server, synthetic_run(USERS, items=8, dim=6), "run-d", progress=False, run_folder="/runs/d")
    message = str(failure.value)
    assert "stopped at step 'schema'" in message and "personagraph sync --run /runs/d" in message
    with Neo4jProfileStore.connect(ConnectionSettings.resolve(environ={}, server=own_server)) as store:
        state = store.sync_state()
        assert state.pending_run == "run-d" and state.step == "schema" and state.active_run is None
        with pytest.raises(PersonaGraphError, match="incomplete sync of run run-d"):
            store.similar_users(USERS[0])
        sync_changes(store, synthetic_run(USERS, items=8, dim=6), "run-d", progress=False, run_folder="/runs/d")
        assert store.sync_state().active_run == "run-d" and not store.sync_state().incomplete
        assert store.count("User") == len(USERS)
