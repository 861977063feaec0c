"""Write a shop's graph and its profiles to a :class:`ProfileStore`: one path for `train`, `update` and `sync`.

The store receives aggregated interactions (one relationship per user–item pair and event
type, with its count and latest time), not raw events: that is what Cypher users query,
and it keeps a re-sync idempotent. `train` and `sync` hand :func:`sync_changes` the whole
shop (:func:`sync_profiles`); `update` hands it what it touched.

Neo4j mirrors one run: every node and relationship carries the ``run_id`` that wrote it, a
sync marks itself pending before its first write (readers refuse from then on), a whole-run
sync removes whatever another run wrote, and only the commit makes the new run the active one.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from torch_geometric.data import HeteroData
from tqdm.auto import tqdm

from personagraph.errors import PersonaGraphError
from personagraph.gnn.neighbour_blend import NeighbourBlend
from personagraph.graph.item_neighbours import ItemNeighbours
from personagraph.profiles.search_projection import SearchProjection
from personagraph.profiles.tag_vocabulary import TagVocabulary
from personagraph.profiles.user_profiles import UserProfiles
from personagraph.row_table import RowTable, with_constant
from personagraph.shop.schema import SOCIAL, EdgeType, shop_schema
from personagraph.shop.shop_data import Catalog, ShopData
from personagraph.store.profile_changes import ProfileChanges
from personagraph.store.profile_store import NEIGHBOUR_SIMILARITY, NEIGHBOURS, SEARCH_EMBEDDING, ProfileStore, Row
from personagraph.store.sync_state import FULL_SYNC, UPDATE_SYNC, SyncState, finish_command

#: Node label of each node type of the heterogeneous graph.
LABEL_FOR_NODE = {"user": "User", "item": "Item", "query": "Query", "category": "Category"}


def sync_changes(
    store: ProfileStore,
    changes: ProfileChanges,
    run_id: str,
    progress: bool = True,
    description: str = "syncing to Neo4j",
    *,
    run_folder: str | Path | None = None,
) -> dict[str, int]:
    """Write ``changes`` under ``run_id`` (the run folder ``run_folder`` holds); returns rows written per kind.

    Nodes go first, so every link finds both ends. Everything is an idempotent upsert, and a
    user's interactions, tags and segment replace that user's previous ones, so re-running a
    sync changes nothing. A whole run also removes every node and relationship of other runs.
    A failure names the step it stopped at and the command that finishes the sync.
    """
    folder = None if run_folder is None else str(Path(run_folder).resolve())
    before = store.sync_state()
    if not changes.whole_run:
        _check_base(before, changes.base_run_id, run_id, folder)
    steps: list[tuple[str, Callable[[], int]]] = [
        ("schema", lambda: store.ensure_schema(changes.embedding_dim, changes.search_dim) or 0),
        ("items", partial(store.upsert_items, _stamped(changes.items, run_id))),
        ("categories", partial(store.upsert_categories, _stamped(changes.categories, run_id))),
        ("queries", partial(store.upsert_queries, _stamped(changes.queries, run_id))),
        ("users", partial(store.upsert_users, changes.users, run_id)),
    ]
    for (source, relation, target), rows in changes.edges.items():
        write = store.replace_relationships if source == "user" else store.upsert_relationships
        rel_type = shop_schema().relationship_for_edge[relation]
        steps.append((rel_type, partial(write, rel_type, LABEL_FOR_NODE[source], LABEL_FOR_NODE[target],
                                        _stamped(rows, run_id))))
    if changes.social_users:
        steps.append(("SOCIAL", partial(store.replace_social_links, changes.social_users,
                                        _stamped(changes.social_links, run_id))))
    steps += [
        ("tags", partial(store.upsert_nodes, "Tag", _stamped(changes.tags, run_id))),
        ("INTERESTED_IN", partial(store.replace_relationships, "INTERESTED_IN", "User", "Tag",
                                  _stamped(changes.interests, run_id))),
        ("segments", partial(store.replace_segments, _stamped(changes.segments, run_id))),
        ("IN_SEGMENT", partial(store.replace_relationships, "IN_SEGMENT", "User", "Segment",
                               _stamped(changes.segment_links, run_id))),
    ]
    written: dict[str, int] = {}
    step = "begin"
    try:
        store.begin_sync(run_id, folder, FULL_SYNC if changes.whole_run else UPDATE_SYNC)
        bar = tqdm(steps, desc=description, unit="step", disable=not progress)
        for step, write_step in bar:
            bar.set_postfix_str(step)
            store.mark_sync_step(step)
            written[step] = write_step()
        del written["schema"]
        if changes.whole_run:
            step = "prune"
            store.mark_sync_step(step)
            removed = store.prune_other_runs(run_id)
            written |= {f"removed_{kind}": count for kind, count in removed.items()}
        step = "commit"
        store.mark_sync_step(step)
        store.commit_sync(run_id, folder, changes.embedding_dim, changes.neighbour_blend)
    except PersonaGraphError as exc:
        raise PersonaGraphError(_stopped_message(run_id, step, before, folder, changes.whole_run, exc)) from None
    return written


def _stamped(rows: Iterable[Row], run_id: str) -> Iterable[Row]:
    """The rows with the run that writes them, so a later whole-run sync can tell what is stale."""
    if isinstance(rows, RowTable):
        return RowTable(with_constant(rows.table, "run_id", run_id), rows.batch_rows)
    return ({**row, "run_id": run_id} for row in rows)


def _check_base(state: SyncState, base_run_id: str | None, run_id: str, run_folder: str | None) -> None:
    """An update changes one state of a run: the store must hold exactly that one, complete."""
    state.require_complete()
    if state.active_run != base_run_id:
        holds = f"run {state.active_run}" if state.active_run else "no run"
        raise PersonaGraphError(
            f"Neo4j holds {holds}, but update {run_id} changes run {base_run_id}; nothing was written — "
            f"sync the run first (`{finish_command(run_folder)}`), then send the update again"
        )


def _stopped_message(run_id: str, step: str, before: SyncState, run_folder: str | None, whole_run: bool,
                     error: PersonaGraphError) -> str:
    """One line: where the sync stopped, what the store serves now, and how to finish."""
    cause = str(error).split(" — ")[0]
    previous = f"run {before.active_run}" if before.active_run else "nothing"
    again = "send the update again" if not whole_run else f"run `{finish_command(run_folder)}`"
    if step == "begin":
        return (f"sync of run {run_id} did not start ({cause}); nothing was written and Neo4j still serves "
                f"{previous} — once Neo4j is back, {again}")
    finish = f"`{finish_command(run_folder)}`" + (", then send the update again" if not whole_run else "")
    return (f"sync of run {run_id} stopped at step '{step}' ({cause}); the sync is incomplete: Neo4j still names "
            f"{previous} as active but refuses lookups until it is finished — once Neo4j is back, run {finish}")


def sync_profiles(
    store: ProfileStore,
    shop: ShopData,
    graph: HeteroData,
    profiles: UserProfiles,
    item_vectors: np.ndarray,
    run_id: str,
    derived_queries: bool = False,
    progress: bool = True,
    *,
    run_folder: str | Path | None = None,
) -> dict[str, int]:
    """Write the whole shop (nodes, items with their vectors, interactions) and every profile as
    run ``run_id``; whatever other runs left in the store is removed."""
    changes = whole_run_changes(shop, graph, profiles, item_vectors, derived_queries)
    return sync_changes(store, changes, run_id, progress, run_folder=run_folder)


def whole_run_changes(shop: ShopData, graph: HeteroData, profiles: UserProfiles, item_vectors: np.ndarray,
                      derived_queries: bool = False, search_projection: SearchProjection | None = None,
                      blend: NeighbourBlend = NeighbourBlend(), neighbours: ItemNeighbours | None = None
                      ) -> ProfileChanges:
    """A trained run as one sync's rows: what :func:`sync_changes` and the first-load bulk import both take."""
    return ProfileChanges.from_profiles(
        profiles, tags=tag_rows(profiles), search_projection=search_projection,
        **shop_rows(shop, graph, item_vectors, derived_queries, blend, neighbours)
    )


