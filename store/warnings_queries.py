"""Early warning in SQL: the set-based raising of every rule (one INSERT…SELECT per rule, once
per cause), and the scoped, keyset-paginated reading of warnings.

A warning is raised once per (case, rule, cause): the cause names what raised it —
``instalment:<id>`` (a missed first instalment, a part-paid one), ``instalments:<debt>:<sequence>``
(a run of late instalments, keyed on the instalment that brought it to the threshold),
``promise:<id>`` (the broken promise that reached the
threshold), ``contacts:<first id>`` (a run of failed attempts), ``bucket:<bucket>`` (rising
DPD), ``outstanding:<currency> <amount>``, ``signal:<id>``, ``flag:<id>``. The unique constraint
on the three (and ON CONFLICT DO NOTHING) makes a second run for the same date, the next date or
a concurrent signal raise nothing new for the same cause. Thresholds come from the rule set
(``domain.warnings.rules``) as bound parameters; each warning records the set's version and whom
it reached: the case's collector and agency when it was raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import True_

from domain.arrangements.promises import PromiseStatus
from domain.cases.model import CaseStatus
from domain.warnings.model import EarlyWarning, WarningStatus
from domain.warnings.ports import RaisedWarning
from domain.warnings.rules import (
    DEFAULT_RULES,
    FAILED_OUTCOMES,
    Rule,
    RuleName,
    WarningRules,
)
from store import keyset, tables
from store.keyset import InvalidCursor
from store.types import UTCDateTime

w = tables.warnings
c = tables.cases.c
i = tables.instalments.c
d = tables.debts.c

_COLUMNS = (
    "case_id",
    "borrower_id",
    "rule",
    "rule_version",
    "cause",
    "severity",
    "status",
    "reason",
    "raised_at",
    "assignee_id",
    "agency_id",
    "version",
)


def _text(value: Any) -> ColumnElement[str]:
    """A value as text, for causes and reasons built in SQL (``||`` on both databases)."""
    return cast(value, String)


def _cutoff(as_of: date, at: datetime) -> datetime:
    """The last instant the rules look at for ``as_of``: the run's instant ``at``, but never
    past the end of ``as_of`` (in UTC), so that a catch-up of an earlier date counts only what
    had happened by then (the date rules compare dates with ``as_of`` alike)."""
    return min(at, datetime.combine(as_of + timedelta(days=1), time(0), UTC))


def _open_case() -> ColumnElement[bool]:
    return c.status != CaseStatus.CLOSED.value


def _bucket_number(column: Any) -> ColumnElement[int]:
    """``M3`` → 3."""
    return cast(func.substr(column, 2), Integer)


def _raising(
    rules: WarningRules,
    rule: Rule,
    at: datetime,
    cause: ColumnElement[str],
    reason: ColumnElement[str],
    severity: ColumnElement[str] | None = None,
) -> list[ColumnElement[Any]]:
    """The SELECT list of a warning on the case ``c`` (joined by the caller), in _COLUMNS order."""
    return [
        c.id,
        c.borrower_id,
        literal(rule.name.value, String),
        literal(rules.version, String),
        cause,
        severity if severity is not None else literal(rule.severity.value, String),
        literal(WarningStatus.RAISED.value, String),
        reason,
        literal(at, UTCDateTime()),
        c.assignee_id,
        c.agency_id,
        literal(1, Integer),
    ]


async def _insert(conn: AsyncConnection, source: Select[Any], returning: bool = False) -> Any:
    """INSERT … SELECT … ON CONFLICT DO NOTHING: a cause already raised is skipped."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(w).from_select(list(_COLUMNS), source).on_conflict_do_nothing()
    if returning:
        return await conn.execute(stmt.returning(w.c.id, w.c.case_id))
    return await conn.execute(stmt)


# ---- the rules -----------------------------------------------------------------------------------


def missed_first_payment(rules: WarningRules, rule: Rule, as_of: date, at: datetime) -> Select[Any]:
    """The first instalment (lowest sequence) of a debt is ``threshold`` days past due, unpaid.

    The feed sends a debt's whole schedule (paid instalments included), so the lowest sequence
    stored is the schedule's first; its number need not be 1, and the reason names it."""
    other = tables.instalments.alias("first_of_debt")
    first = select(func.min(other.c.sequence)).where(other.c.debt_id == i.debt_id)
    reason = (
        literal("Missed first payment: instalment ", String)
        + _text(i.sequence)
        + literal(", the first of the schedule, fell due on ", String)
        + _text(i.due_date)
        + literal(" and nothing was paid.", String)
    )
    return (
        select(*_raising(rules, rule, at, literal("instalment:", String) + _text(i.id), reason))
        .select_from(tables.instalments)
        .join(tables.debts, d.id == i.debt_id)
        .join(tables.cases, c.id == d.case_id)
        .where(
            _open_case(),
            i.sequence == first.scalar_subquery(),
            i.due_date <= as_of - timedelta(days=rule.threshold),
            i.amount_paid == 0,
        )
    )


