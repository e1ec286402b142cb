"""The report's files, written from a report built by hand: the CSV's rows and exact values, the
workbook read back with openpyxl, and an HTML page that refers to nothing outside itself and
holds one figure per chart (tests/integration/test_report_html_in_browser.py renders it); each
labelled with whose cases it counts, names never read as formulas, and a file written whole."""

from __future__ import annotations

import csv
import dataclasses
import errno
import io
import os
import re
import resource
import signal
import stat
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from domain.money import Money
from domain.reports.goals import DEFAULT_GOALS, LOSS_RATE, OVERDUE_RATE, RESOLVED_WITHIN_30_DAYS
from domain.reports.model import (
    AgingBucket,
    CountBucket,
    Goal,
    GoalDirection,
    Grouping,
    Period,
    PortfolioReport,
    Ratio,
    ReportGroup,
    RollRate,
    ThresholdRatio,
)
from jobs.report_export import (
    ALL_CASES,
    CSV_COLUMNS,
    NO_DATA,
    ReportFormat,
    to_csv,
    to_html,
    to_xlsx,
    view_of,
    write_report,
)
from jobs.report_export.charts import goal_chart

PERIOD = Period(date(2026, 10, 1), date(2026, 10, 31))
LABELS = ("0-30", "31-60", "61-90", "91-180", "181+")
RECOVERIES = (2, 1, 0, 0, 1)


def ratio(numerator: str, denominator: str, goal: Goal | None = None, scale: int = 1) -> Ratio:
    return Ratio(Decimal(numerator), Decimal(denominator), goal, scale)


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def retail(key: str | None = None) -> ReportGroup:
    """The CNY figures: two buckets, three roll-rate cells, goals met and missed."""
    return ReportGroup(
        key=key,
        currency="CNY",
        recovered=cny("12345.67"),
        aging=[
            AgingBucket("M1", 3, cny("3000.10")),
            AgingBucket("M3", 1, cny("999.90")),
        ],
        overdue_rates=[
            ThresholdRatio(1, ratio("4000.00", "100000.00", goal=OVERDUE_RATE)),
            ThresholdRatio(30, ratio("999.90", "100000.00")),
            ThresholdRatio(90, ratio("0", "100000.00")),
        ],
        cure_rate=ratio("2", "3"),
        recovery_rate=ratio("12345.67", "50000.00"),
        resolved_within_30_days=ratio("1", "4", goal=RESOLVED_WITHIN_30_DAYS),
        loss_rate=ratio("500.00", "5000.00", goal=LOSS_RATE),
        cost_of_collection=ratio("1234.57", "12345.67"),
        annualised_cost_vs_loan_book=ratio(
            "14535.71", "100000.00", goal=DEFAULT_GOALS.cost_vs_loan_book
        ),
        days_to_recovery=[
            CountBucket(label, cases) for label, cases in zip(LABELS, RECOVERIES, strict=True)
        ],
        promise_kept_rate=ratio("3", "5"),
        complaints_per_1000=ratio("1", "4", scale=1000),
        roll_rates=[
            RollRate("M1", "M2", ratio("1", "3"), ratio("1000.00", "3000.10")),
            RollRate("M1", "CURED", ratio("2", "3"), ratio("2000.10", "3000.10")),
            RollRate("M3", "WRITTEN_OFF", ratio("1", "1"), ratio("999.90", "999.90")),
        ],
    )


def empty_usd(key: str | None = None) -> ReportGroup:
    """A currency with nothing to chart: every chart says so."""
    zero = ratio("0", "0")
    return ReportGroup(
        key=key,
        currency="USD",
        recovered=Money.zero("USD"),
        aging=[],
        overdue_rates=[],
        cure_rate=zero,
        recovery_rate=zero,
        resolved_within_30_days=ratio("0", "0", goal=RESOLVED_WITHIN_30_DAYS),
        loss_rate=ratio("0", "0", goal=LOSS_RATE),
        cost_of_collection=zero,
        annualised_cost_vs_loan_book=None,
        days_to_recovery=[CountBucket(label, 0) for label in LABELS],
        promise_kept_rate=zero,
        complaints_per_1000=ratio("0", "0", scale=1000),
        roll_rates=[],
    )


