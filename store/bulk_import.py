"""The first load of an empty managed Neo4j with ``neo4j-admin database import full``.

Transactional ``UNWIND … MERGE`` writes (:func:`~personagraph.store.profile_sync.sync_changes`)
pay for index lookups, locks and the transaction log on every row; the offline importer writes
the store files directly from CSV. That only works for a database that is empty and offline,
with access to its folder, so it is a capability of the managed server alone (a user's own
Neo4j keeps the UNWIND path): the server is stopped, the CSV files written here are imported,
the server is started again and the constraints and vector indexes are created over the data.
The database holds the same nodes, relationships and properties as after ``sync_changes``, with
two differences a Cypher user would not notice: item vectors are stored as float32 (as user
vectors always are) and every row's ``updated_at`` is the one load time.

Columns are converted with Arrow kernels: a vector column becomes one text per row by casting
a block of floats at once and joining each row's slice, never per value in Python. Rows are
converted and written a chunk at a time (:data:`CSV_CHUNK_CELLS`): the whole text of a million
wide vectors would not fit in memory (nor in one Arrow string array), and the rows' Python
vectors are turned into float32 blocks as they are read, so they are never all alive at once.
Turning floats into text is most of the files' cost, and Arrow's kernels release the GIL, so
:data:`CSV_THREADS` threads convert the next chunks while the writer appends the converted ones
in order: the file is the same byte for byte, a few chunks' text alive at a time.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from tqdm.auto import tqdm

from personagraph.errors import PersonaGraphError
from personagraph.process_memory import timed
from personagraph.private_files import make_private_dir
from personagraph.row_table import VECTOR_TYPE, RowTable, vector_column, with_constant
from personagraph.shop.schema import shop_schema
from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.neo4j_profile_store import STATE_LABEL, Neo4jProfileStore
from personagraph.store.neo4j_server import Neo4jServer
from personagraph.store.profile_changes import ProfileChanges
from personagraph.store.profile_store import NODE_KEYS, Row
from personagraph.store.sync_state import FULL_SYNC, finish_command

#: The one user database of Neo4j Community (what the managed server serves).
DEFAULT_DATABASE = "neo4j"
#: How `train` writes a run: the offline importer (a first load of the managed server) or UNWIND batches;
#: ``auto`` takes the importer when it may and the run is big enough to gain from it.
AUTO, BULK_IMPORT, UNWIND = "auto", "bulk", "unwind"
LOAD_PATHS = (AUTO, BULK_IMPORT, UNWIND)
#: Fewest users for which ``auto`` takes the importer: its fixed cost (stopping the server, the
#: import, restarting, building the indexes) outweighs UNWIND below about this size
#: (docs/BENCHMARKS.md, bulk import against UNWIND by shop size).
AUTO_BULK_MIN_USERS = 20_000
#: Vector properties, stored as float32 like ``upsert_users`` stores them.
_VECTOR_COLUMNS = frozenset({"embedding", "search_embedding"})
#: Cells (every array element counts as one) turned into CSV text at a time: bounds the text held in
#: memory whatever the number of rows and the width of the vectors.
CSV_CHUNK_CELLS = 1 << 22
#: Threads converting chunks to CSV text (one per core, at most four: the writer is serial).
CSV_THREADS = max(1, min(4, os.cpu_count() or 1))
#: Rows whose Python vectors are turned into one float32 block at a time while a table is built.
VECTOR_CHUNK_ROWS = 256
#: Between array elements: a control character, so no tag or text can contain it.
ARRAY_DELIMITER = "\x1f"
#: Node label of each node type of the graph (as profile_sync names them).
_LABEL_FOR_NODE = {"user": "User", "item": "Item", "query": "Query", "category": "Category"}
_TYPE_FOR_ARROW = (
    (pa.types.is_boolean, "boolean"),
    (pa.types.is_integer, "long"),
    (pa.types.is_float32, "float"),
    (pa.types.is_floating, "double"),
    (pa.types.is_timestamp, "datetime"),
    (pa.types.is_string, ""),
    (pa.types.is_large_string, ""),
)


def database_is_empty(settings: ConnectionSettings) -> bool:
    """Whether the database holds no node at all (the only state a full import may replace)."""
    with Neo4jProfileStore.connect(settings) as store:
        return not store.run_cypher("MATCH (n) RETURN 1 AS found LIMIT 1")


def managed_target(settings: ConnectionSettings, server: Neo4jServer | None = None) -> Neo4jServer | None:
    """The managed server (``server``, default: the one this environment names) when ``settings`` reach it
    and its default database; ``None`` for any other server, which only the UNWIND sync can fill."""
    server = server or Neo4jServer()
    if settings.uri != server.uri or settings.trusted_certificate != server.certificate_file:
        return None
    return server if settings.database in (None, DEFAULT_DATABASE) else None


def first_load_refusal(server: Neo4jServer) -> str | None:
    """Why the managed ``server`` may not be filled by :func:`bulk_load` now (``None``: it may).

    The import stops the server, so it is only for a first load: the server runs, its database
    is empty, and no other program is connected (stopping it would cut that program off).
    """
    if not server.is_running():
        return "the managed Neo4j server is not running"
    with Neo4jProfileStore.connect(ConnectionSettings.resolve(environ={}, server=server)) as store:
        if store.run_cypher("MATCH (n) RETURN 1 AS found LIMIT 1"):
            return "the database already holds data, which the UNWIND sync replaces run by run"
        others = len(store.run_cypher("CALL dbms.listConnections() YIELD connectionId RETURN connectionId",
                                      write=True)) - 1  # this connection is one of them
    if others > 0:
        return f"{others} other client(s) are connected to the managed Neo4j server, which an import would stop"
    return None


def bulk_load(server: Neo4jServer, changes: ProfileChanges, run_id: str, progress: bool = True,
              run_folder: str | Path | None = None, database: str = DEFAULT_DATABASE,
              steps: dict[str, dict[str, float]] | None = None) -> dict[str, int]:
    """Load ``changes`` (a whole run, ``run_id``) into the managed ``server``'s empty database.

    Returns rows written per kind, with the keys :func:`~personagraph.store.profile_sync.sync_changes`
    uses, and leaves the store as that sync would: every row stamped with ``run_id``, the run
    recorded as the active one. Refuses an update (``changes.base_run_id``) and a database that
    holds any node. The server is stopped for the import and runs again afterwards (also when it
    was not running before), with the constraints and vector indexes built over the data.

    The sync marker is imported with the data, pending at step ``import``, and committed only once
    the indexes are built: a failure after the import leaves an incomplete sync that readers refuse
    and `personagraph sync` finishes, as after a cut-short UNWIND sync. A failed import leaves the
    database empty again. Either way the error is one line. ``steps``, where given, gets each step's
    seconds and the peak RSS so far ("write files", "stop", "import", "start", "indexes", "empty lists
    and commit"), so a slow load says where its time went.
    """
    steps = {} if steps is None else steps
    if not changes.whole_run:
        raise PersonaGraphError("a bulk load writes a whole run into an empty database, not an update")
    if server.is_running() and not database_is_empty(ConnectionSettings.resolve(environ={}, server=server)):
        raise PersonaGraphError(
            f"the managed Neo4j database in {server.home} is not empty; a bulk load only fills an empty one "
            "(sync with the usual path instead, or empty it first)"
        )
    make_private_dir(server.home)
    staging = Path(tempfile.mkdtemp(prefix="bulk-import-", dir=server.home))  # mode 0700
    folder = None if run_folder is None else str(Path(run_folder).resolve())
    step = "CSV"
    try:
        with tqdm(total=4, desc="bulk load", unit="step", disable=not progress, file=sys.stderr) as bar:
            bar.set_postfix_str("writing CSV")
            with timed(steps, "write files"):
                files = ImportFiles(staging, run_id, progress)
                written = files.write(changes)
                files.marker(folder)
            bar.update()
            bar.set_postfix_str("stopping Neo4j")
            with timed(steps, "stop"):
                server.stop()
            bar.update()
            bar.set_postfix_str("importing")
            step = "import"
            with timed(steps, "import"):
                _import(server, files, staging, database)
            bar.update()
            bar.set_postfix_str("starting Neo4j, building indexes")
            step = "start"
            with timed(steps, "start"):
                server.start(timeout=600)
            with Neo4jProfileStore.connect(ConnectionSettings.resolve(environ={}, server=server)) as store:
                step = "schema"
                with timed(steps, "indexes"):
                    store.begin_sync(run_id, folder, FULL_SYNC)  # the marker's constraint; it is pending already
                    store.mark_sync_step(step)
                    store.ensure_schema(changes.embedding_dim, changes.search_dim)
                with timed(steps, "empty lists and commit"):
                    step = "empty lists"
                    store.mark_sync_step(step)
                    files.restore_empty_lists(store)
                    step = "commit"
                    store.mark_sync_step(step)
                    store.commit_sync(run_id, folder, changes.embedding_dim, changes.neighbour_blend)
            bar.update()
    except (PersonaGraphError, OSError, pa.ArrowException) as exc:
        raise PersonaGraphError(_failure_message(run_id, step, folder, exc)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def _import(server: Neo4jServer, files: "ImportFiles", staging: Path, database: str) -> None:
    """Run the importer; if it fails (or is interrupted), empty the database again and restart the server."""
    try:
        server.run_admin("database", "import", "full", database, "--overwrite-destination=true",
                         f"--array-delimiter=U+{ord(ARRAY_DELIMITER):04X}", "--bad-tolerance=0",
                         f"--report-file={staging / 'import.report'}",
                         *(["--multiline-fields=true"] if files.multiline else []), *files.arguments)
    except BaseException:
        # What the importer left is no database; without its folders Neo4j makes an empty one on start.
        for kind in ("databases", "transactions"):
            shutil.rmtree(server.home / "data" / kind / database, ignore_errors=True)
        server.start(timeout=600)
        raise


def _failure_message(run_id: str, step: str, run_folder: str | None, error: Exception) -> str:
    """One line: what failed, what Neo4j holds now, and how to go on."""
    cause = " ".join(str(error).split(" — ")[0].split())
    if step in ("CSV", "import"):
        doing = "writing the CSV files" if step == "CSV" else "importing the CSV files"
        return (f"bulk load of run {run_id} failed while {doing} ({cause}); nothing was loaded and the "
                f"managed Neo4j database is empty — fix the cause, then run `{finish_command(run_folder)}` "
                "(or train again)")
    return (f"bulk load of run {run_id} stopped at step '{step}' ({cause}); the data is imported but the sync is "
            f"incomplete, so lookups are refused — once Neo4j runs, finish it with `{finish_command(run_folder)}`")


class ImportFiles:
    """The CSV files of one import (a header file and a data file per label or relationship type) and the
    ``--nodes`` / ``--relationships`` arguments that name them; every row is stamped with ``run_id``."""

    def __init__(self, folder: Path, run_id: str, progress: bool = False, chunk_cells: int = CSV_CHUNK_CELLS,
                 threads: int = CSV_THREADS) -> None:
        self.folder = folder
        self.run_id = run_id
        self.progress = progress
        self.chunk_cells = chunk_cells
        self.threads = max(1, threads)
        self.multiline = False
        self.arguments: list[str] = []
        self._bar: tqdm | None = None
        #: Per label, per list property: the keys of the nodes whose list is empty (see :meth:`restore_empty_lists`).
        self.empty_lists: dict[str, dict[str, pa.Array]] = {}

    def write(self, changes: ProfileChanges) -> dict[str, int]:
        """Every file for ``changes``; returns rows per kind as ``sync_changes`` counts them."""
        with tqdm(desc="writing CSV", unit="row", unit_scale=True, disable=not self.progress, file=sys.stderr,
                  leave=False) as self._bar:
            return self._write_all(changes)

    def marker(self, run_folder: str | None) -> None:
        """The sync marker, pending at step ``import`` (as ``begin_sync`` and ``mark_sync_step`` leave it)."""
        now = pa.array([datetime.now(timezone.utc)], pa.timestamp("us", tz="UTC"))
        self._write("nodes-state", "--nodes", STATE_LABEL, pa.table({
            f":ID({STATE_LABEL})": ["sync"], "id": ["sync"], "pending_run": [self.run_id],
            "pending_run_folder": pa.array([run_folder], pa.string()), "pending_kind": [FULL_SYNC],
            "pending_since": now, "step": ["import"], "step_since": now,
        }))

    def _write_all(self, changes: ProfileChanges) -> dict[str, int]:
        written = {
            "items": self.nodes("Item", _table(changes.items)),
            "categories": self.nodes("Category", _table(changes.categories)),
            "queries": self.nodes("Query", _table(changes.queries)),
            "users": self.nodes("User", _user_table(changes.users)),
        }
        for (source, relation, target), rows in changes.edges.items():
            rel_type = shop_schema().relationship_for_edge[relation]
            written[rel_type] = self.relationships(rel_type, _LABEL_FOR_NODE[source], _LABEL_FOR_NODE[target],
                                                   _table(rows))
        if changes.social_users:
            written["SOCIAL"] = self.relationships("SOCIAL", "User", "User", _table(changes.social_links))
        written["tags"] = self.nodes("Tag", _table(changes.tags))
        written["INTERESTED_IN"] = self.relationships("INTERESTED_IN", "User", "Tag", _table(changes.interests))
        written["segments"] = self.nodes("Segment", _table(changes.segments))
        written["IN_SEGMENT"] = self.relationships("IN_SEGMENT", "User", "Segment", _table(changes.segment_links))
        return written

    def nodes(self, label: str, table: pa.Table) -> int:
        if not table.num_rows:
            return 0
        key = NODE_KEYS[label]
        self._note_empty_lists(label, key, table)
        ids = pa.table({f":ID({label})": table.column(key).cast(pa.string())})
        self._write(f"nodes-{label}", "--nodes", label, _joined(ids, self._stamped(table)))
        return table.num_rows

    def restore_empty_lists(self, store: Neo4jProfileStore) -> int:
        """Set the empty lists the CSV could not carry (the importer reads an empty field as no property,
        the UNWIND sync stores ``[]``); returns the nodes written."""
        written = 0
        for label, columns in self.empty_lists.items():
            key = NODE_KEYS[label]
            rows: dict[object, dict[str, list]] = {}
            for name, keys in columns.items():
                for node_key in keys.to_pylist():
                    rows.setdefault(node_key, {})[name] = []
            written += store.upsert_nodes(label, ({key: node_key, **lists} for node_key, lists in rows.items()))
        return written

    def _note_empty_lists(self, label: str, key: str, table: pa.Table) -> None:
        for name, column in zip(table.column_names, table.columns):
            if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
                empty = pc.fill_null(pc.equal(pc.list_value_length(column), 0), False)
                if pc.any(empty).as_py():
                    self.empty_lists.setdefault(label, {})[name] = table.column(key).filter(empty).combine_chunks()

    def relationships(self, rel_type: str, start_label: str, end_label: str, table: pa.Table) -> int:
        if not table.num_rows:
            return 0
        written = table.num_rows  # rows, as the UNWIND sync counts them
        # MERGE makes one relationship per pair (per pair and relation for SOCIAL), the last row's values winning.
        table = _last_per_key(table, ["start", "end", *(["relation"] if rel_type == "SOCIAL" else [])])
        ends = pa.table({f":START_ID({start_label})": table.column("start").cast(pa.string()),
                         f":END_ID({end_label})": table.column("end").cast(pa.string())})
        self._write(f"relationships-{rel_type}", "--relationships", rel_type,
                    _joined(ends, self._stamped(table.drop_columns(["start", "end"]))))
        return written

    def _stamped(self, table: pa.Table) -> pa.Table:
        """The run that writes the rows, as ``sync_changes`` stamps them."""
        return with_constant(table, "run_id", self.run_id)

    def _write(self, stem: str, option: str, name: str, table: pa.Table) -> None:
        header, data = self.folder / f"{stem}-header.csv", self.folder / f"{stem}.csv"
        names = [_header_name(name_, column) for name_, column in zip(table.column_names, table.columns)]
        header.write_text(",".join(names) + "\n", encoding="utf-8")
        rows = _rows_per_chunk(table, self.chunk_cells)
        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        with pacsv.CSVWriter(data, _csv_table(table.slice(0, 0)).schema, write_options=options) as writer, \
                ThreadPoolExecutor(self.threads, thread_name_prefix="csv") as pool:
            converting: deque[Future[tuple[pa.Table, bool]]] = deque()
            for start in range(0, table.num_rows, rows):
                converting.append(pool.submit(_csv_chunk, table.slice(start, rows)))
                if len(converting) > self.threads:  # bounds the text alive to a few chunks
                    self._append(writer, *converting.popleft().result())
            while converting:
                self._append(writer, *converting.popleft().result())
        self.arguments.append(f"{option}={name}={header},{data}")

    def _append(self, writer: pacsv.CSVWriter, texts: pa.Table, multiline: bool) -> None:
        writer.write_table(texts)
        self.multiline = self.multiline or multiline
        if self._bar is not None:
            self._bar.update(texts.num_rows)


def _csv_chunk(chunk: pa.Table) -> tuple[pa.Table, bool]:
    """A chunk's CSV text, and whether a text value holds a line break (the importer must then read
    multi-line fields)."""
    texts = _csv_table(chunk)
    multiline = any(_holds_text(column.type) and pc.any(pc.match_substring_regex(text, "[\r\n]")).as_py()
                    for column, text in zip(chunk.columns, texts.columns))
    return texts, multiline


def _last_per_key(table: pa.Table, keys: list[str]) -> pa.Table:
    """The last row of each distinct ``keys`` value, in the rows' order (the table itself when none repeats)."""
    numbered = table.select(keys).append_column("row", pa.array(np.arange(table.num_rows)))
    last = numbered.group_by(keys, use_threads=False).aggregate([("row", "max")]).column("row_max")
    return table if len(last) == table.num_rows else table.take(np.sort(last.to_numpy()))


