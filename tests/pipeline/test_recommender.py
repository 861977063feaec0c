"""Recommendations with the neighbour score beside the profile score: the store ranks as the run folder does."""
from __future__ import annotations

import numpy as np
import pytest
from live_run import write_csv
from trained_sample import SEED, trained_sample

from personagraph.errors import PersonaGraphError
from personagraph.gnn.neighbour_blend import NeighbourBlend
from personagraph.gnn.train_config import TrainConfig
from personagraph.graph.item_neighbours import ItemNeighbours
from personagraph.pipeline.incremental_update import IncrementalUpdate
from personagraph.pipeline.recommender import Recommender
from personagraph.pipeline.run import Run
from personagraph.pipeline.run_sync import sync_run
from personagraph.shop.schema import shop_schema
from personagraph.store.neo4j_profile_store import Neo4jProfileStore

WEIGHT = 0.3


@pytest.fixture(scope="module")
def blended(neo4j_server, neo4j_settings, tmp_path_factory):
    config = TrainConfig(dim=16, epochs=4, seed=SEED, neighbour_weight=WEIGHT)
    with trained_sample(neo4j_server, neo4j_settings, tmp_path_factory.mktemp("blended"), config) as trained:
        yield trained


def _brute_neighbour(run: Run, user_id: str) -> tuple[np.ndarray, dict[int, float]]:
    """The neighbour score of the user's items by brute force from the run folder's table (recency as
    training weighs it), and the user's items with their latest time."""
    blend = NeighbourBlend.from_dict(run.config["neighbour_blend"])
    table = ItemNeighbours.load(run.folder.item_neighbours)
    events = run.shop.events
    own = (events.user == run.user_index(user_id)) & np.isin(events.kind, shop_schema().item_event_codes)
    latest: dict[int, float] = {}
    for item, time in zip(events.item[own].tolist(), events.timestamp[own].tolist()):
        latest[item] = max(latest.get(item, -np.inf), time)
    times = sorted(set(latest.values()), reverse=True)
    neighbour = np.zeros(len(run.shop.catalog))
    for item, time in latest.items():
        weight = blend.recency_decay ** times.index(time)
        for other, similarity in zip(table.nearest[item], table.similarity[item]):
            neighbour[other] += weight * similarity
    return neighbour, latest


def _expected(run: Run, user_id: str, include_seen: bool) -> list[tuple[str, float]]:
    """The blended ranking by brute force from the run folder's files: the cosine over its largest plus the
    weighted neighbour score over its largest, over every item."""
    blend = NeighbourBlend.from_dict(run.config["neighbour_blend"])
    vector = run.stored_vector(user_id)
    items = run.item_vectors
    cosine = items @ vector / (np.linalg.norm(items, axis=1) * np.linalg.norm(vector))
    neighbour, latest = _brute_neighbour(run, user_id)
    score = cosine / abs(cosine.max()) + blend.weight * neighbour / neighbour.max()
    ids = run.shop.catalog.item_ids
    candidates = [i for i in range(len(score)) if include_seen or i not in latest]
    return [(ids[i], float(score[i])) for i in sorted(candidates, key=lambda i: (-score[i], ids[i]))[:5]]


