"""A local Neo4j 5.26 Community server that PersonaGraph downloads, configures and runs itself.

Users should not have to install and configure a database to try the project: the
jars come from Maven Central once (into a cache folder), the server runs as a plain
background JVM whose configuration, data, logs and password live in one state folder.
That folder is private to its owner, Bolt speaks TLS only with a certificate generated
there, and clients pin that certificate, so the stored password never reaches a program
that merely listens on the port.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import psutil

from personagraph.errors import PersonaGraphError
from personagraph.file_locks import file_lock as lock_file
from personagraph.private_files import make_private_dir, make_private_file, write_private_text

if TYPE_CHECKING:
    from neo4j import Driver

NEO4J_VERSION = "5.26.30"
DEFAULT_PORT = 7687
DEFAULT_HEAP = "1500m"
DEFAULT_PAGECACHE = "512m"
INITIAL_PASSWORD = "neo4j"

_ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
#: Procedures the product calls, as `dbms.security.procedures.allowlist`: no plugin procedure
#: beyond them would load. Built-in procedures ignore that setting, so read-only queries are
#: also checked before they run (store/read_only_cypher.py).
ALLOWED_PROCEDURES = ("db.index.vector.*", "db.create.setNodeVectorProperty", "db.awaitIndexes", "dbms.components")
_CERTIFICATE_DAYS = 3650
_OPENSSL_CONF = """[req]
distinguished_name = dn
x509_extensions = ext
prompt = no
[dn]
CN = PersonaGraph managed Neo4j
[ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyEncipherment, keyCertSign
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = IP:127.0.0.1
"""
_MEMORY_SIZE = re.compile(r"^[0-9]+[kmgKMG]?$")
#: Neo4j's internal setting for the RAM (MB) a vector index is built in. Every flush of that buffer
#: is a Lucene segment with its own HNSW graph, and a query walks every graph: Neo4j's default
#: (1 MB) leaves a million-user index in ~100 small segments, each searched in turn; the managed
#: server builds in a big buffer (a few big graphs, searched once each; see docs/neo4j.md).
VECTOR_BUILD_BUFFER_SETTING = "internal.dbms.index.vector.population_ram_buffer_size"
#: Lucene's per-thread limit on such a buffer.
MAX_VECTOR_BUILD_BUFFER_MB = 1945
#: The managed server's build buffer is this share of its heap (the share measured at a million users).
VECTOR_BUILD_BUFFER_HEAP_SHARE = 0.25
_JVM_OPTIONS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
)
_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>personagraph</groupId>
  <artifactId>neo4j-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.neo4j</groupId>
      <artifactId>neo4j</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""

#: JVMs this Python process launched; kept so that stopping one also reaps it (no zombie).
_launched: dict[int, subprocess.Popen] = {}


def _vector_buffer_mb(value: int | str) -> int:
    """A vector index build buffer in whole MB, checked (PERSONAGRAPH_NEO4J_VECTOR_BUFFER is text)."""
    try:
        megabytes = int(value)
    except ValueError:
        megabytes = 0
    if not 1 <= megabytes <= MAX_VECTOR_BUILD_BUFFER_MB:
        raise PersonaGraphError(f"invalid vector index build buffer {value!r} (PERSONAGRAPH_NEO4J_VECTOR_BUFFER): "
                                f"use whole MB from 1 to {MAX_VECTOR_BUILD_BUFFER_MB}, e.g. 375")
    return megabytes


def _megabytes(size: str) -> float:
    """``1500m``, ``2g``, ``512k`` or bytes (a checked :data:`_MEMORY_SIZE`) in MB."""
    scale = {"k": 1 / 1024, "m": 1.0, "g": 1024.0}.get(size[-1].lower())
    return float(size[:-1]) * scale if scale is not None else float(size) / 2**20


def default_vector_buffer(heap: str) -> int:
    """The managed server's vector index build buffer for a ``heap`` size: a quarter of it, in Lucene's range."""
    return int(min(max(_megabytes(heap) * VECTOR_BUILD_BUFFER_HEAP_SHARE, 1), MAX_VECTOR_BUILD_BUFFER_MB))


def default_cache_dir() -> Path:
    """Where downloaded Neo4j jars live: shared by every state folder on the machine."""
    if os.environ.get("PERSONAGRAPH_CACHE"):
        return Path(os.environ["PERSONAGRAPH_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "personagraph"


def default_home_dir() -> Path:
    """Where the managed server keeps its configuration, data, logs, pid and password."""
    if os.environ.get("PERSONAGRAPH_HOME"):
        return Path(os.environ["PERSONAGRAPH_HOME"])
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "personagraph"


@dataclass(frozen=True)
class ServerStatus:
    """What `personagraph neo4j status` shows; never includes the password."""

    running: bool
    pid: int | None
    uri: str
    version: str | None
    home: Path
    certificate: Path | None = None


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Serialise work between processes (several test sessions may start the same server)."""
    with lock_file(path, command="personagraph (managed Neo4j)",
                   unwritable_hint="the managed Neo4j server keeps its state there; make it writable, "
                                   "or set PERSONAGRAPH_HOME to a writable folder"):
        yield


def pinned_tls(certificate: Path) -> dict[str, Any]:
    """Driver options that trust only ``certificate``: an impostor on the port fails the handshake
    before any credentials are sent (``bolt+s`` would check the system CAs, ``bolt+ssc`` nothing)."""
    from neo4j import TrustCustomCAs

    return {"encrypted": True, "trusted_certificates": TrustCustomCAs(str(certificate))}


def _port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Neo4jServer:
    """A Neo4j Community server in a state folder (``home``), run from jars in ``cache``.

    Arguments left as ``None`` come from the environment (``PERSONAGRAPH_HOME``,
    ``PERSONAGRAPH_CACHE``, ``PERSONAGRAPH_NEO4J_PORT``, ``PERSONAGRAPH_NEO4J_HEAP``,
    ``PERSONAGRAPH_NEO4J_PAGECACHE``, ``PERSONAGRAPH_NEO4J_VECTOR_BUFFER``) or the defaults;
    ``vector_buffer`` (MB, see :data:`VECTOR_BUILD_BUFFER_SETTING`) unset is a quarter of the heap.
    """

    def __init__(
        self,
        home: str | Path | None = None,
        cache: str | Path | None = None,
        port: int | None = None,
        heap: str | None = None,
        pagecache: str | None = None,
        vector_buffer: int | None = None,
    ) -> None:
        # Absolute paths: Neo4j would resolve relative ones in neo4j.conf against its home.
        self.home = Path(home if home is not None else default_home_dir()).expanduser().resolve()
        self.cache = Path(cache if cache is not None else default_cache_dir()).expanduser().resolve()
        self.port = int(port if port is not None else os.environ.get("PERSONAGRAPH_NEO4J_PORT", DEFAULT_PORT))
        self.heap = heap or os.environ.get("PERSONAGRAPH_NEO4J_HEAP", DEFAULT_HEAP)
        self.pagecache = pagecache or os.environ.get("PERSONAGRAPH_NEO4J_PAGECACHE", DEFAULT_PAGECACHE)
        for name, size in (("heap", self.heap), ("page cache", self.pagecache)):
            if not _MEMORY_SIZE.match(size):
                raise PersonaGraphError(f"invalid {name} size {size!r}: use a number with k, m or g (e.g. 512m, 2g)")
        buffer = vector_buffer if vector_buffer is not None else os.environ.get("PERSONAGRAPH_NEO4J_VECTOR_BUFFER")
        self.vector_buffer = default_vector_buffer(self.heap) if buffer in (None, "") else _vector_buffer_mb(buffer)

    # -- paths -------------------------------------------------------------------------
    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    @property
    def lib_dir(self) -> Path:
        return self.cache / f"neo4j-{NEO4J_VERSION}" / "lib"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "neo4j.log"

    @property
    def password_file(self) -> Path:
        return self.home / "password"

    @property
    def certificate_file(self) -> Path:
        """The server's self-signed TLS certificate, which clients pin."""
        return self.home / "certificates" / "bolt" / "public.crt"

    @property
    def _private_key_file(self) -> Path:
        return self.certificate_file.with_name("private.key")

    @property
    def _import_dir(self) -> Path:
        """``LOAD CSV`` may only read below this folder, which stays empty."""
        return self.home / "import"

    @property
    def _pid_file(self) -> Path:
        return self.home / "neo4j.pid"

    @property
    def _conf_file(self) -> Path:
        return self.home / "conf" / "neo4j.conf"

    def __repr__(self) -> str:
        return f"Neo4jServer(home={str(self.home)!r}, port={self.port})"

    # -- public API --------------------------------------------------------------------
    def password(self) -> str:
        """The password of user ``neo4j``, generated on first start; never printed."""
        try:
            return self.password_file.read_text().strip()
        except FileNotFoundError:
            raise PersonaGraphError(
                f"no password for the managed Neo4j server in {self.home} yet — run `personagraph neo4j start` first"
            ) from None

    def is_running(self) -> bool:
        return self._live_pid() is not None

    def start(self, timeout: float = 120.0, progress: bool = False) -> bool:
        """Start the server unless it already runs; wait until Bolt answers.

        Returns ``True`` when this call launched the JVM, ``False`` when a running
        server was reused. ``progress`` shows the one-off download on stderr.
        """
        with file_lock(self.home / "start.lock"):
            make_private_dir(self.home, tighten=True)  # also a state folder made before it was private
            pid = self._live_pid()
            if pid is not None:
                running_port = self._configured_port()
                if running_port != self.port:
                    raise PersonaGraphError(
                        f"the managed Neo4j server in {self.home} already runs on port {running_port}; "
                        "stop it with `personagraph neo4j stop` to change the port"
                    )
                if not self._runs_secure_config():
                    raise PersonaGraphError(
                        f"the managed Neo4j server in {self.home} was started by an older PersonaGraph without "
                        "TLS and query restrictions — restart it with `personagraph neo4j stop` and "
                        "`personagraph neo4j start`"
                    )
                self._wait_until_ready(pid, timeout)
                return False
            java = self._check_java()
            if _port_is_open(self.port):
                raise PersonaGraphError(
                    f"port {self.port} is already used by another program; choose another one with "
                    "--port or PERSONAGRAPH_NEO4J_PORT"
                )
            self._ensure_distribution(progress)
            self._ensure_password_file()
            self._ensure_certificate()
            self._write_conf()
            pid = self._launch(java)
            self._wait_until_ready(pid, timeout)
            return True

    def stop(self, timeout: float = 60.0) -> bool:
        """Shut the server down cleanly (SIGTERM, then SIGKILL after ``timeout``); ``False`` if not running."""
        pid = self._live_pid()
        if pid is None:
            self._pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        if not self._wait_for_exit(pid, timeout):
            print(f"Neo4j (pid {pid}) did not stop within {timeout:.0f} s; killing it", file=sys.stderr, flush=True)
            os.kill(pid, signal.SIGKILL)
            self._wait_for_exit(pid, 10.0)
        self._pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> ServerStatus:
        pid = self._live_pid()
        port = self._configured_port() if pid is not None else self.port
        version = self._server_version(port) if pid is not None else None
        return ServerStatus(
            running=pid is not None, pid=pid, uri=f"bolt://127.0.0.1:{port}", version=version, home=self.home,
            certificate=self.certificate_file if self.certificate_file.exists() else None,
        )  # fmt: skip

    def log_tail(self, lines: int = 50) -> list[str]:
        """The last ``lines`` lines of ``neo4j.log`` (empty when the server never ran)."""
        try:
            with open(self.log_file, errors="replace") as handle:
                return [line.rstrip("\n") for line in deque(handle, maxlen=lines)]
        except FileNotFoundError:
            return []

    def run_admin(self, *arguments: str, progress: bool = False) -> str:
        """Run ``neo4j-admin`` (``org.neo4j.cli.AdminTool``) with this server's jars and configuration,
        e.g. ``run_admin("database", "import", "full", ...)``; returns its output. Offline commands
        need the server stopped. ``progress`` passes the tool's own progress output to stderr."""
        java = self._check_java()
        self._ensure_distribution(progress)
        self._write_conf()
        command = [java, f"-Xmx{self.heap}", *_JVM_OPTIONS, "-cp", f"{self.lib_dir}/*", "org.neo4j.cli.AdminTool",
                   *arguments]
        environment = {**os.environ, "NEO4J_HOME": str(self.home), "NEO4J_CONF": str(self._conf_file.parent)}
        output: list[str] = []
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, cwd=self.home, env=environment)
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if progress:
                print(line, end="", file=sys.stderr, flush=True)
        if process.wait() != 0:
            last_lines = " | ".join(line.strip() for line in output[-5:] if line.strip())
            raise PersonaGraphError(f"neo4j-admin {' '.join(arguments[:3])} failed (exit {process.returncode}): "
                                    f"{last_lines}")
        return "".join(output)

    # -- process ---------------------------------------------------------------------
    def _live_pid(self) -> int | None:
        """The pid in the pid file, if that process is alive and really is this home's Neo4j."""
        try:
            pid = int(self._pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        launched = _launched.get(pid)
        if launched is not None:  # our own child: its exit status is authoritative
            return pid if launched.poll() is None else None
        try:
            process = psutil.Process(pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            cmdline = process.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        if _ENTRY_POINT in cmdline and f"--home-dir={self.home}" in cmdline:
            return pid
        return None

    def _wait_for_exit(self, pid: int, timeout: float) -> bool:
        launched = _launched.pop(pid, None)
        if launched is not None:
            try:
                launched.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                _launched[pid] = launched
                return False
        # Another process's child: once it exits it stays a zombie until that parent reaps it, and a
        # zombie is still a process to psutil's wait, which would then sit out the whole timeout.
        deadline = time.monotonic() + timeout
        while True:
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    return True
            except psutil.NoSuchProcess:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    @staticmethod
    def _exit_note(pid: int) -> str:
        launched = _launched.get(pid)
        code = launched.poll() if launched is not None else None
        return "" if code is None else f" (exit code {code})"

    def _check_java(self) -> str:
        java = shutil.which("java")
        if java is None:
            raise PersonaGraphError(
                "`java` was not found: Neo4j 5.26 needs Java 17 or 21 — install it "
                "(e.g. `sudo apt-get install openjdk-17-jre-headless` or `brew install openjdk@17`)"
            )
        banner = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
        match = re.search(r'version "(\d+)', banner)
        if match and int(match.group(1)) < 17:
            raise PersonaGraphError(f"Neo4j 5.26 needs Java 17 or 21, but `java` is version {match.group(1)}")
        return java

    def _ensure_distribution(self, progress: bool) -> None:
        """Download the Neo4j jars with Maven once; a marker file makes half downloads retry."""
        marker = self.lib_dir.parent / ".complete"
        with file_lock(self.cache / f"neo4j-{NEO4J_VERSION}.lock"):
            if marker.exists():
                return
            mvn = shutil.which("mvn")
            if mvn is None:
                raise PersonaGraphError(
                    f"Maven (`mvn`) is needed once to download Neo4j {NEO4J_VERSION} — install it "
                    "(e.g. `sudo apt-get install maven` or `brew install maven`) and run this again"
                )
            shutil.rmtree(self.lib_dir, ignore_errors=True)
            pom = self.lib_dir.parent / "pom.xml"
            pom.parent.mkdir(parents=True, exist_ok=True)
            pom.write_text(_POM.format(version=NEO4J_VERSION))
            command = [
                mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                f"-DoutputDirectory={self.lib_dir}", "-DincludeScope=runtime",
            ]  # fmt: skip
            self._run_maven(command, progress)
            marker.touch()

    def _run_maven(self, command: list[str], progress: bool) -> None:
        from tqdm import tqdm

        with tqdm(
            desc=f"Downloading Neo4j {NEO4J_VERSION} jars (first start only)",
            unit=" jars",
            disable=not progress,
        ) as bar:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            while process.poll() is None:
                time.sleep(0.5)
                count = len(list(self.lib_dir.glob("*.jar"))) if self.lib_dir.exists() else 0
                if count != bar.n:
                    bar.update(count - bar.n)
            output = process.stdout.read() if process.stdout else ""
        if process.returncode != 0:
            last_lines = " | ".join(output.strip().splitlines()[-3:])
            raise PersonaGraphError(
                f"Maven could not download Neo4j {NEO4J_VERSION} (exit {process.returncode}): {last_lines} — "
                "check your network or Maven settings and run this again"
            )

    def _ensure_password_file(self) -> None:
        """Create the password once, readable by the owner only, before the server first runs."""
        make_private_dir(self.home)
        if self.password_file.exists():
            make_private_file(self.password_file, tighten=True)
            return
        write_private_text(self.password_file, secrets.token_urlsafe(24))

    def _ensure_certificate(self) -> None:
        """Create the self-signed Bolt certificate for 127.0.0.1 once (also for state folders made before TLS)."""
        folder = self.certificate_file.parent
        make_private_dir(folder, tighten=True)
        for sub in ("trusted", "revoked"):  # Neo4j's SSL policy expects them; empty: no client certificates
            make_private_dir(folder / sub, tighten=True)
        if self.certificate_file.exists() and self._private_key_file.exists():
            make_private_file(self._private_key_file, tighten=True)
            return
        openssl = shutil.which("openssl")
        if openssl is None:
            raise PersonaGraphError(
                "`openssl` is needed once to create the managed Neo4j server's TLS certificate — install it "
                "(e.g. `sudo apt-get install openssl` or `brew install openssl`) and run this again"
            )
        with tempfile.TemporaryDirectory(dir=folder) as staging:  # mkdtemp: mode 0700
            config, key, certificate = (Path(staging) / name for name in ("openssl.cnf", "private.key", "public.crt"))
            config.write_text(_OPENSSL_CONF)
            result = subprocess.run(
                [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                 "-days", str(_CERTIFICATE_DAYS), "-config", str(config),
                 "-keyout", str(key), "-out", str(certificate)],
                capture_output=True, text=True,
            )  # fmt: skip
            if result.returncode != 0:
                last_line = (result.stderr.strip().splitlines() or ["no output"])[-1]
                raise PersonaGraphError(f"openssl could not create the TLS certificate in {folder}: {last_line}")
            for made in (key, certificate):
                make_private_file(made, tighten=True)
            key.replace(self._private_key_file)
            certificate.replace(self.certificate_file)  # last: a certificate means both files are there

    def _security_settings(self) -> dict[str, str]:
        """Bolt over TLS only, and no Cypher access to files, URLs or procedures the product does not use."""
        return {
            "server.bolt.tls_level": "REQUIRED",
            "dbms.ssl.policy.bolt.enabled": "true",
            "dbms.ssl.policy.bolt.base_directory": str(self.certificate_file.parent),
            "dbms.ssl.policy.bolt.private_key": self._private_key_file.name,
            "dbms.ssl.policy.bolt.public_certificate": self.certificate_file.name,
            "dbms.ssl.policy.bolt.client_auth": "NONE",
            "dbms.security.allow_csv_import_from_file_urls": "false",
            "server.directories.import": str(self._import_dir),
            # LOAD CSV FROM 'http://…' must not reach this machine's (or any) network services.
            "internal.dbms.cypher_ip_blocklist": "0.0.0.0/0,::/0",
            "dbms.security.procedures.allowlist": ",".join(ALLOWED_PROCEDURES),
        }

    def _runs_secure_config(self) -> bool:
        """Whether the running server was started with today's security settings (older ones lack TLS)."""
        try:
            lines = set(self._conf_file.read_text().splitlines())
        except FileNotFoundError:
            return False
        expected = {f"{key}={value}" for key, value in self._security_settings().items()}
        return expected <= lines and self.certificate_file.exists()

    def _write_conf(self) -> None:
        """Regenerate neo4j.conf on every start so changed options (port, memory, security) apply."""
        data, logs = self.home / "data", self.home / "logs"
        for folder in (data, logs, self._conf_file.parent, self._import_dir):
            make_private_dir(folder, tighten=True)
        settings = {
            "server.default_listen_address": "127.0.0.1",
            "server.bolt.listen_address": f"127.0.0.1:{self.port}",
            "server.http.enabled": "false",
            "server.https.enabled": "false",
            "server.memory.pagecache.size": self.pagecache,
            "dbms.security.auth_enabled": "true",
            "dbms.usage_report.enabled": "false",
            "server.directories.data": str(data),
            "server.directories.logs": str(logs),
            VECTOR_BUILD_BUFFER_SETTING: str(self.vector_buffer),
            **self._security_settings(),
        }
        self._conf_file.write_text(
            "# Generated by PersonaGraph on each `personagraph neo4j start`; edits are overwritten.\n"
            + "".join(f"{key}={value}\n" for key, value in settings.items())
        )

    def _configured_port(self) -> int:
        try:
            match = re.search(r"^server\.bolt\.listen_address=.*:(\d+)$", self._conf_file.read_text(), re.M)
        except FileNotFoundError:
            return self.port
        return int(match.group(1)) if match else self.port

    def _launch(self, java: str) -> int:
        command = [
            java, "-Xms256m", f"-Xmx{self.heap}", *_JVM_OPTIONS,
            "-cp", f"{self.lib_dir}/*", _ENTRY_POINT,
            f"--home-dir={self.home}", f"--config-dir={self._conf_file.parent}",
        ]  # fmt: skip
        make_private_dir(self.log_file.parent)
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=self.home,
            )  # fmt: skip
        _launched[process.pid] = process
        self._pid_file.write_text(f"{process.pid}\n")
        return process.pid

    # -- readiness and password --------------------------------------------------------
    def _wait_until_ready(self, pid: int, timeout: float) -> None:
        """Wait until Bolt accepts the stored password, setting it on the very first start."""
        from neo4j.exceptions import AuthError, DriverError, Neo4jError

        deadline = time.monotonic() + timeout
        while True:
            if self._live_pid() != pid:
                self._pid_file.unlink(missing_ok=True)
                raise PersonaGraphError(
                    f"Neo4j stopped during startup{self._exit_note(pid)} — see `personagraph neo4j logs` "
                    f"({self.log_file})"
                )
            try:
                if _port_is_open(self.port):
                    self._connect_and_check()
                    return
            except AuthError:
                raise PersonaGraphError(
                    f"Neo4j in {self.home} rejects the password stored in {self.password_file}; "
                    "restore that file, or stop the server and delete its data folder to start afresh"
                ) from None
            except (DriverError, Neo4jError, OSError):
                pass  # still starting
            if time.monotonic() > deadline:
                raise PersonaGraphError(
                    f"Neo4j did not answer on {self.uri} within {timeout:.0f} s — see `personagraph neo4j logs` "
                    f"({self.log_file}); the server keeps starting in the background (pid {pid})"
                )
            time.sleep(0.5)

    def _driver(self, port: int, password: str) -> "Driver":
        from neo4j import GraphDatabase

        return GraphDatabase.driver(
            f"bolt://127.0.0.1:{port}",
            auth=("neo4j", password),
            notifications_min_severity="OFF",
            **pinned_tls(self.certificate_file),
        )

    def _connect_and_check(self) -> None:
        from neo4j.exceptions import AuthError

        password = self.password()
        try:
            with self._driver(self.port, password) as driver:
                driver.execute_query("RETURN 1")
                return
        except AuthError:
            pass
        # First start: the database still has the initial password, which must be changed.
        with self._driver(self.port, INITIAL_PASSWORD) as driver:
            driver.execute_query(
                "ALTER CURRENT USER SET PASSWORD FROM $old TO $new",
                old=INITIAL_PASSWORD,
                new=password,
                database_="system",
            )
        with self._driver(self.port, password) as driver:
            driver.execute_query("RETURN 1")

    def _server_version(self, port: int) -> str | None:
        from neo4j.exceptions import DriverError, Neo4jError

        try:
            with self._driver(port, self.password()) as driver:
                records, _, _ = driver.execute_query("CALL dbms.components() YIELD versions RETURN versions[0] AS v")
            return records[0]["v"]
        except (DriverError, Neo4jError, PersonaGraphError, OSError):
            return None
