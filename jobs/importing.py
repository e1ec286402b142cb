"""``arrears import PATH``: the core banking feed in (CONTRACT.md, "Daily cycle").

Every row is read and validated first (``domain.feeds``) and staged into temporary tables
(``store.feed_staging``: COPY on PostgreSQL, batched inserts on SQLite); then references are
checked in SQL and, if the file is clean (or ``skip_invalid``), merged with set-based SQL
(``store.feed_import``). Reading, checking, merging, the ``feed_imports`` row, the audit entry
and the decisions of the cases it reopens are one transaction: a failure anywhere leaves
nothing written. By default a file with any error imports nothing; ``skip_invalid`` imports the
valid rows and writes the rejected ones, with their problems, to a rejects file.

Problems name the file, line and field and say what is wrong, never the value. Nothing here
logs; the caller prints the report.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.cases.classification import DEFAULT_POLICY, ClassificationPolicy
from domain.feeds.records import (
    BorrowerRecord,
    ChargeOffRecord,
    ContactPointRecord,
    CostRecord,
    DebtRecord,
    Header,
    LoanBookRecord,
    PaymentRecord,
    PaymentReversalRecord,
    Record,
    RecordType,
    RowError,
    Where,
    days_past_due,
)
from domain.feeds.validation import FirstSeen, parse_header, parse_record
from jobs.feed_files import FeedFiles, Line
from jobs.locks import DAILY_CYCLE, job_lock
from store import audit, collection_policy_queries, feed_import, feed_staging, tables
from store.audit import AuditAction, AuditRecord, Outcome
from store.decisions import append_decisions_from_events
from store.feed_staging import pack

JOB = "import"
ACTOR = "system:import"
BATCH = 20_000  # staged rows per COPY / executemany

# (phase, done, total): the CLI turns it into a progress bar.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ImportReport:
    """What an import did: the header, every problem (by file and line), and the counts."""

    path: Path
    digest: str
    header: Header | None
    records: int
    rejected: int
    imported: bool
    errors: tuple[RowError, ...]
    summary: dict[str, Any] = field(default_factory=dict)
    rejects_path: Path | None = None
    feed_import_id: int | None = None


class FeedRefused(ValueError):
    """The feed as a whole may not be imported (one line, no value from the file)."""


def default_rejects_path(path: Path) -> Path:
    """``<PATH>.rejects.jsonl`` beside the feed (a directory's name for a CSV feed)."""
    return path.with_name(path.name + ".rejects.jsonl")


def _stage(record: Record, rec: int, as_of: date) -> list[tuple[Table, tuple[Any, ...]]]:
    """The staging rows of one record (a debt: itself and its instalments)."""
    s = feed_staging
    if isinstance(record, BorrowerRecord):
        r = record
        return [
            (
                s.borrowers,
                (
                    rec,
                    r.external_id,
                    r.full_name,
                    r.national_id,
                    r.phone,
                    r.email,
                    r.address,
                    r.city,
                    r.district,
                    r.employer,
                    r.income,
                    r.currency,
                    r.time_zone,
                ),
            )
        ]
    if isinstance(record, ContactPointRecord):
        c = record
        return [
            (
                s.contact_points,
                (rec, c.borrower_external_id, c.kind, c.value, c.owner, c.status, c.time_zone),
            )
        ]
    if isinstance(record, DebtRecord):
        d = record
        rows: list[tuple[Table, tuple[Any, ...]]] = [
            (
                s.debts,
                (
                    rec,
                    d.account_number,
                    d.borrower_external_id,
                    d.portfolio,
                    d.product_type,
                    d.currency,
                    d.principal,
                    d.interest,
                    d.penalty,
                    d.fee,
                    d.opened_on,
                    d.days_past_due,
                    days_past_due(d, as_of),
                ),
            )
        ]
        rows += [
            (
                s.instalments,
                (rec, d.account_number, i.sequence, i.due_date, i.amount_due, i.amount_paid),
            )
            for i in d.instalments
        ]
        return rows
    if isinstance(record, PaymentRecord):
        p = record
        return [
            (
                s.payments,
                (
                    rec,
                    p.account_number,
                    p.reference,
                    p.amount,
                    p.currency,
                    p.paid_at.astimezone(UTC),
                ),
            )
        ]
    if isinstance(record, PaymentReversalRecord):
        return [(s.reversals, (rec, record.reference, record.reason))]
    if isinstance(record, ChargeOffRecord):
        o = record
        return [(s.charge_offs, (rec, o.account_number, o.date, o.amount, o.currency))]
    if isinstance(record, LoanBookRecord):
        b = record
        return [(s.loan_book, (rec, b.date, b.portfolio, b.product_type, b.currency, b.principal))]
    assert isinstance(record, CostRecord)
    k = record
    return [(s.costs, (rec, k.date, k.portfolio, k.category, k.currency, k.amount))]


# The key field of a row refused before staging, by type (staged in feed_rejected_keys, so
# that a reference to it is not reported a second time).
_KEY_FIELDS = {
    RecordType.BORROWER: ("borrower", "externalId"),
    RecordType.DEBT: ("debt", "accountNumber"),
    RecordType.PAYMENT: ("payment", "reference"),
}


class _Reader:
    """Reads, validates and stages every line; remembers problems by ``rec``."""

    def __init__(self, conn: AsyncConnection, files: FeedFiles, progress: Progress | None):
        self.conn = conn
        self.files = files
        self.progress = progress
        self.header: Header | None = None
        self.problems: dict[int, list[RowError]] = {}
        self.records = 0
        self.buffers: dict[Table, list[tuple[Any, ...]]] = {}
        self.rejected_keys: set[tuple[str, str]] = set()
        self.seen = FirstSeen()
        self.schedule_of: dict[int, list[int]] = {}  # CSV debt rec → its instalment recs

    def refuse(self, rec: int, errors: Sequence[RowError]) -> None:
        self.problems.setdefault(rec, []).extend(errors)

    async def read(self) -> None:
        first = True
        for line in self.files.lines():
            if first:
                first = False
                self._header(line)
                continue
            self.records += 1
            await self._line(line)
            if self.progress is not None and self.records % 10_000 == 0:
                self.progress("Reading", self.files.read_bytes, self.files.total_bytes)
        if first:
            where = Where(self.files.files[0].name, 1)
            self.refuse(pack(0, 1), [RowError(where, "(file)", "the feed is empty")])
        await self._flush(everything=True)
        if self.rejected_keys:
            await feed_staging.load(
                self.conn, feed_staging.rejected_keys, sorted(self.rejected_keys)
            )
        if self.progress is not None:
            self.progress("Reading", self.files.total_bytes, self.files.total_bytes)

    def _header(self, line: Line) -> None:
        if line.row is None:
            assert line.problem is not None
            self.refuse(line.rec, [line.problem])
            return
        row = dict(line.row)
        if line.kind is RecordType.HEADER:
            row.setdefault("type", RecordType.HEADER.value)
        parsed = parse_header(line.where, row)
        if isinstance(parsed, list):
            self.refuse(line.rec, parsed)
        else:
            self.header = parsed

    async def _line(self, line: Line) -> None:
        if line.row is None:
            assert line.problem is not None
            self.refuse(line.rec, [line.problem])
            return
        schedule = None
        if line.instalments is not None:
            schedule = [(where, row) for where, _rec, row in line.instalments]
            self.schedule_of[line.rec] = [rec for _where, rec, _row in line.instalments]
        parsed = parse_record(line.where, line.row, schedule, kind=line.kind)
        if not isinstance(parsed, list):
            parsed = self.seen.check(parsed) or parsed
        if isinstance(parsed, list):
            self.refuse(line.rec, parsed)
            self._remember_key(line)
            return
        if self.header is None:
            return  # nothing is staged without the date that dates the balances
        for table, row in _stage(parsed, line.rec, self.header.as_of):
            self.buffers.setdefault(table, []).append(row)
            if len(self.buffers[table]) >= BATCH:
                await self._flush()

    def _remember_key(self, line: Line) -> None:
        assert line.row is not None
        declared = line.row.get("type")
        kind = line.kind
        if kind is None and isinstance(declared, str) and declared in set(RecordType):
            kind = RecordType(declared)
        found = _KEY_FIELDS.get(kind) if kind is not None else None
        if found is not None:
            value = line.row.get(found[1])
            if isinstance(value, str) and value.strip():
                self.rejected_keys.add((found[0], value.strip()[:64]))

    async def _flush(self, *, everything: bool = False) -> None:
        for table, rows in self.buffers.items():
            if rows and (everything or len(rows) >= BATCH):
                await feed_staging.load(self.conn, table, rows)
                rows.clear()


def _report_errors(problems: dict[int, list[RowError]]) -> tuple[RowError, ...]:
    ordered = sorted(problems.items())
    return tuple(error for _rec, errors in ordered for error in errors)


async def _record(
    conn: AsyncConnection,
    header: Header,
    digest: str,
    started: datetime,
    now: datetime,
    rows: int,
    rejected: int,
    summary: dict[str, Any],
    key: bytes,
) -> int:
    """Writes the feed_imports row and the audit entry (counts only)."""
    inserted = await conn.execute(
        tables.feed_imports.insert().values(
            source=header.source,
            as_of=header.as_of,
            digest=digest,
            started_at=started,
            finished_at=now,
            rows=rows,
            rejected=rejected,
            summary=summary,
        )
    )
    assert inserted.inserted_primary_key is not None
    feed_id = int(inserted.inserted_primary_key[0])
    entry = AuditRecord(
        at=now,
        action=AuditAction.FEED_IMPORTED,
        outcome=Outcome.ALLOWED,
        actor_login=ACTOR,
        request_id=f"import-{digest[:16]}",
        operation_name="arrears import",
        resource_type="FeedImport",
        resource_ids=[str(feed_id)],
        changes={
            "source": header.source,
            "asOf": header.as_of.isoformat(),
            "digest": digest,
            "rows": rows,
            "rejected": rejected,
            **summary,
        },
    )
    await audit.append(conn, key, [entry])
    return feed_id


def _open_rejects(target: Path) -> int:
    """Opens (creates or empties) the rejects file before anything is imported, readable by its
    owner only (it holds the feed's own lines: as confidential as the feed); raises FeedRefused
    if it cannot be written."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise FeedRefused(f"cannot write the rejects file {target}: {exc.strerror}") from None
    os.fchmod(fd, 0o600)  # a file that existed keeps its mode otherwise
    return fd


def _write_rejects(
    fd: int,
    files: FeedFiles,
    problems: dict[int, list[RowError]],
    schedules: dict[int, list[int]],
) -> None:
    """Writes one JSON line per rejected record: where, its problems and its original line(s)
    (the feed's own text: the rejects file is as confidential as the feed)."""
    wanted = set(problems)
    for rec in problems:
        wanted.update(schedules.get(rec, ()))
    original = files.original_lines(wanted)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        for rec, errors in sorted(problems.items()):
            first = errors[0].where
            entry: dict[str, Any] = {
                "file": first.file,
                "line": first.line,
                "errors": [
                    {
                        "file": e.where.file,
                        "line": e.where.line,
                        "field": e.field,
                        "problem": e.problem,
                    }
                    for e in errors
                ],
                "original": original.get(rec),
            }
            if rec in schedules:
                entry["instalments"] = [original.get(r) for r in schedules[rec]]
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")


async def import_feed(
    engine: AsyncEngine,
    path: Path,
    *,
    audit_key: bytes,
    fmt: str | None = None,
    skip_invalid: bool = False,
    rejects: Path | None = None,
    now: datetime | None = None,
    policy: ClassificationPolicy = DEFAULT_POLICY,
    progress: Progress | None = None,
) -> ImportReport:
    """Imports a feed in one transaction (see the module's docstring); returns the report.
    Raises ``jobs.locks.JobLocked`` while another import or a daily run holds the daily cycle's
    lock, FeedRefused for a feed older than the newest imported or an unwritable rejects file
    (nothing imported)."""
    if rejects is not None and not skip_invalid:
        raise FeedRefused("--rejects needs --skip-invalid (without it nothing is imported)")
    files = FeedFiles(path, fmt)
    started = datetime.now(UTC)
    at = now or started
    rejects_path = (rejects or default_rejects_path(path)) if skip_invalid else None
    rejects_fd = _open_rejects(rejects_path) if rejects_path is not None else None
    try:
        problems, schedules, report = await _import(
            engine, files, path, skip_invalid, started, at, policy, progress, audit_key
        )
    except BaseException:
        if rejects_fd is not None:
            os.close(rejects_fd)
            assert rejects_path is not None
            rejects_path.unlink(missing_ok=True)
        raise
    if rejects_fd is not None:
        assert rejects_path is not None
        if report.imported and problems:
            _write_rejects(rejects_fd, files, problems, schedules)
            return replace(report, rejects_path=rejects_path)
        os.close(rejects_fd)
        rejects_path.unlink(missing_ok=True)
    return report


async def _newest_as_of(conn: AsyncConnection) -> date | None:
    newest = await conn.execute(select(func.max(tables.feed_imports.c.as_of)))
    value: date | None = newest.scalar()
    return value


async def _import(
    engine: AsyncEngine,
    files: FeedFiles,
    path: Path,
    skip_invalid: bool,
    started: datetime,
    at: datetime,
    policy: ClassificationPolicy,
    progress: Progress | None,
    audit_key: bytes,
) -> tuple[dict[int, list[RowError]], dict[int, list[int]], ImportReport]:
    async with job_lock(engine, JOB, lock=DAILY_CYCLE), engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        transaction = await conn.begin()
        try:
            await feed_staging.create(conn)
            reader = _Reader(conn, files, progress)
            await reader.read()
            header = reader.header
            newest = await _newest_as_of(conn)
            if header is not None and newest is not None and header.as_of < newest:
                raise FeedRefused(
                    f"the feed of {header.as_of} is older than the newest imported "
                    f"({newest}): nothing imported"
                )
            await feed_staging.index(conn)
            if progress is not None:
                progress("Checking", 0, 1)
            while header is not None:
                found = await feed_import.check_references(conn, excuse_rejected=not skip_invalid)
                fresh = [p for p in found if p.rec not in reader.problems]
                for problem in found:
                    where = _where(files, problem.rec)
                    reader.refuse(problem.rec, [RowError(where, problem.field, problem.problem)])
                if not skip_invalid or not fresh:
                    break
                await feed_import.discard(conn, {p.rec for p in fresh})
            problems = {rec: errs for rec, errs in reader.problems.items() if errs}
            errors = _report_errors(problems)
            if header is None or (problems and not skip_invalid):
                await transaction.rollback()
                return (
                    problems,
                    reader.schedule_of,
                    ImportReport(
                        path, files.digest, header, reader.records, len(problems), False, errors
                    ),
                )
            if skip_invalid:
                await feed_import.discard(conn, set(problems))

            def step(name: str) -> None:
                if progress is not None:
                    progress(f"Merging {name}", 0, 1)

            # The life-cycle policy (a new case's escalation point) is the collection policy
            # in effect at the import's instant (maker–checker versions it).
            collection = await collection_policy_queries.policy_in_effect(conn, at)
            merged, last_event = await feed_import.merge(
                conn, policy, header.as_of, at, step, lifecycle=collection.lifecycle
            )
            summary = merged.as_dict()
            imported_rows = reader.records - len(problems)
            # The decisions lock before the audit chain's head: the order of every writer
            # (store.decisions), or an import and a change on a case could wait for each other.
            await append_decisions_from_events(conn, last_event)
            feed_id = await _record(
                conn,
                header,
                files.digest,
                started,
                at,
                imported_rows,
                len(problems),
                summary,
                audit_key,
            )
            await feed_staging.drop(conn)
            await transaction.commit()
        except BaseException:
            if transaction.is_active:
                await transaction.rollback()
            raise
    if progress is not None:
        progress("Done", 1, 1)
    return (
        problems,
        reader.schedule_of,
        ImportReport(
            path,
            files.digest,
            header,
            reader.records,
            len(problems),
            True,
            errors,
            summary,
            None,
            feed_id,
        ),
    )


def _where(files: FeedFiles, rec: int) -> Where:
    index, line = feed_staging.unpack(rec)
    return Where(files.files[index].name, line)
