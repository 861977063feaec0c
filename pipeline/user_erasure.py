"""`personagraph forget`: erase users from a run folder and the store; every other profile stays as it was.

A user lives in several places of a run folder: their profile row (`profiles.parquet`), their
events in the shop the run profiles over (`shop_state/`), the journals of the updates that
brought them in (`updates/NNNN/`), their rejected rows (`rejected.csv`), the segment
sizes they counted in (`profile_space.pt`), and the HTML reports in the folder (whose map may
show them). All are rewritten without them; the reports are deleted, to be written anew. A run that has no
shop state yet re-reads its data folder, which still holds them: such a run gets a shop state
without them, and its `config.json` says never to read the data folder again.

Nothing else is recomputed: the other users' vectors and attributes are the stored ones,
untouched. What the erased users taught the model (its weights, the item and query states,
the segment centroids) stays until the run is retrained from data without them; none of it
holds an id. The erasure log (`erasures.jsonl`) records when, how many users and how many
rows each place lost, never an id or a hash of one. Erasing the same ids again changes
nothing, so an erasure cut short is finished by running it again.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from personagraph.errors import PersonaGraphError
from personagraph.pipeline.run_folder import SHOP_STATE_ONLY, RunFolder
from personagraph.private_files import make_private_file
from personagraph.profiles.profile_space import ProfileSpace
from personagraph.shop.pseudonyms import STRUCTURE_PROBLEM, Pseudonymiser
from personagraph.shop.shop_privacy import CONFIG_KEY as PRIVACY_CONFIG_KEY, ShopPrivacy
from personagraph.shop.user_recoding import without_users
from personagraph.store.profile_store import ProfileStore

#: The places of a run folder an erasure rewrites, as its log names them.
PROFILES, SHOP_EVENTS, SHOP_USERS, UPDATE_EVENTS, UPDATE_RECORDS, REJECTED_ROWS, REPORTS = (
    "profiles.parquet rows", "shop_state events", "shop_state users", "updates events rows",
    "updates touched-user entries", "rejected.csv rows", "HTML reports",
)


@dataclass
class UserErasure:
    """What one erasure did: how many ids were asked for and found, rows removed per place, never an id."""

    run_folder: str
    users_requested: int
    users_found: int  # among the run folder's users (profiles or shop)
    removed: dict[str, int]
    store: dict[str, int] | None = None  # what the store removed; None when it was not asked
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @classmethod
    def apply(
        cls,
        run_dir: str | Path,
        user_ids: Iterable[str],
        open_store: Callable[[], ProfileStore] | None = None,
        pseudonymiser: Pseudonymiser | None = None,
        progress: bool = False,
        wait: float | None = 0.0,
    ) -> "UserErasure":
        """Erase ``user_ids`` from the run in ``run_dir`` and, with ``open_store``, from that store.

        In a pseudonymised run, ids may be given raw (with the run's ``pseudonymiser``) or as pseudonyms.
        Holds the run's writer lock, as `train` and `update` do."""
        requested = set(_clean_ids(user_ids))
        if not requested:
            raise PersonaGraphError("no user ids given; name them as arguments or in --from-file (one a line)")
        folder = RunFolder(run_dir)
        if not (folder.path / "config.json").is_file():
            raise PersonaGraphError(f"{folder.path} is not a run folder (it has no config.json); pass --run RUN_DIR")
        with folder.writing("personagraph forget", wait):
            targets = _stored_forms(folder, requested, pseudonymiser)
            erasure = cls(str(folder.path), len(requested), 0, {})
            erasure.users_found = erasure._erase_run_folder(folder, targets, progress)
            if open_store is not None:
                with open_store() as store:
                    erasure.store = store.forget_users(sorted(targets))
            erasure._log(folder)
        return erasure

    def _erase_run_folder(self, folder: RunFolder, targets: set[str], progress: bool) -> int:
        """Rewrite every place of the run folder without ``targets``; returns how many users were there."""
        shop, updates = folder.current_shop(progress)
        found = {user_id for user_id in shop.events.user_ids if user_id in targets}
        kept = without_users(shop, targets)
        self.removed[SHOP_EVENTS] = len(shop.events) - len(kept.events)
        self.removed[SHOP_USERS] = len(found)
        if found or not (folder.shop_state / "state.json").is_file():
            # Without a state the data folder would be read again, erased users and all.
            folder.write_shop_state(kept, updates)
            config = folder.read_json("config.json")
            if not config.get(SHOP_STATE_ONLY):
                folder.write_json("config.json", config | {SHOP_STATE_ONLY: True})
        labels = _remove_profiles(folder.profiles, targets)
        self.removed[PROFILES] = len(labels)
        found |= set(labels)
        if labels:
            _lower_segment_sizes(folder, labels.values())
        self.removed[UPDATE_EVENTS], self.removed[UPDATE_RECORDS] = _erase_update_records(folder, targets)
        self.removed[REJECTED_ROWS] = _erase_rejected(folder.rejected, targets)
        self.removed[REPORTS] = _remove_reports(folder) if found else 0
        return len(found)

    def record(self) -> dict[str, Any]:
        """The erasure log's line: counts and time only."""
        return {key: value for key, value in asdict(self).items() if key != "run_folder"}

    def _log(self, folder: RunFolder) -> None:
        make_private_file(folder.erasure_log, tighten=True)
        with folder.erasure_log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(self.record()) + "\n")


