import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from personagraph.errors import PersonaGraphError
from personagraph.evaluation.evaluation_protocol import (GIVEN_SPLIT, HOLDOUT_LATEST, LEAVE_ONE_OUT,
                                                         EvaluationProtocol)
from personagraph.evaluation.ranking_metrics import as_csr
from personagraph.shop.shop_reader import shop_from_rows

ITEMS = [{"item_id": name, "title": f"{name} title"} for name in "ABCDEFGH"]


def purchases(user: str, items: str, start: int = 1_735_689_600) -> list[dict]:
    return [{"user_id": user, "event": "purchase", "timestamp": start + t, "item_id": item}
            for t, item in enumerate(items)]


def pairs(shop) -> set[tuple[str, str]]:
    events = shop.events
    return {(events.user_ids[u], shop.catalog.item_ids[i]) for u, i in zip(events.user, events.item) if i >= 0}


def csr_sets(targets, shop) -> dict[str, set[str]]:
    indptr, items = as_csr(targets, shop.events.num_users)
    return {shop.events.user_ids[u]: {shop.catalog.item_ids[i] for i in items[indptr[u]:indptr[u + 1]].tolist()}
            for u in range(shop.events.num_users) if indptr[u + 1] > indptr[u]}


def test_leave_one_out_tests_the_last_item_validates_the_one_before_and_trains_on_the_rest():
    events = purchases("u1", "ABCD") + purchases("u2", "EF") + purchases("u3", "GHA")
    events.append({"user_id": "u1", "event": "view", "timestamp": 1_735_689_610, "item_id": "H"})  # after the test target
    shop = shop_from_rows(ITEMS, events)
    protocol = EvaluationProtocol.leave_one_out(shop)

    assert protocol.name == LEAVE_ONE_OUT
    assert csr_sets(protocol.test, shop) == {"u1": {"D"}, "u2": {"F"}, "u3": {"A"}}
    # u2 has one item left after the test split: nothing to validate against.
    assert csr_sets(protocol.validation, shop) == {"u1": {"C"}, "u3": {"H"}}
    assert pairs(protocol.history) == {("u1", "A"), ("u1", "B"), ("u1", "C"), ("u2", "E"), ("u3", "G"), ("u3", "H")}
    assert pairs(protocol.train) == {("u1", "A"), ("u1", "B"), ("u2", "E"), ("u3", "G")}
    assert protocol.counts()["test_users"] == 3 and protocol.counts()["validation_users"] == 2


def write_given_split(folder, events, test_rows, description=None):
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(ITEMS), folder / "items.parquet")
    pq.write_table(pa.Table.from_pylist(events), folder / "events.parquet")
    pq.write_table(pa.Table.from_pylist(test_rows, schema=pa.schema([("user_id", pa.string()),
                                                                       ("item_id", pa.string())])),
                   folder / "test.parquet")
    description = description or {"name": "tiny", "protocol": GIVEN_SPLIT, "test": "test.parquet"}
    (folder / "dataset.json").write_text(json.dumps(description))


def test_given_split_tests_on_the_file_and_validates_on_training_items_only(tmp_path):
    events = purchases("u1", "ABCDEFG") + purchases("u2", "AB") + purchases("u3", "C")
    test_rows = [{"user_id": "u1", "item_id": "H"}, {"user_id": "u2", "item_id": "G"}, {"user_id": "u2", "item_id": "H"}]
    write_given_split(tmp_path / "data", events, test_rows)
    protocol = EvaluationProtocol.from_folder(tmp_path / "data")
    shop = protocol.history

    assert protocol.name == GIVEN_SPLIT
    assert csr_sets(protocol.test, shop) == {"u1": {"H"}, "u2": {"G", "H"}}
    assert pairs(shop) == pairs(shop_from_rows(ITEMS, events))  # the test input is all training events
    validation = csr_sets(protocol.validation, shop)
    # 10% of u1's 7 items rounds to 1; u2 keeps one of two; u3's only item is never held out.
    assert set(validation) == {"u1", "u2"} and len(validation["u1"]) == 1 and len(validation["u2"]) == 1
    held = {(u, i) for u, items in validation.items() for i in items}
    assert held <= pairs(shop) and not held & pairs(protocol.train)
    assert pairs(protocol.train) | held == pairs(shop)


