"""Bad input at the command line: a one-line error that says where and how to fix, before any
expensive stage and before the store is touched; never a traceback.

Each case here once gave a traceback (some after minutes of training) or was silently accepted.
"""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from live_run import make_run, write_csv
from personagraph.cli.main import cli

ITEMS = "item_id,title\nA,Drill\nB,Saw\n"
HEADER = "user_id,event,timestamp,item_id,query\n"
EVENT = "u1,view,2025-01-01T00:00:00Z,A,\n"


def error_line(result: Result) -> str:
    """The one ``Error:`` line of a failed command, checked to be the only trace of the failure."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]


@pytest.fixture
def shop(tmp_path):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "items.csv").write_text(ITEMS, encoding="utf-8")
    (folder / "events.csv").write_text(HEADER + EVENT * 3, encoding="utf-8")
    return folder


def train(shop, tmp_path, *options: str) -> Result:
    result = CliRunner().invoke(cli, ["train", str(shop), "--no-sync", "--quiet", "--out", str(tmp_path / "run"),
                                      *options])
    assert not (tmp_path / "run").exists(), "a failed validation must leave no run folder"
    return result


def test_train_refuses_an_unbalanced_quote_at_its_line(shop, tmp_path):
    (shop / "events.csv").write_text(HEADER + EVENT * 3 + 'u2,search,2025-01-01T00:00:00Z,,"drill\n' + EVENT * 230)
    for on_error in ("fail", "skip"):
        line = error_line(train(shop, tmp_path, "--on-error", on_error))
        assert line.startswith("Error: events.csv:5: unbalanced quote")


def test_train_refuses_header_only_events(shop, tmp_path):
    (shop / "events.csv").write_text(HEADER)
    line = error_line(train(shop, tmp_path))
    assert line == ("Error: events.csv holds no usable events (events.csv: 0 rows read = 0 accepted + 0 rejected); "
                    "training needs the shop's events")


@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00+05:00", "2999-01-01T00:00:00Z"])
def test_train_rejects_a_timestamp_outside_the_window_in_one_line(shop, tmp_path, timestamp):
    (shop / "events.csv").write_text(HEADER + EVENT + f"u2,view,{timestamp},B,\n")
    line = error_line(train(shop, tmp_path))
    assert line.startswith(f"Error: events.csv:3: timestamp: '{timestamp}' is ")
    assert "--on-error skip" in line


def test_train_refuses_a_bad_window_option(shop, tmp_path):
    line = error_line(train(shop, tmp_path, "--not-after", "next week"))
    assert line.startswith("Error: --not-after: cannot read 'next week'")


def test_train_refuses_a_corrupt_parquet_page(shop, tmp_path):
    (shop / "events.csv").unlink()
    path = shop / "events.parquet"
    n = 300
    pq.write_table(pa.table({"user_id": [f"u{i % 7}" for i in range(n)], "event": ["view"] * n,
                             "timestamp": [1735689600 + i for i in range(n)], "item_id": ["A"] * n}),
                   path, compression="none", row_group_size=100)
    data = bytearray(path.read_bytes())
    offset = pq.ParquetFile(path).metadata.row_group(1).column(0).data_page_offset
    data[offset:offset + 30] = b"\xff" * 30
    path.write_bytes(bytes(data))
    line = error_line(train(shop, tmp_path))
    assert line.startswith("Error: events.parquet:row 101: cannot read row group 1 (")
    assert line.endswith("the file is damaged, export it again")


def test_train_rejects_a_parquet_timestamp_out_of_range(shop, tmp_path):
    (shop / "events.csv").unlink()
    pq.write_table(pa.table({"user_id": ["u1", "u2"], "event": ["view", "view"],
                             "timestamp": pa.array([1735689600 * 10**6, 2**62], pa.timestamp("us")),
                             "item_id": ["A", "A"]}), shop / "events.parquet")
    line = error_line(train(shop, tmp_path))
    assert line.startswith(f"Error: events.parquet:row 2: timestamp: {2**62} us after 1970-01-01 is outside the dates")


def test_train_refuses_a_malformed_dataset_json_before_training(shop, tmp_path):
    (shop / "dataset.json").write_text('{"derived_queries": tru}')
    line = error_line(train(shop, tmp_path))
    assert line.startswith(f"Error: {shop / 'dataset.json'}:1: not valid JSON (")
    assert "fix it, or delete it" in line


def test_query_refuses_an_integer_neo4j_cannot_hold_before_connecting():
    result = CliRunner().invoke(cli, ["query", "RETURN $n", "--param", "n=99999999999999999999",
                                      "--uri", "bolt://127.0.0.1:1", "--password", "x"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "n: 99999999999999999999 is outside Neo4j's 64-bit integer range" in result.output
    assert "cannot reach" not in result.output  # refused before any connection


def test_an_http_uri_is_a_one_line_error():
    result = CliRunner().invoke(cli, ["query", "RETURN 1"], env={"NEO4J_URI": "http://localhost:7474",
                                                                 "NEO4J_PASSWORD": "x"})
    line = error_line(result)
    assert line.startswith("Error: Neo4j URI 'http://localhost:7474' (--uri / NEO4J_URI) is not a Bolt URI")
    assert "bolt://localhost:7687" in line


def test_an_unwritable_state_folder_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a folder cannot be made under a file, even by root
    result = CliRunner().invoke(cli, ["neo4j", "start"], env={"PERSONAGRAPH_HOME": str(blocker / "home"),
                                                              "PERSONAGRAPH_NEO4J_PORT": "17999"})
    line = error_line(result)
    assert line.startswith(f"Error: cannot write to {blocker / 'home'} (")
    assert "PERSONAGRAPH_HOME" in line


def test_update_rejects_a_far_future_event_and_counts_its_rows(tmp_path):
    run = make_run(tmp_path)
    shop_user = "u0001"
    future = write_csv(tmp_path / "future.csv", [
        {"user_id": shop_user, "event": "view", "timestamp": "2999-01-01T00:00:00Z", "item_id": "no-matter"}])
    result = CliRunner().invoke(cli, ["update", str(future), "--run", str(run.path), "--no-sync", "--quiet"])
    line = error_line(result)
    assert line.startswith("Error: future.csv:2: timestamp: '2999-01-01T00:00:00Z' is after ")

    empty = tmp_path / "empty.csv"
    empty.write_text("user_id,event,timestamp\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["update", str(empty), "--run", str(run.path), "--no-sync", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "empty.csv: 0 rows read = 0 accepted + 0 rejected" in result.output


@pytest.mark.slow
def test_train_summary_accounts_for_every_row(tmp_path):
    shop = tmp_path / "shop"
    result = CliRunner().invoke(cli, ["sample", "--out", str(shop), "--users", "40", "--items", "30", "--seed", "1"])
    assert result.exit_code == 0, result.output
    with (shop / "events.csv").open("a", encoding="utf-8") as handle:
        handle.write("u_late,view,2999-01-01T00:00:00Z,i01,\n")
    lines = (shop / "events.csv").read_text(encoding="utf-8").count("\n") - 1
    args = ["train", str(shop), "--no-sync", "--quiet", "--epochs", "1", "--spectral-dim", "0", "--dim", "8",
            "--on-error", "skip", "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["input"][1] == {"file": "events.csv", "rows_read": lines, "rows_accepted": lines - 1,
                                   "rows_rejected": 1}
    assert summary["counts"]["events"] == lines - 1 and summary["counts"]["rejected_rows"] == 1
    result = CliRunner().invoke(cli, args)
    assert f"  events.csv: {lines:,} rows read = {lines - 1:,} accepted + 1 rejected" in result.output