def _late_instalments(as_of: date) -> Any:
    """Every instalment of a debt on a case with its place in its debt's schedule and whether it
    is late: past due (before ``as_of``) and not paid in full."""
    return (
        select(
            i.id,
            i.debt_id,
            d.case_id,
            i.sequence,
            (and_(i.due_date < as_of, i.amount_paid < i.amount_due)).label("late"),
            func.row_number().over(partition_by=i.debt_id, order_by=i.sequence).label("place"),
        )
        .join(tables.debts, d.id == i.debt_id)
        .where(d.case_id.is_not(None))
        .subquery("placed")
    )


def consecutive_late_instalments(
    rules: WarningRules, rule: Rule, as_of: date, at: datetime
) -> Select[Any]:
    """A run of ``threshold`` or more late instalments in a row of one debt (gaps and islands:
    the place in the schedule minus the place among late ones is constant along a run).

    The cause is the instalment that brought the run to the threshold (its ``threshold``-th). A
    run holding an instalment some earlier warning of the rule was keyed on is the same episode
    and raises nothing: paying the head of a run (which moves its ``threshold``-th along) or the
    run growing raises nothing new; only newly late instalments that make a run of their own
    long enough again do."""
    placed = _late_instalments(as_of)
    late = (
        select(
            placed.c.debt_id,
            placed.c.case_id,
            placed.c.sequence,
            (
                placed.c.place
                - func.row_number().over(partition_by=placed.c.debt_id, order_by=placed.c.sequence)
            ).label("run"),
        )
        .where(placed.c.late.is_(True))
        .subquery("late")
    )
    keyed = (
        literal("instalments:", String)
        + _text(late.c.debt_id)
        + literal(":", String)
        + _text(late.c.sequence)
    )
    # The warnings of the rule already raised, joined on the unique key (case, rule, cause) —
    # one index probe or one hash join, never a scan of the warnings per late instalment.
    earlier = select(w.c.case_id, w.c.cause).where(w.c.rule == rule.name.value).subquery("earlier")
    along = (
        select(
            late.c.debt_id,
            late.c.sequence,
            late.c.run,
            func.row_number()
            .over(partition_by=(late.c.debt_id, late.c.run), order_by=late.c.sequence)
            .label("nth"),
            case((earlier.c.case_id.is_not(None), 1), else_=0).label("warned"),
        )
        .select_from(late)
        .outerjoin(earlier, and_(earlier.c.case_id == late.c.case_id, earlier.c.cause == keyed))
    ).subquery("along")
    runs = (
        select(
            along.c.debt_id,
            func.min(along.c.sequence).label("first"),
            func.max(case((along.c.nth == rule.threshold, along.c.sequence))).label("reached"),
            func.count().label("length"),
        )
        .group_by(along.c.debt_id, along.c.run)
        .having(func.count() >= rule.threshold, func.max(along.c.warned) == 0)
        .subquery("runs")
    )
    cause = (
        literal("instalments:", String)
        + _text(runs.c.debt_id)
        + literal(":", String)
        + _text(runs.c.reached)
    )
    reason = (
        _text(runs.c.length)
        + literal(" instalments in a row past due and not paid in full, from instalment ", String)
        + _text(runs.c.first)
        + literal(" (the threshold reached at instalment ", String)
        + _text(runs.c.reached)
        + literal(").", String)
    )
    return (
        select(*_raising(rules, rule, at, cause, reason))
        .select_from(runs)
        .join(tables.debts, d.id == runs.c.debt_id)
        .join(tables.cases, c.id == d.case_id)
        .where(_open_case())
    )


def partial_payments(rules: WarningRules, rule: Rule, as_of: date, at: datetime) -> Select[Any]:
    """The ``threshold``-th (and every later) past-due instalment of a case paid only in part."""
    partial = (
        select(
            i.id,
            d.case_id,
            func.row_number()
            .over(partition_by=d.case_id, order_by=(i.due_date, i.id))
            .label("nth"),
        )
        .join(tables.debts, d.id == i.debt_id)
        .where(i.due_date < as_of, i.amount_paid > 0, i.amount_paid < i.amount_due)
        .subquery("partial")
    )
    reason = _text(partial.c.nth) + literal(" past-due instalments paid only in part.", String)
    return (
        select(
            *_raising(rules, rule, at, literal("instalment:", String) + _text(partial.c.id), reason)
        )
        .select_from(partial)
        .join(tables.cases, c.id == partial.c.case_id)
        .where(_open_case(), partial.c.nth >= rule.threshold)
    )


