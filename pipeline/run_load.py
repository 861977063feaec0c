"""How a whole run reaches the profile store: the offline import into an empty managed Neo4j, or UNWIND.

`train` (a fresh run) and `sync` (a run folder, e.g. one trained with ``--no-sync``) write a
whole run the same way, so the choice of path and its reasons are made here once.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from personagraph.errors import PersonaGraphError
from personagraph.store.bulk_import import (AUTO, AUTO_BULK_MIN_USERS, BULK_IMPORT, LOAD_PATHS, UNWIND, bulk_load,
                                            first_load_refusal)
from personagraph.store.neo4j_server import Neo4jServer
from personagraph.store.profile_changes import ProfileChanges
from personagraph.store.profile_store import ProfileStore
from personagraph.store.profile_sync import sync_changes


def load_refusal(load: str, managed_server: Neo4jServer | None, num_users: int | None = None) -> str | None:
    """Why a whole run will not be bulk-imported (``None``: it will); ``--load bulk`` refuses rather than UNWINDs.

    ``managed_server`` is the managed server the store reaches (``None`` for any other store);
    ``auto`` also leaves a run of fewer than ``AUTO_BULK_MIN_USERS`` users (``num_users``, when
    known) to UNWIND, which is faster there.
    """
    if load not in LOAD_PATHS:
        raise PersonaGraphError(f"--load must be one of {', '.join(LOAD_PATHS)}, not {load!r}")
    if load == UNWIND:
        return "--load unwind"
    refusal = "the store is not the managed local Neo4j" if managed_server is None else first_load_refusal(managed_server)
    if refusal is not None and load == BULK_IMPORT:
        raise PersonaGraphError(f"--load bulk imports into the managed Neo4j only when it is empty: {refusal}; "
                                "nothing was written — drop --load bulk to sync with UNWIND")
    if refusal is None and load == AUTO and num_users is not None and num_users < AUTO_BULK_MIN_USERS:
        refusal = (f"{num_users:,} users: below {AUTO_BULK_MIN_USERS:,} UNWIND is faster than the import; "
                   "--load bulk imports anyway")
    return refusal


def write_whole_run(load: str, managed_server: Neo4jServer | None, open_store: Callable[[], ProfileStore],
                    changes: ProfileChanges, run_id: str, run_folder: Path, num_users: int, progress: bool = True,
                    description: str = "syncing to Neo4j") -> tuple[dict[str, Any], dict[str, int]]:
    """Write ``changes`` (a whole run): a first load into the managed server by bulk import, anything else
    with UNWIND. Returns the path taken (with the import's steps, or why not the import) and the rows
    written per kind."""
    refusal = load_refusal(load, managed_server, num_users)
    if refusal is None:
        assert managed_server is not None
        steps: dict[str, dict[str, float]] = {}
        written = bulk_load(managed_server, changes, run_id, progress, run_folder=run_folder, steps=steps)
        return {"path": BULK_IMPORT, "steps": steps}, written
    with open_store() as store:
        written = sync_changes(store, changes, run_id, progress, description, run_folder=run_folder)
    return {"path": UNWIND, "why_not_bulk": refusal}, written


def describe_load(load: dict[str, Any]) -> str:
    """The path a whole run took to Neo4j, in words (for a command's summary)."""
    if load.get("path") == BULK_IMPORT:
        return "bulk import (neo4j-admin, into the empty managed database)"
    return f"UNWIND batches ({load['why_not_bulk']})" if load.get("why_not_bulk") else "UNWIND batches"