def sample_report() -> PortfolioReport:
    """Totals in CNY and USD, and the groups of two portfolios."""
    return PortfolioReport(
        period=PERIOD,
        grouping=Grouping.PORTFOLIO,
        groups=[retail("retail"), empty_usd("us-cards")],
        totals=[retail(), empty_usd()],
    )


def rows_of(report: PortfolioReport, view: str = ALL_CASES) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(to_csv(report, view))))


def only(rows: list[dict[str, str]], **where: str) -> dict[str, str]:
    found = [row for row in rows if all(row[k] == v for k, v in where.items())]
    assert len(found) == 1, (where, found)
    return found[0]


def test_the_csv_has_one_row_per_group_and_figure_with_exact_values() -> None:
    text = to_csv(sample_report(), ALL_CASES)
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    rows = rows_of(sample_report())
    cny_total = [r for r in rows if r["section"] == "totals" and r["currency"] == "CNY"]
    # recovered, 3 overdue rates, 8 ratios, 2 buckets, 3 roll cells × 2 measures, 5 day labels
    assert len(cny_total) == 1 + 3 + 8 + 2 + 6 + 5
    usd_total = [r for r in rows if r["section"] == "totals" and r["currency"] == "USD"]
    # no overdue rates, no annualised cost (absent, not zero), no buckets, no roll rates
    assert len(usd_total) == 1 + 7 + 5
    assert {r["from"] for r in rows} == {"2026-10-01"} and {r["to"] for r in rows} == {"2026-10-31"}
    assert {r["view"] for r in rows} == {"All cases"}
    assert len(rows) == 2 * (len(cny_total) + len(usd_total))

    totals = {"section": "totals", "currency": "CNY", "key": ""}
    assert only(rows, **totals, figure="recovered")["amount"] == "12345.67"
    overdue = only(rows, **totals, figure="overdueRate", label="dpd>=1")
    assert (overdue["value"], overdue["numerator"], overdue["denominator"]) == (
        "0.0400",
        "4000.00",
        "100000.00",
    )
    assert (overdue["goal"], overdue["meets_goal"]) == ("0.05", "true")
    loss = only(rows, **totals, figure="lossRate")
    assert (loss["value"], loss["goal"], loss["meets_goal"]) == ("0.1000", "0.20", "true")
    resolved = only(rows, **totals, figure="resolvedWithin30Days")
    assert (resolved["value"], resolved["meets_goal"]) == ("0.2500", "false")
    annualised = only(rows, **totals, figure="annualisedCostVsLoanBook")
    assert (annualised["value"], annualised["meets_goal"]) == ("0.1454", "false")
    cure = only(rows, **totals, figure="cureRate")
    assert (cure["value"], cure["goal"], cure["meets_goal"]) == ("0.6667", "", "")
    complaints = only(rows, **totals, figure="complaintsPer1000")
    assert (complaints["value"], complaints["numerator"], complaints["denominator"]) == (
        "250.0000",
        "1",
        "4",
    )
    aging = only(rows, **totals, figure="aging", label="M3")
    assert (aging["cases"], aging["amount"], aging["value"]) == ("1", "999.90", "")
    by_balance = only(rows, **totals, figure="rollRateByBalance", label="M1->CURED")
    assert (by_balance["value"], by_balance["numerator"], by_balance["denominator"]) == (
        "0.6667",
        "2000.10",
        "3000.10",
    )
    assert only(rows, **totals, figure="daysToRecovery", label="181+")["cases"] == "1"

    group = only(rows, section="groups", key="us-cards", figure="lossRate")
    assert (group["currency"], group["value"], group["meets_goal"]) == ("USD", "0.0000", "")
    assert only(rows, section="groups", key="retail", figure="recovered")["currency"] == "CNY"


def test_the_csv_of_a_report_without_groups_holds_the_totals_only() -> None:
    report = PortfolioReport(PERIOD, None, groups=[], totals=[empty_usd()])
    rows = rows_of(report)
    assert {(r["section"], r["key"], r["currency"]) for r in rows} == {("totals", "", "USD")}


