import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from personagraph.errors import PersonaGraphError
from personagraph.datasets.gowalla_converter import convert_gowalla


def write_source(folder, train, test):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text(train)
    (folder / "test.txt").write_text(test)
    return folder


def test_converts_train_events_and_keeps_the_given_test_split(tmp_path):
    src = write_source(tmp_path / "src", "0 0 1 2\n1 3 1\n2 4\n", "0 3 4\n1 0\n2 5 1\n")
    description = convert_gowalla(src, tmp_path / "out")
    out = tmp_path / "out"

    items = pq.read_table(out / "items.parquet").to_pylist()
    assert [i["item_id"] for i in items] == ["0", "1", "2", "3", "4", "5"]
    assert all(i["title"] == "" and i["category"] == "" for i in items)

    events = pq.read_table(out / "events.parquet").to_pylist()
    assert [(e["user_id"], e["item_id"]) for e in events] == [
        ("0", "0"), ("0", "1"), ("0", "2"), ("1", "3"), ("1", "1"), ("2", "4")
    ]
    assert {e["event"] for e in events} == {"purchase"}
    # No times: synthetic ones in the order of each user's line (a day apart, restarting per user),
    # and validation holds out the end of each user's line.
    day = 86_400
    times = [e["timestamp"] for e in events]
    assert [t - times[0] for t in times] == [0, day, 2 * day, 0, day, 0]
    assert description["ordered_histories"] is True
    assert description["validation_holdout"] == "latest"
    assert max(e["timestamp"] for e in events) < description["test_period_start"]

    test = pq.read_table(out / "test.parquet")
    assert test.column_names == ["user_id", "item_id"]
    assert list(zip(*test.to_pydict().values())) == [("0", "3"), ("0", "4"), ("1", "0"), ("2", "5"), ("2", "1")]

    written = json.loads((out / "dataset.json").read_text())
    assert written == description
    assert written["protocol"] == "given-split" and written["test"] == "test.parquet"
    assert written["counts"] == {
        "users": 3, "items": 6, "events": 6, "purchases": 6, "test_pairs": 5, "test_users": 3
    }
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "events.parquet", "items.parquet", "test.parquet"]


@pytest.mark.parametrize(
    ("train", "message"),
    [("0 1 2\n1 3 a4\n", r"train.txt:2: item ids must be non-negative integers, got 'a4'"),
     ("0 1\nu 2\n", r"train.txt:2: the user id must be"),
     ("0 1\n0 2\n", r"train.txt:2: user 0 already has a line \(1\)")],
)
def test_malformed_lines_name_file_and_line(tmp_path, train, message):
    src = write_source(tmp_path / "src", train, "0 1\n")
    with pytest.raises(PersonaGraphError, match=message):
        convert_gowalla(src, tmp_path / "out")


def test_missing_source_file(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.txt").write_text("0 1\n")
    with pytest.raises(PersonaGraphError, match="test.txt not found"):
        convert_gowalla(tmp_path / "src", tmp_path / "out")
