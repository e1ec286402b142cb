"""`jobs.importing.import_feed` on a fresh database of the backend under test: the merge, the
same feed twice, a bad row, --skip-invalid, reversals, cases opening at DPD 1 and reopening
inside (not after) the watch window, CSV equal to JSON Lines, one transaction, no personal
data in the report, the audit trail or the logs."""

from __future__ import annotations

import asyncio
import json
import stat
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.cases import services
from domain.clock import FixedClock
from domain.feeds.records import RowError, Where
from jobs.daily import run_daily
from jobs.feed_files import FeedFiles
from jobs.importing import FeedRefused, ImportReport, import_feed
from jobs.locks import DAILY_CYCLE, JobLocked, job_lock
from store import feed_import, tables
from store.audit import AuditRecord, chain_for
from store.db import session_factory
from store.uow import SqlUnitOfWork
from tests.factories import Factory, writing
from tests.feeds.support import (
    AS_OF,
    KEY,
    NOW,
    SAMPLE,
    SAMPLE_CSV,
    borrower,
    count,
    debt,
    due,
    sample_lines,
    snapshot,
    write_feed,
)
from tests.logcapture import LogCapture

c = tables.cases.c
d = tables.debts.c
p = tables.payments.c
ev = tables.case_events.c


async def run(engine: AsyncEngine, path: Path, **options: Any) -> ImportReport:
    options.setdefault("now", NOW)
    return await import_feed(engine, path, audit_key=KEY, **options)


async def case_of(engine: AsyncEngine, account: str) -> Any:
    async with engine.connect() as conn:
        stmt = select(tables.cases).join(tables.debts, d.case_id == c.id)
        return (await conn.execute(stmt.where(d.account_number == account))).one_or_none()


async def events(engine: AsyncEngine, case_id: int) -> list[tuple[str, dict[str, Any]]]:
    async with engine.connect() as conn:
        stmt = select(ev.name, ev.data).where(ev.case_id == case_id).order_by(ev.id)
        return [(row.name, row.data) for row in (await conn.execute(stmt)).all()]


# ---- the sample, once and twice ------------------------------------------------------------------


async def test_the_sample_feed_is_merged_as_the_contract_says(migrated: AsyncEngine) -> None:
    report = await run(migrated, SAMPLE)
    assert (report.imported, report.records, report.rejected, report.errors) == (True, 14, 0, ())
    summary = report.summary
    assert summary["types"]["debt"] == {"rows": 3, "inserted": 3, "updated": 0, "unchanged": 0}
    assert (summary["casesOpened"], summary["debtsAttached"], summary["reversalsApplied"]) == (
        2,
        2,
        1,
    )
    # CL-2026-0001: instalment 2 (2026-10-05) is the oldest unpaid: 53 DPD, M2, MODERATE; the
    # case holds the borrower's retail debts on a case, in COLLECTION (opened past 30 DPD).
    retail = await case_of(migrated, "CL-2026-0001")
    assert (retail.status, retail.stage, retail.days_past_due, retail.bucket) == (
        "OPEN",
        "COLLECTION",
        53,
        "M2",
    )
    assert (retail.classification, retail.policy_version, retail.currency) == (
        "MODERATE",
        "2026.1",
        "CNY",
    )
    assert retail.outstanding_amount == Decimal("18735.50")
    assert (retail.opened_on, retail.dpd_as_of, retail.version) == (AS_OF, AS_OF, 1)
    assert retail.reference == f"AR-{AS_OF.year}-{retail.id:06d}"
    # The card at DPD 0 gets no case; the US card at the core's 31 DPD does, in USD.
    assert await case_of(migrated, "6225-2026-0002") is None
    us = await case_of(migrated, "4147-2026-0003")
    assert (us.portfolio, us.currency, us.days_past_due, us.outstanding_amount) == (
        "us-cards",
        "USD",
        31,
        Decimal("2431.40"),
    )
    async with migrated.connect() as conn:
        card = (
            await conn.execute(select(tables.debts).where(d.account_number == "4147-2026-0003"))
        ).one()
        payments = (await conn.execute(select(tables.payments).order_by(p.reference))).all()
        phones = (
            await conn.execute(
                select(tables.contact_points.c.value, tables.contact_points.c.owner).where(
                    tables.contact_points.c.kind == "PHONE"
                )
            )
        ).all()
    assert (card.core_dpd, card.core_dpd_as_of, card.balances_as_of, card.status) == (
        31,
        AS_OF,
        AS_OF,
        "DELINQUENT",
    )
    # Feed payments are kept, never applied: the balances are the feed's.
    assert [(x.reference, x.source, x.reversed, x.reversal_reason) for x in payments] == [
        ("CORE-TX-0001", "FEED", False, None),
        ("CORE-TX-0002", "FEED", True, "returned by the paying bank (insufficient funds)"),
    ]
    assert card.principal == Decimal("2300.00")
    # Each borrower's phone is a PHONE point of the BORROWER, the guarantor's point beside it.
    assert sorted(phones) == [
        ("+12125550102", "BORROWER"),
        ("+8613900001001", "BORROWER"),
        ("+8613900002002", "GUARANTOR"),
    ]
    assert await count(migrated, "charge_offs") == 1
    assert await count(migrated, "loan_book") == 2
    assert await count(migrated, "cost_records") == 1


