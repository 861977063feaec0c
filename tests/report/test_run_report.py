"""The run report's content and size, on synthetic run folders (no training, no browser)."""
from __future__ import annotations

import os
import stat

import pyarrow.parquet as pq
import pytest
from report_figures import figure_titled, report_figures, values

from personagraph.errors import PersonaGraphError
from personagraph.report import EVALUATION_FILE, write_run_report


@pytest.mark.slow  # seconds: 100,000 made-up profiles are written, then read back
def test_a_100k_user_run_makes_a_report_under_5_mb_with_a_sampled_map(synthetic_run, tmp_path):
    run = synthetic_run(users=100_000, segments=40, dim=64, id_length=36)
    out = write_run_report(run.path, tmp_path / "report.html")
    assert out.stat().st_size <= 5_000_000
    points = figure_titled(out, "User profiles by segment")
    sizes = [len(values(trace["x"])) for trace in points["data"]]
    segments = set(pq.read_table(run.profiles, columns=["segment"])["segment"].to_pylist())
    assert sum(sizes) == 5000 and len(sizes) == len(segments)  # every segment keeps at least one point
    assert all(len(trace["text"]) == len(values(trace["x"])) for trace in points["data"])


def test_the_report_holds_every_section(synthetic_run, tmp_path):
    run = synthetic_run(users=400)
    out = write_run_report(run.path, tmp_path / "report.html")
    page = out.read_text(encoding="utf-8")
    for heading in ("Run summary", "Training", "Profiles", "Activity", "Model comparison"):
        assert f"<h2>{heading}</h2>" in page
    titles = [f["layout"].get("title", {}).get("text", "") for f in report_figures(out).values()]
    assert any(t.startswith("Spectral filter") for t in titles) and any(t.startswith("Segment sizes") for t in titles)
    curves = next(f for f in report_figures(out).values() if f["layout"].get("annotations")
                  and f["layout"]["annotations"][0]["text"] == "Training loss")
    chosen = next(trace for trace in curves["data"] if trace["name"].startswith("chosen epoch"))
    assert chosen["name"] == "chosen epoch 4" and list(values(chosen["x"])) == [4]
    assert f"--save-to {run.path}" in page  # how to add the comparison
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600  # it names users


def test_histograms_carry_bin_counts_not_one_value_per_user(synthetic_run, tmp_path):
    out = write_run_report(synthetic_run(users=3000).path, tmp_path / "report.html")
    activity = next(f for f in report_figures(out).values()
                    if any(a["text"] == "events per user" for a in f["layout"].get("annotations", [])))
    for trace in activity["data"]:
        assert len(trace["x"]) <= 32 and sum(values(trace["y"])) <= 3000


def test_a_run_without_history_or_spectral_grid_says_so(synthetic_run, tmp_path):
    run = synthetic_run(metrics={"run_id": "old", "counts": {"users": 500}})
    page = write_run_report(run.path, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "This run recorded no training history." in page and "No spectral grid" in page


def test_a_saved_evaluation_is_shown(synthetic_run, tmp_path):
    run = synthetic_run()
    spread = {"mean": 0.25, "std": 0.01}
    run.write_json(EVALUATION_FILE, {
        "data_dir": "/data/shop", "complete": True, "dataset": "shop", "protocol": "leave-one-out", "ks": [20],
        "derived_queries": False, "counts": {"users": 500, "items": 90, "test_users": 450},
        "models": [{"model": "ours", "applicable": True, "runs": 1, "test": {"recall@20": spread, "ndcg@20": spread},
                    "total_seconds": {"mean": 3.0, "std": 0.0}, "peak_rss_mb": 800.0},
                   {"model": "text", "applicable": False, "reason": "the items have no text"}],
    })
    out = write_run_report(run.path, tmp_path / "report.html")
    page = out.read_text(encoding="utf-8")
    assert "shop: protocol leave-one-out, 500 users, 90 items, 450 test users" in page
    assert "0.2500 ± 0.0100" in page and "n/a: text: the items have no text" in page
    bars = figure_titled(out, "Test ranking quality")
    assert [trace["name"] for trace in bars["data"]] == ["recall@20", "ndcg@20"]


def test_user_text_cannot_break_out_of_the_page(synthetic_run, tmp_path):
    run = synthetic_run(users=50)
    metrics = run.read_json("metrics.json") | {"run_id": "</script><script>alert(1)</script>"}
    run.write_json("metrics.json", metrics)
    page = write_run_report(run.path, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page


def test_a_folder_that_is_not_a_finished_run_is_a_clear_error(tmp_path):
    with pytest.raises(PersonaGraphError, match="is not a finished run folder .it does not exist"):
        write_run_report(tmp_path / "missing", tmp_path / "report.html")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(PersonaGraphError, match="has no metrics.json"):
        write_run_report(tmp_path / "half", tmp_path / "report.html")