def read_user_ids(lines: Iterable[str]) -> list[str]:
    """Ids one a line (``--from-file``): surrounding spaces and blank lines ignored."""
    return list(_clean_ids(lines))


def _clean_ids(user_ids: Iterable[str]) -> Iterable[str]:
    return (user_id.strip() for user_id in user_ids if user_id.strip())


def _stored_forms(folder: RunFolder, requested: set[str], pseudonymiser: Pseudonymiser | None) -> set[str]:
    """The ids as the run stores them: also their pseudonyms when the run is pseudonymised."""
    config = folder.read_json("config.json")
    if (config.get(PRIVACY_CONFIG_KEY) or {}).get("pseudonym_key_id") is None or pseudonymiser is None:
        return requested
    ShopPrivacy.of_run(config, pseudonymiser, folder.path)  # refuses another key
    return requested | {pseudonymiser(user_id) for user_id in requested}


def _remove_profiles(path: Path, targets: set[str]) -> dict[str, int]:
    """Drop the targets' rows from ``profiles.parquet``; returns each removed user's segment."""
    table = pq.read_table(path)
    gone = pc.is_in(table["user_id"], value_set=pa.array(sorted(targets), pa.string()))
    removed = table.filter(gone)
    if removed.num_rows:
        _write_parquet(path, table.filter(pc.invert(gone)))
    segments = removed["segment"].to_pylist() if "segment" in removed.column_names else [None] * removed.num_rows
    return dict(zip(removed["user_id"].to_pylist(), segments))


def _lower_segment_sizes(folder: RunFolder, labels: Iterable[int | None]) -> None:
    """The profile space's segment sizes without the erased users (updates resize from them)."""
    space = ProfileSpace.load(folder.profile_space)
    counts = np.bincount([label for label in labels if label is not None], minlength=len(space.segments))
    segments = [replace(segment, size=max(int(segment.size) - int(counts[i]), 0))
                for i, segment in enumerate(space.segments)]
    replace(space, segments=segments).save(folder.profile_space)


def _remove_reports(folder: RunFolder) -> int:
    """Delete the HTML reports in the run folder (``personagraph report``'s default place): their map and
    tables may show the erased users, and their counts are those from before the erasure."""
    reports = [path for path in folder.path.glob("*.html") if path.is_file()]
    for path in reports:
        path.unlink()
    return len(reports)


def _erase_update_records(folder: RunFolder, targets: set[str]) -> tuple[int, int]:
    """Drop the targets from every update's ingested events and touched-user list."""
    events_removed = records_removed = 0
    for record in sorted((folder.path / "updates").glob("*/")):
        events = record / "events.parquet"
        if events.is_file():
            table = pq.read_table(events)
            kept_rows = table.filter(pc.invert(pc.is_in(table["user_id"], value_set=pa.array(sorted(targets),
                                                                                              pa.string()))))
            if kept_rows.num_rows < table.num_rows:
                _write_parquet(events, kept_rows)
                events_removed += table.num_rows - kept_rows.num_rows
        summary = record / "update.json"
        if summary.is_file():
            payload = json.loads(summary.read_text(encoding="utf-8"))
            touched = payload.get("touched_user_ids") or []
            kept = [user_id for user_id in touched if user_id not in targets]
            if len(kept) < len(touched):
                folder.write_json(str(summary.relative_to(folder.path)), payload | {"touched_user_ids": kept})
                records_removed += len(touched) - len(kept)
    return events_removed, records_removed


def _erase_rejected(path: Path, targets: set[str]) -> int:
    """Drop the targets' rows from `rejected.csv`: rows with one of the ids in a cell, and broken rows
    (wrong field count, bad JSON, values possibly shifted) that hold one anywhere."""
    if not path.is_file():
        return 0
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return 0
    field = rows[0].index("field") if "field" in rows[0] else None

    def holds_target(row: list[str]) -> bool:
        if any(cell.strip() in targets for cell in row):
            return True
        broken = field is not None and len(row) > field and row[field] == STRUCTURE_PROBLEM
        return broken and any(target in cell for cell in row for target in targets)

    kept = [rows[0]] + [row for row in rows[1:] if not holds_target(row)]
    if len(kept) == len(rows):
        return 0
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(kept)
    tmp.replace(path)
    return len(rows) - len(kept)


def _write_parquet(path: Path, table: pa.Table) -> None:
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
