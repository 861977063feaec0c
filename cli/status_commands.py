"""`personagraph status` and `personagraph sync`: which run Neo4j serves, and making it serve a run folder.

Neo4j mirrors one run at a time (see "Sync and the active run" in docs/ARCHITECTURE.md).
`status` shows that run, what the store holds, and a sync that did not finish (its step and
the command that finishes it); `sync` writes a run folder to the store as the active run.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from personagraph.cli.profile_commands import run_option
from personagraph.cli.store_commands import (LOAD_OPTION, connection_options, format_table, managed_server_of,
                                             open_profile_store)

if TYPE_CHECKING:
    from personagraph.store.profile_store import ProfileStore
    from personagraph.store.sync_state import SyncState


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@connection_options
def status(as_json: bool, **connection: str | None) -> None:
    """The run Neo4j serves, how many nodes and links it holds (and of other runs: 0 when it
    mirrors one run), and a sync that was cut short, with the step it stopped at."""
    from personagraph.store.run_lineage import rows_of_other_runs

    with open_profile_store(**connection) as store:
        state = store.sync_state()
        counts = store.count_by_run()
    totals = {kind: sum(by_run.values()) for kind, by_run in sorted(counts.items())}
    other = rows_of_other_runs(counts, state.active_run)
    if as_json:
        click.echo(json.dumps(state.to_dict() | {"counts": totals, "rows_of_other_runs": other}, indent=2))
        return
    click.echo(describe_status(state, totals, other))


def describe_status(state: "SyncState", totals: dict[str, int], other: dict[str, int]) -> str:
    """The text of `personagraph status`."""
    if state.active_run:
        lines = [f"active run: {state.active_run}"
                 + (f" (run folder {state.active_run_folder}, since {state.active_since})"
                    if state.active_run_folder else "")]
    else:
        lines = ["active run: none (nothing synced yet: `personagraph train` or `personagraph sync --run RUN_DIR`)"]
    if state.embedding_dim:
        lines.append(f"vector width: {state.embedding_dim}")
    if totals:
        lines += ["", format_table([{"stored": kind, "count": n, "of other runs": other.get(kind, 0)}
                                    for kind, n in totals.items()]), ""]
    if state.incomplete:
        lines.append(f"sync: INCOMPLETE — {state.incomplete_message()}")
    elif other:
        lines.append(f"sync: complete, but {sum(other.values()):,} nodes and links are of other runs "
                     f"(written before runs were tracked) — `personagraph sync --run RUN_DIR` removes them")
    else:
        lines.append("sync: complete")
    return "\n".join(lines)


@click.command()
@run_option("Run folder to write to Neo4j [default: the folder of a sync that did not finish, else the run "
            "of the profiles in Neo4j, under ./runs].")
@click.option("--wait", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              help="Seconds to wait for a train or update writing the run folder.")
@LOAD_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@connection_options
def sync(run_dir: Path | None, wait: float, load: str, as_json: bool, quiet: bool, **connection: str | None) -> None:
    """Make Neo4j mirror a run folder (as of its latest update), without retraining.

    Writes every user, item, query, tag, segment and link of the run, removes whatever other
    runs left, and only then makes it the active run. Finishes a sync that was cut short, and
    syncs a run trained with --no-sync (into the empty managed server of a big shop by bulk
    import, as train would).
    """
    from personagraph.pipeline.run import find_run_dir
    from personagraph.pipeline.run_load import describe_load
    from personagraph.pipeline.run_sync import sync_run

    def open_store() -> "ProfileStore":
        return open_profile_store(**connection)

    if run_dir is None:
        with open_store() as store:
            state = store.sync_state()
        run_dir = Path(state.pending_run_folder) if state.pending_run_folder else find_run_dir(None, state.active_run)
    result = sync_run(run_dir, open_store, progress=not quiet, wait=wait, load=load,
                      managed_server=managed_server_of(connection.get("uri"), connection.get("database")))
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"Neo4j now serves run {result['run_id']} ({result['run_folder']})")
    synced = ", ".join(f"{name} {count:,}" for name, count in result["synced"].items())
    click.echo(f"synced by {describe_load(result['load'])}: {synced}")
