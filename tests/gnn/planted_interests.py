"""A tiny shop graph in the HeteroData contract format with planted interests.

Two user groups each buy from their own item cluster; item texts are noisy copies of
their cluster's direction, so both text and co-occurrence carry the signal. Each
user's latest purchase is held out as the validation target.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch_geometric.data import HeteroData
from torch_geometric.transforms import ToUndirected

# Ops on graphs this small are dominated by thread start-up; one thread is many times faster.
torch.set_num_threads(1)

DAY = 86_400.0
TEXT_DIM = 8
EVENT_EDGES = ("view", "click", "add_to_cart", "purchase")


@dataclass
class PlantedShop:
    graph: HeteroData  # the training graph (targets removed)
    targets: torch.Tensor  # held-out item per user
    user_group: torch.Tensor
    item_cluster: torch.Tensor
    item_text: torch.Tensor  # [num_items, TEXT_DIM]
    cluster_direction: torch.Tensor  # [2, TEXT_DIM]


def planted_shop(users_per_group: int = 24, items_per_cluster: int = 30, text: bool = True, seed: int = 0) -> PlantedShop:
    generator = torch.Generator().manual_seed(seed)
    num_users, num_items = 2 * users_per_group, 2 * items_per_cluster
    user_group = torch.arange(num_users) % 2
    item_cluster = torch.arange(num_items) // items_per_cluster
    direction = torch.randn(2, TEXT_DIM, generator=generator)
    item_text = direction[item_cluster] + 0.3 * torch.randn(num_items, TEXT_DIM, generator=generator)
    edges: dict[str, list[tuple[int, int, float]]] = {name: [] for name in EVENT_EDGES}
    targets = torch.full((num_users,), -1, dtype=torch.long)
    for user in range(num_users):
        own = torch.nonzero(item_cluster == user_group[user]).flatten()
        bought = own[torch.randperm(own.numel(), generator=generator)[:6]].tolist()
        for step, item in enumerate(bought[:-1]):
            edges["view"].append((user, item, (2 * step) * DAY))
            edges["purchase"].append((user, item, (2 * step + 1) * DAY))
        targets[user] = bought[-1]
        noise = torch.randint(num_items, (2,), generator=generator).tolist()
        edges["click"].append((user, noise[0], 0.5 * DAY))
        edges["view"].append((user, noise[1], 3.5 * DAY))
    return PlantedShop(
        graph=contract_graph(num_users, num_items, edges, item_text if text else None, item_cluster),
        targets=targets, user_group=user_group, item_cluster=item_cluster,
        item_text=item_text, cluster_direction=direction,
    )


def contract_graph(num_users: int, num_items: int, edges: dict[str, list[tuple[int, int, float]]],
                   item_text: torch.Tensor | None, item_cluster: torch.Tensor,
                   searching_users: int | None = None) -> HeteroData:
    """A graph in the documented format: every forward edge type, count/last_ts, reverse edges.

    Each cluster is a category, and one query per cluster ("cluster k") leads to its first
    item; users ``0..searching_users-1`` (default: all) search their group's query.
    """
    data = HeteroData()
    data["user"].num_nodes = num_users
    data["item"].num_nodes = num_items
    data["query"].num_nodes = 2
    data["category"].num_nodes = 2
    data["category"].names = ["cluster 0", "cluster 1"]
    if item_text is not None:
        data["item"].x = item_text.float()
        data["query"].x = torch.eye(2, TEXT_DIM)
    for name in EVENT_EDGES:
        _set_edges(data[("user", name, "item")], edges.get(name, []))
    searching_users = num_users if searching_users is None else searching_users
    searches = [(user, user % 2, 0.25 * DAY) for user in range(searching_users)]
    _set_edges(data[("user", "search", "query")], searches)
    first = [int(torch.nonzero(item_cluster == k)[0]) for k in range(2)]
    _set_edges(data[("query", "leads_to", "item")], [(k, first[k], 0.25 * DAY) for k in range(2)])
    _set_edges(data[("item", "in_category", "category")], [(i, int(c), float("nan")) for i, c in enumerate(item_cluster)])
    return ToUndirected()(data)


def _set_edges(store, triples: list[tuple[int, int, float]]) -> None:
    merged: dict[tuple[int, int], list[float]] = {}
    for source, target, ts in triples:
        merged.setdefault((source, target), []).append(ts)
    pairs = sorted(merged)
    store.edge_index = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).T.contiguous()
    store.count = torch.tensor([len(merged[p]) for p in pairs], dtype=torch.float32)
    store.last_ts = torch.tensor([max(merged[p]) for p in pairs], dtype=torch.float64)
