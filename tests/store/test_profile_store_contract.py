"""What every `ProfileStore` backend must do, written against the interface only.

The ``store`` fixture runs each test on every backend: today Neo4j (the real test server,
through the ``profile_store`` fixture of tests/conftest.py). A second backend adds its
emptied-store fixture to :data:`BACKENDS`. Backend-specific behaviour (Cypher, schema,
connections) is tested beside each backend, e.g. tests/store/test_neo4j_profile_store.py.
"""
from __future__ import annotations

import numpy as np
import pytest

from personagraph.errors import PersonaGraphError
from personagraph.profiles.segment import Segment
from personagraph.store.profile_store import ProfileStore

#: The fixture of an emptied store of each backend.
BACKENDS = [pytest.param("profile_store", id="neo4j", marks=pytest.mark.neo4j)]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> ProfileStore:
    return request.getfixturevalue(request.param)


def users(n: int, dim: int, seed: int = 0) -> tuple[list[str], np.ndarray, list[dict]]:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    ids = [f"u{i}" for i in range(n)]
    rows = [
        {"id": ids[i], "embedding": vectors[i], "segment": np.int64(i % 3), "top_tags": ["shoes", "red"], "events": i}
        for i in range(n)
    ]
    return ids, vectors, rows


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


# -- writes ----------------------------------------------------------------------------
def test_counts_report_what_was_written(store: ProfileStore) -> None:
    assert store.upsert_nodes("User", [{"id": "u0"}, {"id": "u1"}]) == 2
    assert store.upsert_items([{"id": "i1"}]) == 1
    rows = [{"start": "u0", "end": "i1"}, {"start": "u0", "end": "no-such-item"}]
    assert store.upsert_relationships("CLICKED", "User", "Item", rows) == 1
    assert [store.count(label) for label in ("User", "Item")] == [2, 1]


def test_names_outside_the_whitelist_are_refused(store: ProfileStore) -> None:
    with pytest.raises(PersonaGraphError, match="unknown relationship type"):
        store.upsert_relationships("KNOWS]->() DETACH DELETE (", "User", "Item", [])
    with pytest.raises(PersonaGraphError, match="unknown node label"):
        store.upsert_nodes("User:Admin", [{"id": "x"}])
    with pytest.raises(PersonaGraphError, match="invalid property name"):
        store.upsert_items([{"id": "i1", "bad name": 1}])
    with pytest.raises(PersonaGraphError, match="invalid property name"):
        store.nearest_users([1.0] * 8, where={"segment` = 1 OR true //": 1})


# -- user search -----------------------------------------------------------------------
def test_vector_search_matches_exact_cosine(store: ProfileStore) -> None:
    ids, vectors, rows = users(2000, 64, seed=1)
    store.ensure_schema(64)
    store.upsert_users(rows, run_id="r")
    unit = _unit(vectors)
    recalls = []
    for query in range(0, 2000, 40):
        exact = unit @ unit[query]
        exact[query] = -np.inf
        expected = {ids[i] for i in np.argsort(-exact)[:10]}
        hits = store.similar_users(ids[query], k=10)
        assert len(hits) == 10 and ids[query] not in {hit.id for hit in hits}
        for hit in hits:
            assert hit.score == pytest.approx(float(unit[int(hit.id[1:])] @ unit[query]), abs=1e-4)
        recalls.append(len(expected & {hit.id for hit in hits}) / 10)
    assert len(recalls) == 50 and np.mean(recalls) >= 0.95


def test_similar_users_filters_by_attribute(store: ProfileStore) -> None:
    _, _, rows = users(300, 16, seed=2)
    store.ensure_schema(16)
    store.upsert_users(rows, run_id="r")
    hits = store.similar_users("u0", k=20, where={"segment": 2})
    assert len(hits) == 20 and all(hit.properties["segment"] == 2 for hit in hits)
    assert "embedding" not in hits[0].properties and hits[0].properties["top_tags"] == ["shoes", "red"]
    both = store.similar_users("u0", k=5, where={"segment": [1, 2]})
    assert {hit.properties["segment"] for hit in both} <= {1, 2}


def test_a_rare_filter_widens_the_search_until_every_match_is_found(store: ProfileStore) -> None:
    ids, vectors, rows = users(1500, 16, seed=4)
    for row in rows[::150]:  # 10 users, scattered over the space
        row["rare"] = True
    store.ensure_schema(16)
    store.upsert_users(rows, run_id="r")
    hits = store.nearest_users(-vectors[0], k=10, where={"rare": True})
    assert sorted(hit.id for hit in hits) == sorted(ids[::150])
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_nearest_users_of_a_raw_vector(store: ProfileStore) -> None:
    _, vectors, rows = users(200, 16, seed=3)
    store.ensure_schema(16)
    store.upsert_users(rows, run_id="r")
    hits = store.nearest_users(vectors[7] * 3.0, k=3)
    assert hits[0].id == "u7" and hits[0].score == pytest.approx(1.0, abs=1e-4)


def test_vector_of_the_wrong_size_is_a_clear_error(store: ProfileStore) -> None:
    store.ensure_schema(8)
    store.upsert_users(users(3, 8)[2], run_id="r")
    with pytest.raises(PersonaGraphError, match="vector search failed"):
        store.nearest_users([0.5] * 5)


