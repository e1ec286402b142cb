"""`arrears report` end to end on a database with a small history: the CSV, XLSX and HTML files
hold the figures worked out by hand below and say whose cases they count, `--as` narrows them to a
team lead's team (and refuses a login whose roles may not read reports), and each bad argument
exits 1 with a one-line message and writes nothing.

The history: two completed daily runs, 2026-09-30 (October's opening) and 2026-10-31 (its
closing), both retail cases (CNY, Asia/Shanghai):

    case  owner       debt  2026-09-30         2026-10-31
    A     collector   DA    40d M2 1000.00     71d M3 1000.00
    B     nobody      DB    10d M1  500.00     41d M2  450.00   (paid 50.00 on 10-15)

So in October: aging at the closing M2 1 case 450.00, M3 1 case 1000.00; the roll rates
M1→M2 and M2→M3 are 1/1 each; nothing cured (0/2); recovered 50.00 over the 1500.00 delinquent
at the opening (0.0333). The loan book holds 100000.00 of retail consumer loans on 2026-10-31,
so over the whole book the overdue rates at the closing are 1450.00 / 100000.00 = 0.0145 at
1 and at 30 days past due, 0 at 90. The collector is in team East, whose lead sees case A only:
aging M3 1 1000.00, recovered 0.00 over 1000.00, and no overdue rate (a team is not the loan
book).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.cli import Ran, invoke_aside
from tests.factories import Factory, classify, writing

OPENING, CLOSING = date(2026, 9, 30), date(2026, 10, 31)
COLLECTOR = "report.collector"
LEAD = "report.lead"
OCTOBER = ("--from", "2026-10-01", "--to", "2026-10-31")


def snapshot(debt: Any, run: date, dpd: int, balance: str, assignee: int | None) -> dict[str, Any]:
    bucket, classification = classify(dpd)
    return {
        "debt_id": debt.id,
        "as_of": run,
        "case_id": debt.case_id,
        "portfolio": "retail",
        "product_type": "CONSUMER_LOAN",
        "currency": "CNY",
        "balance": Decimal(balance),
        "principal": Decimal(balance),
        "days_past_due": dpd,
        "bucket": bucket,
        "classification": classification,
        "status": "DELINQUENT",
        "assignee_id": assignee,
        "case_status": "OPEN",
        "case_stage": "COLLECTION",
    }


async def build(engine: AsyncEngine) -> None:
    """Writes the history of the module's docstring."""
    factory = Factory(engine)
    collector = await factory.staff(COLLECTOR, team="East")
    await factory.staff(LEAD, roles=("team_lead",), team="East")
    await factory.staff("report.gone", active=False)
    a = (await factory.case(assignee=COLLECTOR)).debts[0]
    b = (await factory.case()).debts[0]
    paid_at = datetime(2026, 10, 15, 2, tzinfo=UTC)
    async with writing(engine) as conn:
        for day in (OPENING, CLOSING):
            at = datetime.combine(day, datetime.min.time(), UTC)
            await conn.execute(
                insert(tables.daily_runs).values(
                    as_of=day, started_at=at, finished_at=at, summary={}
                )
            )
        await conn.execute(
            insert(tables.debt_snapshots),
            [
                snapshot(a, OPENING, 40, "1000.00", collector.id),
                snapshot(a, CLOSING, 71, "1000.00", collector.id),
                snapshot(b, OPENING, 10, "500.00", None),
                snapshot(b, CLOSING, 41, "450.00", None),
            ],
        )
        await conn.execute(
            insert(tables.loan_book).values(
                date=CLOSING,
                portfolio="retail",
                product_type="CONSUMER_LOAN",
                currency="CNY",
                principal=Decimal("100000.00"),
            )
        )
        await conn.execute(
            insert(tables.payments).values(
                case_id=b.case_id,
                debt_id=b.id,
                amount=Decimal("50.00"),
                currency="CNY",
                paid_at=paid_at,
                reference="REPORT-CLI-1",
                source="FEED",
                created_at=paid_at,
                version=1,
            )
        )


