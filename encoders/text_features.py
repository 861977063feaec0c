"""Text embeddings as node features: what the encoder stage adds to the heterogeneous graph."""
from __future__ import annotations

import torch
from torch_geometric.data import HeteroData

from personagraph.encoders.text_encoder import TextEncoder
from personagraph.shop.shop_data import ShopData


def attach_text_features(
    shop: ShopData, graphs: list[HeteroData], encoder: TextEncoder, batch_size: int, progress: bool
) -> dict[str, int]:
    """Set ``x`` of item and query nodes to text embeddings (items only when the shop has item text)."""
    catalog, queries = shop.catalog, shop.events.query_texts
    texts: dict[str, list[str]] = {}
    if catalog.has_text():
        texts["item"] = [catalog.text(i) for i in range(len(catalog))]
    if queries:
        texts["query"] = list(queries)
    stats = {"dim": encoder.dim, "texts": 0, "cache_hits": 0, "encoded": 0}
    for node_type, node_texts in texts.items():
        vectors = torch.from_numpy(encoder.encode(node_texts, batch_size, progress))
        for graph in graphs:
            graph[node_type].x = vectors
        stats["texts"] += len(node_texts)
        # A cached encoder says how many distinct texts it found vs. had to encode.
        stats["cache_hits"] += getattr(encoder, "last_hits", 0)
        stats["encoded"] += getattr(encoder, "last_misses", len(node_texts))
    return stats


def share_text_features(source: HeteroData, target: HeteroData) -> HeteroData:
    """``target`` with ``source``'s node features (the same tensors, not copies).

    For graphs of one shop (the whole history and its training part), whose nodes are numbered
    alike: a graph built after encoding gets its features without encoding again.
    """
    for node_type in source.node_types:
        if "x" in source[node_type]:
            target[node_type].x = source[node_type].x
    return target
