"""`personagraph neo4j start | stop | status | logs`: the managed local Neo4j server."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from personagraph.store.neo4j_server import Neo4jServer


_home_option = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="State folder: conf, data, logs, password, TLS certificate "
    "[env PERSONAGRAPH_HOME; default ~/.local/share/personagraph].",
)
_port_option = click.option("--port", type=int, help="Bolt port [env PERSONAGRAPH_NEO4J_PORT; default 7687].")


def _server(home: Path | None, port: int | None, **memory: str | None) -> "Neo4jServer":
    from personagraph.store.neo4j_server import Neo4jServer

    return Neo4jServer(home=home, port=port, **memory)


@click.group()
def neo4j() -> None:
    """Run a local Neo4j 5.26 Community server for the profiles (downloaded once with Maven, needs Java 17+).

    Commands that store or read profiles use it unless NEO4J_URI (or --uri) points elsewhere.
    """


@neo4j.command()
@_home_option
@_port_option
@click.option("--heap", help="Maximum JVM heap, e.g. 1500m or 2g [env PERSONAGRAPH_NEO4J_HEAP; default 1500m].")
@click.option("--pagecache", help="Page cache size, e.g. 512m [env PERSONAGRAPH_NEO4J_PAGECACHE; default 512m].")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait until Bolt answers.")
def start(home: Path | None, port: int | None, heap: str | None, pagecache: str | None, timeout: float) -> None:
    """Start the server (or reuse it if it already runs) and wait until it accepts connections."""
    server = _server(home, port, heap=heap, pagecache=pagecache)
    launched = server.start(timeout=timeout, progress=True)
    state = "started" if launched else "already running"
    click.echo(f"Neo4j {state} at {server.uri} (TLS only; user neo4j; state in {server.home})")


@neo4j.command()
@_home_option
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait before killing it.")
def stop(home: Path | None, timeout: float) -> None:
    """Shut the server down cleanly; its data stays for the next start."""
    server = _server(home, None)
    click.echo("Neo4j stopped" if server.stop(timeout=timeout) else "Neo4j was not running")


@neo4j.command()
@_home_option
@_port_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(home: Path | None, port: int | None, as_json: bool) -> None:
    """Whether the server runs, with its pid, Bolt URI, version, state folder and TLS certificate."""
    info = _server(home, port).status()
    fields = {
        "status": "running" if info.running else "stopped",
        "pid": info.pid,
        "uri": info.uri,
        "version": info.version,
        "home": str(info.home),
        "certificate": None if info.certificate is None else str(info.certificate),
    }
    if as_json:
        click.echo(json.dumps(fields, indent=2))
    else:
        click.echo("\n".join(f"{name:<11} {'-' if value is None else value}" for name, value in fields.items()))


@neo4j.command()
@_home_option
@click.option("-n", "lines", default=50, show_default=True, type=click.IntRange(min=0), help="Lines to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
def logs(home: Path | None, lines: int, follow: bool) -> None:
    """The end of the server's neo4j.log."""
    server = _server(home, None)
    if not server.log_file.exists():
        click.echo(f"no log yet at {server.log_file} — has the server been started?", err=True)
        return
    for line in server.log_tail(lines):
        click.echo(line)
    if follow:
        with open(server.log_file, errors="replace") as handle:
            handle.seek(0, 2)
            try:
                while True:
                    line = handle.readline()
                    if line:
                        click.echo(line.rstrip("\n"))
                    else:
                        time.sleep(0.5)
            except KeyboardInterrupt:
                pass