def _joined(ids: pa.Table, table: pa.Table) -> pa.Table:
    for name, column in zip(table.column_names, table.columns):
        ids = ids.append_column(name, column)
    return ids


def _header_name(name: str, column: pa.ChunkedArray) -> str:
    if name.startswith(":"):
        return name
    data_type = column.type
    array = pa.types.is_list(data_type) or pa.types.is_large_list(data_type)
    value_type = data_type.value_type if array else data_type
    kind = next((kind for test, kind in _TYPE_FOR_ARROW if test(value_type)), None)
    if kind is None:
        raise PersonaGraphError(f"cannot bulk-load property {name!r} of type {data_type}; this is a bug")
    kind = (kind or "string") + "[]" if array else kind
    return f"{name}:{kind}" if kind else name


def _rows_per_chunk(table: pa.Table, cells: int) -> int:
    """How many rows hold about ``cells`` cells, an array column counting its mean length per row."""
    width = 0.0
    for column in table.columns:
        if _is_list(column.type) and table.num_rows:
            width += (pc.sum(pc.list_value_length(column)).as_py() or 0) / table.num_rows
        else:
            width += 1
    return max(1, int(cells // max(width, 1.0)))


def _csv_table(table: pa.Table) -> pa.Table:
    """The rows as the CSV data file holds them, their columns named by position (the header file names them)."""
    return pa.table([_csv_column(column) for column in table.columns],
                    names=[f"c{i}" for i in range(table.num_columns)])


def _is_list(data_type: pa.DataType) -> bool:
    return pa.types.is_list(data_type) or pa.types.is_large_list(data_type)


def _holds_text(data_type: pa.DataType) -> bool:
    """Whether a column's values are (lists of) strings, the only ones that may hold a line break."""
    value_type = data_type.value_type if _is_list(data_type) else data_type
    return pa.types.is_string(value_type) or pa.types.is_large_string(value_type)


def _csv_column(column: pa.ChunkedArray) -> pa.Array:
    """A column as the importer reads it: arrays joined by :data:`ARRAY_DELIMITER`, times as ISO 8601."""
    array = column.combine_chunks()
    data_type = array.type
    if pa.types.is_timestamp(data_type):
        return _iso(array)
    if _is_list(data_type):
        # The values of this (maybe sliced) array alone: ``values`` ignores a slice's offset.
        offsets = array.offsets
        first = offsets[0].as_py()
        values = array.values.slice(first, offsets[-1].as_py() - first)
        offsets = pc.subtract(offsets, pa.scalar(first, offsets.type)) if first else offsets
        texts = _iso(values) if pa.types.is_timestamp(values.type) else values.cast(pa.string())
        rebuilt = type(array).from_arrays(offsets, texts, mask=array.is_null())
        return pc.binary_join(rebuilt, ARRAY_DELIMITER)
    return array


def _iso(array: pa.Array) -> pa.Array:
    """Timestamps as ``2025-01-01T10:00:00.000000Z`` (Arrow writes a space where ISO 8601 wants ``T``)."""
    utc = array.cast(pa.timestamp("us", tz="UTC"))
    return pc.replace_substring(utc.cast(pa.string()), " ", "T", max_replacements=1)


def _table(rows: Iterable[Row], chunk_rows: int = VECTOR_CHUNK_ROWS) -> pa.Table:
    """Rows (dicts) as a table; an ``embedding`` (a vector per row) becomes a float32 list column.
    Rows already held as columns (a :class:`RowTable`) are taken as they are.

    The rows are read ``chunk_rows`` at a time and their vectors converted then, so a generator's
    rows (a million users' Python float lists) are never all alive at once; the other columns are
    converted whole, so their types are inferred from every row as before.
    """
    if isinstance(rows, RowTable):  # a column with no value is no property, as for rows that leave it out
        table = rows.table
        table = table.select([i for i, column in enumerate(table.columns) if column.null_count < table.num_rows])
        return pa.table({name: column.cast(pa.list_(column.type.value_type)) if pa.types.is_fixed_size_list(column.type)
                         else column for name, column in zip(table.column_names, table.columns)})
    names: dict[str, None] = {}  # every row's keys, in order of appearance: rows omit missing values
    plain: list[Row] = []  # the rows without their vectors
    vectors: dict[str, list[pa.Array]] = {}  # per vector column, its chunks converted so far
    iterator = iter(rows)
    while chunk := list(islice(iterator, chunk_rows)):
        names.update(dict.fromkeys(name for row in chunk for name in row))
        for name in _VECTOR_COLUMNS.intersection(names):
            if name not in vectors:  # first seen in this chunk: no earlier row has it
                vectors[name] = [pa.nulls(len(plain), VECTOR_TYPE)]
            vectors[name].append(_column([row.get(name) for row in chunk], vector=True))
        plain.extend(row if _VECTOR_COLUMNS.isdisjoint(row) else
                     {name: value for name, value in row.items() if name not in _VECTOR_COLUMNS} for row in chunk)
    if not plain:
        return pa.table({})
    columns = {name: pa.chunked_array(vectors[name], VECTOR_TYPE) if name in vectors else
               _column([row.get(name) for row in plain], vector=False) for name in names}
    # A property no row has (``None`` everywhere, e.g. items' neighbour lists of a run without them)
    # is no property, as for rows that leave it out.
    return pa.table({name: column for name, column in columns.items() if column.null_count < len(plain)})


def _column(values: list, vector: bool) -> pa.Array:
    """One column; a vector column (no row without one) as float32 lists from one numpy block."""
    if vector and all(value is not None for value in values):
        block = np.asarray(values, dtype=np.float32)
        if block.ndim == 2:
            return vector_column(block)
    array = pa.array(values)
    return array.cast(VECTOR_TYPE) if vector else array


def _user_table(rows: Iterable[Row]) -> pa.Table:
    """User nodes with their float32 vectors and the load time as ``updated_at`` (as ``upsert_users`` sets)."""
    table = _table(rows)
    if not table.num_rows:
        return table
    now = np.datetime64(datetime.now(timezone.utc).replace(tzinfo=None), "us")
    return table.append_column("updated_at", pa.array(np.full(table.num_rows, now), pa.timestamp("us", tz="UTC")))
