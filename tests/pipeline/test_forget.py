"""`UserErasure` (`personagraph forget`): no byte of an erased user left in what the project wrote, the
other profiles exactly as they were, and in Neo4j nothing that references the ids."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from live_run import make_run, profile_rows, write_csv

from personagraph.errors import PersonaGraphError
from personagraph.pipeline.incremental_update import IncrementalUpdate
from personagraph.pipeline.run import Run
from personagraph.pipeline.run_folder import SHOP_STATE_ONLY, RunFolder
from personagraph.pipeline.run_sync import sync_run
from personagraph.pipeline.user_erasure import PROFILES, REJECTED_ROWS, REPORTS, UPDATE_EVENTS, UserErasure
from personagraph.report.run_report import write_run_report
from personagraph.shop.rejected_row import RejectedRow
from personagraph.shop.shop_reader import write_rejected
from personagraph.shop.validation_problem import ValidationProblem
from personagraph.store.neo4j_profile_store import Neo4jProfileStore

#: Distinctive, so that finding their bytes anywhere means they were left there.
ERASED = ("alice.erase@example.org", "bob-0042-forget")
KEPT = "carol-keeps-7"


def give_distinct_ids(shop_dir: Path) -> None:
    """Rename the sample's first three users to ERASED and KEPT (in the data folder, before training)."""
    names: dict[str, str] = {}
    for path in (shop_dir / "events.csv", shop_dir / "social.csv"):  # the sample may link users too
        if not path.is_file():
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        names = names or dict(zip(sorted({row["user_id"] for row in rows})[:3], (*ERASED, KEPT)))
        write_csv(path, [row | {column: names.get(row[column], row[column])
                                for column in ("user_id", "other_user_id") if column in row} for row in rows])


def make_erasable_run(root: Path) -> RunFolder:
    """A run whose erased users are in its data folder, an update's records and rejected.csv."""
    run = make_run(root, edit_shop=give_distinct_ids)
    problem = ValidationProblem("events.csv", "9", "event", "unknown event type 'teleport'")
    write_rejected([
        RejectedRow({"user_id": ERASED[0], "event": "teleport", "timestamp": "2025-01-01"}, problem),
        RejectedRow({"user_id": KEPT, "event": "teleport", "timestamp": "2025-01-01"}, problem),
        RejectedRow({"raw": f'{{"user_id": "{ERASED[1]}", "event": '},
                    ValidationProblem("events.jsonl", "3", "row", "not valid JSON")),
    ], run.rejected)
    return run


def update_with_erased_users(root: Path, run: RunFolder, open_store=None) -> Path:
    shop = Run.load(run.path).shop
    events = write_csv(root / "new-events.csv", [
        {"user_id": ERASED[1], "event": "view", "timestamp": "2025-06-01T10:00:00Z", "item_id": shop.catalog.item_ids[3]},
        {"user_id": KEPT, "event": "view", "timestamp": "2025-06-01T10:05:00Z", "item_id": shop.catalog.item_ids[4]},
        {"user_id": "dan-new", "event": "purchase", "timestamp": "2025-06-01T11:00:00Z",
         "item_id": shop.catalog.item_ids[5]},
    ])
    IncrementalUpdate.apply(run.path, events, open_store=open_store, progress=False)
    return events


def written_files(root: Path, inputs: list[Path]) -> list[Path]:
    """Every file under ``root`` but the inputs the test itself wrote (the shop's own data)."""
    inputs = [path.resolve() for path in inputs]
    return [path for path in root.rglob("*") if path.is_file()
            and not any(path.resolve() == given or given in path.resolve().parents for given in inputs)]


