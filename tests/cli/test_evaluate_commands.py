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
    assert table[2].startswith("history excluded: items in a user's input history are never ranked")
    assert table[3].split() == ["model", "recall@10", "ndcg@10", "recall@20", "ndcg@20", "runs", "seconds", "peak",
                                "RSS", "MB", "chosen", "on", "validation"]
    assert table[5].split()[-1] == "tune)" and table[6].split()[:3] == ["text", "n/a", "n/a"]
    assert "n/a: text: the items have no text (ID-only data)" in result.output


def test_bad_cut_offs_are_refused():
    result = CliRunner().invoke(evaluate, [".", "--k", "ten"])
    assert result.exit_code == 2 and "comma-separated list of integers" in result.output


def test_both_history_rules_print_a_table_each_and_json_says_which_rule_gave_which_figure(tmp_path):
    generate_sample_shop(tmp_path / "shop", users=60, items=40, seed=1)
    args = [str(tmp_path / "shop"), "--models", "popularity,itemknn", "--k", "10,50", "--history-rule", "both", "--quiet"]
    table = CliRunner().invoke(evaluate, args)
    assert table.exit_code == 0, table.output
    assert "history excluded: items in a user's input history are never ranked" in table.output
    assert "history not excluded: all items ranked" in table.output
    assert table.output.count("recall@50") == 2 and "repeat_weight=" in table.output
    report = json.loads(CliRunner().invoke(evaluate, [*args, "--json"]).stdout)
    assert report["history_rules"] == ["excluded", "included"]
    for model in report["models"]:
        assert set(model["test_by_rule"]) == {"excluded", "included"}
        assert set(model["test_by_rule"]["included"]) == {"recall@10", "ndcg@10", "recall@50", "ndcg@50"}
        assert "repeat_weight" in model["per_seed"][0] and "repeat_tuning" in model["per_seed"][0]


def test_budgets_are_printed_at_the_start_and_0_means_none(tmp_path):
    generate_sample_shop(tmp_path / "shop", users=40, items=30, seed=2)
    result = CliRunner().invoke(evaluate, [str(tmp_path / "shop"), "--models", "popularity,lightgcn",
                                           "--lightgcn-minutes", "0", "--max-minutes", "0", "--json"])
    assert result.exit_code == 0, result.output
    assert "lightgcn: no training time budget (--lightgcn-minutes to change; --lightgcn-minutes 0 = none)" in result.stderr
    assert "ours:" not in result.stderr  # ours does not run: no line for it
    report = json.loads(result.stdout)
    assert report["budgets_minutes"] == {"lightgcn": None} and report["lightgcn_time_budget_s"] is None
    lightgcn = report["models"][1]
    assert lightgcn["stopped_by_budget"] == 0 and lightgcn["per_seed"][0]["chosen"]["refit_stopped"] != "time budget"
    negative = CliRunner().invoke(evaluate, [str(tmp_path / "shop"), "--max-minutes", "-1"])
    assert negative.exit_code == 2 and "-1" in negative.output


def test_default_budget_lines_name_each_model_and_the_option_that_lifts_it():
    from personagraph.cli.evaluate_commands import LIGHTGCN_MINUTES, OURS_MINUTES, budget_lines

    lines = budget_lines({"ours": OURS_MINUTES, "lightgcn": LIGHTGCN_MINUTES}, ["ours", "popularity", "lightgcn"])
    assert lines == [f"ours: at most {OURS_MINUTES:g} min of training per seed (--max-minutes to change; "
                     "--max-minutes 0 = none)",
                     f"lightgcn: at most {LIGHTGCN_MINUTES:g} min of training per seed, grid and refit together "
                     "(--lightgcn-minutes to change; --lightgcn-minutes 0 = none)"]


def test_a_budget_stop_is_noted_under_the_table():
    from personagraph.cli.evaluate_commands import budget_notes

    report = {"budgets_minutes": {"ours": 10.0}, "models": [
        {"model": "ours", "applicable": True, "runs": 3, "stopped_by_budget": 2},
        {"model": "popularity", "applicable": True, "runs": 1, "stopped_by_budget": 0}]}
    assert budget_notes(report) == ["budget: ours: training stopped by its 10-minute time budget in 2 of 3 seed(s); "
                                    "results may improve without it"]