def broken_promises(rules: WarningRules, rule: Rule, as_of: date, at: datetime) -> Select[Any]:
    """The ``threshold``-th (and every later) promise of a case broken within the window (by
    due date, the last ``window_days`` days up to ``as_of``)."""
    p = tables.promises.c
    window = rule.window_days or 90
    broken = (
        select(
            p.id,
            p.case_id,
            func.row_number()
            .over(partition_by=p.case_id, order_by=(p.due_date, p.id))
            .label("nth"),
        )
        .where(
            p.status == PromiseStatus.BROKEN.value,
            p.due_date > as_of - timedelta(days=window),
            p.due_date <= as_of,
        )
        .subquery("broken")
    )
    reason = _text(broken.c.nth) + literal(
        f" promises to pay broken in the last {window} days.", String
    )
    return (
        select(*_raising(rules, rule, at, literal("promise:", String) + _text(broken.c.id), reason))
        .select_from(broken)
        .join(tables.cases, c.id == broken.c.case_id)
        .where(_open_case(), broken.c.nth >= rule.threshold)
    )


def repeated_failed_contact(
    rules: WarningRules, rule: Rule, as_of: date, at: datetime
) -> Select[Any]:
    """A run of ``threshold`` or more outbound attempts in a row that reached nobody, among the
    case's contacts that took place (not refused, with an outcome) by the end of ``as_of``
    (never after ``at``)."""
    t = tables.contacts.c
    until = _cutoff(as_of, at)
    failed = and_(t.direction == "OUTBOUND", t.outcome.in_(FAILED_OUTCOMES))
    placed = (
        select(
            t.id,
            t.case_id,
            t.at,
            failed.label("failed"),
            func.row_number().over(partition_by=t.case_id, order_by=(t.at, t.id)).label("place"),
        )
        .where(t.blocked.is_(False), t.outcome.is_not(None), t.at < until)
        .subquery("attempts")
    )
    fails = (
        select(
            placed.c.id,
            placed.c.case_id,
            (
                placed.c.place
                - func.row_number().over(
                    partition_by=placed.c.case_id, order_by=(placed.c.at, placed.c.id)
                )
            ).label("run"),
        )
        .where(placed.c.failed.is_(True))
        .subquery("fails")
    )
    runs = (
        select(
            fails.c.case_id,
            func.min(fails.c.id).label("first"),
            func.count().label("length"),
        )
        .group_by(fails.c.case_id, fails.c.run)
        .having(func.count() >= rule.threshold)
        .subquery("runs")
    )
    reason = _text(runs.c.length) + literal(" outbound attempts in a row reached nobody.", String)
    return (
        select(
            *_raising(rules, rule, at, literal("contacts:", String) + _text(runs.c.first), reason)
        )
        .select_from(runs)
        .join(tables.cases, c.id == runs.c.case_id)
        .where(_open_case())
    )


def rising_dpd(rules: WarningRules, rule: Rule, as_of: date, at: datetime) -> Select[Any]:
    """The case's bucket is ``threshold`` or more buckets above the highest bucket of its debts
    in the latest snapshot before ``as_of`` (none before: nothing to compare with)."""
    s = tables.debt_snapshots.c
    previous_date = select(func.max(s.as_of)).where(s.as_of < as_of).scalar_subquery()
    previous = (
        select(s.case_id, func.max(_bucket_number(s.bucket)).label("bucket"))
        .where(s.as_of == previous_date, s.case_id.is_not(None))
        .group_by(s.case_id)
        .subquery("previous")
    )
    reason = (
        literal("Days past due rose from bucket M", String)
        + _text(previous.c.bucket)
        + literal(" to ", String)
        + c.bucket
        + literal(" since the previous daily snapshot.", String)
    )
    return (
        select(*_raising(rules, rule, at, literal("bucket:", String) + c.bucket, reason))
        .select_from(tables.cases)
        .join(previous, previous.c.case_id == c.id)
        .where(_open_case(), _bucket_number(c.bucket) - previous.c.bucket >= rule.threshold)
    )


