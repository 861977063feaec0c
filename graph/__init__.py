"""Events → heterogeneous graph, and the Neo4j side: the managed server and the profile store.

Names are imported on first use (PEP 562), so light commands such as `personagraph neo4j
status` do not pay for torch, which the graph builder needs.
"""
from personagraph.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "convert_amazon_scientific": "amazon_scientific_converter",
    "ConnectionSettings": "connection_settings",
    "convert_gowalla": "gowalla_converter",
    "graph_stats": "graph_stats",
    "to_networkx": "graph_stats",
    "build_hetero_graph": "hetero_graph_builder",
    "Neo4jProfileStore": "neo4j_profile_store",
    "NEO4J_VERSION": "neo4j_server",
    "Neo4jServer": "neo4j_server",
    "ServerStatus": "neo4j_server",
    "NODE_KEYS": "profile_store",
    "RELATIONSHIP_FOR_EDGE": "profile_store",
    "RELATIONSHIP_TYPES": "profile_store",
    "ProfileStore": "profile_store",
    "SimilarUser": "profile_store",
    "RejectedRow": "rejected_row",
    "SampleShop": "sample_shop",
    "generate_sample_shop": "sample_shop",
    "EVENT_TYPES": "shop_data",
    "Catalog": "shop_data",
    "EventLog": "shop_data",
    "ShopData": "shop_data",
    "read_shop": "shop_reader",
    "shop_from_rows": "shop_reader",
    "write_rejected": "shop_reader",
    "ShopValidationError": "shop_validation_error",
    "ValidationProblem": "validation_problem",
}

__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
