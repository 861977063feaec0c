import math

import numpy as np
import torch

from personagraph.graph.hetero_graph_builder import FORWARD_EDGE_TYPES, build_hetero_graph
from personagraph.shop.schema import SOCIAL
from personagraph.shop.shop_reader import shop_from_rows

ITEMS = [
    {"item_id": "A", "title": "Drill", "category": "Tools > Drills"},
    {"item_id": "B", "title": "Beaker", "category": "Lab > Beakers"},
    {"item_id": "C", "title": "Mystery", "category": ""},
]
EVENTS = [
    {"user_id": "u1", "event": "view", "timestamp": 10, "item_id": "A"},
    {"user_id": "u1", "event": "view", "timestamp": 30, "item_id": "A"},
    {"user_id": "u1", "event": "view", "timestamp": 20, "item_id": "B"},
    {"user_id": "u1", "event": "purchase", "timestamp": 40, "item_id": "A"},
    {"user_id": "u2", "event": "search", "timestamp": 5, "item_id": "A", "query": "drill"},
    {"user_id": "u2", "event": "search", "timestamp": 50, "query": "Drill "},
    {"user_id": "u2", "event": "view", "timestamp": 6, "item_id": "A"},
    {"user_id": "u1", "event": "search", "timestamp": 15, "item_id": "B", "query": "beaker"},
    {"user_id": "u1", "event": "search", "timestamp": 1, "item_id": "A", "query": "drill"},
]


def edges(data, edge_type):
    store = data[edge_type]
    return store.edge_index.tolist(), store.count.tolist(), store.last_ts.tolist()


def test_hand_computed_graph():
    # users u1=0, u2=1; items A=0, B=1, C=2; queries "beaker"=0, "drill"=1; categories sorted
    data = build_hetero_graph(shop_from_rows(ITEMS, EVENTS))
    assert {t: data[t].num_nodes for t in data.node_types} == {"user": 2, "item": 3, "query": 2, "category": 2}
    assert data["category"].names == ["Lab > Beakers", "Tools > Drills"]
    assert edges(data, ("user", "view", "item")) == ([[0, 0, 1], [0, 1, 0]], [2.0, 1.0, 1.0], [30.0, 20.0, 6.0])
    assert edges(data, ("user", "purchase", "item")) == ([[0], [0]], [1.0], [40.0])
    assert edges(data, ("user", "search", "query")) == ([[0, 0, 1], [0, 1, 1]], [1.0, 1.0, 2.0], [15.0, 1.0, 50.0])
    assert edges(data, ("query", "leads_to", "item")) == ([[0, 1], [1, 0]], [1.0, 2.0], [15.0, 5.0])
    index, count, last_ts = edges(data, ("item", "in_category", "category"))
    assert index == [[0, 1], [1, 0]] and count == [1.0, 1.0] and all(math.isnan(t) for t in last_ts)


def test_every_forward_type_is_present_with_contract_dtypes():
    data = build_hetero_graph(shop_from_rows(ITEMS, EVENTS))
    for edge_type in FORWARD_EDGE_TYPES:
        store = data[edge_type]
        assert store.edge_index.dtype == torch.long and store.edge_index.shape[0] == 2
        assert store.count.dtype == torch.float32 and store.last_ts.dtype == torch.float64
        assert store.count.shape[0] == store.last_ts.shape[0] == store.edge_index.shape[1]
    assert data["user", "click", "item"].edge_index.shape == (2, 0)
    assert data["item", "rev_add_to_cart", "user"].edge_index.shape == (2, 0)


def test_reverse_edges_mirror_forward_edges_with_their_attributes():
    data = build_hetero_graph(shop_from_rows(ITEMS, EVENTS))
    mirrored = [edge_type for edge_type in FORWARD_EDGE_TYPES if edge_type != SOCIAL.edge_type]
    assert len(data.edge_types) == 2 * len(mirrored) + 1  # social edges join users to users: no mirror
    for source, relation, target in mirrored:
        forward, reverse = data[source, relation, target], data[target, f"rev_{relation}", source]
        assert torch.equal(reverse.edge_index, forward.edge_index.flip(0))
        assert torch.equal(reverse.count, forward.count)
        assert torch.equal(reverse.last_ts.nan_to_num(-1), forward.last_ts.nan_to_num(-1))


def test_one_edge_per_distinct_pair_and_counts_add_up():
    rng = np.random.default_rng(0)
    items = [{"item_id": f"i{i}", "title": "", "category": f"c{i % 7}"} for i in range(50)]
    events = [{"user_id": f"u{u}", "event": "view", "timestamp": t, "item_id": f"i{i}"}
              for u, i, t in zip(rng.integers(0, 30, 3000), rng.integers(0, 50, 3000), rng.integers(0, 10**6, 3000))]
    data = build_hetero_graph(shop_from_rows(items, events))
    view = data["user", "view", "item"]
    assert view.count.sum().item() == 3000
    pairs = {(int(e["user_id"][1:]), int(e["item_id"][1:])) for e in events}
    assert view.edge_index.shape[1] == len(pairs)


def test_social_links_are_directed_user_edges_one_per_pair():
    users = sorted({row["user_id"] for row in EVENTS})
    social = [
        {"user_id": users[0], "other_user_id": users[1], "relation": "follows", "timestamp": 50},
        {"user_id": users[0], "other_user_id": users[1], "relation": "friend", "timestamp": 70},
        {"user_id": users[1], "other_user_id": users[0], "relation": "friend"},
    ]
    data = build_hetero_graph(shop_from_rows(ITEMS, EVENTS, social=social))
    index, count, last_ts = edges(data, SOCIAL.edge_type)
    assert index == [[0, 1], [1, 0]] and count == [2.0, 1.0]
    assert last_ts[0] == 70.0 and math.isnan(last_ts[1])
    assert ("user", "rev_social", "user") not in data.edge_types
    assert data[SOCIAL.edge_type].edge_index.shape == (2, 2)
    empty = build_hetero_graph(shop_from_rows(ITEMS, EVENTS))
    assert empty[SOCIAL.edge_type].edge_index.shape == (2, 0)
