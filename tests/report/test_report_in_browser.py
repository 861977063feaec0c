"""The run report and the evaluation page opened in a real browser (headless Chromium): every chart
is drawn, nothing is logged to the console, and a screenshot is kept in the test's tmp folder.

Without Chromium the tests skip locally and fail on CI (``CI=true``), which installs it (.ci/run).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from personagraph.cli.main import cli
from personagraph.pipeline.run_folder import RunFolder
from personagraph.report import CHART_CLASS, EVALUATION_FILE

BROWSER_TIMEOUT_S = 120
#: Virtual milliseconds the page may run before the DOM is dumped: unpacking plotly.js and drawing take far less.
VIRTUAL_TIME_BUDGET_MS = 30_000
_CONSOLE_LINE = re.compile(r":CONSOLE[:(]")


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None:
        message = "headless Chromium is needed to check the report in a browser: apt-get install chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI must install it: see .ci/run)")
        pytest.skip(message)
    return found


def _chromium(browser: str, page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={profile}", f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}", *args,
               page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S, check=False)


def assert_renders(browser: str, page: Path, tmp_path: Path) -> Path:
    """Open ``page``: no console output, every chart drawn (an svg.main-svg with content and a data trace
    in each chart's div); returns the screenshot it took."""
    source = page.read_text(encoding="utf-8")
    charts = re.findall(rf'<div class="{CHART_CLASS}" id="(pg-chart-\d+)"', source)
    assert charts, f"{page} has no charts"
    dumped = _chromium(browser, page, tmp_path / "chromium-profile", "--enable-logging=stderr", "--v=0", "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    console = [line for line in dumped.stderr.splitlines() if _CONSOLE_LINE.search(line)]
    assert not console, "the page logged to the console:\n" + "\n".join(console)
    dom = dumped.stdout
    assert re.search(r'<p id="pg-error"></p>', dom), re.search(r'<p id="pg-error">(.*?)</p>', dom, re.S).group(1)
    assert f'data-charts-drawn="{len(charts)}"' in dom
    for chart in charts:
        drawn = dom[dom.index(f'id="{chart}"'):dom.index(f'id="{chart}-figure"')]
        svg = re.search(r'<svg[^>]*class="main-svg"[^>]*>(.*?)</svg>', drawn, re.S)
        assert svg is not None and "<g" in svg.group(1), f"chart {chart} of {page.name} was not drawn"
        assert 'class="trace' in drawn, f"chart {chart} of {page.name} was drawn without data"
    screenshot = tmp_path / f"{page.stem}.png"
    shot = _chromium(browser, page, tmp_path / "chromium-profile", "--window-size=1280,4000",
                     f"--screenshot={screenshot}")
    assert shot.returncode == 0 and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]
    return screenshot


def test_the_run_report_with_its_evaluation_renders_in_a_browser(chromium: str, trained_run: RunFolder,
                                                                 tmp_path: Path):
    shop = trained_run.path.parent.parent / "shop"
    evaluation_page = tmp_path / "evaluation.html"
    evaluated = CliRunner().invoke(cli, ["evaluate", str(shop), "--models", "popularity,itemknn", "--quiet",
                                         "--save-to", str(trained_run.path), "--html", str(evaluation_page)])
    assert evaluated.exit_code == 0, evaluated.output
    assert (trained_run.path / EVALUATION_FILE).is_file()

    report = tmp_path / "report.html"
    written = CliRunner().invoke(cli, ["report", str(trained_run.path), "--out", str(report)])
    assert written.exit_code == 0, written.output
    assert written.output.strip() == f"report written to {report}"
    page = report.read_text(encoding="utf-8")
    assert "<h2>Model comparison</h2>" in page and "itemknn" in page
    assert_renders(chromium, report, tmp_path)
    assert_renders(chromium, evaluation_page, tmp_path)
