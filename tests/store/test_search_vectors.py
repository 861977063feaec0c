"""The user index over narrow search vectors: hits still come in the full profiles' exact-cosine order."""
import numpy as np
import pytest

from personagraph.profiles.search_projection import SearchProjection
from personagraph.store.profile_changes import ProfileChanges
from personagraph.store.profile_sync import sync_changes

WIDTH, DIM, K = 24, 4, 10


def planted_profiles(users: int = 300, seed: int = 0) -> np.ndarray:
    """Four strong directions the projection keeps, plus weak ones it drops that still reorder neighbours."""
    rng = np.random.default_rng(seed)
    vectors = np.zeros((users, WIDTH))
    vectors[:, :DIM] = rng.standard_normal((users, DIM)) * 3.0
    vectors[:, DIM:] = rng.standard_normal((users, WIDTH - DIM)) * 0.6
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def exact_top(vectors: np.ndarray, query: np.ndarray, k: int, skip: int | None = None) -> list[str]:
    scores = vectors @ query / np.linalg.norm(query)
    order = [int(i) for i in np.argsort(-scores, kind="stable") if i != skip]
    return [f"u{i}" for i in order[:k]]


def sync(store, vectors: np.ndarray, projection: SearchProjection | None, run_id: str = "r1") -> None:
    users = [{"id": f"u{i}", "embedding": vector.tolist(), "segment": i % 2} for i, vector in enumerate(vectors)]
    sync_changes(store, ProfileChanges(embedding_dim=WIDTH, users=users, search_projection=projection), run_id,
                 progress=False)


def test_similar_and_nearest_users_rank_by_the_full_profiles(profile_store):
    vectors = planted_profiles()
    projection = SearchProjection.fit(vectors, DIM)
    searched = projection.apply(vectors)
    sync(profile_store, vectors, projection)
    assert profile_store.embedding_dim() == DIM  # the index is over the search vectors

    stored = profile_store.run_cypher("MATCH (u:User {id: 'u0'}) RETURN u.search_embedding AS s, u.embedding AS e")
    np.testing.assert_allclose(stored[0]["s"], searched[0], atol=1e-6)
    assert len(stored[0]["e"]) == WIDTH
    assert "search_embedding" not in profile_store.require_user("u0").properties

    for user in (0, 7, 42):
        expected = exact_top(vectors, vectors[user], K, skip=user)
        # The planted weak directions make the search vectors alone order the neighbours differently.
        assert exact_top(searched, searched[user], K, skip=user) != expected
        hits = profile_store.similar_users(f"u{user}", k=K)
        assert [hit.id for hit in hits] == expected
        assert hits[0].score == pytest.approx(float(vectors[user] @ vectors[int(expected[0][1:])]), abs=1e-5)

    query = np.random.default_rng(9).standard_normal(WIDTH)
    hits = profile_store.nearest_users(query, k=K, search_vector=projection.apply(query))
    assert [hit.id for hit in hits] == exact_top(vectors, query, K)
    even = profile_store.nearest_users(query, k=3, where={"segment": 0}, search_vector=projection.apply(query))
    assert [hit.id for hit in even] == [u for u in exact_top(vectors, query, len(vectors)) if int(u[1:]) % 2 == 0][:3]


def test_a_run_without_a_projection_puts_the_index_back_on_the_profiles(profile_store):
    vectors = planted_profiles(users=60)
    sync(profile_store, vectors, SearchProjection.fit(vectors, DIM), "r1")
    sync(profile_store, vectors, None, "r2")
    assert profile_store.embedding_dim() == WIDTH
    left = profile_store.run_cypher("MATCH (u:User) WHERE u.search_embedding IS NOT NULL RETURN count(u) AS n")
    assert left[0]["n"] == 0
    assert [hit.id for hit in profile_store.similar_users("u3", k=5)] == exact_top(vectors, vectors[3], 5, skip=3)
