"""`personagraph report` and the report options of `personagraph evaluate`, through the CLI."""
from __future__ import annotations

import os
import time

from click.testing import CliRunner
from report_figures import figure_titled, values

from personagraph.cli.main import cli


def test_without_a_run_the_newest_run_under_runs_is_reported(synthetic_run, tmp_path, monkeypatch):
    older = synthetic_run(name="runs/older")
    newer = synthetic_run(name="runs/newer")
    past = time.time() - 3600
    os.utime(older.profiles, (past, past))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["report", "--max-points", "100"])
    assert result.exit_code == 0, result.output
    out = newer.path / "report.html"
    assert result.output.strip() == "report written to runs/newer/report.html"
    points = figure_titled(out, "User profiles by segment")
    assert sum(len(values(trace["x"])) for trace in points["data"]) <= 100


def test_the_run_is_given_once(synthetic_run, tmp_path):
    run = synthetic_run()
    result = CliRunner().invoke(cli, ["report", str(run.path), "--run", str(tmp_path / "other")])
    assert result.exit_code == 2 and "give the run folder once" in result.output


def test_a_missing_run_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "is not a finished run folder" in result.output
    assert "Traceback" not in result.output


def test_evaluate_refuses_to_save_into_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "not-a-run").mkdir()
    result = CliRunner().invoke(cli, ["evaluate", str(tmp_path), "--save-to", str(tmp_path / "not-a-run"), "--quiet"])
    assert result.exit_code == 1 and "is not a run folder (it has no config.json)" in result.output
