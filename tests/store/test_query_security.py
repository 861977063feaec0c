"""What ad-hoc Cypher may reach, and who gets the managed server's password (real server, no mocks)."""
from __future__ import annotations

import os
import shutil
import socket
import stat
import threading
from pathlib import Path

import pytest
from neo4j import READ_ACCESS

from personagraph.errors import PersonaGraphError
from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.neo4j_profile_store import Neo4jProfileStore
from personagraph.store.neo4j_server import Neo4jServer
from personagraph.store.read_only_cypher import refuse_unsafe_plan

READ_FILE = "LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line"


@pytest.mark.parametrize(
    "query",
    [
        READ_FILE,
        "load  csv from 'http://127.0.0.1:9/' as l return l",
        "MATCH (n) CALL (n) { LOAD CSV FROM 'file:///etc/passwd' AS l RETURN l } RETURN l",
        "PROFILE LOAD CSV FROM 'file:///etc/passwd' AS l RETURN l",
    ],
)
def test_read_only_query_cannot_load_files_or_urls(profile_store: Neo4jProfileStore, query: str) -> None:
    with pytest.raises(PersonaGraphError, match="read-only mode refuses LOAD CSV.*--write") as error:
        profile_store.run_cypher(query)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("query", "refused"),
    [
        (READ_FILE, "LOAD CSV"),
        ("TERMINATE TRANSACTIONS 'neo4j-transaction-999999999'", "TERMINATE TRANSACTIONS"),
        ("CALL dbms.listConfig()", "dbms"),
        ("CALL db.stats.collect('QUERIES')", "the procedure db.stats.collect"),
        ("CREATE (:Item {id: 'x'})", "writing"),
    ],
)
def test_the_plan_check_alone_refuses(profile_store: Neo4jProfileStore, query: str, refused: str) -> None:
    """Neo4j's own plan is the authority; the text scan in front of it is only a second layer."""
    with profile_store.driver.session(default_access_mode=READ_ACCESS) as session:
        with pytest.raises(PersonaGraphError, match=f"read-only mode refuses .*{refused}"):
            session.execute_read(refuse_unsafe_plan, query, {})


def test_the_managed_server_refuses_file_urls_even_with_write(profile_store: Neo4jProfileStore) -> None:
    with pytest.raises(PersonaGraphError, match="allow_csv_import_from_file_urls"):
        profile_store.run_cypher(READ_FILE, write=True)


def test_the_managed_server_refuses_urls_even_with_write(profile_store: Neo4jProfileStore) -> None:
    with socket.socket() as internal_service:
        internal_service.bind(("127.0.0.1", 0))
        internal_service.listen()
        internal_service.settimeout(0.5)
        port = internal_service.getsockname()[1]
        with pytest.raises(PersonaGraphError, match="blocked"):
            profile_store.run_cypher(f"LOAD CSV FROM 'http://127.0.0.1:{port}/x' AS l RETURN l", write=True)
        with pytest.raises(socket.timeout):
            internal_service.accept()  # the request never arrived


def test_terminate_transactions_needs_write(profile_store: Neo4jProfileStore) -> None:
    with pytest.raises(PersonaGraphError, match="read-only mode refuses TERMINATE TRANSACTIONS"):
        profile_store.run_cypher("TERMINATE TRANSACTIONS 'neo4j-transaction-999999999'")
    with pytest.raises(PersonaGraphError, match="read-only mode refuses TERMINATE TRANSACTIONS"):
        profile_store.run_cypher("SHOW TRANSACTIONS YIELD transactionId AS id TERMINATE TRANSACTIONS id")
    rows = profile_store.run_cypher("TERMINATE TRANSACTIONS 'neo4j-transaction-999999999'", write=True)
    assert rows[0]["message"] == "Transaction not found."