async def test_the_same_feed_twice_changes_nothing_the_second_time(migrated: AsyncEngine) -> None:
    first = await run(migrated, SAMPLE)
    before = await snapshot(migrated)
    second = await run(migrated, SAMPLE, now=NOW + timedelta(hours=1))
    assert await snapshot(migrated) == before
    assert second.digest == first.digest
    for kind, counts in second.summary["types"].items():
        assert counts["inserted"] == counts["updated"] == 0, kind
        assert counts["unchanged"] == counts["rows"], kind
    assert second.summary["paymentsDeduplicated"] == 2
    assert (second.summary["casesOpened"], second.summary["casesRefigured"]) == (0, 0)
    async with migrated.connect() as conn:
        imports = (
            await conn.execute(select(tables.feed_imports).order_by(tables.feed_imports.c.id))
        ).all()
    assert [(i.digest, i.as_of, i.rows, i.rejected) for i in imports] == [
        (first.digest, AS_OF, 14, 0),
        (first.digest, AS_OF, 14, 0),
    ]
    assert imports[1].summary == second.summary


async def test_the_import_is_audited_with_counts_only(migrated: AsyncEngine) -> None:
    report = await run(migrated, SAMPLE)
    a = tables.audit_entries.c
    async with migrated.connect() as conn:
        entries = (
            await conn.execute(select(tables.audit_entries).where(a.action == "job.import"))
        ).all()
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor_login, entry.outcome, entry.resource_type) == (
        "system:import",
        "ALLOWED",
        "FeedImport",
    )
    assert entry.resource_ids == [str(report.feed_import_id)]
    assert entry.changes["casesOpened"] == 2 and entry.changes["rows"] == 14
    dumped = json.dumps(entry.changes, ensure_ascii=False)
    for value in ("+86 139", "11010519491231002X", "示例借款人甲", "jia.sample@example.com"):
        assert value not in dumped


# ---- bad rows ------------------------------------------------------------------------------------


def with_bad_principal(tmp_path: Path) -> Path:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    assert '"accountNumber":"CL-2026-0001"' in lines[5]
    lines[5] = lines[5].replace('"principal":"18000.00"', '"principal":"18000.005"')
    path = tmp_path / "feed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_one_bad_row_in_the_middle_imports_nothing_and_names_it(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    report = await run(migrated, with_bad_principal(tmp_path))
    assert not report.imported
    # Only the row itself: its payment (line 9) is not blamed for it.
    assert report.errors == (
        RowError(Where("feed.jsonl", 6), "principal", "more than 2 decimal places"),
    )
    assert (report.records, report.rejected) == (14, 1)
    for table in ("borrowers", "debts", "cases", "payments", "feed_imports", "loan_book"):
        assert await count(migrated, table) == 0, table
    assert await count(migrated, "audit_entries", "action = 'job.import'") == 0


