"""Look at a shop graph: a networkx view for ad-hoc analysis and summary statistics.

Statistics use the forward edge types only (``rev_*`` types mirror them), count each
node's degree as its number of edges, and find connected components with
``scipy.sparse.csgraph``: measured on a 1M-event graph (170k nodes, 1.08M edges, 2 CPU
cores) scipy took 0.05 s, networkx 1.4 s plus 13 s to build the networkx view.
"""
from __future__ import annotations

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from torch_geometric.data import HeteroData

from personagraph.shop.schema import EdgeType


def forward_edge_types(data: HeteroData) -> list[EdgeType]:
    """The edge types that are not ``ToUndirected``'s ``rev_*`` mirrors."""
    return [edge_type for edge_type in data.edge_types if not edge_type[1].startswith("rev_")]


def edge_type_name(edge_type: EdgeType) -> str:
    """``('user', 'view', 'item')`` as ``"user-view->item"`` (a JSON key and a table label)."""
    source, relation, target = edge_type
    return f"{source}-{relation}->{target}"


def to_networkx(data: HeteroData) -> nx.MultiDiGraph:
    """The graph as a networkx MultiDiGraph, forward edges only.

    Nodes are ``(node_type, index)`` with attribute ``node_type`` (and ``name`` for
    categories); edges go source to target with attributes ``edge_type`` (the relation,
    e.g. ``"view"``), ``count`` and ``last_ts``.
    """
    graph = nx.MultiDiGraph()
    for node_type in data.node_types:
        graph.add_nodes_from(((node_type, i), {"node_type": node_type}) for i in range(data[node_type].num_nodes))
    if "category" in data.node_types and "names" in data["category"]:
        for i, name in enumerate(data["category"].names):
            graph.nodes[("category", i)]["name"] = name
    for edge_type in forward_edge_types(data):
        source_type, relation, target_type = edge_type
        store = data[edge_type]
        sources, targets = store.edge_index.tolist()
        counts, last_ts = store.count.tolist(), store.last_ts.tolist()
        graph.add_edges_from(
            ((source_type, s), (target_type, t), {"edge_type": relation, "count": c, "last_ts": ts})
            for s, t, c, ts in zip(sources, targets, counts, last_ts)
        )
    return graph


def graph_stats(data: HeteroData) -> dict[str, object]:
    """Node and edge counts, degree distributions and connected components, JSON-ready.

    ``degree`` per node type is over all forward edge types; ``edge_types`` gives, per
    forward type, the number of edges, the number of events behind them (sum of
    ``count``) and the degree distributions of its source and target node types.
    Each distribution is ``min``/``median``/``mean``/``p90``/``max`` over all nodes of
    the type, isolated ones (degree 0) included.
    """
    num_nodes = {node_type: int(data[node_type].num_nodes) for node_type in data.node_types}
    degree = {node_type: np.zeros(n, dtype=np.int64) for node_type, n in num_nodes.items()}
    edge_types: dict[str, dict[str, object]] = {}
    for edge_type in forward_edge_types(data):
        source_type, _, target_type = edge_type
        store = data[edge_type]
        sources, targets = store.edge_index.numpy()
        source_degree = np.bincount(sources, minlength=num_nodes[source_type])
        target_degree = np.bincount(targets, minlength=num_nodes[target_type])
        degree[source_type] += source_degree
        degree[target_type] += target_degree
        edge_types[edge_type_name(edge_type)] = {
            "edges": int(sources.shape[0]),
            "events": float(store.count.sum()) if "count" in store else float(sources.shape[0]),
            "source_degree": _distribution(source_degree),
            "target_degree": _distribution(target_degree),
        }
    return {
        "nodes": num_nodes,
        "edges": {name: stats["edges"] for name, stats in edge_types.items()},
        "degree": {node_type: _distribution(values) for node_type, values in degree.items()},
        "edge_types": edge_types,
        "components": _components(data, num_nodes),
    }


def _distribution(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {"min": 0.0, "median": 0.0, "mean": 0.0, "p90": 0.0, "max": 0.0}
    return {
        "min": float(values.min()),
        "median": float(np.median(values)),
        "mean": float(values.mean()),
        "p90": float(np.percentile(values, 90)),
        "max": float(values.max()),
    }


def _components(data: HeteroData, num_nodes: dict[str, int]) -> dict[str, int]:
    """Weakly connected components of the whole graph, node types stacked in one index space."""
    offset, start = {}, 0
    for node_type, n in num_nodes.items():
        offset[node_type], start = start, start + n
    rows, cols = [], []
    for source_type, relation, target_type in forward_edge_types(data):
        sources, targets = data[source_type, relation, target_type].edge_index.numpy()
        rows.append(sources + offset[source_type])
        cols.append(targets + offset[target_type])
    row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    adjacency = sp.coo_matrix((np.ones(len(row), dtype=np.int8), (row, col)), shape=(start, start))
    count, labels = connected_components(adjacency, directed=True, connection="weak")
    sizes = np.bincount(labels) if start else np.zeros(0, dtype=np.int64)
    return {
        "count": int(count),
        "largest": int(sizes.max()) if sizes.size else 0,
        "isolated_nodes": int((sizes == 1).sum()),
    }
