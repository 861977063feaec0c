"""The item -> user -> item context: per item, the mean over its users of their mean item state."""
from __future__ import annotations

import torch

from personagraph.gnn.profile_model import _co_occurrence_context
from personagraph.gnn.user_interactions import UserInteractions
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.datasets.sample_shop import generate_sample_shop


def _interactions() -> UserInteractions:
    return UserInteractions.from_graph(build_hetero_graph(generate_sample_shop(users=60, items=25, seed=2).shop))


def test_context_is_the_mean_over_each_items_users_of_their_mean_item():
    interactions = _interactions()
    rows = interactions.is_item()
    user, item = interactions.user[rows], interactions.node[rows]
    num_items = int(item.max()) + 1
    hidden = torch.randn(num_items, 5, dtype=torch.float64)
    user_mean = torch.zeros(interactions.num_users, 5, dtype=torch.float64).index_add_(0, user, hidden[item])
    user_mean /= torch.bincount(user, minlength=interactions.num_users).clamp(min=1)[:, None]
    expected = torch.zeros(num_items, 5, dtype=torch.float64).index_add_(0, item, user_mean[user])
    expected /= torch.bincount(item, minlength=num_items).clamp(min=1)[:, None]
    for tile_users in (7, 1_000_000):  # many tiles, some of them empty, or one
        got = _co_occurrence_context(interactions, hidden.float(), tile_users=tile_users)
        torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-6)


def test_gradients_flow_through_every_tile():
    interactions = _interactions()
    num_items = int(interactions.node[interactions.is_item()].max()) + 1
    hidden = torch.randn(num_items, 3, requires_grad=True)
    _co_occurrence_context(interactions, hidden, tile_users=5).sum().backward()
    tiled = hidden.grad.clone()
    hidden.grad = None
    _co_occurrence_context(interactions, hidden, tile_users=10_000).sum().backward()
    torch.testing.assert_close(tiled, hidden.grad, rtol=1e-5, atol=1e-6)