async def test_skip_invalid_imports_the_rest_and_writes_the_rejects(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    path = with_bad_principal(tmp_path)
    report = await run(migrated, path, skip_invalid=True)
    assert report.imported and report.rejected == 2
    assert report.errors == (
        RowError(Where("feed.jsonl", 6), "principal", "more than 2 decimal places"),
        RowError(
            Where("feed.jsonl", 9),
            "accountNumber",
            "a debt with this accountNumber is neither in the file nor stored",
        ),
    )
    assert report.rejects_path == tmp_path / "feed.jsonl.rejects.jsonl"
    rejects = [json.loads(x) for x in report.rejects_path.read_text("utf-8").splitlines()]
    original = path.read_text(encoding="utf-8").splitlines()
    assert [(r["line"], r["original"]) for r in rejects] == [
        (6, original[5]),
        (9, original[8]),
    ]
    assert rejects[0]["errors"] == [
        {
            "file": "feed.jsonl",
            "line": 6,
            "field": "principal",
            "problem": "more than 2 decimal places",
        }
    ]
    assert await count(migrated, "debts") == 2
    assert await count(migrated, "payments") == 1
    assert await count(migrated, "borrowers") == 2
    async with migrated.connect() as conn:
        imported = (await conn.execute(select(tables.feed_imports))).one()
    assert (imported.rows, imported.rejected) == (12, 2)


async def test_rejects_go_where_asked(migrated: AsyncEngine, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.jsonl"
    report = await run(migrated, with_bad_principal(tmp_path), skip_invalid=True, rejects=target)
    assert report.rejects_path == target and target.exists()


async def test_references_to_unknown_rows_are_row_errors(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    feed = write_feed(
        tmp_path / "feed.jsonl",
        [
            borrower(1),
            debt(2, "CL-X", dpd=3),
            {
                "type": "contactPoint",
                "borrowerExternalId": "B-3",
                "kind": "EMAIL",
                "value": "x@example.com",
                "owner": "BORROWER",
            },
            {
                "type": "payment",
                "accountNumber": "CL-Y",
                "reference": "R-1",
                "amount": "1.00",
                "currency": "CNY",
                "paidAt": "2026-11-26T10:00:00+08:00",
            },
            {"type": "paymentReversal", "reference": "R-404", "reason": "bounced"},
            {
                "type": "chargeOff",
                "accountNumber": "CL-Z",
                "date": "2026-11-27",
                "amount": "1.00",
                "currency": "CNY",
            },
            debt(1, "CL-1", dpd=0),
            {
                "type": "payment",
                "accountNumber": "CL-1",
                "reference": "R-2",
                "amount": "1.00",
                "currency": "USD",
                "paidAt": "2026-11-26T10:00:00+08:00",
            },
        ],
    )
    report = await run(migrated, feed)
    assert not report.imported
    assert [(e.where.line, e.field) for e in report.errors] == [
        (3, "borrowerExternalId"),
        (4, "borrowerExternalId"),
        (5, "accountNumber"),
        (6, "reference"),
        (7, "accountNumber"),
        (9, "currency"),
        (9, "accountNumber"),
    ]
    assert report.errors[-1].problem.startswith("the debt has no collection case")


# ---- payments ------------------------------------------------------------------------------------


async def test_a_reversal_marks_the_payment_and_moves_no_balance(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    rows = [borrower(1), debt(1, "CL-1", dpd=12)]
    payment = {
        "type": "payment",
        "accountNumber": "CL-1",
        "reference": "R-1",
        "amount": "300.00",
        "currency": "CNY",
        "paidAt": "2026-11-26T10:00:00+08:00",
    }
    await run(migrated, write_feed(tmp_path / "one.jsonl", [*rows, payment]))
    before = await case_of(migrated, "CL-1")
    reversal = {"type": "paymentReversal", "reference": "R-1", "reason": "chargeback"}
    report = await run(migrated, write_feed(tmp_path / "two.jsonl", [reversal]))
    assert report.summary["reversalsApplied"] == 1
    async with migrated.connect() as conn:
        stored = (await conn.execute(select(tables.payments))).one()
    assert (stored.reversed, stored.reversal_reason, stored.reversed_at) == (
        True,
        "chargeback",
        NOW,
    )
    after = await case_of(migrated, "CL-1")
    assert (after.outstanding_amount, after.days_past_due) == (
        before.outstanding_amount,
        before.days_past_due,
    )
    again = await run(migrated, write_feed(tmp_path / "two.jsonl", [reversal]))
    assert again.summary["types"]["paymentReversal"] == {
        "rows": 1,
        "inserted": 0,
        "updated": 0,
        "unchanged": 1,
    }


# ---- cases ---------------------------------------------------------------------------------------


async def test_a_case_opens_at_dpd_1_not_at_0(migrated: AsyncEngine, tmp_path: Path) -> None:
    yesterday, today = AS_OF - timedelta(days=1), AS_OF
    feed = write_feed(
        tmp_path / "feed.jsonl",
        [
            borrower(1),
            borrower(2),
            debt(1, "CL-LATE", instalments=[due(1, yesterday)]),
            debt(2, "CL-DUE", instalments=[due(1, today)]),
        ],
    )
    report = await run(migrated, feed)
    assert report.summary["casesOpened"] == 1
    late = await case_of(migrated, "CL-LATE")
    assert (late.days_past_due, late.bucket, late.classification, late.stage) == (
        1,
        "M1",
        "MILD",
        "EARLY",
    )
    assert await case_of(migrated, "CL-DUE") is None
    # The next day the other one is late too: its borrower's case opens.
    later = write_feed(
        tmp_path / "next.jsonl",
        [debt(2, "CL-DUE", instalments=[due(1, today)])],
        as_of=AS_OF + timedelta(days=1),
    )
    await run(migrated, later)
    assert (await case_of(migrated, "CL-DUE")).days_past_due == 1


async def test_a_second_overdue_debt_joins_the_borrowers_case(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    await run(migrated, write_feed(tmp_path / "a.jsonl", [borrower(1), debt(1, "CL-1", dpd=40)]))
    await run(migrated, write_feed(tmp_path / "b.jsonl", [debt(1, "CL-2", dpd=5)]))
    first, second = await case_of(migrated, "CL-1"), await case_of(migrated, "CL-2")
    assert first.id == second.id
    assert second.days_past_due == 40
    assert second.outstanding_amount == Decimal("10230.00")
    assert second.version == 2  # the figures changed once (the outstanding)


async def close_case(engine: AsyncEngine, case_id: int, **values: Any) -> None:
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.cases).where(c.id == case_id).values(status="CLOSED", **values)
        )


@pytest.mark.parametrize(
    ("watch_days", "held", "expected"),
    [
        (0, False, ("REOPEN", "OPEN", "COLLECTION")),  # the last day of the window
        (0, True, ("REOPEN", "ON_HOLD", "COLLECTION")),
        (-1, False, ("NEW_DEFAULT", "OPEN", "EARLY")),  # the day after it
    ],
)
async def test_a_cured_case_reopens_inside_its_watch_window_and_not_after(
    migrated: AsyncEngine,
    tmp_path: Path,
    watch_days: int,
    held: bool,
    expected: tuple[str, str, str],
) -> None:
    await run(migrated, write_feed(tmp_path / "a.jsonl", [borrower(1), debt(1, "CL-1", dpd=45)]))
    case = await case_of(migrated, "CL-1")
    later = AS_OF + timedelta(days=20)
    await close_case(
        migrated,
        case.id,
        close_reason="CURED",
        closed_at=NOW,
        watch_until=later + timedelta(days=watch_days),
        closed_while_held=held,
    )
    report = await run(
        migrated, write_feed(tmp_path / "b.jsonl", [debt(1, "CL-1", dpd=3)], as_of=later)
    )
    trigger, status, stage = expected
    again = await case_of(migrated, "CL-1")
    assert again.id == case.id
    assert (again.status, again.stage, again.close_reason, again.watch_until) == (
        status,
        stage,
        None,
        None,
    )
    assert again.opened_on == (AS_OF if trigger == "REOPEN" else later)
    assert (again.days_past_due, again.bucket, again.dpd_as_of) == (3, "M1", later)
    counted = (report.summary["casesReopened"], report.summary["casesRenewed"])
    assert counted == ((1, 0) if trigger == "REOPEN" else (0, 1))
    moves = [data for name, data in await events(migrated, case.id) if name == "CaseTransitioned"]
    assert moves == [
        {
            "trigger": trigger,
            "from_status": "CLOSED",
            "to_status": status,
            "from_stage": "COLLECTION",
            "to_stage": stage,
            "close_reason": None,
        }
    ]
    # Both kinds of reopening are decisions the core books (a new episode says so).
    reason = {} if trigger == "REOPEN" else {"reason": "NEW_DEFAULT"}
    assert await decided(migrated, case.id) == [
        ("CASE_REOPENED", {"status": status, "stage": stage, **reason})
    ]


async def decided(engine: AsyncEngine, case_id: int) -> list[tuple[str, dict[str, Any]]]:
    dc = tables.decisions.c
    async with engine.connect() as conn:
        stmt = select(dc.kind, dc.data).where(dc.case_id == case_id).order_by(dc.id)
        return [(row.kind, row.data) for row in (await conn.execute(stmt)).all()]


async def test_a_case_closed_otherwise_stays_closed_for_its_own_debts(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    await run(migrated, write_feed(tmp_path / "a.jsonl", [borrower(1), debt(1, "CL-1", dpd=400)]))
    case = await case_of(migrated, "CL-1")
    await close_case(migrated, case.id, close_reason="UNCOLLECTIBLE", closed_at=NOW)
    later = AS_OF + timedelta(days=1)
    await run(migrated, write_feed(tmp_path / "b.jsonl", [debt(1, "CL-1", dpd=401)], as_of=later))
    assert (await case_of(migrated, "CL-1")).status == "CLOSED"
    # A new loan in arrears starts a new episode of the same case (one case per borrower and
    # portfolio).
    await run(migrated, write_feed(tmp_path / "c.jsonl", [debt(1, "CL-2", dpd=2)], as_of=later))
    renewed = await case_of(migrated, "CL-2")
    assert (renewed.id, renewed.status, renewed.stage, renewed.opened_on) == (
        case.id,
        "OPEN",
        "EARLY",
        later,
    )
    assert await decided(migrated, case.id) == [
        ("CASE_REOPENED", {"status": "OPEN", "stage": "EARLY", "reason": "NEW_DEFAULT"})
    ]


# ---- shapes and guarantees ----------------------------------------------------------------------


async def test_a_csv_directory_imports_the_same_as_json_lines(migrated: AsyncEngine) -> None:
    jsonl = await run(migrated, SAMPLE)
    before = await snapshot(migrated)
    csv = await run(migrated, SAMPLE_CSV)
    assert csv.records == jsonl.records == 14
    assert await snapshot(migrated) == before
    for kind, counts in csv.summary["types"].items():
        assert counts["unchanged"] == counts["rows"] == jsonl.summary["types"][kind]["rows"], kind


async def test_csv_rows_are_named_by_file_and_line(migrated: AsyncEngine, tmp_path: Path) -> None:
    folder = tmp_path / "feed"
    folder.mkdir()
    for source in SAMPLE_CSV.iterdir():
        (folder / source.name).write_bytes(source.read_bytes())
    lines = (folder / "instalment.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("2026-10-05", "2026-10-32")
    lines.append("NO-SUCH-ACCOUNT,1,2026-01-01,1.00,0.00")
    (folder / "instalment.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = await run(migrated, folder)
    assert not report.imported
    assert [str(e) for e in report.errors] == [
        "instalment.csv:3: dueDate: not an ISO-8601 date (YYYY-MM-DD)",
        "instalment.csv:9: accountNumber: no row of debt.csv has this accountNumber",
    ]


async def test_a_failure_halfway_leaves_nothing_written(
    migrated: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(feed_import, "_merge_money", broken)
    with pytest.raises(RuntimeError):
        await run(migrated, SAMPLE)
    for table in ("borrowers", "contact_points", "debts", "cases", "case_events", "feed_imports"):
        assert await count(migrated, table) == 0, table
    monkeypatch.undo()
    assert (await run(migrated, SAMPLE)).imported  # and the next run starts afresh


async def test_personal_data_is_never_in_the_report_or_the_logs(
    migrated: AsyncEngine, tmp_path: Path, log_capture: LogCapture
) -> None:
    secrets = ("139-0000-ABCD", "11010519491231002X!!", "jia.sample@@example.com")
    row = borrower(1, phone=secrets[0], nationalId=secrets[1], email=secrets[2])
    before = len(log_capture.lines())
    report = await run(migrated, write_feed(tmp_path / "feed.jsonl", [row]))
    assert [(e.field, e.problem) for e in report.errors] == [
        ("nationalId", "invalid national ID"),
        ("phone", "invalid phone number"),
        ("email", "invalid e-mail address"),
    ]
    said = " ".join(str(e) for e in report.errors)
    logged = " ".join(line for _source, line in log_capture.lines()[before:])
    sample = (v for k, v in sample_lines()[1].items() if k != "type")
    for value in (*secrets, row["fullName"], row["address"], *sample):
        assert value not in said
        assert value not in logged


# ---- refusals of the feed as a whole, the rejects file, the shared lock -------------------------


async def test_a_feed_older_than_the_newest_imported_is_refused(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    later = AS_OF + timedelta(days=1)
    await run(migrated, write_feed(tmp_path / "a.jsonl", [borrower(1)], as_of=later))
    older = write_feed(tmp_path / "b.jsonl", [borrower(2)], as_of=AS_OF)
    with pytest.raises(FeedRefused) as refused:
        await run(migrated, older)
    assert str(refused.value) == (
        f"the feed of {AS_OF} is older than the newest imported ({later}): nothing imported"
    )
    assert await count(migrated, "borrowers") == 1
    assert await count(migrated, "feed_imports") == 1
    # The same date again is no older: imported (the same feed twice changes nothing).
    again = await run(migrated, write_feed(tmp_path / "c.jsonl", [borrower(2)], as_of=later))
    assert again.imported and await count(migrated, "borrowers") == 2


async def test_the_rejects_file_is_readable_by_its_owner_only(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    target = tmp_path / "rejects.jsonl"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o644)  # an existing file is made private too
    report = await run(migrated, with_bad_principal(tmp_path), skip_invalid=True, rejects=target)
    assert report.rejects_path == target
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "old" not in target.read_text(encoding="utf-8")
    (tmp_path / "x").mkdir()
    fresh = await run(migrated, with_bad_principal(tmp_path / "x"), skip_invalid=True)
    assert fresh.rejects_path is not None
    assert stat.S_IMODE(fresh.rejects_path.stat().st_mode) == 0o600


async def test_an_unwritable_rejects_file_fails_before_anything_is_imported(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    target = tmp_path / "no-such-directory" / "rejects.jsonl"
    with pytest.raises(FeedRefused, match=r"^cannot write the rejects file .*rejects\.jsonl: "):
        await run(migrated, with_bad_principal(tmp_path), skip_invalid=True, rejects=target)
    assert await count(migrated, "borrowers") == 0
    assert await count(migrated, "feed_imports") == 0


async def test_rejects_without_skip_invalid_is_refused(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    target = tmp_path / "rejects.jsonl"
    with pytest.raises(FeedRefused, match="--rejects needs --skip-invalid"):
        await run(migrated, with_bad_principal(tmp_path), rejects=target)
    assert not target.exists()


async def test_a_clean_feed_with_skip_invalid_leaves_no_rejects_file(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    report = await run(migrated, SAMPLE, skip_invalid=True, rejects=tmp_path / "r.jsonl")
    assert report.imported and report.rejects_path is None
    assert not (tmp_path / "r.jsonl").exists()


async def test_an_import_and_a_daily_run_share_one_lock(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    feed = write_feed(tmp_path / "a.jsonl", [borrower(1)])
    async with job_lock(migrated, "daily", lock=DAILY_CYCLE):
        with pytest.raises(JobLocked, match=r"^another import or daily run is in progress$"):
            await run(migrated, feed)
    assert await count(migrated, "borrowers") == 0
    async with job_lock(migrated, "import", lock=DAILY_CYCLE):
        with pytest.raises(JobLocked):
            await run_daily(migrated, FixedClock(NOW), KEY, as_of=AS_OF)
    assert await count(migrated, "daily_runs") == 0
    assert (await run(migrated, feed)).imported  # released: the next one proceeds


async def test_an_import_and_changes_on_cases_never_deadlock(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    """The import takes the decisions lock before the audit chain's head, as every writer does:
    units of work appending to the very chain the import appends to, all the while an import
    runs — none waits for the other in a cycle (PostgreSQL detects one and fails a side)."""
    factory = Factory(migrated)
    await factory.agency("Acme Recovery")
    staff = await factory.staff("placer", roles=("manager",))
    case_ids = [(await factory.case()).case.id for _ in range(6)]
    feeds = [
        write_feed(tmp_path / f"{n}.jsonl", [borrower(n), debt(n, f"CL-{n}", dpd=40)])
        for n in range(1, 7)
    ]
    chains = {chain_for(f"import-{FeedFiles(feed).digest[:16]}") for feed in feeds}
    sessions = session_factory(migrated)
    clock = FixedClock(NOW)
    importing = True

    def uow_for(chain: int) -> SqlUnitOfWork:
        def entries(_events: list[Any]) -> tuple[bytes, list[AuditRecord]]:
            record = AuditRecord(at=NOW, action="case.place", outcome="ALLOWED")
            return KEY, [replace(record, request_id=_request_on(chain))]

        return SqlUnitOfWork(sessions, audit=entries)

    async def change(case_id: int, chain: int) -> None:
        while importing:
            await services.place_with_agency(
                lambda: uow_for(chain), clock, case_id, "Acme Recovery", staff.id
            )
            await services.recall_from_agency(lambda: uow_for(chain), clock, case_id, staff.id)

    async def imports() -> list[ImportReport]:
        nonlocal importing
        try:
            return [await run(migrated, feed) for feed in feeds]
        finally:
            importing = False

    ordered = sorted(chains)
    results = await asyncio.gather(
        imports(),
        *(change(pk, ordered[n % len(ordered)]) for n, pk in enumerate(case_ids)),
    )
    assert all(report.imported for report in results[0])
    assert await count(migrated, "decisions", "kind = 'CASE_PLACED'") >= len(case_ids)


def _request_on(chain: int) -> str:
    """A request id whose audit entries go to ``chain``."""
    n = 0
    while chain_for(f"r{n}") != chain:
        n += 1
    return f"r{n}"
