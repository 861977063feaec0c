import pytest

from personagraph.graph.graph_stats import graph_stats, to_networkx
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.shop.shop_reader import shop_from_rows


@pytest.fixture
def tiny_graph():
    # u1 views A twice, u2 buys B, u3 searches "q" without a click; A and B in category X, C has none.
    shop = shop_from_rows(
        [{"item_id": "A", "title": "a", "category": "X"}, {"item_id": "B", "title": "b", "category": "X"},
         {"item_id": "C", "title": "c", "category": ""}],
        [{"user_id": "u1", "event": "view", "timestamp": 1, "item_id": "A"},
         {"user_id": "u1", "event": "view", "timestamp": 2, "item_id": "A"},
         {"user_id": "u2", "event": "purchase", "timestamp": 3, "item_id": "B"},
         {"user_id": "u3", "event": "search", "timestamp": 4, "item_id": "", "query": "q"}],
    )
    return build_hetero_graph(shop)


def test_counts_degrees_and_components(tiny_graph):
    stats = graph_stats(tiny_graph)
    assert stats["nodes"] == {"user": 3, "item": 3, "query": 1, "category": 1}
    assert stats["edges"] == {
        "user-view->item": 1, "user-click->item": 0, "user-add_to_cart->item": 0, "user-purchase->item": 1,
        "user-search->query": 1, "query-leads_to->item": 0, "item-in_category->category": 2,
        "user-social->user": 0,
    }
    # item degrees: A = view + category, B = purchase + category, C = 0
    assert stats["degree"]["item"] == {"min": 0.0, "median": 2.0, "mean": pytest.approx(4 / 3), "p90": 2.0, "max": 2.0}
    assert stats["degree"]["category"]["max"] == 2.0
    view = stats["edge_types"]["user-view->item"]
    assert view["edges"] == 1 and view["events"] == 2.0
    assert view["source_degree"]["mean"] == pytest.approx(1 / 3)
    # {u1, A, X, B, u2}, {u3, q} and the isolated item C
    assert stats["components"] == {"count": 3, "largest": 5, "isolated_nodes": 1}


def test_networkx_view_has_typed_nodes_and_forward_edges(tiny_graph):
    graph = to_networkx(tiny_graph)
    assert graph.number_of_nodes() == 8 and graph.number_of_edges() == 5
    assert graph.nodes["item", 2]["node_type"] == "item"
    assert graph.nodes["category", 0]["name"] == "X"
    [(source, target, attributes)] = graph.out_edges(("user", 0), data=True)
    assert (source, target) == (("user", 0), ("item", 0))
    assert attributes == {"edge_type": "view", "count": 2.0, "last_ts": 2.0}