def large_outstanding(rules: WarningRules, rule: Rule, as_of: date, at: datetime) -> Select[Any]:
    """The case's outstanding is at or above its currency's amount (no amount: never)."""
    amounts = sorted(rule.amounts.items())
    if not amounts:
        return select(*_raising(rules, rule, at, literal(""), literal(""))).where(false())
    labels = {cur: f"{cur} {amount}" for cur, amount in amounts}
    label = case(*((c.currency == cur, literal(text)) for cur, text in labels.items()))
    reason = literal("Outstanding at or above ", String) + label + literal(".", String)
    return (
        select(*_raising(rules, rule, at, literal("outstanding:", String) + label, reason))
        .select_from(tables.cases)
        .where(
            _open_case(),
            or_(
                *(
                    and_(c.currency == cur, c.outstanding_amount >= amount)
                    for cur, amount in amounts
                )
            ),
        )
    )


def _signal_warnings(
    rules: WarningRules, rule: Rule, at: datetime, *where: ColumnElement[bool]
) -> Select[Any]:
    g = tables.external_signals.c
    reason = literal("External signal: ", String) + g.kind + literal(".", String)
    return (
        select(
            *_raising(rules, rule, at, literal("signal:", String) + _text(g.id), reason, g.severity)
        )
        .select_from(tables.external_signals)
        .join(tables.cases, c.borrower_id == g.borrower_id)
        .where(_open_case(), *where)
    )


def external_signal(rules: WarningRules, rule: Rule, as_of: date, at: datetime) -> Select[Any]:
    """Signals received in the ``threshold`` days up to the end of ``as_of`` (never after
    ``at``), on every open case of their borrower that lacks them (postExternalSignal raises
    them at once; this catches cases opened since)."""
    g = tables.external_signals.c
    until = _cutoff(as_of, at)
    since = until - timedelta(days=rule.threshold)
    return _signal_warnings(rules, rule, at, g.received_at > since, g.received_at < until)


def flag_review_due(rules: WarningRules, rule: Rule, as_of: date, at: datetime) -> Select[Any]:
    """A borrower flag still set whose review date passed ``threshold`` days ago, on every open
    case of the borrower."""
    f = tables.borrower_flags.c
    reason = (
        literal("Review of the borrower's ", String)
        + f.flag
        + literal(" flag was due on ", String)
        + _text(f.review_on)
        + literal(".", String)
    )
    return (
        select(*_raising(rules, rule, at, literal("flag:", String) + _text(f.id), reason))
        .select_from(tables.borrower_flags)
        .join(tables.cases, c.borrower_id == f.borrower_id)
        .where(
            _open_case(),
            f.lifted_at.is_(None),
            f.review_on.is_not(None),
            f.review_on <= as_of - timedelta(days=rule.threshold),
        )
    )


_STATEMENTS = {
    RuleName.MISSED_FIRST_PAYMENT: missed_first_payment,
    RuleName.CONSECUTIVE_LATE_INSTALMENTS: consecutive_late_instalments,
    RuleName.PARTIAL_PAYMENTS: partial_payments,
    RuleName.BROKEN_PROMISES: broken_promises,
    RuleName.REPEATED_FAILED_CONTACT: repeated_failed_contact,
    RuleName.RISING_DPD: rising_dpd,
    RuleName.LARGE_OUTSTANDING: large_outstanding,
    RuleName.EXTERNAL_SIGNAL: external_signal,
    RuleName.FLAG_REVIEW_DUE: flag_review_due,
}


async def raise_warnings(
    conn: AsyncConnection, as_of: date, at: datetime, *, rules: WarningRules = DEFAULT_RULES
) -> dict[str, int]:
    """Runs every rule of the set as of the date ``as_of`` (the instant ``at`` is the warnings'
    ``raisedAt``), in the caller's transaction; returns how many each raised (causes already
    raised count nothing). The daily run calls it after re-ageing and its snapshot of the day."""
    counts: dict[str, int] = {}
    for name, statement in _STATEMENTS.items():
        rule = rules.get(name)
        if rule is None:
            continue
        result = await _insert(conn, statement(rules, rule, as_of, at))
        counts[name.value] = max(int(result.rowcount or 0), 0)
    return counts


async def raise_signal(
    conn: AsyncConnection,
    signal_id: int,
    rules: WarningRules,
    at: datetime,
    case_scope: ColumnElement[bool],
) -> list[RaisedWarning]:
    """Raises one signal's warning on each open case of its borrower that ``case_scope`` lets
    through; returns the warnings raised, by case."""
    rule = rules.get(RuleName.EXTERNAL_SIGNAL)
    if rule is None:
        return []
    g = tables.external_signals.c
    source = _signal_warnings(rules, rule, at, g.id == signal_id, case_scope)
    rows = (await _insert(conn, source, returning=True)).all()
    return sorted(RaisedWarning(row.id, row.case_id) for row in rows) if rows else []