def read_sheets(report: PortfolioReport) -> dict[str, list[tuple[object, ...]]]:
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(report, ALL_CASES)))
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def test_the_workbook_has_a_sheet_per_section_with_a_frozen_header() -> None:
    data = to_xlsx(sample_report(), ALL_CASES)
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Summary", "Aging", "Roll rates", "Days to recovery"]
    heading = "Portfolio report 2026-10-01 to 2026-10-31, by portfolio — All cases"
    assert (book.properties.title, book.properties.subject) == (heading, "All cases")
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A3"
        assert sheet["A1"].value == heading
        assert sheet["A2"].font.bold and sheet["A2"].value == "Section"

    summary = book["Summary"]
    assert [c.value for c in summary[2]] == [
        "Section",
        "Key",
        "Currency",
        "Figure",
        "Value",
        "Numerator",
        "Denominator",
        "Goal",
        "Meets goal",
    ]
    rows = {(r[0], r[1], r[2], r[3]): r for r in summary.iter_rows(min_row=3, values_only=True)}
    assert rows["totals", None, "CNY", "Recovered"][4] == pytest.approx(12345.67)
    overdue = rows["totals", None, "CNY", "Overdue rate (DPD ≥ 1)"]
    assert overdue[4:] == (
        pytest.approx(0.04),
        pytest.approx(4000),
        pytest.approx(100000),
        pytest.approx(0.05),
        True,
    )
    assert rows["groups", "us-cards", "USD", "Loss rate"][4:] == (0, 0, 0, pytest.approx(0.2), None)
    assert ("totals", None, "USD", "Annualised cost vs loan book") not in rows
    # The value is a number (to 16 significant digits), shown with a number format.
    cells = {(c[0].value, c[3].value): c for c in summary.iter_rows(min_row=3)}
    assert cells["totals", "Cure rate"][4].number_format == "0.00%"
    assert cells["totals", "Complaints per 1,000 cases"][4].number_format == "0.0000"
    assert cells["totals", "Recovery rate"][5].number_format == "#,##0.00"
    assert cells["totals", "Cure rate"][5].number_format == "#,##0"
    assert b"<v>12345.67</v>" in _sheet_xml(data, 1)


def _sheet_xml(data: bytes, number: int) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(f"xl/worksheets/sheet{number}.xml")


def test_the_workbook_holds_aging_roll_rate_matrices_and_days_to_recovery() -> None:
    sheets = read_sheets(sample_report())
    aging = sheets["Aging"][2:]
    assert ("totals", None, "CNY", "M1", 3, pytest.approx(3000.10)) == aging[0]
    assert ("groups", "retail", "CNY", "M3", 1, pytest.approx(999.90)) == aging[3]
    assert len(aging) == 4

    rolls = sheets["Roll rates"]
    assert rolls[1] == (
        "Section",
        "Key",
        "Currency",
        "Measure",
        "From",
        "M2",
        "CURED",
        "WRITTEN_OFF",
        "Base",
    )
    matrix = {(r[0], r[1], r[3], r[4]): r[5:] for r in rolls[2:]}
    assert matrix["totals", None, "by count", "M1"] == (
        pytest.approx(0.3333),
        pytest.approx(0.6667),
        None,
        3,
    )
    assert matrix["totals", None, "by balance", "M3"] == (
        None,
        None,
        pytest.approx(1),
        pytest.approx(999.90),
    )
    assert len(matrix) == 2 * 2 * 2  # (totals, retail) × measures × from buckets

    days = sheets["Days to recovery"][2:]
    assert [(r[0], r[2], r[3], r[4]) for r in days[:5]] == [
        ("totals", "CNY", label, cases) for label, cases in zip(LABELS, RECOVERIES, strict=True)
    ]
    assert len(days) == 4 * 5


CHARTS = ("aging", "roll-rates", "days-to-recovery", "goals")


