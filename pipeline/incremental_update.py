"""`personagraph update`: fold new events and items into a trained run without retraining.

New events are validated exactly as `train` validates a shop (nothing is stored when a row
is bad), events already ingested are dropped (so sending a file twice changes nothing), new
users, items and queries are appended to the run's shop state, new items and queries get
states in the run's frozen :class:`ProfileSpace`, and only the *touched* users are profiled
again: those with a new event (or whose items or queries changed state, which the frozen
space never does to existing ones). Their profiles are pooled over the same space as
everyone else's, so they equal a full recomputation while every other profile stays as it was.

`recency_days` and `price_percentile` are relative to the shop (its last event, its price
distribution) as of each profile's last refresh; the rest of an untouched profile is what a
full recomputation would give.

Each update is recorded in ``updates/NNNN/`` of the run folder (what came in, counts, the
touched users, the run id written to Neo4j, timings) and the shop state in ``shop_state/``
is rewritten last, so an update that fails midway can simply be sent again.
"""
from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from personagraph.encoders.load_text_encoder import load_text_encoder
from personagraph.encoders.sentence_transformer_encoder import DEFAULT_MODEL_NAME
from personagraph.encoders.text_encoder import TextEncoder
from personagraph.errors import PersonaGraphError
from personagraph.gnn.checkpoint import Checkpoint, load_checkpoint
from personagraph.graph.hetero_graph_builder import FORWARD_EDGE_TYPES, build_hetero_graph
from personagraph.store.profile_store import RELATIONSHIP_FOR_EDGE, ProfileStore
from personagraph.shop.shop_data import EVENT_CODE, EVENT_TYPES, Catalog, EventLog, ShopData
from personagraph.shop.shop_reader import TABLE_FORMATS, read_shop
from personagraph.shop.shop_validation_error import ShopValidationError
from personagraph.shop.validation_problem import ValidationProblem
from personagraph.profiles.profile_space import Encode, ProfileSpace, empty_event_log, select_items, select_users
from personagraph.store.profile_sync import (
    LABEL_FOR_NODE,
    category_rows,
    edge_rows,
    item_rows,
    run_sync_steps,
)
from personagraph.pipeline.run_folder import RunFolder
from personagraph.pipeline.stage_clock import StageClock
from personagraph.profiles.user_profiles import UserProfiles

_USER_EDGE_TYPES = tuple(edge for edge in FORWARD_EDGE_TYPES if edge[0] == "user")
_LEADS_TO = ("query", "leads_to", "item")
_IN_CATEGORY = ("item", "in_category", "category")


