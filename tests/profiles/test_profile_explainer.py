import math

import numpy as np
import pytest
import torch

from random_model import randomised_model

from personagraph.errors import PersonaGraphError
from personagraph.gnn.profile_model import ProfileModel
from personagraph.gnn.user_interactions import USER_EDGE_TYPES
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.shop.shop_reader import shop_from_rows
from personagraph.profiles.profile_explainer import ProfileExplainer
from personagraph.profiles.profile_space import ProfileSpace

DAY = 86400.0
ITEMS = [{"item_id": f"i{n}", "title": f"item {n}", "category": f"Cat > C{n % 2}"} for n in range(4)]


def event(user, kind, item=None, timestamp=DAY, query=None):
    return {"user_id": user, "event": kind, "timestamp": timestamp, "item_id": item, "query": query}


def id_only_model(item_vectors):
    """A model whose item vectors are exactly ``item_vectors`` and whose attention is the type logit alone."""
    model = ProfileModel(dim=item_vectors.shape[1], num_known_items=item_vectors.shape[0], dropout=0.0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        model.item_id.weight.copy_(item_vectors)
    return model.eval()


def test_shares_follow_attention_times_alignment_by_hand():
    # u0 viewed i0 and bought i1 at the same moment: attention view 1/4, purchase 3/4.
    shop = shop_from_rows(ITEMS[:2], [event("u0", "view", "i0"), event("u0", "purchase", "i1")])
    model = id_only_model(torch.eye(2))
    with torch.no_grad():
        model.type_logit[USER_EDGE_TYPES.index(("user", "purchase", "item"))] = math.log(3.0)
    explainer = ProfileExplainer(model, build_hetero_graph(shop))

    # p = (1/4, 3/4); contribution of an edge = a_e * <n_e, p/|p|>; shares = a_e^2 / |p|^2.
    evidence = explainer.explain(0)
    assert [(e.node_type, e.index, e.edges) for e in evidence] == [("item", 1, ("purchase",)), ("item", 0, ("view",))]
    assert [e.attention for e in evidence] == pytest.approx([0.75, 0.25])
    assert [e.score for e in evidence] == pytest.approx([0.9, 0.1])
    norm = math.sqrt(0.25**2 + 0.75**2)
    assert [e.alignment for e in evidence] == pytest.approx([0.75 / norm, 0.25 / norm])
    assert explainer.vector(0) == pytest.approx(np.array([0.25, 0.75]) / norm)


def test_opposing_edge_gets_a_negative_share_and_edges_to_one_item_merge():
    shop = shop_from_rows(ITEMS[:2], [
        event("u0", "view", "i0"), event("u0", "purchase", "i0"), event("u0", "click", "i1"),
    ])
    model = id_only_model(torch.tensor([[1.0, 0.0], [-0.5, 0.2]]))
    evidence = ProfileExplainer(model, build_hetero_graph(shop)).explain(0)
    assert [e.index for e in evidence] == [0, 1]
    assert sorted(evidence[0].edges) == ["purchase", "view"]
    assert evidence[0].attention == pytest.approx(2 / 3)
    assert evidence[1].score < 0 < evidence[0].score
    assert sum(e.score for e in evidence) == pytest.approx(1.0)


@pytest.fixture
def text_shop_graph():
    rng = np.random.default_rng(0)
    events = []
    for u in range(6):
        for step, n in enumerate(rng.choice(4, size=3, replace=False)):
            kind = ["view", "click", "purchase"][step]
            events.append(event(f"u{u}", kind, f"i{n}", timestamp=DAY * (1 + step + u)))
        events.append(event(f"u{u}", "search", f"i{u % 4}", timestamp=DAY * (2 + u), query=f"query {u % 3}"))
    shop = shop_from_rows(ITEMS, events)
    graph = build_hetero_graph(shop)
    graph["item"].x = torch.randn(4, 5, generator=torch.Generator().manual_seed(1))
    graph["query"].x = torch.randn(len(shop.events.query_texts), 5, generator=torch.Generator().manual_seed(2))
    return shop, graph




@pytest.mark.parametrize("spectral_mix", [0.0, 0.4], ids=["gnn", "gnn+spectral"])
def test_decomposition_reproduces_the_models_profiles(text_shop_graph, spectral_mix):
    shop, graph = text_shop_graph
    model = randomised_model(graph, seed=3, spectral_mix=spectral_mix)
    explainer = ProfileExplainer(model, graph)
    with torch.no_grad():
        expected = model.user_embeddings(graph).numpy()
    for user in range(shop.events.num_users):
        assert explainer.vector(user) == pytest.approx(expected[user], abs=1e-5)
        evidence = explainer.explain(user)
        assert sum(e.score for e in evidence) == pytest.approx(1.0, abs=1e-5)
        assert sum(e.attention for e in evidence) == pytest.approx(1.0, abs=1e-5)
        assert all(-1.0 - 1e-6 <= e.alignment <= 1.0 + 1e-6 for e in evidence)
        assert [e.score for e in evidence] == sorted((e.score for e in evidence), reverse=True)
        assert {"query"} == {e.node_type for e in evidence if e.edges == ("search",)}


def test_top_limits_and_unknown_user_fails(text_shop_graph):
    shop, graph = text_shop_graph
    explainer = ProfileExplainer(randomised_model(graph, seed=3), graph)
    assert explainer.explain(0, top=2) == explainer.explain(0)[:2]
    with pytest.raises(PersonaGraphError, match="out of range"):
        explainer.explain(shop.events.num_users)


@pytest.mark.parametrize("spectral_mix", [0.0, 0.4], ids=["gnn", "gnn+spectral"])
def test_frozen_space_gives_the_same_evidence_as_the_graph_it_was_built_from(text_shop_graph, spectral_mix):
    shop, graph = text_shop_graph
    model = randomised_model(graph, seed=3, spectral_mix=spectral_mix)
    space, _ = ProfileSpace.build(model, graph, shop)
    from_graph, from_space = ProfileExplainer(model, graph), ProfileExplainer(model, graph, space)
    for user in range(5):
        assert np.allclose(from_graph.vector(user), from_space.vector(user), atol=1e-5)
        assert [e.index for e in from_graph.explain(user)] == [e.index for e in from_space.explain(user)]


def test_attention_is_the_models_own_pooling_weights(text_shop_graph):
    shop, graph = text_shop_graph
    model = randomised_model(graph, seed=4, spectral_mix=0.4)
    explainer = ProfileExplainer(model, graph)
    with torch.no_grad():
        attention = model(graph).attention
    indptr = explainer.interactions.indptr()
    for user in range(shop.events.num_users):
        rows = range(int(indptr[user]), int(indptr[user + 1]))
        expected: dict[tuple[str, int], float] = {}
        for row in rows:
            node_type = "item" if bool(explainer.interactions.is_item()[row]) else "query"
            key = (node_type, int(explainer.interactions.node[row]))
            expected[key] = expected.get(key, 0.0) + float(attention[row])
        got = {(e.node_type, e.index): e.attention for e in explainer.explain(user)}
        assert got == pytest.approx(expected, abs=1e-6)


def test_a_user_without_edges_gets_the_models_neutral_profile(text_shop_graph):
    shop, graph = text_shop_graph
    graph["user"].num_nodes = shop.events.num_users + 1
    model = randomised_model(graph, seed=3, spectral_mix=0.4)
    explainer = ProfileExplainer(model, graph)
    with torch.no_grad():
        expected = model.user_embeddings(graph)[-1].numpy()
    assert explainer.explain(shop.events.num_users) == []
    assert explainer.vector(shop.events.num_users) == pytest.approx(expected, abs=1e-6)
