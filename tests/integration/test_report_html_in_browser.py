"""The HTML report in a real browser: headless Chromium (Debian's ``chromium`` package) opens the
file with no network at all, runs the page's script, and every chart has drawn something.

Without chromium, or with one that cannot render even a trivial page (no display libraries, a
sandbox it cannot start), the test skips saying why; with ARREARS_REQUIRE_CHROMIUM=1 (CI, once
chromium is installed) it fails instead, so that the check is never lost to a skip."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

from jobs.report_export import ALL_CASES, ReportFormat, write_report
from tests.unit.test_report_export import sample_report

REQUIRED = os.environ.get("ARREARS_REQUIRE_CHROMIUM") == "1"
PROBE = (
    '<!DOCTYPE html><html><body><script>document.body.dataset.probe = "ran";</script></body></html>'
)


def unavailable(reason: str) -> NoReturn:
    """Skips the browser test, or fails it when chromium is required."""
    if REQUIRED:
        pytest.fail(f"ARREARS_REQUIRE_CHROMIUM=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def dump_dom(chromium: str, page: Path, profile: Path) -> subprocess.CompletedProcess[str]:
    """Chromium's run printing the page's DOM after its load handlers ran (a virtual-time budget
    lets the script run before the DOM is dumped)."""
    return subprocess.run(
        [
            chromium,
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


def rendered_dom(chromium: str, page: Path, profile: Path) -> str:
    """The page's DOM as Chromium leaves it (its run must succeed)."""
    result = dump_dom(chromium, page, profile)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A chromium that renders a trivial file:// page and runs its script."""
    binary = shutil.which("chromium")
    if binary is None:
        unavailable(
            "no chromium binary on PATH (Debian's chromium package): the HTML report's charts "
            "cannot be checked in a browser"
        )
    where = tmp_path_factory.mktemp("chromium-probe")
    page = where / "probe.html"
    page.write_text(PROBE, encoding="utf-8")
    try:
        probe = dump_dom(binary, page, where / "profile")
    except (OSError, subprocess.TimeoutExpired) as exc:
        unavailable(f"{binary} cannot render a trivial page: {exc}")
    if probe.returncode != 0:
        unavailable(
            f"{binary} cannot render a trivial page (exit status {probe.returncode}): "
            f"{probe.stderr.strip()[-500:]}"
        )
    if 'data-probe="ran"' not in probe.stdout:
        unavailable(f"{binary} renders a trivial page without running its script")
    return binary


def test_every_chart_of_the_report_renders_in_headless_chromium(
    chromium: str, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    write_report(sample_report(), ReportFormat.HTML, page, ALL_CASES)
    dom = rendered_dom(chromium, page, tmp_path / "profile")
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:2000]
    attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', body[1]))
    charts = re.findall(r'<figure class="chart" data-chart="([^"]+)"([^>]*)>', dom)
    assert "data-charts-rendered" in attributes, "the page's script did not run"
    expected = int(attributes["data-charts-expected"])
    assert expected == len(charts) == 8
    assert int(attributes["data-charts-rendered"]) == expected
    assert all('data-rendered="true"' in rest for _, rest in charts), charts
