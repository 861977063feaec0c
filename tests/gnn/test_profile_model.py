import copy

import pytest
import torch

from personagraph.gnn.profile_model import ProfileModel, rank_bucket, recency
from personagraph.gnn.profile_trainer import train_profile_model
from personagraph.gnn.train_config import TrainConfig
from personagraph.gnn.user_interactions import UserInteractions
from planted_interests import DAY, contract_graph, planted_shop
from random_model import randomised_model


@pytest.fixture(scope="module")
def trained():
    shop = planted_shop()
    config = TrainConfig(dim=16, epochs=20, patience=20, batch_size=16, lr=1e-2, use_item_ids=True)
    return shop, train_profile_model(shop.graph, shop.targets, config, progress=False).model


def graph_with(shop, extra_edges, extra_users=0, extra_items=None):
    """The shop's graph plus new users / items, rebuilt in the contract format."""
    edges = {}
    for kind in ("view", "click", "add_to_cart", "purchase"):
        store = shop.graph[("user", kind, "item")]
        edges[kind] = [(int(u), int(i), float(t)) for (u, i), t in zip(store.edge_index.T, store.last_ts)]
        edges[kind] += extra_edges.get(kind, [])
    text = shop.item_text if extra_items is None else torch.cat([shop.item_text, extra_items])
    cluster = torch.cat([shop.item_cluster, torch.zeros(len(text) - len(shop.item_cluster), dtype=torch.long)])
    num_users = shop.graph["user"].num_nodes
    return contract_graph(num_users + extra_users, len(text), edges, text, cluster, searching_users=num_users)


def test_a_new_user_is_profiled_from_its_own_interactions(trained):
    shop, model = trained
    new_user = shop.graph["user"].num_nodes
    cluster_one = torch.nonzero(shop.item_cluster == 1).flatten()[:4].tolist()
    graph = graph_with(shop, {"purchase": [(new_user, i, (t + 1) * DAY) for t, i in enumerate(cluster_one)]}, extra_users=1)
    with torch.no_grad():
        scores = model.user_embeddings(graph)[new_user] @ model.item_embeddings(graph).T
    assert scores[shop.item_cluster == 1].mean() > scores[shop.item_cluster == 0].mean() + 0.2


def test_a_new_item_is_embedded_from_its_text(trained):
    shop, model = trained
    new_item = shop.cluster_direction[:1]  # text like cluster 0, no ID vector, no interactions
    graph = graph_with(shop, {}, extra_items=new_item)
    with torch.no_grad():
        scores = model.user_embeddings(graph) @ model.item_embeddings(graph)[-1]
    assert model.num_known_items == len(shop.item_text)
    assert scores[shop.user_group == 0].mean() > scores[shop.user_group == 1].mean() + 0.2


def test_an_unknown_item_without_text_is_scored_from_its_buyers():
    shop = planted_shop(text=False)
    model = train_profile_model(shop.graph, shop.targets, TrainConfig(dim=16, epochs=20, batch_size=16, lr=1e-2),
                                progress=False).model
    new_item = shop.graph["item"].num_nodes
    group_zero = torch.nonzero(shop.user_group == 0).flatten()[:6].tolist()
    graph = graph_with(shop, {"purchase": [(u, new_item, 20 * DAY) for u in group_zero]}, extra_items=torch.zeros(1, 8))
    del graph["item"].x, graph["query"].x
    with torch.no_grad():
        scores = model.user_embeddings(graph) @ model.item_embeddings(graph)[new_item]
    assert torch.isfinite(scores).all()
    assert scores[shop.user_group == 0].mean() > scores[shop.user_group == 1].mean()


def test_users_without_edges_share_one_neutral_profile(trained):
    shop, model = trained
    graph = graph_with(shop, {}, extra_users=2)
    with torch.no_grad():
        profiles = model.user_embeddings(graph)
    assert torch.equal(profiles[-1], profiles[-2]) and torch.isfinite(profiles).all()
    assert torch.allclose(profiles[:-2].norm(dim=1), torch.ones(len(profiles) - 2))


