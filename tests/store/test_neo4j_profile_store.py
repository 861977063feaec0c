"""What is particular to the Neo4j profile store (Cypher, schema, batches, connections), on the real test server.

What every backend must do is in test_profile_store_contract.py."""
from __future__ import annotations

import dataclasses
import json
import socket

import pytest

from personagraph.errors import PersonaGraphError
from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.neo4j_profile_store import VECTOR_INDEXES, Neo4jProfileStore
from test_profile_store_contract import users as sample_users


def _snapshot(store: Neo4jProfileStore) -> tuple[list, list]:
    nodes = store.run_cypher(
        "MATCH (n) RETURN labels(n) AS labels, properties(n) AS props ORDER BY labels(n)[0], n.id, n.name"
    )
    rels = store.run_cypher(
        "MATCH (a)-[r]->(b) RETURN a.id AS a, type(r) AS type, b.id AS b, properties(r) AS props "
        "ORDER BY a, type, b"
    )
    for node in nodes:
        node["props"].pop("updated_at", None)
    return nodes, rels


def _write_shop(store: Neo4jProfileStore) -> None:
    _, _, users = sample_users(5, 8)
    store.upsert_users(users, run_id="run-1")
    store.upsert_items(
        [{"id": "i1", "title": "Red shoe", "category": "shoes", "price": 9.5}, {"id": "i2", "title": "Cap"}]
    )
    store.upsert_queries([{"id": "red shoes", "derived": False}])
    store.upsert_categories([{"id": "shoes", "path": "fashion > shoes"}])
    views = [{"start": "u0", "end": "i1", "count": 2, "last_ts": 1.7e9}, {"start": "u1", "end": "i2"}]
    store.upsert_relationships("VIEWED", "User", "Item", views)
    store.upsert_relationships("SEARCHED", "User", "Query", [{"start": "u0", "end": "red shoes", "count": 1}])
    store.upsert_relationships("IN_CATEGORY", "Item", "Category", [{"start": "i1", "end": "shoes"}])


def test_writes_are_idempotent(profile_store: Neo4jProfileStore) -> None:
    profile_store.ensure_schema(8)
    _write_shop(profile_store)
    first = _snapshot(profile_store)
    profile_store.ensure_schema(8)
    _write_shop(profile_store)
    assert _snapshot(profile_store) == first
    assert [profile_store.count(label) for label in ("User", "Item", "Query", "Category")] == [5, 2, 1, 1]
    assert len(first[1]) == 4
    user = profile_store.run_cypher("MATCH (u:User {id: 'u1'}) RETURN u")[0]["u"]
    assert user["segment"] == 1 and user["top_tags"] == ["shoes", "red"] and user["run_id"] == "run-1"
    assert user["updated_at"] and len(user["embedding"]) == 8


def test_batches_smaller_than_the_rows_write_everything(neo4j_settings: ConnectionSettings, profile_store) -> None:
    with Neo4jProfileStore.connect(neo4j_settings, batch_size=7) as store:
        store.ensure_schema(8)
        assert store.upsert_users(sample_users(50, 8)[2], run_id="r") == 50
        assert store.count("User") == 50


def test_replace_relationships_drops_stale_links(profile_store: Neo4jProfileStore) -> None:
    profile_store.ensure_schema(8)
    _write_shop(profile_store)
    profile_store.upsert_relationships("VIEWED", "User", "Item", [{"start": "u0", "end": "i2", "count": 1}])
    written = profile_store.replace_relationships("VIEWED", "User", "Item", [{"start": "u0", "end": "i1", "count": 5}])
    assert written == 1
    links = profile_store.run_cypher(
        "MATCH (u:User)-[r:VIEWED]->(i:Item) RETURN u.id AS user, i.id AS item, r.count AS count ORDER BY user"
    )
    assert links == [{"user": "u0", "item": "i1", "count": 5}, {"user": "u1", "item": "i2", "count": None}]


def test_index_is_recreated_for_a_new_dimension(profile_store: Neo4jProfileStore) -> None:
    profile_store.ensure_schema(8)
    profile_store.ensure_schema(32)
    assert profile_store.embedding_dim() == 32
    profile_store.upsert_users(sample_users(30, 32)[2], run_id="r")
    assert len(profile_store.similar_users("u0", k=5)) == 5


def test_a_search_without_its_vector_index_says_how_to_get_one(profile_store: Neo4jProfileStore) -> None:
    profile_store.ensure_schema(8)
    profile_store.run_cypher(f"DROP INDEX {VECTOR_INDEXES['Item']}", write=True)
    try:
        with pytest.raises(PersonaGraphError, match="Neo4j has no item vectors .*`personagraph train`"):
            profile_store.nearest_items([1.0] * 8)
    finally:
        profile_store.ensure_schema(8)


def test_run_cypher_is_read_only_unless_asked(profile_store: Neo4jProfileStore) -> None:
    with pytest.raises(PersonaGraphError, match="--write"):
        profile_store.run_cypher("CREATE (:Item {id: 'x'})")
    assert profile_store.count("Item") == 0
    created = profile_store.run_cypher(
        "CREATE (i:Item {id: $id, seen: datetime('2024-01-02T03:04:05Z')}) RETURN i, i.seen AS seen",
        {"id": "x"},
        write=True,
    )
    assert profile_store.count("Item") == 1
    json.dumps(created)  # plain JSON-able values
    assert created[0]["i"]["_labels"] == ["Item"] and created[0]["i"]["id"] == "x"
    assert created[0]["seen"].startswith("2024-01-02T03:04:05")


def test_parameters_are_never_spliced_into_the_query(profile_store: Neo4jProfileStore) -> None:
    text = "x' }) DETACH DELETE n //"
    assert profile_store.run_cypher("RETURN $text AS text", {"text": text}) == [{"text": text}]


def test_bad_cypher_is_a_one_line_error(profile_store: Neo4jProfileStore) -> None:
    with pytest.raises(PersonaGraphError, match="Cypher syntax error") as error:
        profile_store.run_cypher("MATC (n) RETURN n")
    assert "\n" not in str(error.value)


def test_wrong_password_is_a_clear_error(neo4j_settings: ConnectionSettings) -> None:
    wrong = dataclasses.replace(neo4j_settings, password="not-the-password")
    with pytest.raises(PersonaGraphError, match="rejected user 'neo4j'") as error:
        wrong.open_driver()
    assert "not-the-password" not in str(error.value)


def test_closed_port_is_a_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PersonaGraphError, match=f"cannot reach Neo4j at bolt://127.0.0.1:{port}"):
        ConnectionSettings(f"bolt://127.0.0.1:{port}", "neo4j", "x").open_driver()