def shop_rows(shop: ShopData, graph: HeteroData, item_vectors: np.ndarray, derived_queries: bool = False,
              blend: NeighbourBlend = NeighbourBlend(), neighbours: ItemNeighbours | None = None) -> dict[str, Any]:
    """The shop's part of a whole-run :class:`ProfileChanges`: items, categories, queries and every edge,
    and how the run ranks items (its ``blend``, with the ``neighbours`` table when the blend is active)."""
    names = {
        "user": list(shop.events.user_ids),
        "item": list(shop.catalog.item_ids),
        "query": list(shop.events.query_texts),
        "category": list(graph["category"].names),
    }
    columns = {kind: pa.array(values, pa.string()) for kind, values in names.items()}
    return {
        "items": item_rows(shop.catalog, item_vectors, neighbours if blend.active else None),
        "neighbour_blend": blend.as_dict(),
        "categories": category_rows(names["category"]),
        "queries": query_rows(names["query"], derived_queries),
        "edges": {
            edge_type: edge_rows(graph, edge_type, columns[edge_type[0]], columns[edge_type[2]])
            for edge_type in forward_edge_types(graph) if edge_type != SOCIAL.edge_type  # by relation, below
        },
        "social_users": names["user"] if shop.social is not None and len(shop.social) else [],
        "social_links": shop.social.rows(names["user"]) if shop.social is not None else [],
    }


