"""Where the profile store connects: explicit options, then NEO4J_* variables, then the managed server.

One resolution rule for every command, so `personagraph similar` and a training run that
syncs profiles always talk to the same database.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from neo4j import Driver, GraphDatabase
from neo4j.exceptions import AuthError, ConfigurationError, ServiceUnavailable

from personagraph.errors import PersonaGraphError
from personagraph.store.neo4j_server import Neo4jServer

DEFAULT_USER = "neo4j"


@dataclass(frozen=True)
class ConnectionSettings:
    """URI, credentials and database of a Neo4j server; the password never shows in repr/str."""

    uri: str
    user: str = DEFAULT_USER
    password: str | None = field(default=None, repr=False)
    database: str | None = None

    def __str__(self) -> str:
        return f"{self.user}@{self.uri}" + (f" (database {self.database})" if self.database else "")

    @classmethod
    def resolve(
        cls,
        uri: str | None = None,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        environ: Mapping[str, str] | None = None,
        server: Neo4jServer | None = None,
    ) -> "ConnectionSettings":
        """Each value from the explicit arguments, else ``NEO4J_*`` variables, else the managed server.

        The managed server's stored password is used only when the URI is the managed
        server's, so a remote URI never gets the local password by accident.
        """
        environ = os.environ if environ is None else environ
        uri = uri or environ.get("NEO4J_URI")
        user = user or environ.get("NEO4J_USERNAME") or DEFAULT_USER
        password = password if password is not None else environ.get("NEO4J_PASSWORD")
        database = database or environ.get("NEO4J_DATABASE") or None
        if uri is None or password is None:
            server = server or Neo4jServer()
            if uri is None:
                uri = server.uri
            if password is None and uri == server.uri:
                password = server.password() if server.password_file.exists() else None
        return cls(uri=uri, user=user, password=password, database=database)

    def open_driver(self) -> Driver:
        """A connected driver, or a one-line error saying how to reach or log into the server."""
        try:
            # Notifications (e.g. "label does not exist" on an empty database) would be logged as warnings.
            driver = GraphDatabase.driver(
                self.uri, auth=(self.user, self.password or ""), notifications_min_severity="OFF"
            )
        except (ConfigurationError, ValueError) as exc:
            raise PersonaGraphError(
                f"invalid Neo4j URI {self.uri!r}: {exc} — use e.g. bolt://host:7687 or neo4j+s://host"
            ) from None
        try:
            driver.verify_connectivity()
        except ServiceUnavailable:
            driver.close()
            raise PersonaGraphError(
                f"cannot reach Neo4j at {self.uri} — start it with `personagraph neo4j start` or set NEO4J_URI"
            ) from None
        except AuthError:
            driver.close()
            hint = (
                "no password is known: run `personagraph neo4j start`, or set NEO4J_PASSWORD / pass --password"
                if self.password is None
                else "check NEO4J_USERNAME / NEO4J_PASSWORD or --user / --password"
            )
            raise PersonaGraphError(f"Neo4j at {self.uri} rejected user '{self.user}' — {hint}") from None
        except BaseException:
            driver.close()
            raise
        return driver
