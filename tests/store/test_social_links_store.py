"""(:User)-[:SOCIAL {relation}]->(:User) on the real test server: one link per relation, replaced per user."""
from __future__ import annotations

from datetime import datetime, timezone

from personagraph.store.neo4j_profile_store import Neo4jProfileStore
from test_profile_store_contract import users as sample_users


def links(store: Neo4jProfileStore) -> set[tuple]:
    rows = store.run_cypher("MATCH (a:User)-[r:SOCIAL]->(b:User) RETURN a.id AS a, r.relation AS relation, b.id AS b")
    return {(row["a"], row["relation"], row["b"]) for row in rows}


def test_social_links_keep_each_relation_and_replace_a_users_links(profile_store: Neo4jProfileStore) -> None:
    profile_store.upsert_users(sample_users(4, 8)[2], run_id="r")
    since = datetime(2025, 1, 5, tzinfo=timezone.utc)
    rows = [{"start": "u0", "end": "u1", "relation": "follows", "since": since},
            {"start": "u0", "end": "u1", "relation": "friend"},
            {"start": "u1", "end": "u0", "relation": "friend"},
            {"start": "u2", "end": "u0", "relation": "shared with: o'brien"}]  # free text, no escaping needed
    assert profile_store.replace_social_links(["u0", "u1", "u2", "u3"], rows) == 4
    assert profile_store.replace_social_links(["u0", "u1", "u2", "u3"], rows) == 4  # idempotent
    assert links(profile_store) == {("u0", "follows", "u1"), ("u0", "friend", "u1"), ("u1", "friend", "u0"),
                                    ("u2", "shared with: o'brien", "u0")}
    stored = profile_store.run_cypher("MATCH (:User {id: 'u0'})-[r:SOCIAL {relation: 'follows'}]->() "
                                      "RETURN r.since AS since")[0]["since"]
    assert str(stored).startswith("2025-01-05T00:00:00")  # a Neo4j datetime, shown as ISO text
    # u0 now only invites u3: its follows / friend links go; the others' links stay.
    assert profile_store.replace_social_links(["u0"], [{"start": "u0", "end": "u3", "relation": "invited"}]) == 1
    assert links(profile_store) == {("u0", "invited", "u3"), ("u1", "friend", "u0"),
                                    ("u2", "shared with: o'brien", "u0")}
    # A user given with no rows loses every link.
    profile_store.replace_social_links(["u2"], [])
    assert ("u2", "shared with: o'brien", "u0") not in links(profile_store)