def test_shop_without_dataset_json_is_leave_one_out_and_bad_test_ids_are_explained(tmp_path):
    folder = tmp_path / "shop"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(ITEMS), folder / "items.parquet")
    pq.write_table(pa.Table.from_pylist(purchases("u1", "ABC")), folder / "events.parquet")
    assert EvaluationProtocol.from_folder(folder).name == LEAVE_ONE_OUT

    write_given_split(tmp_path / "bad", purchases("u1", "ABC"), [{"user_id": "nobody", "item_id": "A"}])
    with pytest.raises(PersonaGraphError, match="1 user.*not in the training data"):
        EvaluationProtocol.from_folder(tmp_path / "bad")
    write_given_split(tmp_path / "odd", purchases("u1", "ABC"), [], {"protocol": "k-fold"})
    with pytest.raises(PersonaGraphError, match="unknown protocol 'k-fold'"):
        EvaluationProtocol.from_folder(tmp_path / "odd")


def test_given_split_validation_depends_on_the_seed_only():
    shop = shop_from_rows(ITEMS, [row for u in range(30) for row in purchases(f"u{u}", "ABCDEFGH")])
    test = (np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))
    first, again = (EvaluationProtocol.given_split(shop, test, seed=1) for _ in range(2))
    other = EvaluationProtocol.given_split(shop, test, seed=2)
    assert torch.equal(first.validation[1], again.validation[1])
    assert not torch.equal(first.validation[1], other.validation[1])


def test_a_latest_holdout_validates_on_each_users_newest_items_and_file_order_breaks_ties(tmp_path):
    same_time = [dict(row, timestamp=1_735_689_600) for row in purchases("u2", "HGFEDCBA")]  # no times: file order
    events = purchases("u1", "ABCDEFGH") + same_time + purchases("u3", "CA")
    events.append({"user_id": "u1", "event": "purchase", "timestamp": 1_735_689_700, "item_id": "B"})  # B again, last
    shop = shop_from_rows(ITEMS, events)
    test = (np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))
    protocol = EvaluationProtocol.given_split(shop, test, holdout=HOLDOUT_LATEST)
    # 10% of 8 items rounds to 1: u1's newest is B (bought again last), u2's is the file's last, A; u3 keeps one of two.
    assert csr_sets(protocol.validation, shop) == {"u1": {"B"}, "u2": {"A"}, "u3": {"A"}}
    assert ("u1", "B") not in pairs(protocol.train) and ("u1", "H") in pairs(protocol.train)
    assert torch.equal(EvaluationProtocol.given_split(shop, test, seed=5, holdout=HOLDOUT_LATEST).validation[1],
                       protocol.validation[1])  # no randomness
    write_given_split(tmp_path / "data", events, [], {"protocol": GIVEN_SPLIT, "validation_holdout": "latest"})
    assert torch.equal(EvaluationProtocol.from_folder(tmp_path / "data").validation[1], protocol.validation[1])
    write_given_split(tmp_path / "odd", events, [], {"protocol": GIVEN_SPLIT, "validation_holdout": "oldest"})
    with pytest.raises(PersonaGraphError, match="unknown validation_holdout 'oldest'"):
        EvaluationProtocol.from_folder(tmp_path / "odd")


def test_a_latest_holdout_is_as_large_a_share_as_the_test_and_a_random_one_stays_a_tenth():
    # 30 users with 8 training items and 2 test items each: the test is 20 % of all pairs.
    shop = shop_from_rows(ITEMS, [row for u in range(30) for row in purchases(f"u{u}", "ABCDEFGH")])
    users = np.repeat(np.arange(30, dtype=np.int64), 2)
    test = (users, np.zeros(users.size, dtype=np.int64))
    latest = csr_sets(EvaluationProtocol.given_split(shop, test, holdout=HOLDOUT_LATEST).validation, shop)
    assert all(held == {"G", "H"} for held in latest.values()) and len(latest) == 30  # 20 % of 8 rounds to 2
    shuffled = csr_sets(EvaluationProtocol.given_split(shop, test).validation, shop)
    assert all(len(held) == 1 for held in shuffled.values())  # 10 % of 8 rounds to 1
    fixed = EvaluationProtocol.given_split(shop, test, validation_fraction=0.5, holdout=HOLDOUT_LATEST)
    assert all(held == {"E", "F", "G", "H"} for held in csr_sets(fixed.validation, shop).values())
