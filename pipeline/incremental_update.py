"""`personagraph update`: fold new events and items into a trained run without retraining.

New events are validated exactly as `train` validates a shop (nothing is stored when a row
is bad), events already ingested are dropped (so sending a file twice changes nothing), new
users, items and queries are appended to the run's shop state, new items and queries get
states in the run's frozen :class:`ProfileSpace`, and only the *touched* users are profiled
again: those with a new event (or whose items or queries changed state, which the frozen
space never does to existing ones), and their friends when the shop has social links (a
friend's social mix and tag agreement read the touched users' profiles). Their profiles are pooled over the same space as
everyone else's, so they equal a full recomputation while every other profile stays as it was.

`recency_days` and `price_percentile` are relative to the shop (its last event, its price
distribution) as of each profile's last refresh; the rest of an untouched profile is what a
full recomputation would give.

Each update is recorded in ``updates/NNNN/`` of the run folder (what came in, counts, the
touched users, the run id written to Neo4j, timings) and the shop state in ``shop_state/``
is rewritten last, so an update that fails midway can simply be sent again.

A run has one writer at a time: an update holds the run folder's writer lock from reading
the run to its last write, so its number follows the previous update's and no update
overwrites another's users. ``updates/journal.json`` records the sha256 and row counts of
every file an update ingested, so a file sent again is recognised before anything is read.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from personagraph.errors import PersonaGraphError
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.store.profile_store import ProfileStore
from personagraph.shop.schema import IN_CATEGORY, LEADS_TO, shop_schema
from personagraph.shop.pseudonyms import Pseudonymiser
from personagraph.shop.shop_data import Catalog, EventLog, ShopData
from personagraph.shop.shop_privacy import ShopPrivacy
from personagraph.shop.shop_reader import TABLE_FORMATS, read_shop
from personagraph.shop.shop_validation_error import ShopValidationError
from personagraph.shop.timestamp_window import TimestampWindow
from personagraph.shop.validation_problem import ValidationProblem
from personagraph.profiles.profile_space import ProfileSpace, empty_event_log, select_items, select_users
from personagraph.store.profile_changes import ProfileChanges
from personagraph.store.profile_sync import category_rows, edge_rows, item_rows, query_rows, sync_changes
from personagraph.pipeline.run import Run
from personagraph.pipeline.run_folder import RunFolder, file_sha256
from personagraph.pipeline.stage_clock import StageClock
from personagraph.profiles.search_projection import SearchProjection
from personagraph.profiles.user_profiles import UserProfiles



@dataclass
class IncrementalUpdate:
    """What one update did: its number and run id (None when nothing was new), counts and timings;
    ``already_ingested_as``: the earlier update that ingested the same file(s), when they were sent again."""

    run_folder: str
    number: int | None
    run_id: str | None
    counts: dict[str, int]
    touched_user_ids: list[str]
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    synced: dict[str, int] | None = None
    already_ingested_as: int | None = None

    @classmethod
    def apply(
        cls,
        run_dir: str | Path,
        events_file: str | Path,
        items_file: str | Path | None = None,
        open_store: Callable[[], ProfileStore] | None = None,
        cache_dir: str | Path | None = None,
        progress: bool = True,
        timestamp_window: TimestampWindow | None = None,
        wait: float | None = 0.0,
        pseudonymiser: Pseudonymiser | None = None,
    ) -> "IncrementalUpdate":
        """Ingest ``events_file`` (and ``items_file``) into the run in ``run_dir``; with ``open_store``
        the touched profiles, new items, queries and interactions are written to that store.
        Event times must lie in ``timestamp_window`` (default: :meth:`TimestampWindow.default`).
        A train or update already writing the run makes this one wait ``wait`` seconds (None: as
        long as it takes), then fail naming it. A run trained with ``--pseudonymise`` needs the
        ``pseudonymiser`` of its key (and a run with raw ids refuses one); the run's query redaction applies."""
        folder = RunFolder(run_dir)
        with folder.writing(f"personagraph update {Path(events_file).name}", wait):
            return cls._apply(folder, events_file, items_file, open_store, cache_dir, progress, timestamp_window,
                              pseudonymiser)

    @classmethod
    def _apply(
        cls,
        folder: RunFolder,
        events_file: str | Path,
        items_file: str | Path | None,
        open_store: Callable[[], ProfileStore] | None,
        cache_dir: str | Path | None,
        progress: bool,
        timestamp_window: TimestampWindow | None,
        pseudonymiser: Pseudonymiser | None = None,
    ) -> "IncrementalUpdate":
        """The update, with the run's writer lock held."""
        received = {"events": _received(events_file), "items": _received(items_file) if items_file else None}
        earlier = _ingested_before(folder, received)
        if earlier is not None:
            return cls._replayed(folder, earlier, received)
        clock = StageClock()
        with clock.stage("load"):
            run = Run.load(folder.path, cache_dir, progress=progress)
            folder, model, space, shop = run.folder, run.model, run.space, run.shop
            privacy = ShopPrivacy.of_run(run.config, pseudonymiser, folder.path)
        with clock.stage("validate"):
            new_items, known_items = read_new_items(Path(items_file), shop.catalog, progress) if items_file \
                else (select_items(shop.catalog, []), 0)
            incoming = read_new_events(Path(events_file), shop.catalog, new_items, progress, timestamp_window)
            incoming = privacy.shop(incoming)  # before the merge: raw ids and contact details go no further
        with clock.stage("merge"):
            merged, is_new = merge_shop(shop, new_items, incoming)
            first_item, first_query = len(shop.catalog), len(shop.events.query_texts)
            touched = touched_users(merged.events, is_new, changed_items=np.arange(first_item, len(merged.catalog)),
                                    changed_queries=np.arange(first_query, len(merged.events.query_texts)))
            touched = with_friends(merged, touched)
        counts = {
            "events_received": len(incoming.events),
            # Every row read was accepted: one bad row stops the update (the reader checks read = accepted + rejected).
            "events_rows_read": len(incoming.events),
            "events_rows_rejected": 0,
            "events_added": int(is_new.sum()),
            "events_already_ingested": len(incoming.events) - int(is_new.sum()),
            "items_added": len(new_items),
            "items_already_known": known_items,
            "queries_added": len(merged.events.query_texts) - first_query,
            "users_added": merged.events.num_users - shop.events.num_users,
            "users_refreshed": int((touched < shop.events.num_users).sum()),
            "users_untouched": shop.events.num_users - int((touched < shop.events.num_users).sum()),
        }
        if not is_new.any() and not len(new_items):
            return cls(str(folder.path), None, None, counts, [], clock.stages)
        number = run.updates + 1  # under the writer lock: no other update can take it
        run_id = folder.update_run_id(number)
        with clock.stage("embed"):
            space = space.extend(model, merged, run.encode)
            new_item_vectors = space.item_vectors(model)[first_item:]
        with clock.stage("profiles"):
            profiles = space.profile_users(model, merged, touched)
            space = replace(space, segments=_resized_segments(folder, space, profiles))
            profiles.segments.segments = space.segments
        synced = None
        if open_store is not None:
            with clock.stage("sync"), open_store() as store:
                synced = sync_update(store, merged, new_item_vectors, profiles, touched, first_item, first_query,
                                     is_new, run_id, run.config.get("dataset", {})
                                     .get("derived_queries", False), progress,
                                     base_run_id=run.run_id, run_folder=folder.path,
                                     search_projection=run.search_projection)
        update = cls(str(folder.path), number, run_id, counts, list(profiles.user_ids), clock.stages, synced)
        with clock.stage("write"):
            record = folder.update_folder(number)
            if record.exists():  # left by an update that failed before it counted
                shutil.rmtree(record)
            record.mkdir(parents=True)
            _write_events(record / "events.parquet", merged, is_new)
            _write_items(record / "items.parquet", merged.catalog, first_item)
            space.save(folder.profile_space)
            folder.update_profiles(profiles.user_ids, profiles.vectors, profiles.attribute_columns())
            if len(merged.catalog) > first_item:
                folder.append_item_vectors(merged.catalog.item_ids[first_item:], new_item_vectors)
            record_name = str(record.relative_to(folder.path) / "update.json")
            folder.write_json(record_name, update.record(events_file, items_file))
            folder.write_shop_state(merged, number)  # the update counts once this is written
            folder.append_journal(_journal_entry(number, run_id, received, counts))
        update.stages = clock.stages
        folder.write_json(record_name, update.record(events_file, items_file))  # again, with the write stage
        return update

    @classmethod
    def _replayed(cls, folder: RunFolder, earlier: dict[str, Any], received: dict[str, Any]) -> "IncrementalUpdate":
        """The answer to files an earlier update ingested: their counts, and nothing to do."""
        events = earlier["events"]["rows"]
        items = earlier["items"]["rows"] if received["items"] is not None else 0
        users = pq.ParquetFile(folder.profiles).metadata.num_rows
        counts = {"events_received": events, "events_rows_read": events, "events_rows_rejected": 0,
                  "events_added": 0, "events_already_ingested": events, "items_added": 0, "items_already_known": items,
                  "queries_added": 0, "users_added": 0, "users_refreshed": 0, "users_untouched": users}
        return cls(str(folder.path), None, None, counts, [], already_ingested_as=earlier["number"])

    def record(self, events_file: str | Path, items_file: str | Path | None) -> dict[str, Any]:
        """What ``updates/NNNN/update.json`` holds."""
        return asdict(self) | {
            "events_file": str(Path(events_file).resolve()),
            "items_file": str(Path(items_file).resolve()) if items_file else None,
            "created_at": datetime.now(timezone.utc).isoformat(),
        }


