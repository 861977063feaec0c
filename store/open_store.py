"""Which :class:`ProfileStore` a connection opens, chosen by the scheme of its URI.

A second backend is one module with a ``ProfileStore`` subclass that has a
``connect(settings, batch_size)`` class method, plus its schemes in :data:`BACKENDS`.
"""
from __future__ import annotations

from importlib import import_module

from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.profile_store import ProfileStore

_NEO4J = "personagraph.store.neo4j_profile_store:Neo4jProfileStore"
#: URI scheme -> ``module:class`` of the store behind it (imported only when used).
BACKENDS: dict[str, str] = {
    scheme: _NEO4J for scheme in ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
}


def open_store(settings: ConnectionSettings, batch_size: int = 5000) -> ProfileStore:
    """A connected store for ``settings``; an unknown scheme goes to Neo4j, whose driver says what it accepts."""
    scheme = settings.uri.partition("://")[0].lower()
    module, _, name = BACKENDS.get(scheme, _NEO4J).partition(":")
    backend: type[ProfileStore] = getattr(import_module(module), name)
    return backend.connect(settings, batch_size)  # type: ignore[attr-defined]
