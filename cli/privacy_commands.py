"""`personagraph forget` and `personagraph pseudonym`, and the ``--pseudonymise`` option of `train` and `update`.

`forget` erases users from a run folder and Neo4j and says how many rows each place lost, never
an id. `pseudonym` prints the pseudonym a ``--pseudonymise`` run stores for a raw id, for lookups.
The pseudonym key lives in the state folder (``PERSONAGRAPH_HOME``), or where
``PERSONAGRAPH_PSEUDONYM_KEY`` points.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from personagraph.cli.profile_commands import run_option
from personagraph.cli.store_commands import connection_options, open_profile_store
from personagraph.errors import PersonaGraphError

if TYPE_CHECKING:
    from personagraph.shop.pseudonyms import Pseudonymiser
    from personagraph.shop.shop_privacy import ShopPrivacy

#: Environment variable naming the pseudonym key file, overriding ``<state folder>/pseudonym.key``.
KEY_FILE_VARIABLE = "PERSONAGRAPH_PSEUDONYM_KEY"

PSEUDONYMISE_OPTION = click.option(
    "--pseudonymise", is_flag=True,
    help="Replace user ids by keyed-hash pseudonyms as soon as they are read (key: pseudonym.key in the state "
         "folder); raw ids reach neither the run folder nor Neo4j. A pseudonymised run's updates need it too.",
)
KEEP_QUERY_PII_OPTION = click.option(
    "--keep-query-pii", is_flag=True,
    help="Keep e-mail addresses and phone numbers in search text (by default they are stored as <email> / <phone>).",
)


def key_file() -> Path:
    """Where the pseudonym key is: ``$PERSONAGRAPH_PSEUDONYM_KEY``, else ``pseudonym.key`` in the state folder."""
    from personagraph.shop.pseudonyms import KEY_FILE_NAME
    from personagraph.store.neo4j_server import default_home_dir

    return Path(os.environ.get(KEY_FILE_VARIABLE) or default_home_dir() / KEY_FILE_NAME)


def state_pseudonymiser(create: bool = True) -> "Pseudonymiser":
    """The pseudonymiser of the state folder's key (created on first use when ``create``)."""
    from personagraph.shop.pseudonyms import Pseudonymiser

    path = key_file()
    if not create and not path.is_file():
        raise PersonaGraphError(f"no pseudonym key at {path} — `personagraph train --pseudonymise` creates it; "
                                f"set PERSONAGRAPH_HOME (or {KEY_FILE_VARIABLE}) to where the run was trained")
    return Pseudonymiser.from_key_file(path)


def shop_privacy(pseudonymise: bool, keep_query_pii: bool = False) -> "ShopPrivacy":
    """The privacy setting of a `train` from its flags."""
    from personagraph.shop.shop_privacy import ShopPrivacy

    return ShopPrivacy(state_pseudonymiser() if pseudonymise else None, redact_queries=not keep_query_pii)


@click.command()
@click.argument("user_ids", nargs=-1)
@click.option("--from-file", "id_file", type=click.File("r", encoding="utf-8"),
              help="Also erase the ids in this file, one a line (- for stdin); keeps them out of shell history.")
@run_option("Run folder to erase them from [default: the run of the profiles in Neo4j under ./runs; with "
            "--no-sync, the newest run folder under ./runs]. Other run folders need their own forget.")
@click.option("--no-sync", is_flag=True, help="Erase from the run folder only, not from Neo4j.")
@click.option("--json", "as_json", is_flag=True, help="Print the erasure record (counts only) as JSON.")
@connection_options
def forget(user_ids: tuple[str, ...], id_file: TextIO | None, run_dir: Path | None, no_sync: bool, as_json: bool,
           **connection: str | None) -> None:
    """Erase users: their profile, events, update records and rejected rows from a run folder,
    and their node with every relationship from Neo4j (segment sizes lowered).

    Every other profile stays exactly as stored. The run's data folder (the input you
    trained from) is not changed: a run without a shop state gets one without these users
    and never reads its data folder again, but delete them from your own copies too before
    training again. In a --pseudonymise run, give raw ids or pseudonyms. erasures.jsonl in
    the run folder records when and how many rows each place lost, never an id.
    """
    from personagraph.pipeline.run import find_run_dir
    from personagraph.pipeline.run_folder import RunFolder
    from personagraph.pipeline.user_erasure import UserErasure, read_user_ids
    from personagraph.shop.shop_privacy import CONFIG_KEY

    ids = read_user_ids([*user_ids, *(id_file or [])])
    if not ids:
        raise click.UsageError("give the USER_IDs to erase, or --from-file FILE (one id a line)")
    open_store = None if no_sync else (lambda: open_profile_store(**connection))
    stored_run_id = None
    if open_store is not None:
        with open_store() as store:  # fails on an unreachable server before anything is erased
            stored_run_id = store.active_run_id() if run_dir is None else None
    run_dir = find_run_dir(run_dir, stored_run_id)
    folder = RunFolder(run_dir)
    pseudonymiser = None
    if (folder.path / "config.json").is_file() and \
            (folder.read_json("config.json").get(CONFIG_KEY) or {}).get("pseudonym_key_id"):
        pseudonymiser = state_pseudonymiser(create=False) if key_file().is_file() else None  # else: pseudonyms given
    erasure = UserErasure.apply(run_dir, ids, open_store, pseudonymiser)
    if as_json:
        click.echo(json.dumps(erasure.record() | {"run_folder": erasure.run_folder}, indent=2))
        return
    click.echo(_describe(erasure.record(), run_dir))


def _describe(record: dict[str, Any], run_dir: Path) -> str:
    from personagraph.pipeline.user_erasure import REPORTS

    lines = [f"erased {record['users_found']} of {record['users_requested']} user(s) from run {run_dir}"]
    if record["users_found"] < record["users_requested"]:
        lines.append(f"  {record['users_requested'] - record['users_found']} id(s) were not in the run folder")
    lines.append("  run folder: " + ", ".join(f"{place} {count:,}" for place, count in record["removed"].items()))
    if record["removed"].get(REPORTS):
        lines.append(f"  the run's HTML report was deleted (it showed the users as they were); "
                     f"write a new one with `personagraph report {run_dir}`")
    store = record["store"]
    lines.append("  Neo4j: " + (", ".join(f"{kind} {count:,}" for kind, count in store.items())
                                if store is not None else "not touched (--no-sync)"))
    return "\n".join(lines)


@click.command()
@click.argument("user_ids", nargs=-1, required=True)
def pseudonym(user_ids: tuple[str, ...]) -> None:
    """Print the pseudonym `--pseudonymise` stores for each USER_ID, one a line, e.g.
    `personagraph similar "$(personagraph pseudonym alice)"`."""
    pseudonymiser = state_pseudonymiser(create=False)
    for user_id in user_ids:
        click.echo(pseudonymiser(user_id))
