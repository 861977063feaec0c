"""The folder a training run leaves behind: everything needed to trace, reuse or audit it.

A run folder changes in whole steps only. `train` builds a new run in a private sibling
folder and swaps it in when it is complete, so a train that fails leaves the previous run as
it was; `train` and `update` write under a lock beside the folder, so there is one writer at
a time and every update gets its own number.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from personagraph.errors import PersonaGraphError
from personagraph.file_locks import file_lock
from personagraph.private_files import make_private_dir
from personagraph.shop.shop_data import Catalog, EventLog, ShopData
from personagraph.shop.shop_privacy import ShopPrivacy
from personagraph.shop.shop_reader import read_shop
from personagraph.shop.social_links import SocialLinks
from personagraph.shop.timestamp_window import TimestampWindow
from personagraph.store.run_lineage import UPDATE_RUN_SEPARATOR, trained_run_id  # noqa: F401  (re-exported)

#: ``config.json`` key set when the run's shop is its shop state alone: its data folder holds raw
#: ids (`train --pseudonymise`) or users erased since (`personagraph forget`), so it is never read again.
SHOP_STATE_ONLY = "shop_state_only"
#: Names the sibling folders of a swap: ``.<name>.tmp-<pid>`` (the new run being built) and
#: ``.<name>.old-<pid>`` (the previous run, renamed aside until the new one is in place).
STAGING_MARK, ASIDE_MARK = ".tmp-", ".old-"
#: What the writers of a run folder put in it; an existing `--out` holding anything else is not replaced.
RUN_FILE_NAMES = frozenset({
    "checkpoint.pt", "config.json", "profiles.parquet", "item_vectors.parquet", "metrics.json", "rejected.csv",
    "profile_space.pt", "shop_state", "updates", "erasures.jsonl", "search_projection.npz",
    "item_neighbours.npz",
})


class RunFolder:
    """Names and writes the files of one run (`checkpoint.pt`, `config.json`, `profiles.parquet`,
    `metrics.json`, `rejected.csv`, `profile_space.pt`, and after `personagraph update` the
    shop state `shop_state/` and one `updates/NNNN/` per update), so no other module hard-codes them."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.name in ("", ".", ".."):  # its lock and a train's swap live beside it, under its name
            self.path = self.path.resolve()

    @property
    def run_id(self) -> str:
        return self.read_json("config.json")["run_id"]

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def profiles(self) -> Path:
        return self.path / "profiles.parquet"

    @property
    def item_vectors(self) -> Path:
        return self.path / "item_vectors.parquet"

    @property
    def rejected(self) -> Path:
        return self.path / "rejected.csv"

    @property
    def profile_space(self) -> Path:
        return self.path / "profile_space.pt"

    @property
    def search_projection(self) -> Path:
        """The run's :class:`~personagraph.profiles.search_projection.SearchProjection` (absent: search is exact)."""
        return self.path / "search_projection.npz"

    @property
    def item_neighbours(self) -> Path:
        """The run's :class:`~personagraph.graph.item_neighbours.ItemNeighbours` table (absent: items are
        ranked by the profile vectors alone)."""
        return self.path / "item_neighbours.npz"

    @property
    def erasure_log(self) -> Path:
        """One JSON line per `personagraph forget`: when, how many users, rows removed per place; never an id."""
        return self.path / "erasures.jsonl"

    @property
    def shop_state(self) -> Path:
        """The shop as of the latest update: the trained data plus everything updates added."""
        return self.path / "shop_state"

    def update_folder(self, number: int) -> Path:
        return self.path / "updates" / f"{number:04d}"

    def update_run_id(self, number: int) -> str:
        return f"{trained_run_id(self.run_id)}{UPDATE_RUN_SEPARATOR}{number:04d}"

    @property
    def journal(self) -> Path:
        """One entry per update: its number and the sha256 and row counts of the files it ingested."""
        return self.path / "updates" / "journal.json"

    @property
    def lock_file(self) -> Path:
        """Beside the folder, not in it: a train replaces the folder, and a lock inside would leave with it."""
        return self.path.parent / f".{self.path.name}.lock"

    def create(self) -> "RunFolder":
        """Make the folder, private to its owner: it holds raw user ids and their behaviour."""
        make_private_dir(self.path, tighten=True)
        return self

    # -- one writer at a time --------------------------------------------------------
    @contextmanager
    def writing(self, command: str, wait: float | None = 0.0) -> Iterator["RunFolder"]:
        """Hold the run's writer lock for the ``with`` block (``command`` names the holder to anyone
        else who tries meanwhile); ``wait`` seconds for a writer already at work, None for as long
        as it takes. Whatever a crashed writer left is cleaned up first (:meth:`recover`), and
        whatever this one leaves when it fails is cleaned up last."""
        make_private_dir(self.path.parent)
        with file_lock(self.lock_file, wait, command=command, what=f"run folder {self.path}",
                       busy_hint="wait for it to finish, or pass --wait SECONDS to wait for it"):
            self.recover()
            try:
                yield self
            finally:
                self.recover()

    # -- swapping a new run in ------------------------------------------------------------
    def staging(self) -> "RunFolder":
        """An empty private folder beside this one, for building the run that will replace it.
        Call with the writer lock held (see :meth:`writing`)."""
        self.check_replaceable()
        staged = RunFolder(self._sibling(STAGING_MARK))
        if staged.path.exists():
            shutil.rmtree(staged.path)
        return staged.create()

    def check_replaceable(self) -> None:
        """Refuse to replace a path that is not a run folder: `train --out` must never delete the user's files."""
        if self.path.exists() and self.path.resolve() in (Path.cwd(), *Path.cwd().parents):
            raise PersonaGraphError(f"{self.path} holds the current folder; run `personagraph train` from outside it")
        if self.path.is_symlink() or (self.path.exists() and not self.path.is_dir()):
            raise PersonaGraphError(f"{self.path} is not a folder (a file or a link); pass --out a folder")
        if not self.path.exists() or (self.path / "config.json").is_file():
            return
        strangers = sorted(entry.name for entry in self.path.iterdir()
                           if entry.name not in RUN_FILE_NAMES and entry.suffix not in (".tmp", ".old"))
        if strangers:
            raise PersonaGraphError(
                f"{self.path} exists and is not a run folder (it holds {', '.join(strangers[:3])}"
                f"{', ...' if len(strangers) > 3 else ''}); pass --out a new folder or a run folder to replace")

    def replace_with(self, staged: "RunFolder") -> None:
        """Move the complete run in ``staged`` into this folder's place, with the writer lock held.

        The previous run is renamed aside, the new one renamed in, and only then is the previous
        one deleted: after a crash at any point one of the two is whole, and :meth:`recover` (run
        by the next writer or loader) puts the previous run back if the new one never arrived.
        """
        self.check_replaceable()
        aside = self._sibling(ASIDE_MARK)
        if aside.exists():
            shutil.rmtree(aside)
        if self.path.exists():
            self.path.rename(aside)
        staged.path.rename(self.path)
        _sync_folder(self.path.parent)
        if aside.exists():
            shutil.rmtree(aside)

    def interrupted_swap(self) -> Path | None:
        """The previous run a crashed swap left aside, when the folder itself is missing."""
        if self.path.exists():
            return None
        aside = self._siblings(ASIDE_MARK)
        return max(aside, key=lambda folder: folder.stat().st_mtime) if aside else None

    def restore_interrupted_swap(self, wait: float = 10.0) -> bool:
        """For readers: put back the previous run a crashed train left aside (under the writer
        lock), so the folder is there again; True if there was one."""
        if self.interrupted_swap() is None:
            return False
        with self.writing("personagraph (putting back a run a crashed train left aside)", wait):
            return True

    def recover(self) -> None:
        """Clean up after a writer that crashed, with the writer lock held: put back a previous run
        whose replacement never arrived, delete runs left aside and half-built runs."""
        aside = self.interrupted_swap()
        if aside is not None:
            aside.rename(self.path)
        for folder in self._siblings(ASIDE_MARK) + self._siblings(STAGING_MARK):
            shutil.rmtree(folder, ignore_errors=True)

    def _sibling(self, mark: str) -> Path:
        return self.path.parent / f".{self.path.name}{mark}{os.getpid()}"

    def _siblings(self, mark: str) -> list[Path]:
        prefix = f".{self.path.name}{mark}"
        if not self.path.parent.is_dir():
            return []
        return [entry for entry in self.path.parent.iterdir()
                if entry.name.startswith(prefix) and entry.name[len(prefix):].isdigit() and entry.is_dir()]

    # -- the update journal --------------------------------------------------------------------
    def read_journal(self) -> list[dict[str, Any]]:
        """The journal's entries, oldest first (none before the first update)."""
        if not self.journal.is_file():
            return []
        return json.loads(self.journal.read_text(encoding="utf-8"))["updates"]

    def append_journal(self, entry: dict[str, Any]) -> None:
        """Add ``entry`` to the journal (rewritten whole and atomically)."""
        self.journal.parent.mkdir(exist_ok=True)
        self.write_json(str(self.journal.relative_to(self.path)), {"updates": [*self.read_journal(), entry]})

    def write_json(self, name: str, payload: dict[str, Any]) -> Path:
        target = self.path / name
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n", encoding="utf-8")
        tmp.replace(target)
        return target

    def read_json(self, name: str) -> dict[str, Any]:
        return json.loads((self.path / name).read_text(encoding="utf-8"))

    def write_profiles(self, user_ids: list[str], vectors: np.ndarray, columns: dict[str, Any]) -> Path:
        """`user_id`, `vector` and the readable attribute columns."""
        return _write_vectors(self.profiles, "user_id", user_ids, vectors, columns)

    def write_item_vectors(self, item_ids: list[str], vectors: np.ndarray) -> Path:
        """`item_id`, `vector`: the items in the users' space (score = dot product)."""
        return _write_vectors(self.item_vectors, "item_id", item_ids, vectors, {})

    def update_profiles(self, user_ids: list[str], vectors: np.ndarray, columns: dict[str, Any]) -> Path:
        """Replace these users' rows of `profiles.parquet` in place and append the users it lacks;
        every other row is kept exactly as stored."""
        return _upsert_rows(self.profiles, _vectors_table("user_id", user_ids, vectors, columns))

    def append_item_vectors(self, item_ids: list[str], vectors: np.ndarray) -> Path:
        """Add rows for new items to `item_vectors.parquet`."""
        return _upsert_rows(self.item_vectors, _vectors_table("item_id", item_ids, vectors, {}))

    def write_shop_state(self, shop: ShopData, updates: int) -> Path:
        """Save the shop after ``updates`` updates (parquet tables), replacing the previous state."""
        catalog, events = shop.catalog, shop.events
        tables = {
            "items": pa.table({"item_id": catalog.item_ids, "title": catalog.titles, "category": catalog.categories,
                               "brand": catalog.brands, "description": catalog.descriptions,
                               "price": pa.array(catalog.prices, pa.float64())}),
            "events": pa.table({"user": events.user, "kind": events.kind, "timestamp": events.timestamp,
                                "item": events.item, "query": events.query}),
            "users": pa.table({"user_id": pa.array(events.user_ids, pa.string())}),
            "queries": pa.table({"query": pa.array(events.query_texts, pa.string())}),
        }
        if shop.social is not None:  # user-user links as user indices, relations by name
            social = shop.social
            tables["social"] = pa.table({"user": social.user, "other": social.other, "timestamp": social.timestamp,
                                         "relation": [social.relation_names[r] for r in social.relation.tolist()]})
        staging = self.shop_state.with_name(self.shop_state.name + ".tmp")
        staging.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            pq.write_table(table, staging / f"{name}.parquet")
        (staging / "state.json").write_text(json.dumps({"updates": updates}) + "\n", encoding="utf-8")
        previous = self.shop_state.with_name(self.shop_state.name + ".old")
        if self.shop_state.exists():
            self.shop_state.replace(previous)
        staging.replace(self.shop_state)
        if previous.exists():
            for file in previous.iterdir():
                file.unlink()
            previous.rmdir()
        return self.shop_state

    def current_shop(self, progress: bool = True) -> tuple[ShopData, int]:
        """The shop as the profiles now see it, and how many updates it holds: the saved state
        after `personagraph update`, else the run's data folder read again."""
        state = self.read_shop_state()
        if state is not None:
            return state
        config = self.read_json("config.json")
        if config.get(SHOP_STATE_ONLY):
            raise PersonaGraphError(
                f"the shop state of {self.path} ({self.shop_state}) is missing, and the run must not read its data "
                "folder again (it holds raw ids, or users erased since); restore the run folder from a backup, or retrain")
        data_dir = Path(config["data_dir"])
        if not data_dir.is_dir():
            raise PersonaGraphError(f"the run's shop data {data_dir} is gone; restore it, or retrain")
        # The run trained on the rows that passed validation; reading with "skip" and the run's
        # timestamp window (not one moved on to today) gives those again, with its privacy applied.
        shop, _ = read_shop(data_dir, on_error="skip", progress=progress,
                            timestamp_window=TimestampWindow.from_dict(config.get("timestamp_window")))
        return ShopPrivacy.of_run(config, None, self.path).shop(shop), 0

    def read_shop_state(self) -> tuple[ShopData, int] | None:
        """The saved shop state and how many updates it holds; None before the first update."""
        if not (self.shop_state / "state.json").is_file():
            return None
        items = pq.read_table(self.shop_state / "items.parquet").to_pydict()
        table = pq.read_table(self.shop_state / "events.parquet")
        events = {name: table[name].to_numpy().copy() for name in table.column_names}
        catalog = Catalog(item_ids=items["item_id"], titles=items["title"], categories=items["category"],
                          brands=items["brand"], descriptions=items["description"],
                          prices=np.asarray(items["price"], dtype=np.float64))
        log = EventLog(
            user_ids=pq.read_table(self.shop_state / "users.parquet")["user_id"].to_pylist(),
            query_texts=pq.read_table(self.shop_state / "queries.parquet")["query"].to_pylist(),
            **events,
        )
        updates = json.loads((self.shop_state / "state.json").read_text(encoding="utf-8"))["updates"]
        social = None
        if (self.shop_state / "social.parquet").is_file():
            links = pq.read_table(self.shop_state / "social.parquet").to_pydict()
            social = SocialLinks.from_named(np.asarray(links["user"], dtype=np.int64),
                                            np.asarray(links["other"], dtype=np.int64), links["relation"],
                                            np.asarray(links["timestamp"], dtype=np.float64))
        return ShopData(catalog=catalog, events=log, social=social), updates


