"""A run with a search projection: `sync` and `update` write every user's search vector, and
`similar` / `audience`-style searches keep ranking by the full profiles."""
from __future__ import annotations

import numpy as np
from live_run import make_run, profile_rows, write_csv

from personagraph.pipeline.incremental_update import IncrementalUpdate
from personagraph.pipeline.run import Run
from personagraph.pipeline.run_sync import sync_run
from personagraph.profiles.search_projection import SearchProjection
from personagraph.store.neo4j_profile_store import Neo4jProfileStore

DIM = 3


def stored_vectors(store: Neo4jProfileStore) -> dict[str, dict]:
    return {row["id"]: row for row in store.run_cypher(
        "MATCH (u:User) RETURN u.id AS id, u.embedding AS full, u.search_embedding AS search")}


def test_sync_and_update_write_the_runs_search_vectors(tmp_path, profile_store, neo4j_settings):
    run = make_run(tmp_path)
    vectors = np.asarray([row["vector"] for row in profile_rows(run).values()], dtype=np.float32)
    projection = SearchProjection.fit(vectors, DIM, seed=0)
    projection.save(run.search_projection)
    assert Run.load(run.path).search_projection.dim == DIM

    def open_store():
        return Neo4jProfileStore.connect(neo4j_settings)

    sync_run(run.path, open_store, progress=False)
    assert profile_store.embedding_dim() == DIM
    before = stored_vectors(profile_store)
    for user_id, row in profile_rows(run).items():
        np.testing.assert_allclose(before[user_id]["search"], projection.apply(row["vector"]), atol=1e-6)

    items = profile_store.run_cypher("MATCH (i:Item) RETURN i.embedding AS full, i.search_embedding AS search")
    assert items  # items carry theirs too (same space), so a query can ask the user index from an item
    for row in items:
        np.testing.assert_allclose(row["search"], projection.apply(np.asarray(row["full"])), atol=1e-5)

    shop = Run.load(run.path).shop
    events = write_csv(tmp_path / "new_events.csv", [
        {"user_id": shop.events.user_ids[0], "event": "purchase", "timestamp": "2025-09-01T10:00:00Z",
         "item_id": shop.catalog.item_ids[5]},
        {"user_id": "newcomer", "event": "view", "timestamp": "2025-09-01T10:00:00Z",
         "item_id": shop.catalog.item_ids[2]},
    ])
    update = IncrementalUpdate.apply(run.path, events, open_store=open_store, progress=False)
    after, rows = stored_vectors(profile_store), profile_rows(run)
    assert "newcomer" in after and set(update.touched_user_ids) >= {shop.events.user_ids[0], "newcomer"}
    for user_id in update.touched_user_ids:
        np.testing.assert_allclose(after[user_id]["full"], rows[user_id]["vector"], atol=1e-6)
        np.testing.assert_allclose(after[user_id]["search"], projection.apply(rows[user_id]["vector"]), atol=1e-6)

    # Searches rank by the full profiles: the exact cosines of the run folder's vectors, best first.
    ids = list(rows)
    full = np.asarray([rows[user_id]["vector"] for user_id in ids])
    full /= np.linalg.norm(full, axis=1, keepdims=True)
    me = ids.index("newcomer")
    exact = dict(zip(ids, (full @ full[me]).tolist()))
    best = sorted((score for user_id, score in exact.items() if user_id != "newcomer"), reverse=True)[:5]
    for hits in (profile_store.similar_users("newcomer", k=5),
                 profile_store.nearest_users(full[me], k=6, search_vector=projection.apply(full[me]))[1:]):
        np.testing.assert_allclose([hit.score for hit in hits], best, atol=1e-5)
        np.testing.assert_allclose([exact[hit.id] for hit in hits], best, atol=1e-5)


def test_a_run_without_a_projection_leaves_no_search_vector_behind(tmp_path, profile_store, neo4j_settings):
    run = make_run(tmp_path)
    vectors = np.asarray([row["vector"] for row in profile_rows(run).values()], dtype=np.float32)
    SearchProjection.fit(vectors, DIM, seed=0).save(run.search_projection)

    def open_store():
        return Neo4jProfileStore.connect(neo4j_settings)

    sync_run(run.path, open_store, progress=False)
    counted = "MATCH (n) WHERE n.search_embedding IS NOT NULL RETURN labels(n)[0] AS label, count(*) AS nodes"
    assert {row["label"] for row in profile_store.run_cypher(counted)} == {"User", "Item"}
    run.search_projection.unlink()  # the same run, synced again as one without a projection
    sync_run(run.path, open_store, progress=False)
    assert profile_store.run_cypher(counted) == []
    assert profile_store.embedding_dim() == vectors.shape[1]