def test_the_html_page_refers_to_nothing_outside_itself() -> None:
    html = to_html(sample_report(), ALL_CASES)
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"\bsrc\s*=", html), "nothing is loaded from anywhere"
    assert not re.search(r"<(link|img|image|iframe|object|embed)\b", html)
    assert not re.search(r"@import|@font-face", html)
    assert set(re.findall(r'href="([^"]*)"', html)) <= {
        f"#{i}" for i in re.findall(r'id="([^"]+)"', html)
    }, "every link is to something in the page"
    assert set(re.findall(r"url\(([^)]*)\)", html)) <= {
        f"#{i}" for i in re.findall(r'id="([^"]+)"', html)
    }
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "no two charts share an id"
    assert "<text" not in html, "text is drawn as paths: no font needed"


def test_the_html_page_has_one_figure_per_chart_and_says_when_there_is_no_data() -> None:
    html = to_html(sample_report(), ALL_CASES)
    charts = re.findall(r'<figure class="chart" data-chart="([^"]+)">', html)
    assert charts == [f"{chart}-{currency}" for currency in ("CNY", "USD") for chart in CHARTS]
    assert 'data-charts-expected="8"' in html
    assert html.count("<svg") == 8
    usd = html[html.index('id="currency-USD"') :]
    assert usd.count(f"<!-- {NO_DATA} -->") == 4, "every USD chart says there is no data"
    cny = html[html.index('id="currency-CNY"') : html.index('id="currency-USD"')]
    assert f"<!-- {NO_DATA} -->" not in cny
    # the figures as a manager reads them, a table per group
    assert "<h3>Portfolio: retail</h3>" in cny
    assert "<h3>Portfolio: us-cards</h3>" in usd
    assert "12,345.67 CNY" in cny and "4.00%" in cny and "below 5.00%" in cny
    assert '<td class="misses">misses</td>' in cny and '<td class="meets">meets</td>' in cny
    assert "250.00 per 1,000" in cny
    assert "document.body.dataset.chartsRendered" in html


def test_an_empty_report_says_so_and_expects_no_chart() -> None:
    html = to_html(PortfolioReport(PERIOD, None, groups=[], totals=[]), ALL_CASES)
    assert 'data-charts-expected="0"' in html and "<figure" not in html
    assert "No figures for this period" in html


def test_the_html_page_is_the_same_every_time() -> None:
    assert to_html(sample_report(), ALL_CASES) == to_html(sample_report(), ALL_CASES)


@pytest.mark.parametrize("fmt", list(ReportFormat))
def test_write_report_writes_the_whole_file(fmt: ReportFormat, tmp_path: Path) -> None:
    target = tmp_path / f"report.{fmt.value}"
    write_report(sample_report(), fmt, target, ALL_CASES)
    assert target.stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == [target.name], "no temporary file left"


def test_the_viewer_label_names_the_login_and_their_team_or_agency() -> None:
    assert view_of("lead1", team="East") == "Cases in view of lead1 (team East)"
    assert (
        view_of("am1", agency="Acme Recoveries") == "Cases in view of am1 (agency Acme Recoveries)"
    )
    assert view_of("someone") == "Cases in view of someone"


def test_a_scoped_report_says_whose_cases_it_counts_in_every_format() -> None:
    view = view_of("lead1", team="East")
    report = sample_report()
    assert {row["view"] for row in rows_of(report, view)} == {view}

    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(report, view)))
    heading = f"Portfolio report 2026-10-01 to 2026-10-31, by portfolio — {view}"
    assert (book.properties.title, book.properties.subject) == (heading, view)
    assert {sheet["A1"].value for sheet in book.worksheets} == {heading}

    html = to_html(report, view)
    assert f"<title>{heading}</title>" in html
    assert f'<h2 class="view">{view}</h2>' in html
    assert f"<h3>{view} in CNY</h3>" in html and f"<h3>{view} in USD</h3>" in html
    assert "All cases" not in html


# Names a spreadsheet would run as formulas (or read as an error), as a team or a strategy could
# be called.
FORMULAS = ('=HYPERLINK("http://example.org","x")', "+1+2", "-3+4", "@SUM(A1)", "#N/A")


def formula_report() -> PortfolioReport:
    """Groups keyed by the names above and by a plain name, with a negative loss rate (a number
    that starts with a minus and must stay a number)."""
    negative = ratio("-100.00", "5000.00", goal=LOSS_RATE)
    groups = [retail(key) for key in (*FORMULAS, "retail")]
    return PortfolioReport(
        period=PERIOD,
        grouping=Grouping.TEAM,
        groups=[dataclasses.replace(group, loss_rate=negative) for group in groups],
        totals=[retail()],
    )