def test_recency_rank_is_dense_per_user_and_age_in_days():
    interactions = UserInteractions(
        user=torch.tensor([0, 0, 0, 1, 1]), kind=torch.tensor([3, 0, 3, 3, 3]), node=torch.tensor([0, 1, 2, 0, 1]),
        count=torch.ones(5), last_ts=torch.tensor([1.0, 3.0, 3.0, 5.0, 2.0], dtype=torch.float64) * DAY, num_users=2,
    )
    rank, age = recency(interactions)
    assert rank.tolist() == [1, 0, 0, 0, 1]
    assert age.tolist() == [2.0, 0.0, 0.0, 0.0, 3.0]
    assert rank_bucket(torch.tensor([0, 7, 8, 15, 16, 10_000])).tolist() == [0, 7, 8, 8, 9, 11]


def test_edge_weights_follow_the_learned_type_weights(trained):
    shop, model = trained
    model = copy.deepcopy(model)
    interactions = UserInteractions.from_graph(shop.graph)
    with torch.no_grad():
        before = model.edge_logits(interactions, *recency(interactions))
        model.type_logit[3] += 1.0  # purchases
        after = model.edge_logits(interactions, *recency(interactions))
    assert torch.allclose(after - before, (interactions.kind == 3).float())


def test_from_graph_sizes_the_model_for_text_and_id_only_graphs():
    text_model = ProfileModel.from_graph(planted_shop().graph, dim=8)
    id_model = ProfileModel.from_graph(planted_shop(text=False).graph, dim=8)
    assert text_model.item_text.in_features == 8 and text_model.item_id is None
    assert id_model.item_text is None and id_model.item_id.num_embeddings == 60


def test_forward_gives_states_of_width_dim_and_unit_vectors_of_width_out_dim():
    shop = planted_shop()
    model = randomised_model(shop.graph, seed=1, spectral_mix=0.4)
    interactions = UserInteractions.from_graph(shop.graph)
    with torch.no_grad():
        output = model(shop.graph)
        pooling = model.pool(interactions, output.item_states, output.query_states)
    num_users, num_items = shop.graph["user"].num_nodes, shop.graph["item"].num_nodes
    assert model.out_dim == model.dim + 2 + 1
    assert output.item_states.shape == (num_items, model.dim) and pooling.state.shape == (num_users, model.dim)
    assert output.user_vectors.shape == (num_users, model.out_dim)
    assert output.item_vectors.shape == (num_items, model.out_dim)
    torch.testing.assert_close(output.user_vectors.norm(dim=1), torch.ones(num_users))
    torch.testing.assert_close(output.item_vectors.norm(dim=1), torch.ones(num_items))
    with torch.no_grad():
        assert torch.equal(output.user_vectors, model.user_embeddings(shop.graph))
        assert torch.equal(output.item_vectors, model.item_embeddings(shop.graph))
        assert torch.equal(output.user_vectors, model.user_vectors(interactions, pooling))
    assert torch.equal(output.attention, pooling.attention)


def test_pooling_is_the_attention_weighted_sum_of_the_edges_output_states():
    # What the explainer relies on: the output layer is affine and the attention sums to 1 per user.
    shop = planted_shop()
    model = randomised_model(shop.graph, seed=2)
    interactions = UserInteractions.from_graph(shop.graph)
    with torch.no_grad():
        items = model.item_states(shop.graph)
        queries = model.query_states(shop.graph, items)
        pooling = model.pool(interactions, items, queries)
        per_edge = pooling.attention.unsqueeze(1) * model.user_output(model.edge_states(interactions, items, queries))
    summed = torch.zeros_like(pooling.state).index_add_(0, interactions.user, per_edge)
    torch.testing.assert_close(summed, pooling.state, atol=1e-5, rtol=1e-5)
    attention_per_user = torch.zeros(interactions.num_users).index_add_(0, interactions.user, pooling.attention)
    torch.testing.assert_close(attention_per_user, torch.ones(interactions.num_users))


@pytest.mark.parametrize("mix", [0.0, 0.4])
def test_ranking_vectors_score_as_the_profile_vectors_do_with_fewer_columns_at_mix_0(mix):
    shop = planted_shop()
    model = randomised_model(shop.graph, seed=3, spectral_mix=mix)
    interactions = UserInteractions.from_graph(shop.graph)
    with torch.no_grad():
        output = model(shop.graph)
        pooling = model.pool(interactions, output.item_states, output.query_states)
        users, items = model.ranking_vectors(interactions, pooling, output.item_states)
    torch.testing.assert_close(users @ items.T, output.user_vectors @ output.item_vectors.T, atol=1e-6, rtol=1e-5)
    assert users.shape[1] == (model.dim if mix == 0.0 else model.out_dim)
