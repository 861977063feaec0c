"""The folder a training run leaves behind: everything needed to trace, reuse or audit it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from personagraph.errors import PersonaGraphError
from personagraph.private_files import make_private_dir
from personagraph.shop.shop_data import Catalog, EventLog, ShopData
from personagraph.shop.shop_reader import read_shop
from personagraph.shop.timestamp_window import TimestampWindow

#: Joins a run id and an update number into the run id of the profiles that update wrote.
UPDATE_RUN_SEPARATOR = "+update-"


def trained_run_id(run_id: str) -> str:
    """The id of the training run behind a run id, which may be an update's (``<run id>+update-0003``)."""
    return run_id.split(UPDATE_RUN_SEPARATOR)[0]


class RunFolder:
    """Names and writes the files of one run (`checkpoint.pt`, `config.json`, `profiles.parquet`,
    `metrics.json`, `rejected.csv`, `profile_space.pt`, and after `personagraph update` the
    shop state `shop_state/` and one `updates/NNNN/` per update), so no other module hard-codes them."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

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
    def shop_state(self) -> Path:
        """The shop as of the latest update: the trained data plus everything updates added."""
        return self.path / "shop_state"

    def update_folder(self, number: int) -> Path:
        return self.path / "updates" / f"{number:04d}"

    def update_run_id(self, number: int) -> str:
        return f"{trained_run_id(self.run_id)}{UPDATE_RUN_SEPARATOR}{number:04d}"

    def create(self) -> "RunFolder":
        """Make the folder, private to its owner: it holds raw user ids and their behaviour."""
        make_private_dir(self.path, tighten=True)
        return self

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
        data_dir = Path(config["data_dir"])
        if not data_dir.is_dir():
            raise PersonaGraphError(f"the run's shop data {data_dir} is gone; restore it, or retrain")
        # The run trained on the rows that passed validation; reading with "skip" and the run's
        # timestamp window (not one moved on to today) gives those again.
        shop, _ = read_shop(data_dir, on_error="skip", progress=progress,
                            timestamp_window=TimestampWindow.from_dict(config.get("timestamp_window")))
        return shop, 0

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
        return ShopData(catalog=catalog, events=log), updates


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
