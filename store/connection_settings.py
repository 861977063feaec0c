"""Where the profile store connects: explicit options, then NEO4J_* variables, then the managed server.

One resolution rule for every command, so `personagraph similar` and a training run that
syncs profiles always talk to the same database. The managed server is reached over TLS
pinned to the certificate in its state folder, so its password is never sent to another
program that happens to listen on its port — through ``bolt://`` or the routing ``neo4j://``
scheme alike. A cluster or Aura is reached through ``neo4j://`` / ``neo4j+s://`` (the driver
routes writes to the leader and reads to followers; the store says which a transaction is).
"""
from __future__ import annotations

import os
import ssl
from urllib.parse import urlsplit
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from neo4j import Driver, GraphDatabase
from neo4j.exceptions import AuthError, ConfigurationError, ServiceUnavailable

from personagraph.errors import PersonaGraphError
from personagraph.store.neo4j_server import Neo4jServer, pinned_tls

DEFAULT_USER = "neo4j"
#: Driver limits: a managed transaction is retried for at most this long, and a connection attempt
#: gives up after this long, so a server that went away is one prompt error, not half a minute of retries.
MAX_RETRY_SECONDS = 5.0
CONNECTION_TIMEOUT_SECONDS = 10.0
#: URI schemes the Neo4j driver speaks (Bolt, direct or routed; +s / +ssc: encrypted).
BOLT_SCHEMES: tuple[str, ...] = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
#: Schemes whose TLS the driver lets us configure, hence pin (the +s / +ssc ones fix their own trust).
PINNABLE_SCHEMES: tuple[str, ...] = ("bolt", "neo4j")


@dataclass(frozen=True)
class ConnectionSettings:
    """URI, credentials and database of a Neo4j server; the password never shows in repr/str.

    With ``trusted_certificate`` the connection is TLS that trusts only that certificate
    (the managed server's); without it the URI scheme decides, as usual for the driver.
    """

    uri: str
    user: str = DEFAULT_USER
    password: str | None = field(default=None, repr=False)
    database: str | None = None
    trusted_certificate: Path | None = None

    def __str__(self) -> str:
        return f"{self.user}@{self.shown_uri}" + (f" (database {self.database})" if self.database else "")

    def __repr__(self) -> str:
        return (f"ConnectionSettings(uri={self.shown_uri!r}, user={self.user!r}, database={self.database!r}, "
                f"trusted_certificate={self.trusted_certificate!r})")

    @property
    def shown_uri(self) -> str:
        """The URI without any ``user:password@`` part, for messages."""
        return _without_credentials(self.uri)

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
        server's, so a remote URI never gets the local password by accident; and the
        managed URI is always reached through its pinned certificate (when it has one, or
        when the stored password would be sent).
        """
        environ = os.environ if environ is None else environ
        uri = uri or environ.get("NEO4J_URI")
        user = user or environ.get("NEO4J_USERNAME") or DEFAULT_USER
        password = password if password is not None else environ.get("NEO4J_PASSWORD")
        database = database or environ.get("NEO4J_DATABASE") or None
        server = server or Neo4jServer()
        uri = uri or server.uri
        certificate = None
        if _same_server(uri, server.uri):
            if password is None and server.password_file.exists():
                password = server.password()
                certificate = server.certificate_file
            elif server.certificate_file.exists():
                certificate = server.certificate_file
        return cls(uri=uri, user=user, password=password, database=database, trusted_certificate=certificate)

    def open_driver(self) -> Driver:
        """A connected driver, or a one-line error saying how to reach or log into the server."""
        scheme = self.uri.partition("://")[0].lower() if "://" in self.uri else ""
        if scheme not in BOLT_SCHEMES:
            raise PersonaGraphError(
                f"Neo4j URI {self.shown_uri!r} (--uri / NEO4J_URI) is not a Bolt URI: use "
                + ", ".join(f"{name}://" for name in BOLT_SCHEMES)
                + " (e.g. bolt://localhost:7687 or neo4j+s://xxxx.databases.neo4j.io)"
                + ("; http(s):// is for Neo4j Browser, drivers need Bolt" if scheme.startswith("http") else "")
            )
        tls = {}
        if self.trusted_certificate is not None:
            if scheme not in PINNABLE_SCHEMES:
                raise PersonaGraphError(
                    f"{scheme}:// decides its own TLS trust, so the managed server's certificate cannot be "
                    f"pinned: use bolt:// or neo4j:// for it (TLS to {self.trusted_certificate} is added)"
                )
            if not self.trusted_certificate.exists():
                raise PersonaGraphError(
                    f"the managed Neo4j server has no TLS certificate yet ({self.trusted_certificate}), so its "
                    "password is not sent — (re)start it: `personagraph neo4j stop`, then `personagraph neo4j start`"
                )
            tls = pinned_tls(self.trusted_certificate)
        try:
            # Notifications (e.g. "label does not exist" on an empty database) would be logged as warnings.
            driver = GraphDatabase.driver(
                self.uri, auth=(self.user, self.password or ""), notifications_min_severity="OFF",
                max_transaction_retry_time=MAX_RETRY_SECONDS, connection_timeout=CONNECTION_TIMEOUT_SECONDS, **tls
            )
        except (ConfigurationError, ValueError) as exc:
            raise PersonaGraphError(
                f"invalid Neo4j URI {self.shown_uri!r}: {exc} — use e.g. bolt://host:7687 or neo4j+s://host"
            ) from None
        try:
            driver.verify_connectivity()
        except ServiceUnavailable as exc:
            driver.close()
            if self.trusted_certificate is not None and _tls_failed(exc):
                raise PersonaGraphError(
                    f"the server at {self.shown_uri} is not the managed Neo4j (its TLS certificate is not "
                    f"{self.trusted_certificate}); nothing was sent — stop whatever uses that port, or restart a "
                    "managed server started by an older PersonaGraph (`personagraph neo4j stop`, then `start`)"
                ) from None
            raise PersonaGraphError(
                f"cannot reach Neo4j at {self.shown_uri} — start it with `personagraph neo4j start` or set NEO4J_URI"
            ) from None
        except AuthError:
            driver.close()
            hint = (
                "no password is known: run `personagraph neo4j start`, or set NEO4J_PASSWORD / pass --password"
                if self.password is None
                else "check NEO4J_USERNAME / NEO4J_PASSWORD or --user / --password"
            )
            raise PersonaGraphError(f"Neo4j at {self.shown_uri} rejected user '{self.user}' — {hint}") from None
        except BaseException:
            driver.close()
            raise
        return driver


def _same_server(uri: str, managed_uri: str) -> bool:
    """Whether ``uri`` is the managed server's address through a scheme whose TLS we pin (bolt / neo4j)."""
    given, managed = urlsplit(uri), urlsplit(managed_uri)
    return given.scheme.lower() in PINNABLE_SCHEMES and given.netloc == managed.netloc and given.path in ("", "/")


def _without_credentials(uri: str) -> str:
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _tls_failed(error: BaseException) -> bool:
    """Whether a connection failed in the TLS handshake (wrong certificate, or no TLS at all)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
