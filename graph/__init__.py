"""Shop -> heterogeneous graph (PyG `HeteroData`), and its statistics."""
from personagraph.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "graph_stats": "graph_stats",
    "to_networkx": "graph_stats",
    "build_hetero_graph": "hetero_graph_builder",
    "ItemNeighbours": "item_neighbours",
}

__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