# ---- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WarningFilterSpec:
    statuses: Sequence[str] = ()
    severities: Sequence[str] = ()
    rules: Sequence[str] = ()
    case_id: int | None = None
    # The caller's case scope (a clause over ``cases``): a warning is visible with its case.
    case_scope: ColumnElement[bool] = field(default_factory=true)


def _in_scope(scope: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    if isinstance(scope, True_):
        return []
    return [w.c.case_id.in_(select(c.id).where(scope))]


def _clauses(spec: WarningFilterSpec) -> list[ColumnElement[bool]]:
    clauses = _in_scope(spec.case_scope)
    if spec.statuses:
        clauses.append(w.c.status.in_(list(spec.statuses)))
    if spec.severities:
        clauses.append(w.c.severity.in_(list(spec.severities)))
    if spec.rules:
        clauses.append(w.c.rule.in_(list(spec.rules)))
    if spec.case_id is not None:
        clauses.append(w.c.case_id == spec.case_id)
    return clauses


def from_row(row: Any) -> EarlyWarning:
    """The domain warning of a ``warnings`` row."""
    values = {name: getattr(row, name) for name in EarlyWarning.__dataclass_fields__}
    values["status"] = WarningStatus(values["status"])
    return EarlyWarning(**values)


_LISTING = "warnings:NEWEST"


def encode_cursor(warning: EarlyWarning) -> str:
    return keyset.encode_cursor(_LISTING, warning.id)


def decode_cursor(cursor: str) -> keyset.Keyset:
    """Returns the position a cursor of this listing holds, or raises InvalidCursor."""
    position = keyset.decode_cursor(cursor, _LISTING)
    if position.value is not None:
        raise InvalidCursor("malformed cursor")
    return position


async def fetch_page(
    session: AsyncSession, spec: WarningFilterSpec, after: keyset.Keyset | None, first: int
) -> tuple[list[EarlyWarning], bool]:
    """Returns up to ``first`` warnings after the position, newest (highest id) first, and
    whether more follow."""
    clauses = _clauses(spec)
    if after is not None:
        clauses.append(keyset.after_clause(None, True, w.c.id, after))
    stmt = select(w).where(*clauses).order_by(w.c.id.desc())
    rows, more = await keyset.fetch_page(session, stmt, first, scalars=False)
    return [from_row(row) for row in rows], more


async def count(session: AsyncSession, spec: WarningFilterSpec) -> int:
    stmt = select(func.count()).select_from(w).where(*_clauses(spec))
    return int((await session.execute(stmt)).scalar_one())


async def warnings_by_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[EarlyWarning | None]:
    """The warnings with those ids whose case the scope lets through (None for the others)."""
    stmt = select(w).where(w.c.id.in_(ids), *_in_scope(true() if scope is None else scope))
    found = {row.id: from_row(row) for row in (await session.execute(stmt)).all()}
    return [found.get(pk) for pk in ids]


@dataclass(frozen=True)
class PostedSignal:
    """A stored signal as its poster's retry compares it (never its details' text)."""

    id: int
    borrower_id: int
    kind: str
    severity: str
    received_at: datetime
    request_digest: str | None
    warning_ids: tuple[int, ...]


async def claimed_signal(
    session: AsyncSession, staff_id: int, key: str
) -> tuple[str, PostedSignal | None] | None:
    """Returns the operation a caller's idempotency key was used for and, for a signal, the
    signal it stored with the warnings it raised at once (None when the key is unused)."""
    k = tables.idempotency_keys.c
    claim = select(k.operation).where(k.staff_id == staff_id, k.key == key)
    operation = (await session.execute(claim)).scalar_one_or_none()
    if operation is None:
        return None
    g = tables.external_signals.c
    stmt = select(g.id, g.borrower_id, g.kind, g.severity, g.received_at, g.request_digest).where(
        g.posted_by == staff_id, g.idempotency_key == key
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        return str(operation), None
    raised = select(w.c.id).where(
        w.c.rule == RuleName.EXTERNAL_SIGNAL.value,
        w.c.cause == f"signal:{row.id}",
        w.c.raised_at == row.received_at,
    )
    ids = tuple(sorted((await session.execute(raised)).scalars()))
    return str(operation), PostedSignal(
        row.id, row.borrower_id, row.kind, row.severity, row.received_at, row.request_digest, ids
    )
