"""Turn a validated shop into the heterogeneous graph the encoders and the GNN work on.

The contract (docs/ARCHITECTURE.md, "The heterogeneous graph"): node types ``user``,
``item``, ``query``, ``category``; every forward edge type of the shop schema
(:attr:`~personagraph.shop.schema.ShopSchema.forward_edge_types`) present, even with no edges;
one edge per distinct (source, target) pair carrying ``count`` (events) and ``last_ts``
(latest event, epoch seconds); reverse ``rev_*`` edge types for message passing. The user–user
``social`` edges (the shop's optional links) are directed as given and get no mirror: both ends
are users, and :class:`~torch_geometric.transforms.ToUndirected` would merge them with their
reverses.
Everything is vectorised over the event arrays (no Python loop per event).
"""
from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import HeteroData
from torch_geometric.transforms import ToUndirected

from personagraph.shop.schema import (
    CATEGORY,
    IN_CATEGORY,
    ITEM,
    LEADS_TO,
    QUERY,
    SOCIAL,
    USER,
    EdgeType,
    schema_attributes,
    shop_schema,
)
from personagraph.shop.shop_data import ShopData

#: ``FORWARD_EDGE_TYPES``: the schema's forward edge types, in order (reverse types add ``rev_``).
__getattr__ = schema_attributes(__name__, FORWARD_EDGE_TYPES="forward_edge_types")


def build_hetero_graph(shop: ShopData) -> HeteroData:
    """The shop as a :class:`HeteroData` graph, reverse edges included.

    Category nodes are the distinct non-empty category paths, sorted (``data['category'].names``);
    an item with no category has no ``in_category`` edge. ``in_category`` edges have
    ``count`` 1 and ``last_ts`` NaN, as no event stands behind them. Reverse edges carry
    the same ``count`` and ``last_ts`` as their forward edge.
    """
    events, catalog = shop.events, shop.catalog
    data = HeteroData()
    data[USER].num_nodes = events.num_users
    data[ITEM].num_nodes = len(catalog)
    data[QUERY].num_nodes = len(events.query_texts)

    schema = shop_schema()
    target_column = {ITEM: events.item, QUERY: events.query}
    for code, event in enumerate(schema.events):
        target = target_column[event.target]
        mask = (events.kind == code) & (target >= 0)
        _set_edges(data, event.edge_type, events.user[mask], target[mask], events.timestamp[mask],
                   int(data[event.target].num_nodes))
    leads = np.isin(events.kind, schema.query_event_codes) & (events.query >= 0) & (events.item >= 0)
    _set_edges(data, LEADS_TO.edge_type, events.query[leads], events.item[leads], events.timestamp[leads], len(catalog))

    names, item_category = np.unique(np.asarray(catalog.categories, dtype=str), return_inverse=True)
    if len(names) and names[0] == "":  # items without a category: no node, no edge
        names, item_category = names[1:], item_category - 1
    data[CATEGORY].num_nodes = len(names)
    data[CATEGORY].names = names.tolist()
    with_category = np.flatnonzero(item_category >= 0)
    _set_edges(data, IN_CATEGORY.edge_type, with_category, item_category[with_category], None, len(names))
    data = ToUndirected()(data)
    social = shop.social
    if social is None or not len(social):
        _set_edges(data, SOCIAL.edge_type, np.zeros(0, np.int64), np.zeros(0, np.int64), None, events.num_users)
    else:  # ``count``: links between the pair (one per relation given), ``last_ts``: NaN when no time was given
        timestamp = np.where(np.isnan(social.timestamp), -np.inf, social.timestamp)
        _set_edges(data, SOCIAL.edge_type, social.user, social.other, timestamp, events.num_users)
        last_ts = data[SOCIAL.edge_type].last_ts
        last_ts[torch.isinf(last_ts)] = float("nan")
    return data


def _set_edges(data: HeteroData, edge_type: EdgeType, source: np.ndarray, target: np.ndarray,
               timestamp: np.ndarray | None, num_targets: int) -> None:
    """One edge per distinct (source, target) pair, with its event count and latest timestamp
    (NaN when ``timestamp`` is None: no event stands behind these edges)."""
    stride = max(num_targets, 1)  # pairs coded as source * stride + target
    pair = source.astype(np.int64) * stride + target.astype(np.int64)
    unique_pairs, edge_of_event = np.unique(pair, return_inverse=True)
    count = np.bincount(edge_of_event, minlength=len(unique_pairs)).astype(np.float32)
    last_ts = np.full(len(unique_pairs), -np.inf if timestamp is not None else np.nan)
    if timestamp is not None:
        np.maximum.at(last_ts, edge_of_event, timestamp)
    store = data[edge_type]
    store.edge_index = torch.from_numpy(
        np.stack([unique_pairs // stride, unique_pairs % stride])
    ).long()
    store.count = torch.from_numpy(count)
    store.last_ts = torch.from_numpy(last_ts)