def read_new_items(items_file: Path, catalog: Catalog, progress: bool = True) -> tuple[Catalog, int]:
    """The items of ``items_file`` the catalogue lacks, validated as `train` does; also how many it has already.

    A known item keeps its stored text and state (changing them would change every profile
    that holds it; that takes a retraining).
    """
    with _staged_shop(items_file, None, catalog) as (folder, names):
        shop = _read_staged(folder, names, progress)
    fresh = [i for i, item_id in enumerate(shop.catalog.item_ids) if item_id not in catalog.index]
    return select_items(shop.catalog, fresh), len(shop.catalog) - len(fresh)


def read_new_events(events_file: Path, catalog: Catalog, new_items: Catalog, progress: bool = True,
                    timestamp_window: TimestampWindow | None = None) -> ShopData:
    """``events_file`` validated as `train` does, against the catalogue plus ``new_items``.

    The result's item indices point into the catalogue followed by ``new_items``.
    """
    with _staged_shop(None, events_file, concat_catalogs(catalog, new_items)) as (folder, names):
        return _read_staged(folder, names, progress, timestamp_window)


def merge_shop(shop: ShopData, new_items: Catalog, incoming: ShopData) -> tuple[ShopData, np.ndarray]:
    """``shop`` with ``new_items`` and the users, queries and events of ``incoming`` appended.

    Existing users, items and queries keep their indices; new ones follow in ``incoming``'s
    order. An incoming event equal to a stored one (same user, type, time, item and query)
    is dropped. Returns the merged shop and which of its events are new.
    """
    events, fresh = shop.events, incoming.events
    user_ids, user_of = _appended(events.user_ids, fresh.user_ids)
    query_texts, query_of = _appended(events.query_texts, fresh.query_texts)
    user = user_of[fresh.user]
    query = np.append(query_of, -1)[fresh.query]  # -1 (no query) picks the appended -1
    mine = np.isin(events.user, np.unique(user))
    stored = set(zip(events.user[mine].tolist(), events.kind[mine].tolist(), events.timestamp[mine].tolist(),
                     events.item[mine].tolist(), events.query[mine].tolist()))
    keep = np.fromiter(
        (key not in stored for key in zip(user.tolist(), fresh.kind.tolist(), fresh.timestamp.tolist(),
                                          fresh.item.tolist(), query.tolist())),
        dtype=bool, count=len(fresh),
    )
    columns = {
        "user": np.concatenate([events.user, user[keep]]),
        "kind": np.concatenate([events.kind, fresh.kind[keep]]),
        "timestamp": np.concatenate([events.timestamp, fresh.timestamp[keep]]),
        "item": np.concatenate([events.item, fresh.item[keep]]),
        "query": np.concatenate([events.query, query[keep]]),
    }
    order = np.lexsort((columns["timestamp"], columns["user"]))  # stable: stored events first on ties
    is_new = np.concatenate([np.zeros(len(events), dtype=bool), np.ones(int(keep.sum()), dtype=bool)])[order]
    merged = EventLog(user_ids=user_ids, query_texts=query_texts, **{k: v[order] for k, v in columns.items()})
    # Existing users keep their indices, so the links stay valid (an update brings no new links).
    return ShopData(catalog=concat_catalogs(shop.catalog, new_items), events=merged, social=shop.social), is_new