def test_unknown_user_is_a_clear_error(store: ProfileStore) -> None:
    store.ensure_schema(8)
    store.upsert_users(users(3, 8)[2], run_id="r")
    with pytest.raises(PersonaGraphError, match="no user 'ghost'"):
        store.similar_users("ghost")


# -- item search -----------------------------------------------------------------------
def _shop_with_items(store: ProfileStore, n_items: int = 60, dim: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Users u0..u4 and items i0..; u0 viewed, carted or searched its way to a few items."""
    _, user_vectors, rows = users(5, dim, seed=5)
    item_vectors = np.random.default_rng(6).standard_normal((n_items, dim))
    store.ensure_schema(dim)
    store.upsert_users(rows, run_id="r")
    store.upsert_items({"id": f"i{i}", "title": f"Item {i}", "price": float(i), "embedding": item_vectors[i]}
                       for i in range(n_items))
    store.upsert_relationships("VIEWED", "User", "Item", [{"start": "u0", "end": f"i{i}"} for i in range(0, 40, 2)])
    store.upsert_relationships("ADDED_TO_CART", "User", "Item", [{"start": "u0", "end": "i1"}])
    store.upsert_relationships("VIEWED", "User", "Item", [{"start": "u1", "end": "i3"}])  # someone else's view
    return user_vectors, item_vectors


def test_nearest_items_rank_by_exact_cosine(store: ProfileStore) -> None:
    user_vectors, item_vectors = _shop_with_items(store)
    exact = _unit(item_vectors) @ _unit(user_vectors)[0]
    hits = store.nearest_items(user_vectors[0], k=5)
    assert [hit.id for hit in hits] == [f"i{i}" for i in np.argsort(-exact)[:5]]
    assert [hit.score for hit in hits] == pytest.approx(np.sort(exact)[::-1][:5], abs=1e-4)
    assert hits[0].properties["title"] == f"Item {hits[0].id[1:]}" and "embedding" not in hits[0].properties


def test_nearest_items_can_leave_out_what_a_user_touched(store: ProfileStore) -> None:
    user_vectors, item_vectors = _shop_with_items(store)
    seen = {f"i{i}" for i in range(0, 40, 2)} | {"i1"}
    unseen = [i for i in range(len(item_vectors)) if f"i{i}" not in seen]
    exact = _unit(item_vectors[unseen]) @ _unit(user_vectors)[0]
    hits = store.nearest_items(user_vectors[0], k=5, exclude_seen_by="u0")
    assert [hit.id for hit in hits] == [f"i{unseen[j]}" for j in np.argsort(-exact)[:5]]
    everything_left = store.nearest_items(user_vectors[0], k=100, exclude_seen_by="u0")
    assert {hit.id for hit in everything_left} == {f"i{i}" for i in unseen}


# -- stored profiles and segments ------------------------------------------------------
def test_stored_user_has_its_vector_and_attributes(store: ProfileStore) -> None:
    _, vectors, rows = users(3, 8)
    store.ensure_schema(8)
    store.upsert_users(rows, run_id="run-1")
    store.upsert_nodes("User", [{"id": "no-vector"}])
    user = store.stored_user("u2")
    assert user is not None and user.id == "u2"
    np.testing.assert_allclose(user.embedding, vectors[2], rtol=1e-6)
    assert user.properties["run_id"] == "run-1" and user.properties["segment"] == 2
    assert user.properties["top_tags"] == ["shoes", "red"] and "embedding" not in user.properties
    assert store.stored_user("ghost") is None and store.stored_user("no-vector") is None
    assert store.require_user("u2") == user
    with pytest.raises(PersonaGraphError, match="no user 'ghost'.*`personagraph train`"):
        store.require_user("ghost")


def test_active_run_id_is_the_run_of_the_latest_profiles(store: ProfileStore) -> None:
    assert store.active_run_id() is None
    store.ensure_schema(8)
    rows = users(4, 8)[2]
    store.upsert_users(rows, run_id="run-1")
    assert store.active_run_id() == "run-1"
    store.upsert_users(rows[1:2], run_id="run-1+update-0001")
    assert store.active_run_id() == "run-1+update-0001"


def test_segments_are_replaced_whole(store: ProfileStore) -> None:
    assert store.segments() == []
    rows = [
        {"id": i, "name": f"group {i}", "size": 10 + i, "top_tags": ["a", "b"], "top_tag_weights": [0.5, 0.25]}
        for i in range(3)
    ]
    assert store.replace_segments(rows) == 3
    assert store.segments() == [Segment(i, f"group {i}", 10 + i, [("a", 0.5), ("b", 0.25)]) for i in range(3)]
    store.upsert_nodes("User", [{"id": "u0"}])
    store.replace_relationships("IN_SEGMENT", "User", "Segment", [{"start": "u0", "end": 2}])
    assert store.replace_segments([{"id": 0, "size": 7}, {"id": 1, "size": 8}]) == 2  # an update resizes
    assert [(s.id, s.name, s.size) for s in store.segments()] == [(0, "group 0", 7), (1, "group 1", 8)]
    assert store.count("Segment") == 2
