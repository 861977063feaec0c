import torch
from torch_geometric.data import HeteroData

from personagraph.gnn.user_interactions import USER_EDGE_TYPES, UserInteractions


def graph() -> HeteroData:
    """Two users; user 1 bought item 0 twice and searched; no view/click/cart edge types at all."""
    data = HeteroData()
    data["user"].num_nodes, data["item"].num_nodes, data["query"].num_nodes = 3, 2, 1
    purchase = data[("user", "purchase", "item")]
    purchase.edge_index = torch.tensor([[1, 0], [0, 1]])
    purchase.count = torch.tensor([2.0, 1.0])
    purchase.last_ts = torch.tensor([20.0, 10.0], dtype=torch.float64)
    search = data[("user", "search", "query")]
    search.edge_index = torch.tensor([[1], [0]])
    search.count = torch.tensor([1.0])
    search.last_ts = torch.tensor([15.0], dtype=torch.float64)
    return data


def test_edges_of_all_types_in_one_table_sorted_by_user():
    table = UserInteractions.from_graph(graph())
    purchase = USER_EDGE_TYPES.index(("user", "purchase", "item"))
    search = USER_EDGE_TYPES.index(("user", "search", "query"))
    assert table.user.tolist() == [0, 1, 1] and table.num_users == 3
    assert table.kind.tolist() == [purchase, purchase, search]
    assert table.node.tolist() == [1, 0, 0] and table.count.tolist() == [1.0, 2.0, 1.0]
    assert table.is_item().tolist() == [True, True, False]
    assert table.indptr().tolist() == [0, 1, 3, 3]
    assert table.item_history().tolist() == [[0, 1], [1, 0]]


def test_select_keeps_rows_and_user_count():
    table = UserInteractions.from_graph(graph()).select(torch.tensor([False, True, True]))
    assert table.user.tolist() == [1, 1] and table.num_users == 3 and table.last_ts.dtype == torch.float64


def test_rows_of_gathers_only_the_given_users_renumbered():
    table = UserInteractions.from_graph(graph())
    rows = table.rows_of(torch.tensor([1, 2, 0]), table.indptr())
    assert rows.num_users == 3 and rows.user.tolist() == [0, 0, 2]  # user 2 has no rows
    assert rows.node.tolist() == [0, 0, 1] and rows.count.tolist() == [2.0, 1.0, 1.0]
    assert rows.last_ts.tolist() == [20.0, 15.0, 10.0] and rows.last_ts.dtype == torch.float64
    assert len(table.rows_of(torch.tensor([], dtype=torch.long), table.indptr())) == 0
