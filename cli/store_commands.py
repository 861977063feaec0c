"""`personagraph similar` and `personagraph query`: read the stored profiles.

Also home of :func:`connection_options` / :func:`open_profile_store`, which every command
that talks to Neo4j uses, so they all resolve the connection the same way.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from personagraph.store.neo4j_server import Neo4jServer
    from personagraph.store.profile_store import ProfileStore

_PROMPT = "\0prompt"
#: Profile attributes `similar` shows beside each hit (`--json` gives them all).
SIMILAR_COLUMNS = ("segment", "segment_name", "top_tags", "event_count", "purchase_count", "last_seen")


#: How a whole run reaches Neo4j (`train`, `sync`); the size is ``AUTO_BULK_MIN_USERS`` (a test holds it).
LOAD_OPTION = click.option(
    "--load", type=click.Choice(["auto", "bulk", "unwind"]), default="auto", show_default=True,
    envvar="PERSONAGRAPH_LOAD",
    help="How the run reaches Neo4j: auto bulk-imports (neo4j-admin, much faster on big shops) when the "
         "store is the managed local server with an empty database and no other client and the shop "
         "has at least 20,000 users, and syncs in UNWIND batches otherwise; bulk insists on the "
         "import, unwind never imports [env PERSONAGRAPH_LOAD].")


def managed_server_of(uri: str | None, database: str | None) -> "Neo4jServer | None":
    """The managed local server when the connection options reach it (the only store a bulk import
    fills), else ``None``."""
    from personagraph.store.bulk_import import managed_target
    from personagraph.store.connection_settings import ConnectionSettings

    return managed_target(ConnectionSettings.resolve(uri=uri, database=database))


def connection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--uri --user --password --database`` (default: NEO4J_* variables, then the managed server)."""
    options = [
        click.option("--uri", help="Bolt URI, e.g. neo4j+s://xxxx.databases.neo4j.io [env NEO4J_URI]."),
        click.option("--user", help="User name [env NEO4J_USERNAME; default neo4j]."),
        click.option(
            "--password",
            is_flag=False,
            flag_value=_PROMPT,
            help="Password; given without a value, it is asked for [env NEO4J_PASSWORD].",
        ),
        click.option("--database", help="Database name [env NEO4J_DATABASE; default: the server's default]."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def open_profile_store(
    uri: str | None, user: str | None, password: str | None, database: str | None
) -> "ProfileStore":
    """The profile store for the values of :func:`connection_options`."""
    from personagraph.store.connection_settings import ConnectionSettings
    from personagraph.store.open_store import open_store

    # The driver logs each retry and dropped connection as a warning; the command's one-line error says it all.
    logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    if password == _PROMPT:
        password = click.prompt("Neo4j password", hide_input=True, err=True)
    return open_store(ConnectionSettings.resolve(uri=uri, user=user, password=password, database=database))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return "" if value is None else str(value)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows as a plain aligned text table (columns: those of the first row, unless given)."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0])
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    lines = [columns, ["-" * w for w in widths], *cells]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


#: Neo4j integers are 64-bit; a larger JSON number would fail deep in the driver.
_INT64_RANGE = (-(2**63), 2**63 - 1)


def _parse_param(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"{text!r} is not name=value", param_hint="--param")
    try:
        value = json.loads(raw)
        _check_integers(name, value)
    except json.JSONDecodeError:
        return name, raw
    except RecursionError:
        raise click.BadParameter(f"{name}: the JSON value is nested too deeply", param_hint="--param") from None
    return name, value


def _check_integers(name: str, value: Any) -> None:
    """Refuse integers Neo4j cannot hold, anywhere inside the value."""
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not _INT64_RANGE[0] <= value <= _INT64_RANGE[1]:
        shown = str(value) if len(str(value)) <= 30 else f"{str(value)[:27]}..."
        raise click.BadParameter(
            f"{name}: {shown} is outside Neo4j's 64-bit integer range ({_INT64_RANGE[0]} .. {_INT64_RANGE[1]}); "
            f'pass it as text ({name}=\'"{shown}"\') or as a float ({shown}.0)', param_hint="--param")
    for inner in value.values() if isinstance(value, dict) else value if isinstance(value, list) else ():
        _check_integers(name, inner)


@click.command()
@click.argument("user_id")
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(min=1), help="How many users to return.")
@click.option("--segment", help="Only users of this segment (numbers are compared as numbers).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@connection_options
def similar(user_id: str, k: int, segment: str | None, as_json: bool, **connection: str | None) -> None:
    """Users whose stored profile vectors are closest to USER_ID's (cosine, via the vector index)."""
    where = None if segment is None else {"segment": _parse_param(f"segment={segment}")[1]}
    with open_profile_store(**connection) as store:
        hits = store.similar_users(user_id, k=k, where=where)
    if as_json:
        click.echo(json.dumps([hit._asdict() for hit in hits], indent=2, default=str))
        return
    shown = [name for name in SIMILAR_COLUMNS if any(name in hit.properties for hit in hits)]
    rows = [
        {"rank": rank, "user": hit.id, "score": hit.score} | {name: hit.properties.get(name) for name in shown}
        for rank, hit in enumerate(hits, start=1)
    ]
    click.echo(format_table(rows))


@click.command()
@click.argument("cypher")
@click.option(
    "--param", "params", multiple=True, metavar="NAME=VALUE",
    help="Query parameter $NAME; VALUE is read as JSON when it parses (3, true, [1,2]), else as text. Repeatable.",
)  # fmt: skip
@click.option(
    "--write", is_flag=True,
    help="Allow the query to change the database or the server (read-only otherwise: no LOAD CSV, "
    "TERMINATE TRANSACTIONS, dbms.* procedures or administration commands).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@connection_options
def query(cypher: str, params: tuple[str, ...], write: bool, as_json: bool, **connection: str | None) -> None:
    """Run a Cypher query against the profile store, read-only unless --write.

    Read-only queries may read the graph and its metadata (SHOW INDEXES, db.labels(), ...) and
    nothing else; Neo4j plans each one first (EXPLAIN) and anything else is refused.
    """
    parameters = dict(_parse_param(text) for text in params)
    with open_profile_store(**connection) as store:
        rows = store.run_cypher(cypher, parameters, write=write)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    else:
        columns = list(dict.fromkeys(column for row in rows for column in row))
        click.echo(format_table(rows, columns))
