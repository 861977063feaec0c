"""The profile store: the `ProfileStore` interface (one method per capability), its Neo4j implementation (all Cypher lives here), the sync of train and update, the managed server and connection settings."""
from personagraph.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "ConnectionSettings": "connection_settings",
    "bulk_load": "bulk_import",
    "database_is_empty": "bulk_import",
    "first_load_refusal": "bulk_import",
    "managed_target": "bulk_import",
    "ImportFiles": "bulk_import",
    "Neo4jProfileStore": "neo4j_profile_store",
    "open_store": "open_store",
    "candidate_counts": "over_fetch",
    "NEO4J_VERSION": "neo4j_server",
    "Neo4jServer": "neo4j_server",
    "ServerStatus": "neo4j_server",
    "NODE_KEYS": "profile_store",
    "ProfileStore": "profile_store",
    "PROFILE_RELATIONSHIPS": "profile_store",
    "RELATIONSHIP_FOR_EDGE": "profile_store",
    "relationship_types": "profile_store",
    "SimilarItem": "profile_store",
    "SimilarUser": "profile_store",
    "StoredUser": "profile_store",
    "ProfileChanges": "profile_changes",
    "sync_changes": "profile_sync",
    "sync_profiles": "profile_sync",
    "whole_run_changes": "profile_sync",
    "SyncState": "sync_state",
    "same_lineage": "run_lineage",
    "trained_run_id": "run_lineage",
}

__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