def test_forget_leaves_no_byte_of_the_users_and_every_other_profile_as_it_was(tmp_path):
    run = make_erasable_run(tmp_path)
    events = update_with_erased_users(tmp_path, run)
    before = profile_rows(run)
    assert set(ERASED) <= set(before)
    run.write_json("metrics.json", {})  # what the report reads of a finished run: nothing here
    report = write_run_report(run.path, run.path / "report.html")
    assert all(user_id.encode() in report.read_bytes() for user_id in ERASED)  # its map shows them

    erasure = UserErasure.apply(run.path, [*ERASED, "never-seen"])

    assert (erasure.users_requested, erasure.users_found) == (3, 2)
    assert erasure.removed[PROFILES] == 2 and erasure.removed[UPDATE_EVENTS] == 1
    assert erasure.removed[REJECTED_ROWS] == 2  # the row that names alice and the broken line that holds bob
    assert erasure.removed[REPORTS] == 1 and not report.exists()
    inputs = [tmp_path / "shop", events]
    assert all(any(user_id.encode() in path.read_bytes() for path in (tmp_path / "shop").iterdir())
               for user_id in ERASED)  # the grep below would find them
    for path in written_files(tmp_path, inputs):
        data = path.read_bytes()
        for user_id in ERASED:
            assert user_id.encode() not in data, f"{user_id} left in {path}"

    after = profile_rows(run)
    assert set(after) == set(before) - set(ERASED)
    for user_id, row in after.items():
        assert row == before[user_id], user_id  # vector and attributes, untouched
    loaded = Run.load(run.path)
    assert not set(ERASED) & set(loaded.shop.events.user_ids) and KEPT in loaded.shop.events.user_ids
    assert sum(segment.size for segment in loaded.space.segments) == len(after)
    with run.rejected.open(encoding="utf-8") as handle:
        assert [row["user_id"] for row in csv.DictReader(handle)] == [KEPT]

    log = [json.loads(line) for line in run.erasure_log.read_text(encoding="utf-8").splitlines()]
    assert len(log) == 1 and log[0]["users_found"] == 2 and log[0]["removed"][PROFILES] == 2

    again = UserErasure.apply(run.path, ERASED)
    assert again.users_found == 0 and not any(again.removed.values())
    assert profile_rows(run) == after


def test_a_run_without_a_shop_state_never_reads_its_data_folder_again(tmp_path):
    run = make_erasable_run(tmp_path)
    assert not run.shop_state.exists()

    UserErasure.apply(run.path, [ERASED[0]])

    assert run.read_json("config.json")[SHOP_STATE_ONLY] is True
    assert ERASED[0] not in Run.load(run.path).shop.events.user_ids  # the state, not the data folder
    for file in run.shop_state.iterdir():
        file.unlink()
    run.shop_state.rmdir()
    with pytest.raises(PersonaGraphError, match="must not read its data folder again"):
        Run.load(run.path)


def test_an_update_after_forget_brings_only_new_events_back(tmp_path):
    run = make_erasable_run(tmp_path)
    UserErasure.apply(run.path, ERASED)
    events = update_with_erased_users(tmp_path, run)  # bob comes back as a new user with one new event

    shop = Run.load(run.path).shop
    assert ERASED[0] not in shop.events.user_ids
    bob = shop.events.user_ids.index(ERASED[1])
    assert int((shop.events.user == bob).sum()) == 1
    assert events.is_file()


def test_forget_refuses_an_empty_list_and_a_folder_that_is_no_run(tmp_path):
    run = make_run(tmp_path)
    with pytest.raises(PersonaGraphError, match="no user ids"):
        UserErasure.apply(run.path, ["  ", ""])
    with pytest.raises(PersonaGraphError, match="not a run folder"):
        UserErasure.apply(tmp_path / "shop", ["u01"])


USERS = ("MATCH (u:User) OPTIONAL MATCH (u)-[r]->(n) WITH u, type(r) + '>' + coalesce(n.id, n.name, '') AS link "
         "ORDER BY link RETURN u.id AS id, u.embedding AS embedding, properties(u) AS properties, "
         "collect(link) AS links ORDER BY id")


def test_forget_removes_the_users_and_every_link_from_neo4j(profile_store, neo4j_settings, tmp_path):
    run = make_erasable_run(tmp_path)
    open_store = lambda: Neo4jProfileStore.connect(neo4j_settings)  # noqa: E731
    sync_run(run.path, open_store, progress=False)
    update_with_erased_users(tmp_path, run, open_store)
    before = {row["id"]: row for row in profile_store.run_cypher(USERS)}
    assert profile_store.users_referenced(ERASED) == 2

    erasure = UserErasure.apply(run.path, ERASED, open_store)

    assert erasure.store["users"] == 2 and erasure.store["IN_SEGMENT"] == 2 and erasure.store["VIEWED"] > 0
    assert erasure.store["segment_sizes_lowered"] == 2
    assert profile_store.users_referenced(ERASED) == 0
    assert profile_store.run_cypher("MATCH (n) WHERE n.id IN $ids OR n.name IN $ids RETURN count(n) AS n",
                                    {"ids": list(ERASED)}) == [{"n": 0}]
    after = {row["id"]: row for row in profile_store.run_cypher(USERS)}
    # The others as they were, but for their links to the erased users (social ties, when the shop has them).
    expected = {user_id: row | {"links": [link for link in row["links"] if link.split(">", 1)[1] not in ERASED]}
                for user_id, row in before.items() if user_id not in ERASED}
    assert after == expected
    sizes = profile_store.run_cypher("MATCH (s:Segment) OPTIONAL MATCH (s)<-[:IN_SEGMENT]-(u:User) "
                                     "RETURN s.id AS id, s.size AS size, count(u) AS members")
    assert sizes and all(row["size"] == row["members"] for row in sizes)