@dataclass
class IncrementalUpdate:
    """What one update did: its number and run id (None when nothing was new), counts and timings."""

    run_folder: str
    number: int | None
    run_id: str | None
    counts: dict[str, int]
    touched_user_ids: list[str]
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    synced: dict[str, int] | None = None

    @classmethod
    def apply(
        cls,
        run_dir: str | Path,
        events_file: str | Path,
        items_file: str | Path | None = None,
        open_store: Callable[[], ProfileStore] | None = None,
        cache_dir: str | Path | None = None,
        progress: bool = True,
    ) -> "IncrementalUpdate":
        """Ingest ``events_file`` (and ``items_file``) into the run in ``run_dir``; with ``open_store``
        the touched profiles, new items, queries and interactions are written to that store."""
        clock = StageClock()
        folder = RunFolder(run_dir)
        with clock.stage("load"):
            checkpoint, space, shop, applied = load_live_state(folder, progress)
            model = checkpoint.model
        with clock.stage("validate"):
            new_items, known_items = read_new_items(Path(items_file), shop.catalog, progress) if items_file \
                else (select_items(shop.catalog, []), 0)
            incoming = read_new_events(Path(events_file), shop.catalog, new_items, progress)
        with clock.stage("merge"):
            merged, is_new = merge_shop(shop, new_items, incoming)
            first_item, first_query = len(shop.catalog), len(shop.events.query_texts)
            touched = touched_users(merged.events, is_new, changed_items=np.arange(first_item, len(merged.catalog)),
                                    changed_queries=np.arange(first_query, len(merged.events.query_texts)))
        counts = {
            "events_received": len(incoming.events),
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
        number = applied + 1
        run_id = folder.update_run_id(number)
        with clock.stage("embed"):
            space = space.extend(model, merged, lazy_encoder(folder, checkpoint, cache_dir))
            new_item_vectors = space.item_vectors(model)[first_item:]
        with clock.stage("profiles"):
            profiles = space.profile_users(model, merged, touched)
            space = replace(space, segments=_resized_segments(folder, space, profiles))
            profiles.segments.segments = space.segments
        synced = None
        if open_store is not None:
            with clock.stage("sync"), open_store() as store:
                store.ensure_schema(model.out_dim)
                synced = sync_update(store, merged, space, new_item_vectors, profiles, touched, first_item, first_query,
                                     is_new, run_id, folder.read_json("config.json").get("dataset", {})
                                     .get("derived_queries", False), progress)
        update = cls(str(folder.path), number, run_id, counts, list(profiles.user_ids), clock.stages, synced)
        with clock.stage("write"):
            record = folder.update_folder(number)
            record.mkdir(parents=True, exist_ok=True)
            _write_events(record / "events.parquet", merged, is_new)
            _write_items(record / "items.parquet", merged.catalog, first_item)
            space.save(folder.profile_space)
            folder.update_profiles(profiles.user_ids, profiles.vectors, profiles.attribute_columns())
            if len(merged.catalog) > first_item:
                folder.append_item_vectors(merged.catalog.item_ids[first_item:], new_item_vectors)
            record_name = str(record.relative_to(folder.path) / "update.json")
            folder.write_json(record_name, update.record(events_file, items_file))
            folder.write_shop_state(merged, number)  # last: the update counts once this is written
        update.stages = clock.stages
        folder.write_json(record_name, update.record(events_file, items_file))  # again, with the write stage
        return update

    def record(self, events_file: str | Path, items_file: str | Path | None) -> dict[str, Any]:
        """What ``updates/NNNN/update.json`` holds."""
        return asdict(self) | {
            "events_file": str(Path(events_file).resolve()),
            "items_file": str(Path(items_file).resolve()) if items_file else None,
            "created_at": datetime.now(timezone.utc).isoformat(),
        }


def load_live_state(folder: RunFolder, progress: bool = True) -> tuple[Checkpoint, ProfileSpace, ShopData, int]:
    """The run's model checkpoint, profile space, current shop state and how many updates that state holds."""
    if not (folder.path / "config.json").is_file():
        raise PersonaGraphError(f"{folder.path} is not a run folder (no config.json); pass the folder "
                                "`personagraph train --out` wrote")
    checkpoint = load_checkpoint(folder.checkpoint)
    space = ProfileSpace.load(folder.profile_space)
    return checkpoint, space, *folder.current_shop(progress)


def read_new_items(items_file: Path, catalog: Catalog, progress: bool = True) -> tuple[Catalog, int]:
    """The items of ``items_file`` the catalogue lacks, validated as `train` does; also how many it has already.

    A known item keeps its stored text and state (changing them would change every profile
    that holds it; that takes a retraining).
    """
    with _staged_shop(items_file, None, catalog) as (folder, names):
        shop = _read_staged(folder, names, progress)
    fresh = [i for i, item_id in enumerate(shop.catalog.item_ids) if item_id not in catalog.index]
    return select_items(shop.catalog, fresh), len(shop.catalog) - len(fresh)


def read_new_events(events_file: Path, catalog: Catalog, new_items: Catalog, progress: bool = True) -> ShopData:
    """``events_file`` validated as `train` does, against the catalogue plus ``new_items``.

    The result's item indices point into the catalogue followed by ``new_items``.
    """
    with _staged_shop(None, events_file, _concat_catalogs(catalog, new_items)) as (folder, names):
        return _read_staged(folder, names, progress)


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
    query = np.where(fresh.query >= 0, query_of[np.maximum(fresh.query, 0)], -1)
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
    return ShopData(catalog=_concat_catalogs(shop.catalog, new_items), events=merged), is_new


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


def sync_update(
    store: ProfileStore,
    shop: ShopData,
    space: ProfileSpace,
    new_item_vectors: np.ndarray,
    profiles: UserProfiles,
    touched: np.ndarray,
    first_item: int,
    first_query: int,
    is_new: np.ndarray,
    run_id: str,
    derived_queries: bool = False,
    progress: bool = True,
) -> dict[str, int]:
    """Write what an update changed: new items (with ``new_item_vectors``), categories and queries, the touched
    users (profile, interactions, tags, segment) under ``run_id``, the searches' LEADS_TO links and
    the segment sizes. Everything else in the store is left alone."""
    catalog, events = shop.catalog, shop.events
    item_ids, query_texts = catalog.item_ids, events.query_texts
    new_catalog = select_items(catalog, range(first_item, len(catalog)))
    items_graph = build_hetero_graph(ShopData(catalog=new_catalog, events=empty_event_log()))
    users_graph = build_hetero_graph(select_users(shop, touched))
    searched = (events.kind == EVENT_CODE["search"]) & (events.item >= 0)
    affected = np.unique(events.query[searched & is_new])
    leads_graph = build_hetero_graph(ShopData(catalog=catalog, events=events.select(
        searched & np.isin(events.query, affected))))
    steps: list[tuple[str, Callable[[], int]]] = [
        ("items", lambda: store.upsert_items(item_rows(ShopData(new_catalog, empty_event_log()),
                                                        new_item_vectors))),
        ("categories", lambda: store.upsert_categories(category_rows(items_graph["category"].names))),
        ("queries", lambda: store.upsert_queries(
            {"id": text, "derived": derived_queries} for text in query_texts[first_query:])),
        ("users", lambda: store.upsert_users(profiles.user_rows(), run_id)),
        ("IN_CATEGORY", lambda: store.upsert_relationships("IN_CATEGORY", "Item", "Category", edge_rows(
            items_graph, _IN_CATEGORY, new_catalog.item_ids, items_graph["category"].names))),
        ("LEADS_TO", lambda: store.upsert_relationships("LEADS_TO", "Query", "Item", edge_rows(
            leads_graph, _LEADS_TO, query_texts, item_ids))),
    ]
    for edge_type in _USER_EDGE_TYPES:
        relation = RELATIONSHIP_FOR_EDGE[edge_type[1]]
        targets = item_ids if edge_type[2] == "item" else query_texts
        steps.append((relation, lambda r=relation, e=edge_type, t=targets: store.replace_relationships(
            r, "User", LABEL_FOR_NODE[e[2]], edge_rows(users_graph, e, profiles.user_ids, t))))
    steps += [
        ("INTERESTED_IN", lambda: store.replace_relationships("INTERESTED_IN", "User", "Tag", profiles.tag_rows())),
        ("IN_SEGMENT", lambda: store.replace_relationships("IN_SEGMENT", "User", "Segment",
                                                           profiles.segment_link_rows())),
        ("segments", lambda: store.upsert_nodes("Segment", ({"id": s.id, "size": s.size} for s in space.segments))),
    ]
    return run_sync_steps(steps, "syncing the update to Neo4j", progress)


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


def _read_staged(folder: Path, names: dict[str, str], progress: bool) -> ShopData:
    """Read a staged shop in fail mode; problems name the user's files, not the staged links."""
    def relabel(text: str) -> str:
        for staged, real in names.items():
            text = text.replace(staged, real)
        return text

    try:
        return read_shop(folder, on_error="fail", progress=progress)
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


def _concat_catalogs(first: Catalog, second: Catalog) -> Catalog:
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


def lazy_encoder(folder: RunFolder, checkpoint: Checkpoint, cache_dir: str | Path | None = None) -> Encode:
    """Encodes with the run's text encoder and embedding cache, loaded on first use (most calls need none)."""
    loaded: list[TextEncoder] = []

    def encode(texts: Sequence[str]) -> np.ndarray:
        if not loaded:
            name = checkpoint.encoder_name
            loaded.append(load_text_encoder(None if name in (None, DEFAULT_MODEL_NAME) else name,
                                            cache_dir or folder.read_json("config.json")["embedding_cache"]))
        return loaded[0].encode(list(texts))

    return encode


def _write_events(path: Path, shop: ShopData, rows: np.ndarray) -> None:
    """The added events in the shop file format (epoch-second timestamps)."""
    events = shop.events.select(rows)
    pq.write_table(pa.table({
        "user_id": [shop.events.user_ids[u] for u in events.user.tolist()],
        "event": [EVENT_TYPES[k] for k in events.kind.tolist()],
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