def file_sha256(path: str | Path) -> str:
    """The hex sha256 of a file's bytes: how the journal recognises a file sent again."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sync_folder(path: Path) -> None:
    """Flush a folder's entries (the renames of a swap) to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_vectors(path: Path, id_name: str, ids: list[str], vectors: np.ndarray, columns: dict[str, Any]) -> Path:
    """A parquet table of ids, fixed-size float32 vectors and extra columns, written atomically."""
    return _write_table(path, _vectors_table(id_name, ids, vectors, columns))


def _vectors_table(id_name: str, ids: list[str], vectors: np.ndarray, columns: dict[str, Any]) -> pa.Table:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    vector_column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1])
    return pa.table({id_name: pa.array(ids, pa.string()), "vector": vector_column, **columns})


def _write_table(path: Path, table: pa.Table) -> Path:
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return path


def _upsert_rows(path: Path, rows: pa.Table) -> Path:
    """The table at ``path`` with the rows of the same id (first column) replaced by ``rows``, the rest appended."""
    stored = pq.read_table(path)
    id_name = stored.column_names[0]
    position = {row_id: i for i, row_id in enumerate(rows[id_name].to_pylist())}
    stored_ids = stored[id_name].to_pylist()
    offset = stored.num_rows
    take = [offset + position[row_id] if row_id in position else i for i, row_id in enumerate(stored_ids)]
    known = set(stored_ids)
    take += [offset + i for i, row_id in enumerate(rows[id_name].to_pylist()) if row_id not in known]
    combined = pa.concat_tables([stored, rows.select(stored.column_names)], promote_options="permissive")
    return _write_table(path, combined.take(pa.array(take, pa.int64())))


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
