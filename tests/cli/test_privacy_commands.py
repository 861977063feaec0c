"""`personagraph train/update --pseudonymise`, `pseudonym` and `forget` on a small shop (run folder only)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from live_run import write_csv
from trained_sample import EMBEDDING_CACHE

from personagraph.cli.main import cli
from personagraph.datasets.sample_shop import generate_sample_shop

RAW_ID = "erin.private@example.org"  # an e-mail as user id, and in her search text
EMAIL_QUERY = f"order for {RAW_ID}"


@pytest.fixture
def invoke(tmp_path):
    """`personagraph ...` with a state folder (and so a pseudonym key) of the test's own."""
    env = {"PERSONAGRAPH_HOME": str(tmp_path / "state"), "PERSONAGRAPH_PSEUDONYM_KEY": None}

    def run(*args: str):
        return CliRunner().invoke(cli, list(args), env=env)

    return run


def shop_with_erin(folder: Path) -> Path:
    sample = generate_sample_shop(folder, users=40, items=20, seed=3)
    item = sample.shop.catalog.item_ids[0]
    with (folder / "events.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows += [
        {"user_id": RAW_ID, "event": "search", "timestamp": "2025-03-01T10:00:00Z", "query": EMAIL_QUERY,
         "item_id": item},
        {"user_id": RAW_ID, "event": "purchase", "timestamp": "2025-03-01T10:01:00Z", "item_id": item},
        {"user_id": RAW_ID, "event": "teleport", "timestamp": "2025-03-01T10:02:00Z", "item_id": item},  # rejected
    ]
    write_csv(folder / "events.csv", rows)
    return folder


def run_folder_bytes(run_dir: Path) -> list[tuple[Path, bytes]]:
    return [(path, path.read_bytes()) for path in run_dir.rglob("*") if path.is_file()]


@pytest.mark.slow
def test_a_pseudonymised_run_keeps_no_raw_id_and_forget_finds_users_by_raw_id(tmp_path, invoke):
    shop = shop_with_erin(tmp_path / "shop")
    run_dir = tmp_path / "runs" / "shop"
    trained = invoke("train", str(shop), "--out", str(run_dir), "--epochs", "1", "--dim", "8", "--spectral-dim", "0",
                     "--cache-dir", str(EMBEDDING_CACHE), "--on-error", "skip", "--no-sync", "--quiet",
                     "--pseudonymise")
    assert trained.exit_code == 0, trained.output
    key = tmp_path / "state" / "pseudonym.key"
    assert key.is_file() and oct(key.stat().st_mode & 0o777) == "0o600"

    looked_up = invoke("pseudonym", RAW_ID)
    assert looked_up.exit_code == 0, looked_up.output
    erin = looked_up.stdout.strip()
    users = pq.read_table(run_dir / "profiles.parquet")["user_id"].to_pylist()
    assert erin in users and all(user_id.startswith("p_") for user_id in users)
    for path, data in run_folder_bytes(run_dir):
        assert RAW_ID.encode() not in data and b"example.org" not in data, path  # ids and search text
    queries = pq.read_table(run_dir / "shop_state" / "queries.parquet")["query"].to_pylist()
    assert "order for <email>" in queries
    with (run_dir / "rejected.csv").open(encoding="utf-8") as handle:
        assert [row["user_id"] for row in csv.DictReader(handle)] == [erin]
    assert json.loads((run_dir / "config.json").read_text())["privacy"]["query_pii"] == "redacted"

    events = write_csv(tmp_path / "new.csv", [{"user_id": RAW_ID, "event": "view", "timestamp": "2025-03-02T10:00:00Z",
                                              "item_id": "i01"}])
    refused = invoke("update", str(events), "--run", str(run_dir), "--no-sync", "--quiet")
    assert refused.exit_code == 1 and "pass --pseudonymise" in refused.output
    updated = invoke("update", str(events), "--run", str(run_dir), "--no-sync", "--quiet", "--json", "--pseudonymise")
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.stdout)["touched_user_ids"] == [erin]

    forgotten = invoke("forget", RAW_ID, "--run", str(run_dir), "--no-sync")
    assert forgotten.exit_code == 0, forgotten.output
    assert "erased 1 of 1 user(s)" in forgotten.output and RAW_ID not in forgotten.output
    for path, data in run_folder_bytes(run_dir):
        assert erin.encode() not in data and RAW_ID.encode() not in data, path


def test_pseudonym_needs_the_key_a_pseudonymised_train_made(invoke):
    result = invoke("pseudonym", "alice")
    assert result.exit_code == 1 and "no pseudonym key" in result.output and "Traceback" not in result.output


def test_forget_reads_ids_from_a_file_and_refuses_none(tmp_path, invoke):
    assert invoke("forget", "--no-sync").exit_code == 2
    ids = tmp_path / "ids.txt"
    ids.write_text("\n  \n", encoding="utf-8")
    result = invoke("forget", "--from-file", str(ids), "--no-sync", "--run", str(tmp_path))
    assert result.exit_code == 2 and "give the USER_IDs" in result.output