def touched_users(events: EventLog, is_new: np.ndarray, changed_items: np.ndarray | None = None,
                  changed_queries: np.ndarray | None = None) -> np.ndarray:
    """Sorted indices of the users whose profile inputs changed: a new event, or an event on an
    item or query whose state changed (``changed_items`` / ``changed_queries``)."""
    touched = is_new.copy()
    if changed_items is not None and len(changed_items):
        touched |= np.isin(events.item, changed_items)
    if changed_queries is not None and len(changed_queries):
        touched |= np.isin(events.query, changed_queries)
    return np.unique(events.user[touched])


def with_friends(shop: ShopData, touched: np.ndarray) -> np.ndarray:
    """``touched`` plus their friends: a friend's social mix and tag agreement read the touched
    users' own profiles (sorted indices)."""
    if shop.social is None or not len(shop.social):
        return touched
    return np.union1d(touched, shop.social.neighbours(touched, shop.events.num_users))


def sync_update(
    store: ProfileStore,
    shop: ShopData,
    new_item_vectors: np.ndarray,
    profiles: UserProfiles,
    touched: np.ndarray,
    first_item: int,
    first_query: int,
    is_new: np.ndarray,
    run_id: str,
    derived_queries: bool = False,
    progress: bool = True,
    *,
    base_run_id: str,
    run_folder: str | Path | None = None,
    search_projection: SearchProjection | None = None,
) -> dict[str, int]:
    """Write what an update changed, through the same sync as `train`: new items (with
    ``new_item_vectors``), categories and queries, the touched users (profile, interactions, tags,
    segment) under ``run_id``, the searches' LEADS_TO links and the segment sizes. Everything
    else in the store is left alone; the store must hold ``base_run_id``, the run the update
    changes (in ``run_folder``), or nothing is written."""
    catalog, events = shop.catalog, shop.events
    item_ids, query_texts = catalog.item_ids, events.query_texts
    new_catalog = select_items(catalog, range(first_item, len(catalog)))
    items_graph = build_hetero_graph(ShopData(catalog=new_catalog, events=empty_event_log()))
    users_graph = build_hetero_graph(select_users(shop, touched))
    schema = shop_schema()
    searched = np.isin(events.kind, schema.query_event_codes) & (events.item >= 0)
    affected = np.unique(events.query[searched & is_new])
    # All searches of a query with a new one, so its LEADS_TO counts are whole, not this update's share.
    leads_graph = build_hetero_graph(ShopData(catalog=catalog, events=events.select(
        searched & np.isin(events.query, affected))))
    edges = {
        edge_type: edge_rows(users_graph, edge_type, profiles.user_ids,
                             item_ids if edge_type[2] == "item" else query_texts)
        for edge_type in schema.user_edge_types
    }
    edges[LEADS_TO.edge_type] = edge_rows(leads_graph, LEADS_TO.edge_type, query_texts, item_ids)
    edges[IN_CATEGORY.edge_type] = edge_rows(items_graph, IN_CATEGORY.edge_type, new_catalog.item_ids,
                                             items_graph["category"].names)
    changes = ProfileChanges.from_profiles(
        profiles,  # its segments are all of the run's, resized
        items=item_rows(new_catalog, new_item_vectors),
        categories=category_rows(items_graph["category"].names),
        queries=query_rows(query_texts[first_query:], derived_queries),
        edges=edges,
        base_run_id=base_run_id,
        search_projection=search_projection,  # the run's, so touched users get search vectors like the rest
    )
    return sync_changes(store, changes, run_id, progress, "syncing the update to Neo4j", run_folder=run_folder)


