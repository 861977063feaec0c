import csv
import json

from click.testing import CliRunner

from personagraph.cli.main import cli


def test_sample_writes_a_readable_shop(tmp_path):
    out = tmp_path / "shop"
    result = CliRunner().invoke(cli, ["sample", "--out", str(out), "--users", "30", "--items", "40", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "Wrote 40 items" in result.output and "of 30 users" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["events.csv", "items.csv"]

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
    (tmp_path / "events.csv").write_text("user_id,event,timestamp,item_id\nu1,view,1,A\nu1,view,2,B\n")
    result = CliRunner().invoke(cli, ["stats", str(tmp_path)])
    assert result.exit_code == 1
    assert "events.csv:3: item_id: unknown item 'B' (not in items.csv)" in result.output

    rejected = tmp_path / "rejected.csv"
    result = CliRunner().invoke(cli, ["stats", str(tmp_path), "--on-error", "skip", "--rejected", str(rejected), "--json"])
    assert result.exit_code == 0, result.output
    assert f"Skipped 1 bad row(s); wrote them to {rejected}" in result.stderr
    assert json.loads(result.stdout)["edges"]["user-view->item"] == 1
    with rejected.open(newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["line"], row["field"], row["item_id"]) == ("3", "item_id", "B")