def forward_edge_types(graph: HeteroData) -> list[EdgeType]:
    """The graph's edge types but the ``rev_*`` mirrors (the store's relationships have a direction)."""
    return [edge_type for edge_type in graph.edge_types if not edge_type[1].startswith("rev_")]


def item_rows(catalog: Catalog, item_vectors: np.ndarray, neighbours: ItemNeighbours | None = None
              ) -> Iterator[dict[str, Any]]:
    """Item nodes with their vectors (``item_vectors[i]`` is the catalogue's ``i``-th item) and, where the
    run ranks with a neighbour table, each item's neighbours (ids, best first) and their similarities;
    ``None`` clears lists an earlier run left (items beyond the table, added by an update, have none),
    and the search vector an earlier run with a search projection left (a projection sets it again)."""
    for i, item_id in enumerate(catalog.item_ids):
        price = float(catalog.prices[i])
        listed = None
        if neighbours is not None and i < neighbours.num_items:
            kept = neighbours.similarity[i] > 0
            listed = ([catalog.item_ids[j] for j in neighbours.nearest[i][kept]],
                      neighbours.similarity[i][kept].astype(np.float64).tolist())
        yield {
            "id": item_id,
            "title": catalog.titles[i],
            "category": catalog.categories[i],
            "brand": catalog.brands[i],
            "price": None if math.isnan(price) else price,
            "embedding": item_vectors[i].tolist(),
            NEIGHBOURS: None if listed is None else listed[0],
            NEIGHBOUR_SIMILARITY: None if listed is None else listed[1],
            SEARCH_EMBEDDING: None,
        }


def category_rows(paths: Iterable[str]) -> Iterator[dict[str, str]]:
    """Category nodes: the full path is the id, its last level the readable name."""
    return ({"id": path, "name": path.split(">")[-1].strip()} for path in paths)


def query_rows(texts: Iterable[str], derived: bool) -> Iterator[dict[str, Any]]:
    """Query nodes; ``derived`` says a converter made the shop's queries up from item texts."""
    return ({"id": text, "derived": derived} for text in texts)


def tag_rows(profiles: UserProfiles) -> Iterator[dict[str, str]]:
    """Tag nodes of the profiles' tag vocabulary."""
    return vocabulary_rows(profiles.tags.vocabulary)


def vocabulary_rows(vocabulary: TagVocabulary) -> Iterator[dict[str, str]]:
    """Tag nodes of a tag vocabulary."""
    return ({"name": label, "kind": kind} for label, kind in zip(vocabulary.labels, vocabulary.kinds))


def edge_rows(
    graph: HeteroData, edge_type: EdgeType, sources: Sequence[str] | pa.Array, targets: Sequence[str] | pa.Array
) -> RowTable:
    """Relationship rows of one edge type: ``start`` / ``end`` names, event ``count``, ``last_at`` time
    (absent where the events had no time). Built as columns: a whole shop has tens of millions."""
    store = graph[edge_type]
    src, dst = store.edge_index.numpy()
    last = store.last_ts.numpy().astype(np.float64)
    timed = ~np.isnan(last)
    micros = np.where(timed, np.round(np.where(timed, last, 0.0) * 1e6), 0).astype(np.int64)
    return RowTable(pa.table({
        "start": _names(sources).take(pa.array(src)),
        "end": _names(targets).take(pa.array(dst)),
        "count": pa.array(store.count.numpy().astype(np.int64)),
        "last_at": pa.array(micros, pa.timestamp("us", tz="UTC"), mask=~timed),
    }))


def _names(names: Sequence[str] | pa.Array) -> pa.Array:
    return names if isinstance(names, pa.Array) else pa.array(list(names), pa.string())
