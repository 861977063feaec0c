import json

import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner

from personagraph.cli.evaluate_commands import evaluate
from personagraph.datasets.sample_shop import generate_sample_shop


def test_evaluate_a_shop_prints_json_and_writes_it_to_a_file(tmp_path):
    generate_sample_shop(tmp_path / "shop", users=60, items=40, seed=1)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(evaluate, [str(tmp_path / "shop"), "--models", "popularity,itemknn", "--k", "5,10",
                                           "--json", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == json.loads(out.read_text()) and report["complete"] is True
    assert report["protocol"] == "leave-one-out" and report["ks"] == [5, 10]
    assert [m["model"] for m in report["models"]] == ["popularity", "itemknn"]
    for model in report["models"]:
        assert set(model["test"]) == {"recall@5", "ndcg@5", "recall@10", "ndcg@10"}
        assert 0.0 <= model["test"]["recall@10"]["mean"] <= 1.0 and model["peak_rss_mb"] > 0


def test_evaluate_a_given_split_prints_a_table_with_na_for_text(tmp_path):
    data = tmp_path / "ids"
    data.mkdir()
    items = [{"item_id": str(i), "title": ""} for i in range(12)]
    events = [{"user_id": f"u{u}", "event": "purchase", "timestamp": 1_735_689_600 + t, "item_id": str((u + 2 * t) % 12)}
              for u in range(10) for t in range(5)]
    test = [{"user_id": f"u{u}", "item_id": str((u + 11) % 12)} for u in range(10)]
    for name, rows in (("items", items), ("events", events), ("test", test)):
        pq.write_table(pa.Table.from_pylist(rows), data / f"{name}.parquet")
    (data / "dataset.json").write_text(json.dumps({"name": "ids", "protocol": "given-split", "test": "test.parquet"}))
    result = CliRunner().invoke(evaluate, [str(data), "--models", "popularity,text", "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ids: protocol given-split, 10 users, 12 items, 10 test users")
    table = result.output.splitlines()
    assert table[2].split() == ["model", "recall@10", "ndcg@10", "recall@20", "ndcg@20", "runs", "seconds", "peak",
                                "RSS", "MB"]
    assert table[5].split()[:3] == ["text", "n/a", "n/a"]
    assert "n/a: text: the items have no text (ID-only data)" in result.output


def test_bad_cut_offs_are_refused():
    result = CliRunner().invoke(evaluate, [".", "--k", "ten"])
    assert result.exit_code == 2 and "comma-separated list of integers" in result.output
