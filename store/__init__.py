"""The profile store: the `ProfileStore` interface, its Neo4j implementation (all Cypher lives here), the managed server and connection settings."""
from personagraph.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "ConnectionSettings": "connection_settings",
    "Neo4jProfileStore": "neo4j_profile_store",
    "NEO4J_VERSION": "neo4j_server",
    "Neo4jServer": "neo4j_server",
    "ServerStatus": "neo4j_server",
    "NODE_KEYS": "profile_store",
    "ProfileStore": "profile_store",
    "RELATIONSHIP_FOR_EDGE": "profile_store",
    "RELATIONSHIP_TYPES": "profile_store",
    "SimilarUser": "profile_store",
    "sync_profiles": "profile_sync",
}

__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
