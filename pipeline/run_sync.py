"""`personagraph sync`: make the profile store mirror a run folder again, without retraining.

What finishes a sync that was cut short (Neo4j gone, the process killed), and what moves the
store back to a run after another one was synced. The users' vectors and attributes, the item
vectors and the segment links are the run folder's own; the interest tags (whose weights the
folder does not keep) are pooled again in the run's frozen space, as `update` does.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from personagraph.errors import PersonaGraphError
from personagraph.pipeline.run import Run
from personagraph.pipeline.run_folder import RunFolder
from personagraph.pipeline.run_load import load_refusal, write_whole_run
from personagraph.store.bulk_import import UNWIND
from personagraph.row_table import RowTable
from personagraph.store.profile_changes import ProfileChanges
from personagraph.store.profile_store import ProfileStore
from personagraph.store.neo4j_server import Neo4jServer
from personagraph.store.profile_sync import shop_rows, vocabulary_rows


def sync_run(
    run_dir: str | Path,
    open_store: Callable[[], ProfileStore],
    progress: bool = True,
    wait: float | None = 0.0,
    load: str = UNWIND,
    managed_server: Neo4jServer | None = None,
) -> dict[str, Any]:
    """Write the run in ``run_dir`` (as of its latest update) to the store as its one active run.

    Holds the run folder's writer lock meanwhile (``wait`` seconds for a train or update at
    work), so the folder cannot change under the sync. ``load`` and ``managed_server`` choose the
    path as for `train` (:func:`~personagraph.pipeline.run_load.write_whole_run`): a run synced
    into the empty managed server after ``train --no-sync`` may be bulk-imported. Returns the
    run id, the path taken and the rows written.
    """
    folder = RunFolder(run_dir)
    with folder.writing("personagraph sync", wait):
        run = Run.load(folder.path, progress=progress)
        load_refusal(load, managed_server)  # --load bulk into a store that cannot take it fails before any work
        changes = run_changes(run)
        how, written = write_whole_run(load, managed_server, open_store, changes, run.run_id, run.folder.path,
                                       len(run.shop.events.user_ids), progress, "syncing the run to Neo4j")
    return {"run_id": run.run_id, "run_folder": str(run.folder.path), "load": how, "synced": written}


def run_changes(run: Run) -> ProfileChanges:
    """The whole run as one sync's rows (users, links and tags held as columns, not as Python objects)."""
    shop, model, space = run.shop, run.model, run.space
    stored = pq.read_table(run.folder.profiles)
    ids = stored.column("user_id").to_pylist()
    if sorted(ids) != sorted(shop.events.user_ids):
        raise PersonaGraphError(f"{run.folder.profiles} does not list the users of the run's shop; "
                                "the run folder is damaged — train again")
    profiles = space.profile_users(model, shop)  # for the interest-tag weights only
    item_vectors = _stored_item_vectors(run)
    return ProfileChanges(
        embedding_dim=len(stored.column("vector")[0]) if stored.num_rows else int(model.out_dim),
        users=user_rows(stored),
        interests=profiles.tag_rows(),
        segments=profiles.segment_rows(),  # the space's segments, sized as of the latest update
        segment_links=segment_link_rows(stored),
        tags=vocabulary_rows(profiles.tags.vocabulary),
        search_projection=run.search_projection,
        **shop_rows(shop, run.graph, item_vectors, run.config.get("dataset", {}).get("derived_queries", False),
                    run.neighbour_blend, run.item_neighbours),
    )


def user_rows(stored: pa.Table) -> RowTable:
    """The store's ``User`` rows from the run folder's ``profiles.parquet`` (absent attributes left out)."""
    renamed = stored.rename_columns(["id" if name == "user_id" else "embedding" if name == "vector" else name
                                     for name in stored.column_names])
    attributes = [name for name in renamed.column_names if name not in ("id", "embedding")]
    return RowTable(renamed.select([*attributes, "id", "embedding"]))


def segment_link_rows(stored: pa.Table) -> RowTable:
    """(user)-[:IN_SEGMENT]->(segment) rows of the run folder's ``profiles.parquet``."""
    return RowTable(pa.table({"start": stored.column("user_id"), "end": stored.column("segment").cast(pa.int64())}))


def _stored_item_vectors(run: Run) -> np.ndarray:
    """The run folder's item vectors in catalogue order."""
    table = pq.read_table(run.folder.item_vectors).to_pydict()
    by_id = dict(zip(table["item_id"], table["vector"]))
    missing = [item_id for item_id in run.shop.catalog.item_ids if item_id not in by_id]
    if missing:
        raise PersonaGraphError(f"{run.folder.item_vectors} lacks {len(missing)} item(s) of the run's catalogue "
                                f"(e.g. {missing[0]!r}); the run folder is damaged — train again")
    return np.asarray([by_id[item_id] for item_id in run.shop.catalog.item_ids], dtype=np.float32)
