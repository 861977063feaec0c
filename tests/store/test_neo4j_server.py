"""The managed Neo4j server: start/reuse, password handling, clear failures, restarts."""
from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from personagraph.cli.main import cli
from personagraph.errors import PersonaGraphError
from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.neo4j_profile_store import Neo4jProfileStore
from personagraph.store.neo4j_server import NEO4J_VERSION, VECTOR_BUILD_BUFFER_SETTING, Neo4jServer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_start_reuses_the_running_server(neo4j_server: Neo4jServer) -> None:
    pid = neo4j_server.status().pid
    assert neo4j_server.start() is False
    assert neo4j_server.status().pid == pid


def test_status_reports_the_server_without_its_password(neo4j_server: Neo4jServer) -> None:
    status = neo4j_server.status()
    assert status.running and status.uri == neo4j_server.uri and status.version == NEO4J_VERSION
    password = neo4j_server.password()
    result = CliRunner().invoke(
        cli, ["neo4j", "status", "--home", str(neo4j_server.home), "--port", str(neo4j_server.port), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert '"status": "running"' in result.output and password not in result.output
    assert password not in repr(status)


def test_password_file_is_private_and_never_logged(neo4j_server: Neo4jServer) -> None:
    assert stat.S_IMODE(os.stat(neo4j_server.password_file).st_mode) == 0o600
    password = neo4j_server.password()
    assert len(password) >= 24
    for log in (neo4j_server.home / "logs").glob("*.log"):
        assert password not in log.read_text(errors="replace"), log


def test_port_used_by_another_program_is_refused(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        server = Neo4jServer(home=tmp_path / "home", cache=tmp_path / "cache", port=other.getsockname()[1])
        with pytest.raises(PersonaGraphError, match="already used by another program"):
            server.start(timeout=5)


def test_missing_java_and_maven_say_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = Neo4jServer(home=tmp_path / "home", cache=tmp_path / "cache", port=_free_port())
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PersonaGraphError, match="`java` was not found.*install"):
        server.start(timeout=5)
    java_only = tmp_path / "bin"
    java_only.mkdir()
    (java_only / "java").symlink_to(os.path.realpath("/usr/bin/java"))
    monkeypatch.setenv("PATH", str(java_only))
    with pytest.raises(PersonaGraphError, match=r"Maven \(`mvn`\) is needed.*install"):
        server.start(timeout=5)
    assert not server.is_running()


def test_relative_folders_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neo4j resolves relative paths in neo4j.conf against its own home, so none may reach it."""
    monkeypatch.chdir(tmp_path)
    server = Neo4jServer(home="state", cache="jars")
    assert server.home == tmp_path / "state" and server.lib_dir.is_relative_to(tmp_path / "jars")


def test_memory_sizes_are_validated() -> None:
    with pytest.raises(PersonaGraphError, match="invalid heap size"):
        Neo4jServer(heap="lots")


def test_vector_build_buffer_is_a_quarter_of_the_heap_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERSONAGRAPH_NEO4J_VECTOR_BUFFER", raising=False)
    assert Neo4jServer(heap="1500m").vector_buffer == 375
    assert Neo4jServer(heap="2g").vector_buffer == 512
    assert Neo4jServer(heap="16g").vector_buffer == 1945  # Lucene's limit
    assert Neo4jServer(heap="2048k").vector_buffer == 1
    assert Neo4jServer(vector_buffer=375).vector_buffer == 375
    monkeypatch.setenv("PERSONAGRAPH_NEO4J_VECTOR_BUFFER", "512")
    assert Neo4jServer().vector_buffer == 512
    for bad in ("1g", "0", "4096"):
        monkeypatch.setenv("PERSONAGRAPH_NEO4J_VECTOR_BUFFER", bad)
        with pytest.raises(PersonaGraphError, match="invalid vector index build buffer"):
            Neo4jServer()


@pytest.mark.slow
def test_a_server_starts_with_a_vector_build_buffer(tmp_path: Path, neo4j_server: Neo4jServer) -> None:
    """Neo4j refuses to start on a setting it does not know: a started server took this internal one."""
    server = Neo4jServer(home=tmp_path / "home", cache=neo4j_server.cache, port=_free_port(), heap="512m",
                         pagecache="64m", vector_buffer=64)
    try:
        assert server.start(timeout=300) is True
        assert f"{VECTOR_BUILD_BUFFER_SETTING}=64\n" in (server.home / "conf" / "neo4j.conf").read_text()
    finally:
        server.stop()


@pytest.mark.slow
def test_restart_keeps_data_and_upgrades_a_state_folder_from_before_tls(tmp_path: Path, neo4j_server: Neo4jServer) -> None:
    """A throwaway server (own home and port), so the shared test server is not disturbed."""
    server = Neo4jServer(
        home=tmp_path / "home", cache=neo4j_server.cache, port=_free_port(), heap="512m", pagecache="64m"
    )
    try:
        assert server.start(timeout=300) is True
        settings = ConnectionSettings.resolve(environ={}, server=server)
        with Neo4jProfileStore.connect(settings) as store:
            store.upsert_items([{"id": "kept", "title": "survives a restart"}])
        conf = server.home / "conf" / "neo4j.conf"
        current = conf.read_text()
        conf.write_text(current.replace("server.bolt.tls_level=REQUIRED\n", ""))  # as written before TLS
        with pytest.raises(PersonaGraphError, match="older PersonaGraph.*neo4j stop"):
            server.start(timeout=5)
        conf.write_text(current)
        assert server.stop() is True
        assert not server.is_running() and server.status().running is False
        with pytest.raises(PersonaGraphError, match="cannot reach Neo4j"):
            settings.open_driver()
        # A state folder from before TLS and private modes: no certificate, readable by others.
        shutil.rmtree(server.home / "certificates")
        os.chmod(server.home, 0o755)
        conf.write_text(current.replace("REQUIRED", "DISABLED"))
        with pytest.raises(PersonaGraphError, match="no TLS certificate yet"):
            settings.open_driver()
        assert server.start(timeout=300) is True
        assert server.certificate_file.exists() and "server.bolt.tls_level=REQUIRED" in conf.read_text()
        assert stat.S_IMODE(os.stat(server.home).st_mode) == 0o700
        with Neo4jProfileStore.connect(settings) as store:
            assert store.run_cypher("MATCH (i:Item) RETURN i.id AS id, i.title AS title") == [
                {"id": "kept", "title": "survives a restart"}
            ]
        assert server.password() not in "\n".join(server.log_tail(1000))
    finally:
        server.stop()
    assert server.stop() is False


def test_a_server_another_process_launched_counts_as_stopped_once_it_exits(tmp_path: Path) -> None:
    # A process this one did not launch stays a zombie after it exits, until its own parent reaps it
    # (a benchmark or test runner that started the server while a `train` child stops it): waiting
    # for it must not sit out the whole timeout.
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, time; child = subprocess.Popen(['sleep', '0']);"
                               " print(child.pid, flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())  # exits at once, unreaped while its parent sleeps
        time.sleep(0.3)
        started = time.monotonic()
        assert Neo4jServer(home=tmp_path)._wait_for_exit(pid, 30.0)
        assert time.monotonic() - started < 5.0
    finally:
        parent.kill()
        parent.wait()