def test_no_name_in_the_csv_starts_a_formula() -> None:
    rows = rows_of(formula_report(), view_of("=cmd|' /C calc'!A0"))
    keys = {row["key"] for row in rows if row["section"] == "groups"}
    assert keys == {
        '\'=HYPERLINK("http://example.org","x")',
        "'+1+2",
        "'-3+4",
        "'@SUM(A1)",
        "#N/A",
        "retail",
    }
    assert {row["view"] for row in rows} == {"Cases in view of =cmd|' /C calc'!A0"}
    loss = only(rows, section="groups", key="retail", figure="lossRate")
    assert (loss["value"], loss["numerator"]) == ("-0.0200", "-100.00"), "numbers keep their sign"


def test_every_name_in_the_workbook_is_a_text_cell() -> None:
    data = to_xlsx(formula_report(), ALL_CASES)
    book = openpyxl.load_workbook(io.BytesIO(data))
    for number, sheet in enumerate(book.worksheets, 1):
        assert b"<f>" not in _sheet_xml(data, number), sheet.title
        keys = [row[1] for row in sheet.iter_rows(min_row=3) if row[0].value == "groups"]
        assert {cell.value for cell in keys} == {*FORMULAS, "retail"}, sheet.title
        assert {cell.data_type for cell in keys} == {"s"}, sheet.title
    loss = next(
        row
        for row in book["Summary"].iter_rows(min_row=3)
        if (row[1].value, row[3].value) == ("retail", "Loss rate")
    )
    assert (loss[4].value, loss[4].data_type) == (pytest.approx(-0.02), "n")


def test_the_goal_chart_of_zero_rates_and_zero_goals_draws_without_a_warning() -> None:
    """All zero: the axis still has a range (an empty one warns, and warnings fail the suite)."""
    zero = dataclasses.replace(
        empty_usd(),
        resolved_within_30_days=ratio("0", "4", goal=Goal(Decimal(0), GoalDirection.ABOVE)),
        loss_rate=ratio("0.00", "5000.00", goal=Goal(Decimal(0), GoalDirection.BELOW)),
    )
    axes = goal_chart(zero, "Goal vs actual (USD)").axes[0]
    assert axes.get_xlim() == pytest.approx((0, 0.0625))
    html = to_html(PortfolioReport(PERIOD, None, groups=[], totals=[zero]), ALL_CASES)
    goals = html[html.index('data-chart="goals-USD"') :]
    assert "<svg" in goals and f"<!-- {NO_DATA} -->" not in goals, "the goals are drawn"


def test_the_goal_chart_shows_a_negative_rate_left_of_zero() -> None:
    """Recoveries that outweighed the losses: a loss rate of -2.00% against a goal below 20%."""
    group = dataclasses.replace(empty_usd(), loss_rate=ratio("-100.00", "5000.00", goal=LOSS_RATE))
    axes = goal_chart(group, "Goal vs actual (USD)").axes[0]
    assert axes.get_xlim() == pytest.approx((-0.025, 0.25))


def test_a_written_report_gets_the_mode_of_a_new_file_not_a_private_one(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    umask = os.umask(0o027)
    try:
        write_report(sample_report(), ReportFormat.CSV, target, ALL_CASES)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_failed_write_leaves_no_temporary_file_and_the_earlier_report_as_it_was(
    tmp_path: Path,
) -> None:
    target = tmp_path / "report.html"
    target.write_text("last month's report\n", encoding="utf-8")
    # A real failure part way through the write: a file size limit (EFBIG once the temporary
    # file reaches 4 KiB; the signal that would end the process ignored).
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, limits[1]))
    try:
        with pytest.raises(OSError) as failed:
            write_report(sample_report(), ReportFormat.HTML, target, ALL_CASES)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    assert failed.value.errno == errno.EFBIG
    assert target.read_text(encoding="utf-8") == "last month's report\n"
    assert [p.name for p in tmp_path.iterdir()] == [target.name], "no temporary file left"
