"""The sync keeps Neo4j a mirror of one run, on the real test server: stale rows go, a retrain may
change the vector width, an interrupted sync is refused by readers and finished by running it again.

The interruptions are a store whose writes raise after a few batches (the real server still
receives the batches before); a real kill of a server is in test_sync_survives_a_killed_server.py.
"""
from __future__ import annotations

import pytest
from store_that_dies import StoreThatDies
from synthetic_run import expected_counts, synthetic_run

from personagraph.errors import PersonaGraphError
from personagraph.store.neo4j_profile_store import Neo4jProfileStore
from personagraph.store.profile_sync import sync_changes
from personagraph.store.run_lineage import rows_of_other_runs

OLD_USERS = [f"u{k}" for k in range(12)]
NEW_USERS = [f"u{k}" for k in range(0, 12, 2)] + ["newcomer"]


def assert_mirrors(store: Neo4jProfileStore, run_id: str, changes) -> None:
    """The store holds exactly the run: its nodes and links, all under ``run_id``, nothing else."""
    counts = store.count_by_run()
    assert {kind: {run_id: n} for kind, n in expected_counts(changes).items()} == counts
    assert rows_of_other_runs(counts, run_id) == {}
    state = store.sync_state()
    assert state.active_run == run_id and not state.incomplete


def test_a_retrain_with_fewer_users_and_another_width_leaves_nothing_stale(profile_store: Neo4jProfileStore) -> None:
    old = synthetic_run(OLD_USERS, items=10, dim=8, tag_prefix="old")
    sync_changes(profile_store, old, "run-a", progress=False)
    assert_mirrors(profile_store, "run-a", old)

    new = synthetic_run(NEW_USERS, items=6, dim=12, seed=1, tag_prefix="new", segments=3)
    written = sync_changes(profile_store, new, "run-b", progress=False, run_folder="/runs/b")
    assert written["users"] == len(NEW_USERS) and written["removed_nodes"] > 0
    assert_mirrors(profile_store, "run-b", new)
    assert profile_store.sync_state().active_run_folder == "/runs/b"
    assert profile_store.sync_state().embedding_dim == 12
    for user in NEW_USERS:  # every vector is in the new, wider index
        hits = profile_store.similar_users(user, k=len(NEW_USERS) - 1)
        assert len(hits) == len(NEW_USERS) - 1 and {hit.properties["run_id"] for hit in hits} == {"run-b"}
    for gone in set(OLD_USERS) - set(NEW_USERS):
        assert profile_store.stored_user(gone) is None
        with pytest.raises(PersonaGraphError, match=f"no user '{gone}'"):
            profile_store.similar_users(gone)
    assert {segment.id for segment in profile_store.segments()} == {0, 1, 2}
    assert len(profile_store.nearest_items([1.0] * 12, k=20)) == 6


def test_syncing_the_same_run_again_changes_nothing(profile_store: Neo4jProfileStore) -> None:
    run = synthetic_run(OLD_USERS, items=10, dim=8)
    sync_changes(profile_store, run, "run-a", progress=False)
    written = sync_changes(profile_store, run, "run-a", progress=False)
    assert written["removed_nodes"] == 0 and written["removed_relationships"] == 0
    assert_mirrors(profile_store, "run-a", run)


@pytest.mark.parametrize("step", ["users", "VIEWED", "INTERESTED_IN", "prune"])
def test_an_interrupted_sync_is_refused_named_and_finished_by_running_it_again(
        profile_store: Neo4jProfileStore, step: str) -> None:
    sync_changes(profile_store, synthetic_run(OLD_USERS, items=10, dim=8), "run-a", progress=False)
    new = synthetic_run(NEW_USERS, items=6, dim=12, seed=1)

    with pytest.raises(PersonaGraphError) as stopped:
        sync_changes(StoreThatDies(profile_store, step), new, "run-b", progress=False, run_folder="/runs/b")
    message = str(stopped.value)
    assert "\n" not in message and f"stopped at step '{step}'" in message and "simulated" in message
    assert "run-a" in message and "`personagraph sync --run /runs/b`" in message

    state = profile_store.sync_state()
    assert (state.active_run, state.pending_run, state.step) == ("run-a", "run-b", step)
    for read in (lambda: profile_store.similar_users("u0"), lambda: profile_store.nearest_items([1.0] * 12),
                 lambda: profile_store.stored_user("u0"), profile_store.segments, profile_store.active_run_id,
                 lambda: profile_store.run_cypher("MATCH (u:User) RETURN count(u) AS n")):
        with pytest.raises(PersonaGraphError, match=f"incomplete sync of run run-b \\(at step '{step}'"):
            read()

    sync_changes(profile_store, new, "run-b", progress=False, run_folder="/runs/b")
    assert_mirrors(profile_store, "run-b", new)
    assert len(profile_store.similar_users("newcomer", k=3)) == 3


