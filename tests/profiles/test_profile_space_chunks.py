"""Profiling a whole shop a chunk of users at a time gives the rows of one pooling of everybody."""
import numpy as np
import torch
from random_model import randomised_model

from personagraph.datasets.sample_shop import generate_sample_shop
from personagraph.gnn.user_interactions import UserInteractions
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.profiles.profile_space import pool_users, pool_users_in_chunks


def test_chunked_pooling_equals_one_pooling():
    shop = generate_sample_shop(users=40, items=30, seed=3).shop
    graph = build_hetero_graph(shop)
    model = randomised_model(graph, seed=1, spectral_mix=0.5)
    interactions = UserInteractions.from_graph(graph)
    with torch.no_grad():
        items = model.item_states(graph, interactions)
        queries = model.query_states(graph, items)
    whole = pool_users(model, interactions, items, queries)
    assert whole.shape[0] == interactions.num_users == 40
    for size in (1, 7, 39):
        np.testing.assert_allclose(pool_users_in_chunks(model, interactions, items, queries, size), whole,
                                   rtol=1e-5, atol=1e-6)


def test_segment_centroids_summed_in_chunks_equal_the_whole(monkeypatch):
    from personagraph.profiles import profile_space

    rng = np.random.default_rng(5)
    vectors, labels = rng.standard_normal((11, 4)).astype(np.float32), rng.integers(0, 3, 11)
    whole = profile_space._centroids(vectors, labels, 3)
    monkeypatch.setattr(profile_space, "_CENTROID_ROWS", 3)
    assert np.array_equal(profile_space._centroids(vectors, labels, 3), whole)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = np.stack([unit[labels == s].sum(axis=0) for s in range(3)])
    np.testing.assert_allclose(whole, expected / np.linalg.norm(expected, axis=1, keepdims=True), rtol=1e-6)