def url_of(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


def report(engine: AsyncEngine, *args: str) -> Ran:
    return invoke_aside("report", *args, url=url_of(engine))


def figures(path: Path) -> dict[tuple[str, str, str, str], dict[str, str]]:
    """The CSV's rows by (section, key, figure, label)."""
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    return {(r["section"], r["key"], r["figure"], r["label"]): r for r in rows}


def picked(row: dict[str, str], *columns: str) -> tuple[str, ...]:
    return tuple(row[column] for column in columns)


async def test_the_report_as_csv_xlsx_and_html(migrated: AsyncEngine, tmp_path: Path) -> None:
    await build(migrated)

    target = tmp_path / "october.csv"
    ran = report(
        migrated, *OCTOBER, "--group-by", "Portfolio", "--format", "CSV", "--output", str(target)
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == (
        f"wrote the report of 2026-10-01 to 2026-10-31 (CNY, 1 group) to {target}\n"
    )
    rows = figures(target)
    assert {row["view"] for row in rows.values()} == {"All cases"}
    for section, key in (("totals", ""), ("groups", "retail")):
        at = (section, key)
        assert picked(rows[*at, "recovered", ""], "currency", "amount") == ("CNY", "50.00")
        assert picked(rows[*at, "aging", "M2"], "cases", "amount") == ("1", "450.00")
        assert picked(rows[*at, "aging", "M3"], "cases", "amount") == ("1", "1000.00")
        assert not any(k[:3] == (*at, "aging") and k[3] not in ("M2", "M3") for k in rows)
        for cell in ("M1->M2", "M2->M3"):
            by_count = rows[*at, "rollRateByCount", cell]
            assert picked(by_count, "value", "numerator", "denominator") == ("1.0000", "1", "1")
        cure = rows[*at, "cureRate", ""]
        assert picked(cure, "value", "numerator", "denominator") == ("0.0000", "0", "2")
        recovery = rows[*at, "recoveryRate", ""]
        assert picked(recovery, "value", "numerator", "denominator") == (
            "0.0333",
            "50.00",
            "1500.00",
        )

    workbook = tmp_path / "october.xlsx"
    ran = report(migrated, *OCTOBER, "--format", "xlsx", "--output", str(workbook))
    assert ran.returncode == 0, ran.stderr
    book = openpyxl.load_workbook(workbook)
    assert book["Aging"]["A1"].value == "Portfolio report 2026-10-01 to 2026-10-31 — All cases"
    aging = list(book["Aging"].iter_rows(min_row=3, values_only=True))
    assert aging == [
        ("totals", None, "CNY", "M2", 1, pytest.approx(450)),
        ("totals", None, "CNY", "M3", 1, pytest.approx(1000)),
    ]
    summary = {r[3]: r for r in book["Summary"].iter_rows(min_row=3, values_only=True)}
    assert summary["Recovered"][4] == pytest.approx(50)
    assert summary["Recovery rate"][4:7] == (
        pytest.approx(0.0333),
        pytest.approx(50),
        pytest.approx(1500),
    )

    page = tmp_path / "october.html"
    ran = report(migrated, *OCTOBER, "--format", "html", "--output", str(page))
    assert ran.returncode == 0, ran.stderr
    html = page.read_text(encoding="utf-8")
    assert "<title>Portfolio report 2026-10-01 to 2026-10-31 — All cases</title>" in html
    assert re.findall(r'data-chart="([^"]+)"', html) == [
        "aging-CNY",
        "roll-rates-CNY",
        "days-to-recovery-CNY",
        "goals-CNY",
    ]
    assert 'data-charts-expected="4"' in html
    assert "http://" not in html and "https://" not in html
    assert "50.00 CNY" in html and "1,000.00 CNY" in html


async def test_as_a_team_lead_the_report_counts_only_the_team_s_cases_and_says_so(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    await build(migrated)
    target = tmp_path / "team.csv"
    ran = report(migrated, *OCTOBER, "--format", "csv", "--output", str(target), "--as", LEAD)
    assert ran.returncode == 0, ran.stderr
    rows = figures(target)
    assert {row["view"] for row in rows.values()} == {"Cases in view of report.lead (team East)"}
    at = ("totals", "")
    assert rows[*at, "recovered", ""]["amount"] == "0.00"
    assert picked(rows[*at, "aging", "M3"], "cases", "amount") == ("1", "1000.00")
    assert (*at, "aging", "M2") not in rows
    recovery = rows[*at, "recoveryRate", ""]
    assert picked(recovery, "numerator", "denominator") == ("0.00", "1000.00")
    assert not any(k[2] == "overdueRate" for k in rows), "no loan book for a team"


async def test_an_agency_manager_s_report_names_the_agency_and_a_manager_s_is_the_whole_book(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    await build(migrated)
    factory = Factory(migrated)
    await factory.agency("Report Agency")
    await factory.staff("report.agency", roles=("agency_manager",), agency="Report Agency")
    await factory.staff("report.manager", roles=("manager",))

    page = tmp_path / "agency.html"
    ran = report(
        migrated, *OCTOBER, "--format", "html", "--output", str(page), "--as", "report.agency"
    )
    assert ran.returncode == 0, ran.stderr
    html = page.read_text(encoding="utf-8")
    assert '<h2 class="view">Cases in view of report.agency (agency Report Agency)</h2>' in html
    assert 'data-charts-expected="0"' in html, "no case placed with the agency"

    target = tmp_path / "book.csv"
    ran = report(
        migrated, *OCTOBER, "--format", "csv", "--output", str(target), "--as", "report.manager"
    )
    assert ran.returncode == 0, ran.stderr
    rows = figures(target)
    assert {row["view"] for row in rows.values()} == {"All cases"}
    for label, value, numerator in (
        ("dpd>=1", "0.0145", "1450.00"),
        ("dpd>=30", "0.0145", "1450.00"),
        ("dpd>=90", "0.0000", "0.00"),
    ):
        overdue = rows["totals", "", "overdueRate", label]
        assert picked(overdue, "value", "numerator", "denominator") == (
            value,
            numerator,
            "100000.00",
        ), "the loan book's figures apply"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--from", "2026-10-32", "--to", "2026-10-31", "--format", "csv"),
            "--from is not an ISO-8601 date: '2026-10-32'",
        ),
        (
            ("--from", "2026-10-01", "--to", "31/10/2026", "--format", "csv"),
            "--to is not an ISO-8601 date: '31/10/2026'",
        ),
        (
            ("--from", "0001-01-01", "--to", "0001-01-31", "--format", "csv"),
            "--from is out of range: years 2 to 9998",
        ),
        (
            ("--from", "2026-10-31", "--to", "2026-10-01", "--format", "csv"),
            "invalid period: to is before from",
        ),
        (
            ("--from", "2026-01-01", "--to", "2027-06-30", "--format", "csv"),
            "invalid period: a report covers at most 367 days",
        ),
        ((*OCTOBER, "--format", "pdf"), "--format must be csv, xlsx or html, not 'pdf'"),
        (
            (*OCTOBER, "--format", "csv", "--group-by", "region"),
            "--group-by must be one of PORTFOLIO, PRODUCT, CLASSIFICATION, TEAM, AGENCY, "
            "VARIANT, not 'region'",
        ),
    ],
)
def test_a_bad_argument_exits_1_with_a_message_before_any_database_is_opened(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    absent = f"sqlite+aiosqlite:///{tmp_path / 'absent.db'}"
    ran = invoke_aside("report", *args, "--output", str(tmp_path / "report.csv"), url=absent)
    assert (ran.returncode, ran.stderr) == (1, f"arrears: {message}\n")
    assert list(tmp_path.iterdir()) == [], "no report written, no database created"


async def test_an_unknown_deactivated_or_unentitled_login_and_a_missing_directory_are_refused(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    await Factory(migrated).staff("report.gone", active=False)
    await Factory(migrated).staff(COLLECTOR)
    target = tmp_path / "report.csv"
    for login, message in (
        ("nobody.here", "unknown staff login 'nobody.here'"),
        ("report.gone", "staff login 'report.gone' is deactivated"),
        (COLLECTOR, f"staff login '{COLLECTOR}' may not read reports (report:read)"),
    ):
        ran = report(migrated, *OCTOBER, "--format", "csv", "--output", str(target), "--as", login)
        assert (ran.returncode, ran.stderr) == (1, f"arrears: {message}\n")
    missing = tmp_path / "no" / "such"
    ran = report(migrated, *OCTOBER, "--format", "html", "--output", str(missing / "r.html"))
    assert (ran.returncode, ran.stderr) == (1, f"arrears: --output: no such directory: {missing}\n")
    assert not target.exists()
