"""The frozen profile space: train-time vectors, subset = full, persistence, extension with new items and queries."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from live_run import assert_same_tags

from personagraph.errors import PersonaGraphError
from personagraph.gnn.profile_model import ProfileModel
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.datasets.sample_shop import generate_sample_shop
from personagraph.shop.shop_data import EVENT_CODE, EventLog, ShopData
from personagraph.profiles.profile_space import ASSIGNED_SEGMENTS, ProfileSpace, select_items

TEXT_DIM = 6


def text_vectors(texts) -> np.ndarray:
    """A deterministic stand-in for a text encoder: each text's vector comes from its hash."""
    rows = [np.random.default_rng(int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)).normal(size=TEXT_DIM)
            for t in texts]
    return np.asarray(rows, dtype=np.float32).reshape(-1, TEXT_DIM)


@pytest.fixture(scope="module")
def trained():
    shop = generate_sample_shop(users=60, items=30, seed=2).shop
    graph = build_hetero_graph(shop)
    graph["item"].x = torch.from_numpy(text_vectors([shop.catalog.text(i) for i in range(len(shop.catalog))]))
    graph["query"].x = torch.from_numpy(text_vectors(shop.events.query_texts))
    torch.manual_seed(0)
    model = ProfileModel.from_graph(graph, dim=8).eval()
    torch.nn.init.normal_(model.user_out.weight, std=0.1)
    space, profiles = ProfileSpace.build(model, graph, shop, seed=0)
    return shop, graph, model, space, profiles


def test_build_gives_the_models_own_user_and_item_vectors(trained):
    shop, graph, model, space, profiles = trained
    with torch.no_grad():
        assert torch.equal(torch.from_numpy(profiles.vectors), model.user_embeddings(graph))
        assert torch.equal(torch.from_numpy(space.item_vectors(model)), model.item_embeddings(graph))
    assert profiles.user_ids == shop.events.user_ids


def test_profiling_some_users_gives_their_rows_of_profiling_everybody(trained):
    shop, _, model, space, _ = trained
    everybody = space.profile_users(model, shop)
    some = np.array([3, 10, 11, 42])
    subset = space.profile_users(model, shop, some)
    assert subset.user_ids == [shop.events.user_ids[u] for u in some]
    np.testing.assert_allclose(subset.vectors, everybody.vectors[some], atol=1e-6)
    for row, user in enumerate(some):
        assert_same_tags(subset.top_tags(row), everybody.top_tags(int(user)))
    np.testing.assert_array_equal(subset.segments.labels, everybody.segments.labels[some])
    for name, values in everybody.activity.items():
        np.testing.assert_array_equal(subset.activity[name], values[some], err_msg=name)
    assert subset.segments.method == ASSIGNED_SEGMENTS


def test_assigned_segments_are_the_nearest_centroids_and_mostly_the_fitted_ones(trained):
    shop, _, model, space, profiles = trained
    assigned = space.profile_users(model, shop).segments.labels
    unit = profiles.vectors / np.linalg.norm(profiles.vectors, axis=1, keepdims=True)
    np.testing.assert_array_equal(assigned, np.argmax(unit @ space.segment_centroids.T, axis=1))
    assert (assigned == profiles.segments.labels).mean() >= 0.8


def test_saved_space_loads_back_the_same(trained, tmp_path):
    shop, _, model, space, _ = trained
    loaded = ProfileSpace.load(space.save(tmp_path / "profile_space.pt"))
    assert loaded.item_ids == space.item_ids and loaded.query_texts == space.query_texts
    assert torch.equal(loaded.item_states, space.item_states) and torch.equal(loaded.query_states, space.query_states)
    assert (loaded.vocabulary.item_tags != space.vocabulary.item_tags).nnz == 0
    assert loaded.segments == space.segments
    np.testing.assert_array_equal(loaded.profile_users(model, shop).vectors, space.profile_users(model, shop).vectors)


def test_a_missing_space_file_says_to_retrain(tmp_path):
    with pytest.raises(PersonaGraphError, match="train it again"):
        ProfileSpace.load(tmp_path / "profile_space.pt")


def with_new_item_and_query(shop: ShopData, buyers: int) -> ShopData:
    """The shop plus a copy of item 0 under a new id (same category) and ``buyers`` new users who
    search a new query, click the new item from it and buy it."""
    catalog = select_items(shop.catalog, list(range(len(shop.catalog))) + [0])
    catalog.item_ids[-1] = "brand-new"
    catalog.index["brand-new"] = len(catalog) - 1
    events = shop.events
    new_item, new_query = len(catalog) - 1, len(events.query_texts)
    first = events.num_users
    users = np.repeat(np.arange(first, first + buyers), 2)
    kinds = np.tile([EVENT_CODE["search"], EVENT_CODE["purchase"]], buyers)
    log = EventLog(
        user_ids=events.user_ids + [f"buyer{i}" for i in range(buyers)],
        user=np.concatenate([events.user, users]),
        kind=np.concatenate([events.kind, kinds]).astype(np.int8),
        timestamp=np.concatenate([events.timestamp, np.tile([1e9, 1e9 + 1], buyers)]),
        item=np.concatenate([events.item, np.full(2 * buyers, new_item)]),
        query=np.concatenate([events.query, np.tile([new_query, -1], buyers)]),
        query_texts=events.query_texts + ["cordless brand new thing"],
    )
    return ShopData(catalog=catalog, events=log)


def test_extending_keeps_every_existing_state_and_profile(trained):
    shop, _, model, space, _ = trained
    bigger = with_new_item_and_query(shop, buyers=3)
    extended = space.extend(model, bigger, text_vectors)
    n_items, n_queries = len(space.item_ids), len(space.query_texts)
    assert torch.equal(extended.item_states[:n_items], space.item_states)
    assert torch.equal(extended.query_states[:n_queries], space.query_states)
    assert extended.item_states.shape[0] == n_items + 1 and extended.query_states.shape[0] == n_queries + 1
    old_users = np.arange(shop.events.num_users)
    np.testing.assert_array_equal(extended.profile_users(model, bigger, old_users).vectors,
                                  space.profile_users(model, shop).vectors)


def test_a_new_items_state_comes_from_its_text_and_category_not_from_new_users(trained):
    shop, _, model, space, _ = trained
    few, many = (space.extend(model, with_new_item_and_query(shop, buyers), text_vectors) for buyers in (1, 5))
    assert torch.equal(few.item_states[-1], many.item_states[-1])
    # Item 0's copy shares its text and category, so it lands next to item 0 (its own co-occurrence aside).
    vectors = few.item_vectors(model)
    assert int(np.argmax(vectors[:-1] @ vectors[-1])) == 0
    # The new item carries item 0's category tags; the new query's state holds the item it led to.
    assert few.vocabulary.item_leaf[-1] == few.vocabulary.item_leaf[0] >= 0
    text_only = few.query_states[-1] - few.item_states[-1]
    with torch.no_grad():
        expected = model.query_text(torch.from_numpy(text_vectors(["cordless brand new thing"])))[0]
    torch.testing.assert_close(text_only, expected)


def test_profiling_needs_the_space_extended_to_the_shop(trained):
    shop, _, model, space, _ = trained
    with pytest.raises(PersonaGraphError, match="extend the space"):
        space.profile_users(model, with_new_item_and_query(shop, buyers=1))
    reordered = ShopData(catalog=shop.catalog, events=EventLog(**{
        **shop.events.__dict__, "query_texts": list(reversed(shop.events.query_texts))}))
    with pytest.raises(PersonaGraphError, match="run's order"):
        space.extend(model, reordered, text_vectors)