def test_neighbour_scores_of_many_users_are_each_users_own(blended):
    run = Run.load(blended.run_dir)
    users = run.shop.events.user_ids
    asked = [users[5], users[0], users[5], users[-1]]  # one asked twice
    many = run.neighbour_scores(asked)
    assert many.shape == (4, len(run.shop.catalog))
    for row, user_id in zip(many, asked):
        np.testing.assert_allclose(row, _brute_neighbour(run, user_id)[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(PersonaGraphError, match="no user 'nobody'"):
        run.neighbour_scores([users[0], "nobody"])


def test_training_records_the_blend_in_the_run_folder_and_the_store(blended):
    run = Run.load(blended.run_dir)
    assert run.config["neighbour_blend"]["weight"] == WEIGHT and run.neighbour_blend.active
    table = ItemNeighbours.load(run.folder.item_neighbours)
    assert table.k == run.neighbour_blend.neighbours and table.num_items == len(run.shop.catalog)
    state = blended.store.sync_state()
    assert NeighbourBlend.from_dict(state.blend_settings()) == run.neighbour_blend
    assert blended.summary["neighbour_blend"]["weight"] == WEIGHT
    listed = blended.store.item_neighbour_lists(run.shop.catalog.item_ids[:3])
    for i, item_id in enumerate(run.shop.catalog.item_ids[:3]):
        kept = table.similarity[i] > 0
        assert listed[item_id][0] == [run.shop.catalog.item_ids[j] for j in table.nearest[i][kept]]
        np.testing.assert_allclose(listed[item_id][1], table.similarity[i][kept], rtol=1e-6)


@pytest.mark.parametrize("include_seen", [False, True])
def test_the_store_and_the_run_folder_rank_as_the_blend_says(blended, include_seen):
    run = Run.load(blended.run_dir)
    recommender = Recommender(blended.store)
    counts = np.bincount(run.shop.events.user)
    for user in (int(counts.argmax()), int(np.flatnonzero(counts == counts.min())[0]), 7):
        user_id = run.shop.events.user_ids[user]
        expected = _expected(run, user_id, include_seen)
        from_run = run.recommend(user_id, k=5, include_seen=include_seen)
        from_store = recommender.recommend(user_id, k=5, include_seen=include_seen)
        assert [r.id for r in from_run] == [r.id for r in from_store] == [item for item, _ in expected]
        np.testing.assert_allclose([r.score for r in from_store], [score for _, score in expected], atol=1e-4)
        np.testing.assert_allclose([r.score for r in from_run], [score for _, score in expected], atol=1e-4)


def test_a_re_sync_of_the_run_folder_writes_the_same_blend(blended, neo4j_settings):
    with Neo4jProfileStore.connect(neo4j_settings) as store:
        store.run_cypher("MATCH (i:Item) REMOVE i.neighbours, i.neighbour_similarity", write=True)
        sync_run(blended.run_dir, lambda: Neo4jProfileStore.connect(neo4j_settings), progress=False)
        run = Run.load(blended.run_dir)
        user_id = run.shop.events.user_ids[3]
        assert [r.id for r in Recommender(store).recommend(user_id, k=5)] == [r.id for r in run.recommend(user_id, k=5)]
        assert NeighbourBlend.from_dict(store.sync_state().blend_settings()) == run.neighbour_blend


def test_after_an_update_with_a_new_item_both_still_rank_alike(blended, neo4j_settings, tmp_path):
    run = Run.load(blended.run_dir)
    users, items = run.shop.events.user_ids, run.shop.catalog
    new_items = write_csv(tmp_path / "items.csv", [{"item_id": "fresh-1", "title": "Fresh thing",
                                                   "category": items.categories[0], "price": "12.5"}])
    new_events = write_csv(tmp_path / "events.csv", [
        {"user_id": users[5], "event": "purchase", "timestamp": "2026-01-01T10:00:00Z", "item_id": "fresh-1"},
        {"user_id": users[5], "event": "view", "timestamp": "2026-01-01T11:00:00Z", "item_id": items.item_ids[2]},
        {"user_id": "newcomer", "event": "click", "timestamp": "2026-01-01T10:00:00Z", "item_id": items.item_ids[2]},
    ])
    with Neo4jProfileStore.connect(neo4j_settings) as store:
        IncrementalUpdate.apply(blended.run_dir, new_events, new_items,
                                open_store=lambda: Neo4jProfileStore.connect(neo4j_settings), progress=False)
        updated = Run.load(blended.run_dir)
        assert len(updated.shop.catalog) == len(items) + 1
        assert NeighbourBlend.from_dict(store.sync_state().blend_settings()) == run.neighbour_blend  # kept
        for user_id in (users[5], "newcomer"):
            for include_seen in (False, True):
                from_run = updated.recommend(user_id, k=5, include_seen=include_seen)
                from_store = Recommender(store).recommend(user_id, k=5, include_seen=include_seen)
                assert [r.id for r in from_run] == [r.id for r in from_store]
                np.testing.assert_allclose([r.score for r in from_run], [r.score for r in from_store], atol=1e-4)
