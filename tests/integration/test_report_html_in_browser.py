"""The HTML report in a real browser: headless Chromium (Debian's ``chromium`` package) opens the
file with no network at all, runs the page's script, and every chart has drawn something."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from jobs.report_export import ReportFormat, write_report
from tests.unit.test_report_export import sample_report

CHROMIUM = shutil.which("chromium")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium binary on PATH (Debian's chromium package): the HTML report's charts "
    "cannot be checked in a browser",
)


def rendered_dom(page: Path, profile: Path) -> str:
    """The page's DOM after its load handlers ran (a virtual-time budget lets the script run
    before the DOM is dumped)."""
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            # No name resolves: anything the page tried to fetch would fail.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_every_chart_of_the_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    write_report(sample_report(), ReportFormat.HTML, page)
    dom = rendered_dom(page, tmp_path / "profile")
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:2000]
    attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', body[1]))
    charts = re.findall(r'<figure class="chart" data-chart="([^"]+)"([^>]*)>', dom)
    assert "data-charts-rendered" in attributes, "the page's script did not run"
    expected = int(attributes["data-charts-expected"])
    assert expected == len(charts) == 8
    assert int(attributes["data-charts-rendered"]) == expected
    assert all('data-rendered="true"' in rest for _, rest in charts), charts
