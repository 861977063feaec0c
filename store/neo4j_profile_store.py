"""The profile store on Neo4j: batched idempotent writes, vector search, read-only Cypher.

Labels, relationship types and property names cannot be Cypher parameters, so every
one that reaches query text is checked against a whitelist or the identifier pattern
first; all values travel as parameters.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from itertools import groupby, islice
from operator import itemgetter
from typing import Any

import numpy as np
from neo4j import READ_ACCESS, WRITE_ACCESS, Driver, GraphDatabase, ManagedTransaction, Session
from neo4j.exceptions import (
    CypherSyntaxError,
    IncompleteCommit,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)
from neo4j.graph import Node, Path, Relationship

from personagraph.errors import PersonaGraphError
from personagraph.profiles.segment import Segment
from personagraph.row_table import RowTable
from personagraph.shop.schema import shop_schema
from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.over_fetch import PROJECTED_FACTOR, candidate_counts
from personagraph.store.profile_store import (
    NEIGHBOUR_SIMILARITY,
    NEIGHBOURS,
    NODE_KEYS,
    SEARCH_EMBEDDING,
    ProfileStore,
    Row,
    SimilarItem,
    SimilarUser,
    StoredUser,
    relationship_types,
)
from personagraph.store.read_only_cypher import refuse_unsafe_plan, refuse_unsafe_text
from personagraph.store.sync_state import SyncState

VECTOR_INDEX = "user_embedding"
#: Vector index of each label that carries an ``embedding`` (users and items share one space).
VECTOR_INDEXES: dict[str, str] = {"User": VECTOR_INDEX, "Item": "item_embedding"}
#: The vector properties, written with ``setNodeVectorProperty`` rather than as plain properties.
_VECTORS = ("embedding", SEARCH_EMBEDDING)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: A node's properties but its key and vectors, as ``[name, value]`` pairs (``{0}``: the variable).
_PROPERTIES = ("[key IN keys({0}) WHERE NOT key IN ['id', 'embedding', 'search_embedding', "
               f"'{NEIGHBOURS}', '{NEIGHBOUR_SIMILARITY}'] | [key, {{0}}[key]]] AS properties")
#: Label of the one node that holds the sync marker (:class:`SyncState`); no data node has it.
STATE_LABEL = "PersonaGraphState"
_STATE_QUERY = f"OPTIONAL MATCH (s:{STATE_LABEL} {{id: 'sync'}}) RETURN properties(s) AS state"
_CLEAR_PENDING = ", ".join(f"s.{name} = null" for name in ("pending_run", "pending_run_folder", "pending_kind",
                                                          "pending_since", "step", "step_since"))
#: What the driver raises when the server goes away (after its bounded retries).
_CONNECTION_LOST = (ServiceUnavailable, SessionExpired, IncompleteCommit, TransientError)


def _check_label(label: str) -> str:
    if label not in NODE_KEYS:
        raise PersonaGraphError(f"unknown node label {label!r}; the store knows {', '.join(sorted(NODE_KEYS))}")
    return label


def _check_rel_type(rel_type: str) -> str:
    if rel_type not in relationship_types():
        raise PersonaGraphError(
            f"unknown relationship type {rel_type!r}; the store knows {', '.join(sorted(relationship_types()))}"
        )
    return rel_type


def _check_property(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise PersonaGraphError(f"invalid property name {name!r}: use letters, digits and _ only")
    return name


def _plain(value: Any) -> Any:
    """Numpy values as Python ones, so the driver can send them."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _json_value(value: Any) -> Any:
    """Driver values (nodes, relationships, paths, temporal, spatial) as JSON-able ones."""
    if isinstance(value, Node):
        return {"_id": value.element_id, "_labels": sorted(value.labels), **_json_value(dict(value))}
    if isinstance(value, Relationship):
        return {
            "_id": value.element_id,
            "_type": value.type,
            "_start": value.start_node.element_id if value.start_node else None,
            "_end": value.end_node.element_id if value.end_node else None,
            **_json_value(dict(value)),
        }
    if isinstance(value, Path):
        return {"nodes": _json_value(list(value.nodes)), "relationships": _json_value(list(value.relationships))}
    if isinstance(value, dict):
        return {key: _json_value(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if hasattr(value, "iso_format"):  # neo4j.time Date / Time / DateTime / Duration
        return value.iso_format()
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if hasattr(value, "srid"):  # spatial point
        return list(value)
    return value


def _batches(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _first_line(message: str | None) -> str:
    return (message or "").strip().splitlines()[0] if message and message.strip() else "unknown error"


class Neo4jProfileStore(ProfileStore):
    """Profiles in Neo4j 5: ``(:User)`` nodes with an ``embedding`` vector index, plus the shop graph.

    Writes run as ``UNWIND $rows … MERGE … SET`` in transactions of ``batch_size`` rows,
    so re-running the same write leaves the database unchanged (except ``updated_at``).
    """

    def __init__(self, driver: Driver, database: str | None = None, batch_size: int = 5000) -> None:
        self.driver = driver
        self.database = database
        self.batch_size = batch_size
        # Every session shares one bookmark manager, so on a cluster (neo4j:// routing) a read sent
        # to a follower waits until it has the store's earlier writes (e.g. the sync marker's commit).
        self._bookmarks = GraphDatabase.bookmark_manager()

    @classmethod
    def connect(cls, settings: ConnectionSettings, batch_size: int = 5000) -> "Neo4jProfileStore":
        return cls(settings.open_driver(), settings.database, batch_size)

    def close(self) -> None:
        self.driver.close()

    # -- schema ------------------------------------------------------------------------
    def ensure_schema(self, embedding_dim: int, search_dim: int | None = None) -> None:
        for label, key in NODE_KEYS.items():
            self._write(
                f"CREATE CONSTRAINT {label.lower()}_{key} IF NOT EXISTS FOR (n:{label}) REQUIRE n.{key} IS UNIQUE"
            )
        for label, index in VECTOR_INDEXES.items():
            if label == "User" and search_dim is not None:
                self._ensure_vector_index(label, index, search_dim, SEARCH_EMBEDDING)
            else:
                self._ensure_vector_index(label, index, embedding_dim, "embedding")
        self._write("CALL db.awaitIndexes(300)")

    def _ensure_vector_index(self, label: str, index: str, dim: int, vector_property: str) -> None:
        found = self._vector_index(index)
        if found is not None and (
            found["config"].get("vector.dimensions") != dim or found["config"].get("vector.quantization.enabled", False)
            or list(found["properties"]) != [vector_property]
        ):
            self._write(f"DROP INDEX {index}")
        # Quantised vectors (the 5.26 default) cap recall@10 near 0.83 on 64-d data, however
        # many candidates are fetched; full-precision vectors keep it above 0.95.
        self._write(
            f"CREATE VECTOR INDEX {index} IF NOT EXISTS FOR (n:{label}) ON n.{vector_property} "
            "OPTIONS {indexConfig: {"
            f"`vector.dimensions`: {int(dim)}, `vector.similarity_function`: 'cosine', "
            "`vector.quantization.enabled`: false}}"
        )

    def embedding_dim(self) -> int | None:
        """The dimension of the user-vector index, or ``None`` before :meth:`ensure_schema`."""
        config = self._vector_index_config(VECTOR_INDEX)
        return None if config is None else config["vector.dimensions"]

    def _vector_index_config(self, index: str) -> dict[str, Any] | None:
        found = self._vector_index(index)
        return None if found is None else found["config"]

    def _vector_index(self, index: str) -> dict[str, Any] | None:
        """The index's ``config`` and the ``properties`` it is over, or ``None`` when there is no such index."""
        rows = self._read(
            "SHOW VECTOR INDEXES YIELD name, options, properties WHERE name = $name "
            "RETURN options.indexConfig AS config, properties",
            name=index,
        )
        return rows[0] if rows else None

    # -- writes ------------------------------------------------------------------------
    def upsert_nodes(self, label: str, rows: Iterable[Row]) -> int:
        key = NODE_KEYS[_check_label(label)]
        query = (
            f"UNWIND $rows AS row MERGE (n:{label} {{{key}: row.key}}) SET n += row.props RETURN count(n) AS written"
        )
        prepared = ({"key": _plain(row[key]), "props": self._properties(row, {key})} for row in rows)
        return self._write_batches(query, prepared)

    def upsert_users(self, rows: Iterable[Row], run_id: str) -> int:
        # setNodeVectorProperty stores float32 (half the bytes of a plain SET's float64
        # list); both wrote at the same rate in our measurements. A row without a search
        # vector clears the one an earlier run may have left.
        query = (
            "UNWIND $rows AS row MERGE (u:User {id: row.key}) "
            "SET u += row.props, u.run_id = $run_id, u.updated_at = datetime($updated_at), "
            f"u.{SEARCH_EMBEDDING} = null "
            "WITH u, row CALL db.create.setNodeVectorProperty(u, 'embedding', row.embedding) "
            "CALL (u, row) { WITH * WHERE row.search IS NOT NULL "
            f"CALL db.create.setNodeVectorProperty(u, '{SEARCH_EMBEDDING}', row.search) }} "
            "RETURN count(u) AS written"
        )
        prepared = (
            {
                "key": _plain(row["id"]),
                "props": self._properties(row, {"id", *_VECTORS}),
                "embedding": np.asarray(row["embedding"], dtype=np.float64).tolist(),
                "search": None if row.get(SEARCH_EMBEDDING) is None
                else np.asarray(row[SEARCH_EMBEDDING], dtype=np.float64).tolist(),
            }
            for row in rows
        )
        updated_at = datetime.now(timezone.utc).isoformat()
        return self._write_batches(query, prepared, run_id=run_id, updated_at=updated_at)

    def upsert_relationships(self, rel_type: str, start_label: str, end_label: str, rows: Iterable[Row]) -> int:
        query = self._relationship_query(rel_type, start_label, end_label)
        return self._write_batches(query, (self._relationship_row(row) for row in rows))

    def replace_relationships(self, rel_type: str, start_label: str, end_label: str, rows: Iterable[Row]) -> int:
        merge = self._relationship_query(rel_type, start_label, end_label)
        start_key, end_key = NODE_KEYS[start_label], NODE_KEYS[end_label]
        prune = (
            f"UNWIND $groups AS g MATCH (a:{start_label} {{{start_key}: g.start}})-[r:{rel_type}]->(b:{end_label}) "
            f"WHERE NOT b.{end_key} IN g.ends DELETE r"
        )
        def work(tx: ManagedTransaction, groups: list[dict[str, Any]], batch: list[dict[str, Any]]) -> int:
            tx.run(prune, groups=groups).consume()
            return tx.run(merge, rows=batch).single(strict=True)["written"]

        # A start node's links are pruned and rewritten in one transaction, never split across two.
        written, groups, batch = 0, [], []
        for start, group in self._by_start(rows):
            groups.append({"start": start, "ends": [row["end"] for row in group]})
            batch.extend(group)
            if len(batch) >= self.batch_size:
                written += self._execute(work, True, groups, batch)
                groups, batch = [], []
        if batch:
            written += self._execute(work, True, groups, batch)
        return written

    def _by_start(self, rows: Iterable[Row]) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
        """The prepared rows grouped by start node. Rows held as columns are sorted by start and streamed, so
        a whole run's links are never all Python objects at once; other rows are gathered first."""
        if isinstance(rows, RowTable):
            ordered = RowTable(rows.table.sort_by("start"), rows.batch_rows)
            for start, group in groupby(map(self._relationship_row, ordered), key=itemgetter("start")):
                yield start, list(group)
            return
        by_start: dict[Any, list[dict[str, Any]]] = {}
        for row in rows:
            prepared = self._relationship_row(row)
            by_start.setdefault(prepared["start"], []).append(prepared)
        yield from by_start.items()

    def _relationship_query(self, rel_type: str, start_label: str, end_label: str) -> str:
        _check_rel_type(rel_type)
        start_key, end_key = NODE_KEYS[_check_label(start_label)], NODE_KEYS[_check_label(end_label)]
        return (
            f"UNWIND $rows AS row MATCH (a:{start_label} {{{start_key}: row.start}}) "
            f"MATCH (b:{end_label} {{{end_key}: row.end}}) "
            f"MERGE (a)-[r:{rel_type}]->(b) SET r += row.props RETURN count(r) AS written"
        )

    def _relationship_row(self, row: Row) -> dict[str, Any]:
        props = self._properties(row, {"start", "end"})
        return {"start": _plain(row["start"]), "end": _plain(row["end"]), "props": props}

    @staticmethod
    def _properties(row: Row, exclude: set[str]) -> dict[str, Any]:
        return {_check_property(name): _plain(value) for name, value in row.items() if name not in exclude}

    def _write_batches(self, query: str, rows: Iterable[dict[str, Any]], **params: Any) -> int:
        """Run ``query`` over ``rows`` in transactions of ``batch_size``; sums what it reports ``written``."""

        def work(tx: ManagedTransaction, batch: list[dict[str, Any]]) -> int:
            return tx.run(query, rows=batch, **params).single(strict=True)["written"]

        return sum(self._execute(work, True, batch) for batch in _batches(rows, self.batch_size))

    # -- vector search -----------------------------------------------------------------
    def similar_users(self, user_id: str, k: int = 10, where: Mapping[str, Any] | None = None) -> list[SimilarUser]:
        # The index is over search vectors when users have them, else over the profiles themselves.
        source = (f"MATCH (me:User {{id: $user_id}}) WHERE me.embedding IS NOT NULL WITH me.embedding AS full_vector, "
                  f"coalesce(me.{SEARCH_EMBEDDING}, me.embedding) AS search_vector, "
                  f"me.{SEARCH_EMBEDDING} IS NOT NULL AS projected")
        params: dict[str, Any] = {"user_id": user_id}
        conditions = ["node.id <> $user_id", *self._where_conditions(where, params)]
        hits = [SimilarUser(*hit) for hit in self._nearest("User", source, params, k, conditions)]
        if len(hits) < k:
            self.require_user(user_id)  # fewer than k hits may mean there is no such user
        return hits

    def nearest_users(
        self, vector: Sequence[float], k: int = 10, where: Mapping[str, Any] | None = None,
        search_vector: Sequence[float] | None = None,
    ) -> list[SimilarUser]:
        params = {"vector": np.asarray(vector, dtype=np.float64).tolist(), "projected": search_vector is not None,
                  "search_vector": None if search_vector is None else np.asarray(search_vector, np.float64).tolist()}
        conditions = self._where_conditions(where, params)
        source = ("WITH $vector AS full_vector, coalesce($search_vector, $vector) AS search_vector, "
                  "$projected AS projected")
        return [SimilarUser(*hit) for hit in self._nearest("User", source, params, k, conditions)]

    def nearest_items(
        self, vector: Sequence[float], k: int = 10, exclude_seen_by: str | None = None
    ) -> list[SimilarItem]:
        params: dict[str, Any] = {"vector": np.asarray(vector, dtype=np.float64).tolist()}
        conditions = []
        if exclude_seen_by is not None:
            schema = shop_schema()  # relationship names are validated identifiers there
            seen = "|".join(schema.relationship_for_edge[event] for event in schema.item_events)
            conditions.append(f"NOT EXISTS {{ (:User {{id: $seen_by}})-[:{seen}]->(node) }}")
            params["seen_by"] = exclude_seen_by
        source = "WITH $vector AS full_vector, $vector AS search_vector, false AS projected"
        return [SimilarItem(*hit) for hit in self._nearest("Item", source, params, k, conditions)]

    def score_items(self, vector: Sequence[float], item_ids: Sequence[str]) -> list[SimilarItem]:
        rows = self._read_served(
            "UNWIND $ids AS id MATCH (node:Item {id: id}) WHERE node.embedding IS NOT NULL "
            "RETURN node.id AS id, vector.similarity.cosine(node.embedding, $vector) AS score, "
            f"{_PROPERTIES.format('node')}",
            ids=list(item_ids), vector=np.asarray(vector, dtype=np.float64).tolist())
        # Neo4j reports cosine as (1 + cos) / 2; callers get the cosine itself.
        return [SimilarItem(row["id"], 2.0 * row["score"] - 1.0, _json_value(dict(row["properties"]))) for row in rows]

    def item_history(self, user_id: str) -> list[tuple[str, float | None]]:
        schema = shop_schema()  # relationship names are validated identifiers there
        seen = "|".join(schema.relationship_for_edge[event] for event in schema.item_events)
        rows = self._read_served(
            f"MATCH (:User {{id: $id}})-[r:{seen}]->(i:Item) "
            "RETURN i.id AS id, max(r.last_at).epochMillis / 1000.0 AS last", id=user_id)
        return [(row["id"], row["last"]) for row in rows]

    def item_neighbour_lists(self, item_ids: Sequence[str]) -> dict[str, tuple[list[str], list[float]]]:
        rows = self._read_served(
            f"UNWIND $ids AS id MATCH (i:Item {{id: id}}) WHERE i.{NEIGHBOURS} IS NOT NULL "
            f"RETURN i.id AS id, i.{NEIGHBOURS} AS neighbours, i.{NEIGHBOUR_SIMILARITY} AS similarity",
            ids=list(item_ids))
        return {row["id"]: (list(row["neighbours"]), [float(x) for x in row["similarity"]]) for row in rows}

    @staticmethod
    def _where_conditions(where: Mapping[str, Any] | None, params: dict[str, Any]) -> list[str]:
        """Conditions on ``node`` for attribute filters (a list or set value means any of them); fills ``params``."""
        conditions = []
        for i, (name, value) in enumerate((where or {}).items()):
            operator = "IN" if isinstance(value, (list, tuple, set)) else "="
            conditions.append(f"node.`{_check_property(name)}` {operator} $where_{i}")
            params[f"where_{i}"] = _plain(list(value) if isinstance(value, set) else value)
        return conditions

    def _nearest(
        self, label: str, source: str, params: dict[str, Any], k: int, conditions: list[str]
    ) -> list[tuple[str, float, dict[str, Any]]]:
        """``(id, cosine, properties)`` of the ``k`` best ``label`` nodes that meet ``conditions``, best first.

        ``source`` is a Cypher clause that binds ``search_vector`` (what the index is over),
        ``full_vector`` (the profile) and ``projected`` (whether the two differ). The index
        proposes candidates, as many as :func:`~personagraph.store.over_fetch.candidate_counts`
        says (an index over search vectors searches ``PROJECTED_FACTOR`` times as wide and keeps
        its best that many), and they are ranked by the exact cosine of the full vectors, so a
        narrow search vector only has to find the neighbours, not order them.
        """
        if k < 1:
            raise PersonaGraphError(f"k must be at least 1, got {k}")
        index = VECTOR_INDEXES[label]
        query = (
            f"{source} CALL db.index.vector.queryNodes($index, "
            "CASE WHEN projected THEN $candidates * $projected_factor ELSE $candidates END, search_vector) "
            "YIELD node, score AS proposed "
            + (f"WHERE {' AND '.join(conditions)} " if conditions else "")
            # A wide search, a narrow re-ranking: the best candidates by search vector are read whole.
            + "WITH node, full_vector ORDER BY proposed DESC LIMIT $candidates "
            # Cut to k before reading properties: only the hits returned pay for it.
            "WITH node, vector.similarity.cosine(node.embedding, full_vector) AS score "
            "ORDER BY score DESC, node.id LIMIT $k "
            f"RETURN node.id AS id, score, {_PROPERTIES.format('node')}"
        )
        rows: list[dict[str, Any]] = []
        for candidates in candidate_counts(k, lambda: self.count(label)):
            try:
                rows = self._read_served(query, index=index, candidates=candidates, projected_factor=PROJECTED_FACTOR,
                                         k=k, **params)
            except Neo4jError as exc:
                raise self._search_error(label, exc) from None
            if len(rows) >= k:
                break
        # Neo4j reports cosine as (1 + cos) / 2; callers get the cosine itself.
        return [(row["id"], 2.0 * row["score"] - 1.0, _json_value(dict(row["properties"]))) for row in rows]

    def _search_error(self, label: str, exc: Neo4jError) -> PersonaGraphError:
        index = VECTOR_INDEXES[label]
        if self._vector_index_config(index) is None:
            return PersonaGraphError(
                f"Neo4j has no {label.lower()} vectors (vector index {index!r}); "
                "store them by training again (`personagraph train`)"
            )
        return PersonaGraphError(
            f"vector search failed: {_first_line(exc.message)} — the vector must match the stored "
            "profiles' size (and, when the run has a search projection, the search vector its width), "
            "and profiles must be stored first (`personagraph train`)"
        )

    # -- stored profiles and segments --------------------------------------------------
    def stored_user(self, user_id: str) -> StoredUser | None:
        rows = self._read_served(
            "MATCH (u:User {id: $id}) WHERE u.embedding IS NOT NULL "
            f"RETURN u.embedding AS embedding, {_PROPERTIES.format('u')}",
            id=user_id,
        )
        if not rows:
            return None
        return StoredUser(user_id, list(rows[0]["embedding"]), _json_value(dict(rows[0]["properties"])))

    def active_run_id(self) -> str | None:
        state = self.sync_state()
        state.require_complete()
        return state.active_run

    # -- the sync marker ---------------------------------------------------------------
    def sync_state(self) -> SyncState:
        properties = self._read(_STATE_QUERY)[0]["state"]
        if properties is not None:
            return SyncState.from_properties(dict(properties))
        # Profiles synced before the marker existed: their run is the latest written user's.
        rows = self._read(
            "MATCH (u:User) WHERE u.run_id IS NOT NULL RETURN u.run_id AS run_id ORDER BY u.updated_at DESC LIMIT 1"
        )
        return SyncState(active_run=rows[0]["run_id"] if rows else None)

    def begin_sync(self, run_id: str, run_folder: str | None, kind: str) -> None:
        self._write(f"CREATE CONSTRAINT sync_state_id IF NOT EXISTS FOR (s:{STATE_LABEL}) REQUIRE s.id IS UNIQUE")
        self._write(
            f"MERGE (s:{STATE_LABEL} {{id: 'sync'}}) SET s.active_run = coalesce(s.active_run, $previous), "
            "s.pending_run = $run_id, s.pending_run_folder = $run_folder, s.pending_kind = $kind, "
            "s.pending_since = datetime(), s.step = 'begin', s.step_since = datetime()",
            previous=self.sync_state().active_run, run_id=run_id, run_folder=run_folder, kind=kind,
        )

    def mark_sync_step(self, step: str) -> None:
        self._write(f"MATCH (s:{STATE_LABEL} {{id: 'sync'}}) SET s.step = $step, s.step_since = datetime()", step=step)

    def prune_other_runs(self, run_id: str) -> dict[str, int]:
        removed = {"relationships": 0, "nodes": 0}
        batch = int(self.batch_size)
        for rel_type in sorted(relationship_types()):  # links first: node deletes then touch fewer
            removed["relationships"] += self._write_in_batches(
                f"MATCH ()-[r:{rel_type}]->() WHERE r.run_id IS NULL OR r.run_id <> $run_id "
                f"CALL (r) {{ DELETE r }} IN TRANSACTIONS OF {batch} ROWS RETURN count(*) AS removed", run_id=run_id)
        for label in NODE_KEYS:
            removed["nodes"] += self._write_in_batches(
                f"MATCH (n:{label}) WHERE n.run_id IS NULL OR n.run_id <> $run_id "
                f"CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF {batch} ROWS RETURN count(*) AS removed",
                run_id=run_id)
        return removed

    def commit_sync(self, run_id: str, run_folder: str | None, embedding_dim: int,
                    neighbour_blend: dict[str, Any] | None = None) -> None:
        rows = self._execute(lambda tx: tx.run(
            f"MATCH (s:{STATE_LABEL} {{id: 'sync'}}) WHERE s.pending_run = $run_id "
            "SET s.active_run = $run_id, s.active_run_folder = $run_folder, s.active_since = datetime(), "
            "s.embedding_dim = $dim, s.neighbour_blend = coalesce($blend, s.neighbour_blend), "
            f"{_CLEAR_PENDING} RETURN count(s) AS committed",
            run_id=run_id, run_folder=run_folder, dim=int(embedding_dim),
            blend=None if neighbour_blend is None else json.dumps(neighbour_blend, sort_keys=True),
        ).single(strict=True)["committed"], True)
        if not rows:
            raise PersonaGraphError(
                f"another sync took Neo4j over while run {run_id} was written ({self.sync_state().pending_run} "
                "is pending now); let it finish, or re-sync the run you want (`personagraph status`)")

    def count_by_run(self) -> dict[str, dict[str | None, int]]:
        rows = self._read(
            f"MATCH (n) WHERE NOT n:{STATE_LABEL} UNWIND labels(n) AS kind RETURN kind, n.run_id AS run_id, "
            "count(*) AS n UNION ALL "
            "MATCH ()-[r]->() RETURN type(r) AS kind, r.run_id AS run_id, count(*) AS n"
        )
        counts: dict[str, dict[str | None, int]] = {}
        for row in rows:
            counts.setdefault(row["kind"], {})[row["run_id"]] = row["n"]
        return counts

    def segments(self) -> list[Segment]:
        rows = self._read_served(
            "MATCH (s:Segment) RETURN s.id AS id, s.name AS name, s.size AS size, "
            "coalesce(s.top_tags, []) AS tags, coalesce(s.top_tag_weights, []) AS weights ORDER BY id"
        )
        return [Segment(row["id"], row["name"], row["size"], list(zip(row["tags"], row["weights"]))) for row in rows]

    def replace_segments(self, rows: Iterable[Row]) -> int:
        rows = list(rows)
        written = self.upsert_nodes("Segment", rows)
        self._write(
            "MATCH (s:Segment) WHERE NOT s.id IN $ids DETACH DELETE s", ids=[_plain(row["id"]) for row in rows]
        )
        return written

    # -- ad-hoc Cypher -----------------------------------------------------------------
    def run_cypher(
        self, query: str, params: Mapping[str, Any] | None = None, write: bool = False
    ) -> list[dict[str, Any]]:
        """Read-only unless ``write``: the text and the plan are checked first, then it runs in a READ transaction."""
        parameters = {name: _plain(value) for name, value in (params or {}).items()}
        if not write:
            refuse_unsafe_text(query)

        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            if not write:
                refuse_unsafe_plan(tx, query, parameters)
                _sync_state(tx).require_complete()  # a user's query must not see a mix of two runs
            records = tx.run(query, parameters)
            return [{key: _json_value(value) for key, value in record.items()} for record in records]

        try:
            return self._execute(work, write=write)
        except CypherSyntaxError as exc:
            # The parser lists every keyword it expected; the position says enough.
            message = re.sub(r": expected .* (\(line \d+)", r" \1", _first_line(exc.message))
            raise PersonaGraphError(f"Cypher syntax error: {message}") from None
        except Neo4jError as exc:
            if exc.code == "Neo.ClientError.Statement.AccessMode" and not write:
                raise PersonaGraphError(
                    "this query writes to the database, which read-only mode refuses — "
                    "rerun with --write (write=True in Python)"
                ) from None
            raise PersonaGraphError(f"Neo4j refused the query: {_first_line(exc.message)}") from None

    # -- housekeeping ------------------------------------------------------------------
    def count(self, label: str) -> int:
        return self._read(f"MATCH (n:{_check_label(label)}) RETURN count(n) AS n")[0]["n"]

    def delete_all(self) -> None:
        self._write_in_batches("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS")

    # -- plumbing ----------------------------------------------------------------------
    def _execute(self, work: Callable[..., Any], write: bool, *args: Any) -> Any:
        """``work(tx, *args)`` in a managed (retried) transaction of the given access mode."""
        try:
            with self._session(WRITE_ACCESS if write else READ_ACCESS) as session:
                return session.execute_write(work, *args) if write else session.execute_read(work, *args)
        except _CONNECTION_LOST as exc:
            raise _connection_lost(exc) from None

    def _write_in_batches(self, query: str, **params: Any) -> int:
        """An auto-commit query (``CALL {…} IN TRANSACTIONS`` needs one); its ``removed`` count, if any."""
        try:
            with self._session(WRITE_ACCESS) as session:
                record = session.run(query, params).single()
        except _CONNECTION_LOST as exc:
            raise _connection_lost(exc) from None
        return int(record["removed"]) if record is not None and "removed" in record.keys() else 0

    def _session(self, access_mode: str) -> Session:
        """A session the driver routes by ``access_mode`` (a cluster's leader for writes, a follower for reads)."""
        return self.driver.session(database=self.database, default_access_mode=access_mode,
                                   bookmark_manager=self._bookmarks)

    def _read(self, query: str, **params: Any) -> list[dict[str, Any]]:
        return self._execute(lambda tx: [record.data() for record in tx.run(query, params)], write=False)

    def _read_served(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """:meth:`_read` for profile lookups: refused, in the same transaction, while a sync is incomplete."""

        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            _sync_state(tx).require_complete()
            return [record.data() for record in tx.run(query, params)]

        return self._execute(work, write=False)

    def _write(self, query: str, **params: Any) -> None:
        self._execute(lambda tx: tx.run(query, params).consume(), write=True)

    # -- erasure (personagraph forget) -------------------------------------------------
    def forget_users(self, user_ids: Iterable[str]) -> dict[str, int]:
        def work(tx: ManagedTransaction, ids: list[str]) -> dict[str, int]:
            # Sizes first, while the IN_SEGMENT links still say who was where.
            lowered = tx.run(
                "MATCH (u:User)-[:IN_SEGMENT]->(s:Segment) WHERE u.id IN $ids WITH s, count(DISTINCT u) AS gone "
                "SET s.size = coalesce(s.size, gone) - gone RETURN coalesce(sum(gone), 0) AS lowered", ids=ids
            ).single(strict=True)["lowered"]
            removed: dict[str, int] = {"segment_sizes_lowered": lowered}
            links = tx.run("MATCH (u:User)-[r]-() WHERE u.id IN $ids WITH DISTINCT r "
                           "RETURN type(r) AS type, count(r) AS n", ids=ids)
            for record in links:
                removed[record["type"]] = record["n"]
            removed["users"] = tx.run("MATCH (u:User) WHERE u.id IN $ids DETACH DELETE u RETURN count(u) AS n",
                                      ids=ids).single(strict=True)["n"]
            return removed

        totals: dict[str, int] = {"users": 0, "segment_sizes_lowered": 0}
        for batch in _batches(dict.fromkeys(str(user_id) for user_id in user_ids), self.batch_size):
            for kind, n in self._execute(work, True, batch).items():
                totals[kind] = totals.get(kind, 0) + n
        return totals

    def users_referenced(self, user_ids: Iterable[str]) -> int:
        ids = list(dict.fromkeys(str(user_id) for user_id in user_ids))
        # Every property value (list elements one by one) but vectors, compared with each id.
        values = ("WITH x, [key IN keys(x) WHERE NOT key IN ['embedding', 'search_embedding'] | x[key]] AS values "
                  "UNWIND values AS value "
                  "WITH x, CASE WHEN value IS :: LIST<ANY> THEN value ELSE [value] END AS parts UNWIND parts AS part "
                  "WITH x WHERE toString(part) IN $ids RETURN count(DISTINCT x) AS n")
        return sum(self._read(f"{match} {values}", ids=ids)[0]["n"] for match in ("MATCH (x)", "MATCH ()-[x]->()"))

    def replace_social_links(self, user_ids: Iterable[str], rows: Iterable[Row]) -> int:
        # One relationship type; the shop's free-text relation is a property, so it needs no escaping.
        prune = ("UNWIND $groups AS g MATCH (a:User {id: g.start})-[r:SOCIAL]->(b:User) "
                 "WHERE NOT [b.id, r.relation] IN g.keys DELETE r")
        merge = ("UNWIND $rows AS row MATCH (a:User {id: row.start}) MATCH (b:User {id: row.end}) "
                 "MERGE (a)-[r:SOCIAL {relation: row.relation}]->(b) SET r += row.props RETURN count(r) AS written")
        by_start: dict[str, list[dict[str, Any]]] = {str(user_id): [] for user_id in user_ids}
        for row in rows:
            by_start.setdefault(str(row["start"]), []).append(
                {"start": str(row["start"]), "end": str(row["end"]), "relation": str(row["relation"]),
                 "props": self._properties(row, {"start", "end", "relation"})})

        def work(tx: ManagedTransaction, groups: list[dict[str, Any]], batch: list[dict[str, Any]]) -> int:
            tx.run(prune, groups=groups).consume()
            return tx.run(merge, rows=batch).single(strict=True)["written"] if batch else 0

        # A user's links are pruned and rewritten in one transaction, never split across two.
        written, groups, batch = 0, [], []
        for start, links in by_start.items():
            groups.append({"start": start, "keys": [[link["end"], link["relation"]] for link in links]})
            batch.extend(links)
            if len(batch) >= self.batch_size or len(groups) >= self.batch_size:
                written += self._execute(work, True, groups, batch)
                groups, batch = [], []
        if groups:
            written += self._execute(work, True, groups, batch)
        return written


def _sync_state(tx: ManagedTransaction) -> SyncState:
    """The sync marker as ``tx`` sees it (empty when there is none)."""
    properties = tx.run(_STATE_QUERY).single(strict=True)["state"]
    return SyncState() if properties is None else SyncState.from_properties(dict(properties))


def _connection_lost(exc: Exception) -> PersonaGraphError:
    return PersonaGraphError(
        f"lost the connection to Neo4j ({_first_line(str(exc))}) — check that it runs (`personagraph neo4j status`)"
    )