def test_a_sync_that_cannot_start_leaves_the_previous_run_served(profile_store: Neo4jProfileStore) -> None:
    old = synthetic_run(OLD_USERS, items=10, dim=8)
    sync_changes(profile_store, old, "run-a", progress=False)

    class Unreachable(StoreThatDies):
        def begin_sync(self, run_id, run_folder, kind):
            raise PersonaGraphError("lost the connection to Neo4j (simulated) — check that it runs")

    with pytest.raises(PersonaGraphError, match="did not start .*nothing was written and Neo4j still serves run run-a"):
        sync_changes(Unreachable(profile_store, "never"), synthetic_run(NEW_USERS, 6, 12), "run-b", progress=False)
    assert_mirrors(profile_store, "run-a", old)
    assert len(profile_store.similar_users("u3", k=3)) == 3


def test_an_update_is_a_subset_of_the_same_run(profile_store: Neo4jProfileStore) -> None:
    trained = synthetic_run(OLD_USERS, items=10, dim=8)
    sync_changes(profile_store, trained, "run-a", progress=False)
    update = synthetic_run(["u1", "visitor"], items=3, dim=8, seed=2)
    update.base_run_id = "run-a"
    update.items, update.tags, update.categories = [], [], []  # an update writes new items only
    update.edges = {edge: rows for edge, rows in update.edges.items() if edge[0] == "user"}
    sync_changes(profile_store, update, "run-a+update-0001", progress=False)

    counts = profile_store.count_by_run()
    assert rows_of_other_runs(counts, "run-a+update-0001") == {}  # the update belongs to run-a
    assert counts["User"] == {"run-a": 11, "run-a+update-0001": 2}
    assert profile_store.active_run_id() == "run-a+update-0001"
    assert profile_store.stored_user("u2").properties["run_id"] == "run-a"  # untouched: stays
    links = profile_store.run_cypher("MATCH (:User {id: 'u1'})-[r:VIEWED]->(i) RETURN i.id AS item, r.run_id AS run")
    assert sorted(links, key=lambda row: row["item"]) == [{"item": "i0", "run": "run-a+update-0001"},
                                                          {"item": "i1", "run": "run-a+update-0001"}]


def test_an_update_of_another_state_is_refused_before_writing(profile_store: Neo4jProfileStore) -> None:
    sync_changes(profile_store, synthetic_run(OLD_USERS, items=10, dim=8), "run-a", progress=False)
    before = profile_store.count_by_run()
    update = synthetic_run(["u1"], items=1, dim=8)
    update.base_run_id = "run-a+update-0001"  # the store never got update 1
    with pytest.raises(PersonaGraphError, match="Neo4j holds run run-a, but update run-a\\+update-0002 changes run "
                                                "run-a\\+update-0001; nothing was written"):
        sync_changes(profile_store, update, "run-a+update-0002", progress=False, run_folder="/runs/a")
    assert profile_store.count_by_run() == before


@pytest.mark.slow  # waits out the driver's bounded retries
def test_a_server_that_is_gone_is_one_line_within_seconds() -> None:
    """With the CLI's bounded retries, a lookup on a server that went away fails promptly, in one line."""
    import socket
    import time

    from neo4j import GraphDatabase

    from personagraph.store.connection_settings import CONNECTION_TIMEOUT_SECONDS, MAX_RETRY_SECONDS

    with socket.socket() as probe:  # a port nothing listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    driver = GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=("neo4j", "x"),
                                  max_transaction_retry_time=MAX_RETRY_SECONDS,
                                  connection_timeout=CONNECTION_TIMEOUT_SECONDS)
    started = time.monotonic()
    with Neo4jProfileStore(driver) as store, pytest.raises(PersonaGraphError) as lost:
        store.similar_users("u0")
    assert time.monotonic() - started < MAX_RETRY_SECONDS + 5
    assert str(lost.value).startswith("lost the connection to Neo4j (") and "\n" not in str(lost.value)