# -- the journal -----------------------------------------------------------------------
def _received(path: str | Path) -> dict[str, Any]:
    """A file an update was given: where it was and its content's sha256 (what identifies it)."""
    if not Path(path).is_file():
        raise PersonaGraphError(f"{path} is not a file")
    return {"file": str(Path(path).resolve()), "sha256": file_sha256(path)}


def _ingested_before(folder: RunFolder, received: dict[str, Any]) -> dict[str, Any] | None:
    """The journal entry of an earlier update that ingested these very files, if any: the same
    events, and the same items when items are given (events alone add nothing to an update that
    ingested them with items)."""
    events, items = received["events"]["sha256"], received["items"]
    for entry in reversed(folder.read_journal()):
        if entry["events"]["sha256"] != events:
            continue
        if items is None or (entry["items"] is not None and entry["items"]["sha256"] == items["sha256"]):
            return entry
    return None


def _journal_entry(number: int, run_id: str, received: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
    items = received["items"]
    return {
        "number": number,
        "run_id": run_id,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "events": received["events"] | {"rows": counts["events_rows_read"], "added": counts["events_added"]},
        "items": items | {"rows": counts["items_added"] + counts["items_already_known"],
                          "added": counts["items_added"]} if items is not None else None,
    }


# -- reading new data ------------------------------------------------------------------
@contextlib.contextmanager
def _staged_shop(items: Path | None, events: Path | None, catalog: Catalog) -> Iterator[tuple[Path, dict[str, str]]]:
    """A temporary shop folder for the reader: the given files linked under the names it expects
    (so problems keep their line numbers), the run's catalogue or an empty event table standing in
    for the other. Also the names to report instead of the staged ones."""
    with tempfile.TemporaryDirectory(prefix="personagraph-update-") as tmp:
        folder = Path(tmp)
        names: dict[str, str] = {}
        if items is not None:
            names[_link(folder, "items", items).name] = items.name
        else:
            staged = folder / "items.parquet"
            pq.write_table(pa.table({"item_id": catalog.item_ids, "title": [""] * len(catalog)}), staged)
            names[staged.name] = "the run's items or --items"
        if events is not None:
            names[_link(folder, "events", events).name] = events.name
        else:
            (folder / "events.csv").write_text("user_id,event,timestamp\n", encoding="utf-8")
        yield folder, names


def _link(folder: Path, table: str, source: Path) -> Path:
    suffix = source.suffix.lower().lstrip(".")
    if suffix not in TABLE_FORMATS:
        raise PersonaGraphError(f"{source}: unknown format; give a {', '.join('.' + f for f in TABLE_FORMATS)} file")
    if not source.is_file():
        raise PersonaGraphError(f"{source} is not a file")
    link = folder / f"{table}.{suffix}"
    link.symlink_to(source.resolve())
    return link


def _read_staged(folder: Path, names: dict[str, str], progress: bool,
                 timestamp_window: TimestampWindow | None = None) -> ShopData:
    """Read a staged shop in fail mode; problems name the user's files, not the staged links."""
    def relabel(text: str) -> str:
        for staged, real in names.items():
            text = text.replace(staged, real)
        return text

    try:
        return read_shop(folder, on_error="fail", progress=progress, timestamp_window=timestamp_window)
    except ShopValidationError as error:
        problems = [ValidationProblem(relabel(p.file), p.location, p.field, relabel(p.reason)) for p in error.problems]
        raise ShopValidationError(problems, error.total, "Fix these rows and run the update again; "
                                  "nothing was stored.") from None
    except PersonaGraphError as error:
        raise PersonaGraphError(relabel(str(error))) from None


# -- merging ---------------------------------------------------------------------------
def _appended(known: list[str], incoming: list[str]) -> tuple[list[str], np.ndarray]:
    """``known`` plus the ``incoming`` names it lacks, and each incoming name's index in the result."""
    index = {name: i for i, name in enumerate(known)}
    combined = list(known)
    codes = np.empty(len(incoming), dtype=np.int64)
    for i, name in enumerate(incoming):
        if name not in index:
            index[name] = len(combined)
            combined.append(name)
        codes[i] = index[name]
    return combined, codes


def concat_catalogs(first: Catalog, second: Catalog) -> Catalog:
    """``first``'s items followed by ``second``'s."""
    if not len(second):
        return first
    return Catalog(
        item_ids=first.item_ids + second.item_ids, titles=first.titles + second.titles,
        categories=first.categories + second.categories, brands=first.brands + second.brands,
        descriptions=first.descriptions + second.descriptions,
        prices=np.concatenate([first.prices, second.prices]),
    )


# -- profiles and records --------------------------------------------------------------
def _resized_segments(folder: RunFolder, space: ProfileSpace, profiles: UserProfiles) -> list:
    """Segment sizes after the touched users left their stored segment and joined their new one."""
    stored = pq.read_table(folder.profiles, columns=["user_id", "segment"]).to_pydict()
    previous = dict(zip(stored["user_id"], stored["segment"]))
    sizes = [s.size for s in space.segments]
    for user_id, label in zip(profiles.user_ids, profiles.segments.labels.tolist()):
        if previous.get(user_id) is not None:
            sizes[previous[user_id]] -= 1
        sizes[label] += 1
    return [replace(s, size=size) for s, size in zip(space.segments, sizes)]


def _write_events(path: Path, shop: ShopData, rows: np.ndarray) -> None:
    """The added events in the shop file format (epoch-second timestamps)."""
    events = shop.events.select(rows)
    pq.write_table(pa.table({
        "user_id": [shop.events.user_ids[u] for u in events.user.tolist()],
        "event": [shop_schema().event_names[k] for k in events.kind.tolist()],
        "timestamp": events.timestamp,
        "item_id": [shop.catalog.item_ids[i] if i >= 0 else None for i in events.item.tolist()],
        "query": [shop.events.query_texts[q] if q >= 0 else None for q in events.query.tolist()],
    }), path)


def _write_items(path: Path, catalog: Catalog, first_new: int) -> None:
    pq.write_table(pa.table({
        "item_id": catalog.item_ids[first_new:], "title": catalog.titles[first_new:],
        "description": catalog.descriptions[first_new:], "category": catalog.categories[first_new:],
        "brand": catalog.brands[first_new:], "price": pa.array(catalog.prices[first_new:], pa.float64()),
    }), path)
