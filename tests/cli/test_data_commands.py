import csv
import json

from click.testing import CliRunner

from personagraph.cli.main import cli


def test_sample_writes_a_readable_shop(tmp_path):
    out = tmp_path / "shop"
    result = CliRunner().invoke(cli, ["sample", "--out", str(out), "--users", "30", "--items", "40", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "Wrote 40 items" in result.output and "of 30 users" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["events.csv", "items.csv", "social.csv"]

    result = CliRunner().invoke(cli, ["stats", str(out), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["nodes"]["item"] == 40 and stats["nodes"]["user"] == 30
    assert stats["edges"]["item-in_category->category"] == 40

    result = CliRunner().invoke(cli, ["stats", str(out)])
    assert result.exit_code == 0, result.output
    assert "user-view->item" in result.output and "Connected components:" in result.output


def test_stats_reports_bad_rows_in_one_error_or_skips_them(tmp_path):
    (tmp_path / "items.csv").write_text("item_id,title\nA,Drill\n")
    (tmp_path / "events.csv").write_text("user_id,event,timestamp,item_id\nu1,view,1735689600,A\nu1,view,1735689601,B\n")
    result = CliRunner().invoke(cli, ["stats", str(tmp_path)])
    assert result.exit_code == 1
    assert "events.csv:3: item_id: unknown item 'B' (not in items.csv)" in result.output

    rejected = tmp_path / "rejected.csv"
    result = CliRunner().invoke(cli, ["stats", str(tmp_path), "--on-error", "skip", "--rejected", str(rejected), "--json"])
    assert result.exit_code == 0, result.output
    assert f"Skipped 1 bad row(s); wrote them to {rejected}" in result.stderr
    stats = json.loads(result.stdout)
    assert stats["edges"]["user-view->item"] == 1
    assert stats["input"][1] == {"file": "events.csv", "rows_read": 2, "rows_accepted": 1, "rows_rejected": 1}
    with rejected.open(newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["line"], row["field"], row["item_id"]) == ("3", "item_id", "B")


def test_stats_accounts_for_every_row_and_rejects_times_outside_the_window(tmp_path):
    (tmp_path / "items.csv").write_text("item_id,title\nA,Drill\n")
    (tmp_path / "events.csv").write_text(
        "user_id,event,timestamp,item_id\n"
        "u1,view,2025-01-01T00:00:00Z,A\n"
        "\n"  # a blank line is no row
        "u2,view,0001-01-01T00:00:00+05:00,A\n"
        "u3,view,2999-01-01T00:00:00Z,A\n"
    )
    result = CliRunner().invoke(cli, ["stats", str(tmp_path), "--on-error", "skip",
                                      "--rejected", str(tmp_path / "rejected.csv")])
    assert result.exit_code == 0, result.output
    assert "events.csv: 3 rows read = 1 accepted + 2 rejected" in result.stdout
    assert "items.csv: 1 rows read = 1 accepted + 0 rejected" in result.stdout
    with (tmp_path / "rejected.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["line"], row["field"]) for row in rows] == [("4", "timestamp"), ("5", "timestamp")]
    assert "before 1990-01-01T00:00:00Z" in rows[0]["reason"] and "--not-before" in rows[0]["reason"]

    result = CliRunner().invoke(cli, ["stats", str(tmp_path), "--not-before", "0001-01-01T00:00:00+14:00",
                                      "--not-after", "3000-01-01", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["input"][1]["rows_accepted"] == 3


def test_stats_refuses_a_bad_window_option_in_one_line(tmp_path):
    (tmp_path / "items.csv").write_text("item_id,title\nA,Drill\n")
    (tmp_path / "events.csv").write_text("user_id,event,timestamp,item_id\n")
    result = CliRunner().invoke(cli, ["stats", str(tmp_path), "--not-before", "soon"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: --not-before: cannot read 'soon'")
    result = CliRunner().invoke(cli, ["stats", str(tmp_path), "--not-before", "2030-01-01", "--not-after", "2020-01-01"])
    assert result.exit_code == 1 and "is empty" in result.output


def test_sample_without_social_links_writes_the_two_tables(tmp_path):
    result = CliRunner().invoke(cli, ["sample", "--out", str(tmp_path), "--users", "20", "--items", "10", "--no-social"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.csv", "items.csv"]