@pytest.mark.parametrize(
    ("query", "refused"),
    [
        ("CALL dbms.listConfig() YIELD name RETURN name", "dbms"),
        ("CALL dbms.killConnections(['bolt-1'])", "dbms"),
        ("CREATE USER mallory SET PASSWORD 'a-long-password'", "administration commands"),
        ("SHOW USERS", "administration commands"),
        ("CALL db.stats.collect('QUERIES')", "the procedure db.stats.collect"),
        ("CALL db.clearQueryCaches()", "dbms"),
        ("CREATE INDEX x FOR (n:Item) ON (n.title)", "schema changes"),
        ("CREATE (:Item {id: 'x'})", "writing to the database"),
    ],
)
def test_administration_needs_write(profile_store: Neo4jProfileStore, query: str, refused: str) -> None:
    with pytest.raises(PersonaGraphError, match=f"read-only mode refuses .*{refused}.*--write"):
        profile_store.run_cypher(query)
    assert profile_store.count("Item") == 0


@pytest.mark.parametrize(
    "query",
    [
        "RETURN 'LOAD CSV and TERMINATE TRANSACTIONS are only words here' AS text",
        "// LOAD CSV in a comment\nRETURN 1 AS text",
        "CALL db.labels() YIELD label RETURN collect(label) AS text",
        "SHOW INDEXES YIELD name RETURN collect(name) AS text",
        "SHOW TRANSACTIONS YIELD transactionId RETURN count(*) AS text",
        "EXPLAIN MATCH (n) RETURN n",
        "PROFILE MATCH (n) RETURN count(n) AS text",
    ],
)
def test_reading_queries_still_run(profile_store: Neo4jProfileStore, query: str) -> None:
    profile_store.run_cypher(query)


def test_no_password_reaches_an_impostor(tmp_path: Path, neo4j_server: Neo4jServer) -> None:
    """A program listening on the managed port while the server is down gets a TLS hello, never the password."""
    received: list[bytes] = []
    done = threading.Event()
    with socket.socket() as impostor:
        impostor.bind(("127.0.0.1", 0))
        impostor.listen()
        impostor.settimeout(0.2)

        def answer() -> None:
            while not done.is_set():
                try:
                    connection, _ = impostor.accept()
                except socket.timeout:
                    continue
                with connection:
                    connection.settimeout(2)
                    try:
                        while chunk := connection.recv(65536):
                            received.append(chunk)
                            if chunk.startswith(b"\x60\x60\xb0\x17"):  # plain Bolt: agree to version 5.4
                                connection.sendall(b"\x00\x00\x04\x05")
                    except OSError:
                        pass  # silence: the client waits for a TLS answer that never comes

        listener = threading.Thread(target=answer, daemon=True)
        listener.start()
        managed = Neo4jServer(home=tmp_path, port=impostor.getsockname()[1])
        shutil.copy(neo4j_server.password_file, managed.password_file)
        managed.certificate_file.parent.mkdir(parents=True)
        shutil.copy(neo4j_server.certificate_file, managed.certificate_file)  # any genuine certificate
        settings = ConnectionSettings.resolve(environ={}, server=managed)
        with pytest.raises(PersonaGraphError, match="is not the managed Neo4j.*nothing was sent"):
            settings.open_driver()
        done.set()
        listener.join(10)
    sent = b"".join(received)
    assert sent, "the client never connected"
    assert neo4j_server.password().encode() not in sent and b"neo4j" not in sent


def test_managed_password_is_not_sent_without_a_certificate(tmp_path: Path) -> None:
    """A state folder from before TLS: the password stays home until the server is restarted."""
    managed = Neo4jServer(home=tmp_path, port=1)
    managed.password_file.write_text("stored-password")
    with pytest.raises(PersonaGraphError, match="no TLS certificate yet.*personagraph neo4j start"):
        ConnectionSettings.resolve(environ={}, server=managed).open_driver()


def test_server_state_is_private(neo4j_server: Neo4jServer) -> None:
    home = neo4j_server.home
    for folder in (home, home / "data", home / "logs", home / "conf", home / "import", neo4j_server.certificate_file.parent):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
    for secret in (neo4j_server.password_file, neo4j_server.certificate_file.with_name("private.key")):
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600, secret
    assert not any((home / "import").iterdir())
