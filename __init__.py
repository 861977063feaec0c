"""PersonaGraph: graph-based e-commerce user profiling.

Shop logs become a heterogeneous graph, item and query nodes get language-model
text embeddings, a GNN propagates them to users, and the resulting profiles are
stored in Neo4j.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
