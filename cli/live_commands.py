"""`personagraph update` and `personagraph profile`: live profiles from a trained run, without retraining.

Both work on a run folder, found by the rule every command follows (``--run``, else the run
of the profiles in Neo4j, else the newest run folder under ``./runs``): ``update`` reads
Neo4j for it unless ``--no-sync``; ``profile`` needs no database. `profile` is a lookup and
prints only its answer; `update` shows progress bars unless ``--quiet``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

import click

from personagraph.cli.data_commands import timestamp_window, timestamp_window_options
from personagraph.cli.privacy_commands import PSEUDONYMISE_OPTION, state_pseudonymiser
from personagraph.cli.profile_commands import RUN_OPTION, _stored_run_id, load_run
from personagraph.cli.store_commands import connection_options, format_table, open_profile_store
from personagraph.errors import PersonaGraphError

CACHE_OPTION = click.option(
    "--cache-dir", type=click.Path(file_okay=False, path_type=Path),
    help="Embedding cache for new item and query texts [default: the one the run recorded].",
)
#: Shared by the commands that write a run folder, which has one writer at a time.
WAIT_OPTION = click.option(
    "--wait", type=click.FloatRange(min=0.0), default=0.0, show_default=True, metavar="SECONDS",
    help="How long to wait for another train or update writing the same run folder (0: fail at once, naming it).",
)


@click.command()
@click.argument("events_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@RUN_OPTION
@click.option("--items", "items_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="New items (same columns as items.*); they get vectors at once and can be recommended.")
@CACHE_OPTION
@click.option("--no-sync", is_flag=True, help="Update the run folder only, not Neo4j.")
@WAIT_OPTION
@PSEUDONYMISE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the update summary as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@timestamp_window_options
@connection_options
def update(events_file: Path, run_dir: Path | None, items_file: Path | None, cache_dir: Path | None,
           no_sync: bool, wait: float, pseudonymise: bool, as_json: bool, quiet: bool, not_before: str | None,
           not_after: str | None,
           **connection: str | None) -> None:
    """Fold the new events in EVENTS_FILE (CSV, Parquet or JSON Lines, the columns of events.*)
    into a trained run, without retraining.

    Rows are validated as `train` validates them (nothing is stored if one is bad); events
    already ingested are skipped, so sending a file twice changes nothing. New users, items
    and queries are added; only the users with new events are profiled again (vector, tags,
    activity, nearest segment) with the trained model, and written to Neo4j under a new run
    id (<run id>+update-NNNN) with the new items, queries and interactions. Every other
    profile stays as it is. The run folder records the update in updates/NNNN/.

    One train or update writes a run at a time; another one already at work makes this one
    fail at once, naming it, unless --wait gives it time to finish. A file sent again (the
    same bytes, as recorded in updates/journal.json) is reported as already ingested, and
    nothing is read or written.

    A run trained with --pseudonymise needs --pseudonymise here too (and one with raw ids
    refuses it); search text is redacted as the run was.
    """
    from personagraph.pipeline.incremental_update import IncrementalUpdate
    from personagraph.pipeline.run import find_run_dir
    from personagraph.shop.table_count import TableCount

    window = timestamp_window(not_before, not_after)
    open_store = None if no_sync else (lambda: open_profile_store(**connection))
    stored_run_id = None
    if open_store is not None:
        with open_store() as store:  # also fails on an unreachable server before any work
            stored_run_id = _stored_run_id(store) if run_dir is None else None
    run_dir = find_run_dir(run_dir, stored_run_id)
    result = IncrementalUpdate.apply(run_dir, events_file, items_file, open_store, cache_dir, progress=not quiet,
                                     timestamp_window=window, wait=wait,
                                     pseudonymiser=state_pseudonymiser(create=False) if pseudonymise else None)
    if as_json:
        click.echo(json.dumps(result.record(events_file, items_file), indent=2, default=str))
        return
    counts = result.counts
    if result.already_ingested_as is not None:
        files = f"{events_file}" + (f" and {items_file}" if items_file else "")
        click.echo(f"{files} already ingested as update {result.already_ingested_as} of run {run_dir}; "
                   "nothing changed")
        return
    click.echo(str(TableCount(events_file.name, counts["events_rows_read"],
                              counts["events_rows_read"] - counts["events_rows_rejected"], counts["events_rows_rejected"])))
    if result.number is None:
        click.echo(f"nothing new in {events_file} for run {run_dir}: "
                   f"{counts['events_already_ingested']} event(s) already ingested, "
                   f"{counts['items_already_known']} item(s) already known")
        return
    click.echo(f"update {result.number} of {run_dir}: run id {result.run_id}")
    click.echo(f"  users: {counts['users_added']:,} added, {counts['users_refreshed']:,} refreshed, "
               f"{counts['users_untouched']:,} untouched")
    click.echo(f"  events: {counts['events_added']:,} added, {counts['events_already_ingested']:,} already ingested; "
               f"items: {counts['items_added']:,} added, {counts['items_already_known']:,} already known; "
               f"queries: {counts['queries_added']:,} added\n")
    click.echo(format_table([{"stage": name, "seconds": stats["seconds"]} for name, stats in result.stages.items()]))
    click.echo("\n" + ("synced to Neo4j: " + ", ".join(f"{n} {c:,}" for n, c in result.synced.items())
                       if result.synced is not None else "not synced to Neo4j (--no-sync)"))


@click.command()
@click.argument("user_id", required=False)
@click.option("--events", "events_in", type=click.File("r"),
              help="JSON list of the user's events (objects with event, timestamp, item_id, query); - for stdin.")
@RUN_OPTION
@click.option("-n", "--top", default=10, show_default=True, type=click.IntRange(min=1),
              help="How many tags and recommended items to show.")
@CACHE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON.")
def profile(user_id: str | None, events_in: TextIO | None, run_dir: Path | None, top: int, cache_dir: Path | None,
            as_json: bool) -> None:
    """Compute a profile on the fly, storing nothing.

    USER_ID alone: an existing user's profile, recomputed from the run's data (as of its
    latest update). With --events FILE, or USER_ID "-" (events on stdin): the profile of
    a user who did those events, e.g. a visitor the run has never seen. Shows the vector,
    top tags, nearest segment, activity and the top recommended items.
    """
    from personagraph.pipeline.online_profiler import ANONYMOUS_USER, OnlineProfiler

    if user_id == "-":
        user_id, events_in = None, sys.stdin
    if user_id is None and events_in is None:
        raise click.UsageError("give USER_ID, or the events of an unseen user with --events FILE or -")
    profiler = OnlineProfiler.from_run(load_run(run_dir, cache_dir))
    if events_in is not None:
        profiles, seen = profiler.profile(_read_events(events_in), user_id or ANONYMOUS_USER)
    else:
        profiles, seen = profiler.stored_profile(user_id)
    summary = profiler.describe(profiles, seen, top)
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    click.echo(_describe_profile(summary))


def _describe_profile(summary: dict[str, Any]) -> str:
    segment = summary["segment"]
    activity = summary["activity"]
    lines = [
        f"user {summary['user']} · run {summary['run_id']}",
        f"  vector: {summary['vector']['dim']} dims, starts {summary['vector']['head']}",
        "  segment: " + (f"{segment['id']} ({segment['name']}, {segment['size']:,} users)" if segment else "none"),
        "  tags: " + ", ".join(f"{t['tag']} ({t['weight']:.2f})" for t in summary["top_tags"]),
        f"  activity: {activity.get('event_count', 0)} events, {activity.get('purchase_count', 0)} purchases, "
        f"last seen {activity.get('last_seen')}",
        "",
        format_table([{"rank": rank} | item for rank, item in enumerate(summary["recommendations"], start=1)]),
    ]
    return "\n".join(lines)


def _read_events(stream: TextIO) -> list[dict[str, Any]]:
    try:
        events = json.load(stream)
    except json.JSONDecodeError as error:
        raise PersonaGraphError(f"the events are not valid JSON ({error}); give a JSON list of event objects") from None
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise PersonaGraphError('the events must be a JSON list of objects, e.g. '
                                '[{"event": "view", "timestamp": "2025-01-01T10:00:00Z", "item_id": "i001"}]')
    return events

