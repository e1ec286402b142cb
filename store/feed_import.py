"""The set-based half of a feed import: referential checks over the staging tables and the
merge into the stored tables, all in the caller's transaction.

Every statement works on whole staging tables (INSERT … SELECT … ON CONFLICT DO UPDATE,
UPDATE … FROM, DELETE … WHERE IN (SELECT …)); nothing loops over rows in Python. The SQL is
the same on both databases except for what ``_Dialect`` says (date differences, JSON objects,
"is distinct from", references).

What the merge does (CONTRACT.md, "Daily cycle"):
- borrowers upsert by ``external_id`` (a stored borrower without one, with the same national ID,
  is adopted); the borrower's phone is kept as a PHONE contact point of the BORROWER;
- contact points upsert by borrower, kind and value (an OPTED_OUT point stays opted out: an
  opt-out is lifted only through the API, with its evidence);
- debts upsert by ``account_number``; components, the core's DPD and the schedule are replaced
  by the feed's (instalments no longer sent are deleted, with the API payments' credits to them);
- a debt overdue (DPD ≥ 1) that needs a case gets one: the borrower's case in that portfolio,
  opened if none (OPEN; EARLY, escalated at once past the life-cycle policy's
  escalate_after_days); a case closed by a cure reopens
  inside its watch window (REOPEN of the life-cycle table: back ON_HOLD if it closed on hold),
  and a case closed otherwise (or cured before the window) starts a new episode (NEW_DEFAULT:
  OPEN, stage by DPD, opened on the feed's date). The case's DPD, outstanding, bucket and
  classification are set from the debts as of the feed's date (provisional until the daily run);
- payments are inserted once per reference (a reference already stored, from the API or an
  earlier feed, is left alone) with source FEED, never applied: the balances already hold them;
- reversals mark the payment reversed with the reason (no balance moves);
- charge-offs, loan-book totals and cost records upsert on their keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ClauseElement

from domain.cases.classification import ClassificationPolicy
from domain.cases.model import CaseStage
from domain.lifecycle.table import (
    CURE_REASONS,
    DEFAULT_POLICY,
    Guard,
    LifecyclePolicy,
    Trigger,
    transition_for,
)
from domain.portfolios import PORTFOLIOS
from store import ageing, dialect, plan_queries, tables, writeoff_queries
from store.types import UTCDateTime

CURED = ", ".join(f"'{reason}'" for reason in sorted(CURE_REASONS))
# The moves the import makes on a closed case of a debt in arrears (the life-cycle table's rows).
MOVES = (Trigger.REOPEN, Trigger.NEW_DEFAULT)


@dataclass(frozen=True)
class Problem:
    """A referential problem of a staged row (``rec``: where it came from)."""

    rec: int
    field: str
    problem: str


@dataclass
class Counts:
    """What happened to one record type's rows."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }


@dataclass
class MergeSummary:
    """The counts of a merge (no values: it goes to the audit trail)."""

    types: dict[str, Counts] = field(default_factory=dict)
    instalments_deleted: int = 0
    cases_opened: int = 0
    cases_reopened: int = 0
    cases_renewed: int = 0
    # Closed written-off cases (stage WRITTEN_OFF) given a debt in arrears and left as they are:
    # never a new episode (it would mix the written-off debts into EARLY work); reported.
    cases_kept_written_off: int = 0
    debts_attached: int = 0
    cases_refigured: int = 0
    payments_deduplicated: int = 0
    reversals_applied: int = 0
    borrowers_adopted: int = 0
    phone_points_added: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "types": {name: counts.as_dict() for name, counts in self.types.items()},
            "instalmentsDeleted": self.instalments_deleted,
            "casesOpened": self.cases_opened,
            "casesReopened": self.cases_reopened,
            "casesRenewed": self.cases_renewed,
            "casesKeptWrittenOff": self.cases_kept_written_off,
            "debtsAttached": self.debts_attached,
            "casesRefigured": self.cases_refigured,
            "paymentsDeduplicated": self.payments_deduplicated,
            "reversalsApplied": self.reversals_applied,
            "borrowersAdopted": self.borrowers_adopted,
            "phonePointsAdded": self.phone_points_added,
        }


class _Dialect:
    """The few places where PostgreSQL and SQLite spell the same thing differently (date
    differences and JSON objects come from ``store.dialect``, rendered as SQL text)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"

    def sql(self, expression: ClauseElement) -> str:
        return dialect.render(self.conn, expression)

    @property
    def distinct(self) -> str:
        return "IS DISTINCT FROM" if self.pg else "IS NOT"

    def json(self, pairs: Mapping[str, str]) -> str:
        return self.sql(ageing.json_object({k: literal_column(v) for k, v in pairs.items()}))

    def reference(self, year: int, id_: str) -> str:
        """A new case's reference from its id: AR-<year>-<id, at least six digits>."""
        if self.pg:
            return f"'AR-{year}-' || lpad({id_}::text, greatest(6, length({id_}::text)), '0')"
        return f"printf('AR-{year}-%06d', {id_})"

    @property
    def new_case_id(self) -> str:
        """The id of the next new case in a SELECT over feed_groups ``g`` (the sequence on
        PostgreSQL; on SQLite, whose one writer holds the database, after the largest)."""
        if self.pg:
            return "nextval(pg_get_serial_sequence('cases', 'id'))"
        return (
            "(SELECT COALESCE(MAX(id), 0) FROM cases) + "
            "row_number() OVER (ORDER BY g.borrower_id, g.portfolio)"
        )

    def day(self, value: date) -> str:
        """A date as a literal (our own parsed date: never text from the file)."""
        return f"DATE '{value.isoformat()}'" if self.pg else f"'{value.isoformat()}'"


def _params(**values: Any) -> list[Any]:
    return [bindparam(name, value, type_=UTCDateTime()) for name, value in values.items()]


async def _run(conn: AsyncConnection, sql: str, **values: Any) -> int:
    statement = text(sql).bindparams(*_params(**values)) if values else text(sql)
    result = await conn.execute(statement)
    return int(result.rowcount or 0)


async def _rows(conn: AsyncConnection, sql: str, **values: Any) -> list[Any]:
    statement = text(sql).bindparams(*_params(**values)) if values else text(sql)
    return list((await conn.execute(statement)).all())


async def _analyze(conn: AsyncConnection, table: str) -> None:
    """PostgreSQL never analyses temporary tables on its own; the plans that join them need it."""
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql(f"ANALYZE {table}")


# ---- referential checks ---------------------------------------------------------------------

_KNOWN_BORROWER = (
    "(EXISTS (SELECT 1 FROM feed_borrowers fb WHERE fb.external_id = {col}) "
    "OR EXISTS (SELECT 1 FROM borrowers b WHERE b.external_id = {col}){excuse})"
)
_KNOWN_ACCOUNT = (
    "(EXISTS (SELECT 1 FROM feed_debts fd WHERE fd.account_number = {col}) "
    "OR EXISTS (SELECT 1 FROM debts d WHERE d.account_number = {col}){excuse})"
)
# The currency of a debt as the file gives it, else as stored.
_DEBT_CURRENCY = (
    "COALESCE((SELECT fd.currency FROM feed_debts fd WHERE fd.account_number = {col}), "
    "(SELECT d.currency FROM debts d WHERE d.account_number = {col}))"
)


def _excuse(kind: str, col: str, excused: bool) -> str:
    if not excused:
        return ""
    return (
        f" OR EXISTS (SELECT 1 FROM feed_rejected_keys rk WHERE rk.kind = '{kind}' "
        f"AND rk.key = {col})"
    )


def _checks(dialect: _Dialect, excused: bool) -> list[tuple[str, str, str]]:
    """(field, problem, SQL selecting the rec of each staged row with that problem)."""
    borrower = "a borrower with this externalId is neither in the file nor stored"
    account = "a debt with this accountNumber is neither in the file nor stored"

    def known_borrower(col: str) -> str:
        return _KNOWN_BORROWER.format(col=col, excuse=_excuse("borrower", col, excused))

    def known_account(col: str) -> str:
        return _KNOWN_ACCOUNT.format(col=col, excuse=_excuse("debt", col, excused))

    currency = _DEBT_CURRENCY
    return [
        (
            "borrowerExternalId",
            borrower,
            "SELECT s.rec FROM feed_contact_points s WHERE NOT "
            + known_borrower("s.borrower_external_id"),
        ),
        (
            "borrowerExternalId",
            borrower,
            "SELECT s.rec FROM feed_debts s WHERE NOT " + known_borrower("s.borrower_external_id"),
        ),
        (
            "nationalId",
            "belongs to another stored borrower",
            "SELECT s.rec FROM feed_borrowers s JOIN borrowers b ON b.national_id = s.national_id "
            f"WHERE b.external_id {dialect.distinct} s.external_id AND (b.external_id IS NOT NULL "
            "OR EXISTS (SELECT 1 FROM borrowers o WHERE o.external_id = s.external_id))",
        ),
        (
            "borrowerExternalId",
            "the account belongs to another borrower",
            "SELECT s.rec FROM feed_debts s JOIN debts d ON d.account_number = s.account_number "
            "JOIN borrowers b ON b.id = d.borrower_id WHERE COALESCE(b.external_id, (SELECT "
            "fb.external_id FROM feed_borrowers fb WHERE fb.national_id = b.national_id)) "
            f"{dialect.distinct} s.borrower_external_id"
            + (
                " AND NOT EXISTS (SELECT 1 FROM feed_rejected_keys rk WHERE rk.kind = "
                "'borrower' AND rk.key = s.borrower_external_id)"
                if excused
                else ""
            ),
        ),
        (
            "portfolio",
            "the account's case is in another portfolio",
            "SELECT s.rec FROM feed_debts s JOIN debts d ON d.account_number = s.account_number "
            "JOIN cases c ON c.id = d.case_id WHERE c.portfolio <> s.portfolio",
        ),
        (
            "accountNumber",
            account,
            "SELECT s.rec FROM feed_payments s WHERE NOT " + known_account("s.account_number"),
        ),
        (
            "currency",
            "not the currency of the debt",
            "SELECT s.rec FROM feed_payments s WHERE s.currency <> "
            + currency.format(col="s.account_number"),
        ),
        (
            "accountNumber",
            "the debt has no collection case (it is not overdue), so its payments cannot be kept",
            "SELECT s.rec FROM feed_payments s WHERE "
            + known_account("s.account_number")
            + " AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.reference = s.reference) "
            "AND NOT EXISTS (SELECT 1 FROM feed_debts fd WHERE fd.account_number = "
            "s.account_number AND fd.dpd >= 1) AND NOT EXISTS (SELECT 1 FROM debts d WHERE "
            "d.account_number = s.account_number AND d.case_id IS NOT NULL)"
            + (
                " AND NOT EXISTS (SELECT 1 FROM feed_rejected_keys rk WHERE rk.kind = 'debt' "
                "AND rk.key = s.account_number)"
                if excused
                else ""
            ),
        ),
        (
            "reference",
            "a payment with this reference is neither in the file nor stored",
            "SELECT s.rec FROM feed_reversals s WHERE NOT (EXISTS (SELECT 1 FROM feed_payments "
            "fp WHERE fp.reference = s.reference) OR EXISTS (SELECT 1 FROM payments p WHERE "
            "p.reference = s.reference)" + _excuse("payment", "s.reference", excused) + ")",
        ),
        (
            "accountNumber",
            account,
            "SELECT s.rec FROM feed_charge_offs s WHERE NOT " + known_account("s.account_number"),
        ),
        (
            "currency",
            "not the currency of the debt",
            "SELECT s.rec FROM feed_charge_offs s WHERE s.currency <> "
            + currency.format(col="s.account_number"),
        ),
    ]


async def check_references(conn: AsyncConnection, *, excuse_rejected: bool) -> list[Problem]:
    """Returns every referential problem of the staged rows: references to borrowers, debts and
    payments neither in the file nor stored, currencies that are not the debt's, national IDs
    and accounts that belong to someone else, payments for debts without a case.
    ``excuse_rejected``: a reference to a row already refused is not reported again."""
    dialect = _Dialect(conn)
    found: list[Problem] = []
    for name, problem, sql in _checks(dialect, excuse_rejected):
        found += [Problem(int(row.rec), name, problem) for row in await _rows(conn, sql)]
    return found


async def discard(conn: AsyncConnection, recs: set[int]) -> None:
    """Removes the staged rows of rejected records (a temporary table of their recs, joined)."""
    if not recs:
        return
    await conn.exec_driver_sql("DROP TABLE IF EXISTS feed_discard")
    await conn.exec_driver_sql("CREATE TEMPORARY TABLE feed_discard (rec BIGINT PRIMARY KEY)")
    ordered = sorted(recs)
    for start in range(0, len(ordered), 10_000):
        chunk = ordered[start : start + 10_000]
        await conn.execute(
            text("INSERT INTO feed_discard (rec) VALUES (:rec)"), [{"rec": r} for r in chunk]
        )
    for name in (
        "feed_borrowers",
        "feed_contact_points",
        "feed_debts",
        "feed_instalments",
        "feed_payments",
        "feed_reversals",
        "feed_charge_offs",
        "feed_loan_book",
        "feed_costs",
    ):
        await conn.exec_driver_sql(
            f"DELETE FROM {name} WHERE rec IN (SELECT rec FROM feed_discard)"
        )
    await conn.exec_driver_sql("DROP TABLE feed_discard")


# ---- the merge --------------------------------------------------------------------------------


async def _counted(
    conn: AsyncConnection, staged: str, target: str, on: str, differs: str
) -> Counts:
    """Counts staged rows, those whose key is stored, and those of them that differ."""
    total = (await _rows(conn, f"SELECT count(*) AS n FROM {staged} s"))[0].n
    row = (
        await _rows(
            conn,
            f"SELECT count(*) AS n, COALESCE(SUM(CASE WHEN {differs} THEN 1 ELSE 0 END), 0) "
            f"AS changed FROM {staged} s JOIN {target} t ON {on}",
        )
    )[0]
    existing, changed = int(row.n), int(row.changed)
    return Counts(int(total), int(total) - existing, changed, existing - changed)


def _row(prefix: str, columns: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"{prefix}.{c}" for c in columns) + ")"


_BORROWER_COLUMNS = (
    "full_name",
    "national_id",
    "phone",
    "email",
    "address",
    "city",
    "district",
    "employer",
    "income",
    "income_currency",
    "time_zone",
)


async def _merge_borrowers(
    conn: AsyncConnection, d: _Dialect, now: datetime, out: MergeSummary
) -> None:
    # A stored borrower without an external id (from before the feed) is adopted by the
    # national ID the file gives it, when that external id is new.
    out.borrowers_adopted = await _run(
        conn,
        "UPDATE borrowers SET external_id = s.external_id FROM feed_borrowers s "
        "WHERE borrowers.national_id = s.national_id AND borrowers.external_id IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM borrowers o WHERE o.external_id = s.external_id)",
    )
    cols = _BORROWER_COLUMNS
    out.types["borrower"] = await _counted(
        conn,
        "feed_borrowers",
        "borrowers",
        "t.external_id = s.external_id",
        f"{_row('t', cols)} {d.distinct} {_row('s', cols)}",
    )
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols)
    await _run(
        conn,
        f"INSERT INTO borrowers (external_id, {', '.join(cols)}) "
        f"SELECT s.external_id, {', '.join('s.' + c for c in cols)} FROM feed_borrowers s "
        f"WHERE true ON CONFLICT (external_id) DO UPDATE SET {updates} "
        f"WHERE {_row('borrowers', cols)} {d.distinct} {_row('excluded', cols)}",
    )
    # The borrower's phone is its primary contact point.
    out.phone_points_added = await _run(
        conn,
        "INSERT INTO contact_points (borrower_id, kind, value, owner, status, time_zone, "
        "created_at, version) SELECT b.id, 'PHONE', s.phone, 'BORROWER', 'UNVERIFIED', "
        "s.time_zone, :now, 1 FROM feed_borrowers s JOIN borrowers b ON b.external_id = "
        "s.external_id WHERE NOT EXISTS (SELECT 1 FROM contact_points p WHERE p.borrower_id = "
        "b.id AND p.kind = 'PHONE' AND p.value = s.phone)",
        now=now,
    )


async def _merge_contact_points(
    conn: AsyncConnection, d: _Dialect, now: datetime, out: MergeSummary
) -> None:
    staged = (
        "(SELECT b.id AS borrower_id, f.kind, f.value, f.owner, f.status, f.time_zone "
        "FROM feed_contact_points f JOIN borrowers b ON b.external_id = f.borrower_external_id)"
    )
    on = "t.borrower_id = s.borrower_id AND t.kind = s.kind AND t.value = s.value"
    new_status = "CASE WHEN t.status = 'OPTED_OUT' THEN t.status ELSE s.status END"
    new_zone = "COALESCE(s.time_zone, t.time_zone)"
    differs = f"(t.owner, t.status, t.time_zone) {d.distinct} (s.owner, {new_status}, {new_zone})"
    out.types["contactPoint"] = await _counted(conn, staged, "contact_points", on, differs)
    await _run(
        conn,
        f"UPDATE contact_points SET owner = s.owner, status = CASE WHEN contact_points.status "
        f"= 'OPTED_OUT' THEN contact_points.status ELSE s.status END, time_zone = "
        f"COALESCE(s.time_zone, contact_points.time_zone), version = contact_points.version + 1 "
        f"FROM {staged} s WHERE {on.replace('t.', 'contact_points.')} AND "
        f"{differs.replace('t.', 'contact_points.')}",
    )
    await _run(
        conn,
        "INSERT INTO contact_points (borrower_id, kind, value, owner, status, time_zone, "
        f"created_at, version) SELECT s.borrower_id, s.kind, s.value, s.owner, s.status, "
        f"s.time_zone, :now, 1 FROM {staged} s WHERE NOT EXISTS (SELECT 1 FROM contact_points "
        f"t WHERE {on})",
        now=now,
    )


_DEBT_COLUMNS = (
    "product_type",
    "currency",
    "principal",
    "interest",
    "penalty",
    "fee",
    "opened_on",
    "status",
    "core_dpd",
    "core_dpd_as_of",
    "balances_as_of",
)


async def _merge_debts(conn: AsyncConnection, d: _Dialect, as_of: date, out: MergeSummary) -> None:
    staged = (
        "(SELECT b.id AS borrower_id, f.account_number, f.product_type, f.currency, "
        "f.principal, f.interest, f.penalty, f.fee, f.opened_on, CASE WHEN f.dpd >= 1 THEN "
        "'DELINQUENT' ELSE 'CURRENT' END AS status, f.core_dpd, CASE WHEN f.core_dpd IS NULL "
        f"THEN NULL ELSE {d.day(as_of)} END AS core_dpd_as_of, {d.day(as_of)} AS "
        "balances_as_of FROM feed_debts f JOIN borrowers b ON b.external_id = "
        "f.borrower_external_id)"
    )
    # A debt restructured, settled, written off or closed keeps that status: the feed's
    # CURRENT / DELINQUENT only moves a debt between those two.
    keep = "CASE WHEN {t}.status IN ('CURRENT', 'DELINQUENT') THEN {s}.status ELSE {t}.status END"
    compared = tuple(c for c in _DEBT_COLUMNS if c != "status")

    def differs(t: str, s: str) -> str:
        return (
            f"({', '.join(f'{t}.{c}' for c in compared)}, {t}.status) {d.distinct} "
            f"({', '.join(f'{s}.{c}' for c in compared)}, {keep.format(t=t, s=s)})"
        )

    out.types["debt"] = await _counted(
        conn, staged, "debts", "t.account_number = s.account_number", differs("t", "s")
    )
    updates = ", ".join(f"{c} = excluded.{c}" for c in compared)
    await _run(
        conn,
        f"INSERT INTO debts (borrower_id, account_number, {', '.join(_DEBT_COLUMNS)}, "
        f"paused_days) SELECT s.borrower_id, s.account_number, "
        f"{', '.join('s.' + c for c in _DEBT_COLUMNS)}, 0 FROM {staged} s WHERE true "
        f"ON CONFLICT (account_number) DO UPDATE SET {updates}, "
        f"status = {keep.format(t='debts', s='excluded')} WHERE {differs('debts', 'excluded')}",
    )
    # The schedule is replaced: instalments no longer sent go (with the credits that API
    # payments gave them), the others are upserted on (debt, sequence).
    gone = (
        "SELECT i.id FROM instalments i JOIN debts dd ON dd.id = i.debt_id JOIN feed_debts f "
        "ON f.account_number = dd.account_number WHERE NOT EXISTS (SELECT 1 FROM "
        "feed_instalments fi WHERE fi.account_number = dd.account_number AND fi.sequence = "
        "i.sequence)"
    )
    await _run(conn, f"DELETE FROM payment_instalments WHERE instalment_id IN ({gone})")
    out.instalments_deleted = await _run(conn, f"DELETE FROM instalments WHERE id IN ({gone})")
    cols = ("due_date", "amount_due", "amount_paid")
    staged_instalments = (
        "(SELECT dd.id AS debt_id, fi.sequence, fi.due_date, fi.amount_due, fi.amount_paid "
        "FROM feed_instalments fi JOIN debts dd ON dd.account_number = fi.account_number)"
    )
    out.types["instalment"] = await _counted(
        conn,
        staged_instalments,
        "instalments",
        "t.debt_id = s.debt_id AND t.sequence = s.sequence",
        f"{_row('t', cols)} {d.distinct} {_row('s', cols)}",
    )
    await _run(
        conn,
        f"INSERT INTO instalments (debt_id, sequence, {', '.join(cols)}) SELECT s.debt_id, "
        f"s.sequence, {', '.join('s.' + c for c in cols)} FROM {staged_instalments} s WHERE "
        f"true ON CONFLICT (debt_id, sequence) DO UPDATE SET "
        f"{', '.join(f'{c} = excluded.{c}' for c in cols)} WHERE {_row('instalments', cols)} "
        f"{d.distinct} {_row('excluded', cols)}",
    )


def _case_of_portfolio(column: str, attribute: str) -> str:
    """A CASE over the known portfolios (validated before staging)."""
    branches = " ".join(
        f"WHEN '{name}' THEN '{getattr(p, attribute)}'" for name, p in PORTFOLIOS.items()
    )
    return f"CASE {column} {branches} END"


def _stage_for(lifecycle: LifecyclePolicy, dpd: str, start: str, held: str = "FALSE") -> str:
    """The stage a case starts a new episode in: ``start`` (SQL), escalated at once as the
    table's ESCALATE row does when its DPD is past ``escalate_after_days`` — unless ``held``
    (SQL: the table's NO_PLAN_IN_EFFECT guard fails, a plan or settlement is in effect)."""
    row = transition_for(Trigger.ESCALATE)
    assert row.to_stage is not None
    assert Guard.NO_PLAN_IN_EFFECT in row.guards
    stages = ", ".join(f"'{stage}'" for stage in sorted(row.from_stage))
    return (
        f"CASE WHEN {dpd} > {lifecycle.escalate_after_days} AND ({start}) IN ({stages}) "
        f"AND NOT ({held}) THEN '{row.to_stage}' ELSE {start} END"
    )


def _moves_sql(d: _Dialect, case: str) -> tuple[str, str]:
    """The status and stage each move of ``feed_moves m`` leads the case ``case`` to, from the
    life-cycle table (``store.ageing.new_status``/``new_stage``, as the daily run derives them)."""
    move: ColumnElement[str] = literal_column("m.move")
    status = ageing.new_status(
        move,
        literal_column(f"{case}.status"),
        literal_column(f"{case}.closed_while_held"),
        MOVES,
    )
    stage = ageing.new_stage(move, literal_column(f"{case}.stage"), MOVES)
    return d.sql(status), d.sql(stage)


async def _open_cases(
    conn: AsyncConnection,
    d: _Dialect,
    lifecycle: LifecyclePolicy,
    as_of: date,
    now: datetime,
    out: MergeSummary,
) -> int:
    """Gives each overdue debt that needs one a case; returns the last case event id before."""
    before = await ageing.last_event_id(conn)
    # Who needs a case: overdue debts not on one, and overdue debts of a case closed by a cure
    # (a new default); per borrower and portfolio, with the worst DPD.
    await conn.exec_driver_sql(
        "CREATE TEMPORARY TABLE feed_groups AS SELECT dd.borrower_id, "
        "COALESCE(c.portfolio, f.portfolio) AS portfolio, MAX(f.dpd) AS dpd "
        "FROM feed_debts f JOIN debts dd ON dd.account_number = f.account_number "
        "LEFT JOIN cases c ON c.id = dd.case_id WHERE f.dpd >= 1 AND (dd.case_id IS NULL OR "
        f"(c.status = 'CLOSED' AND c.close_reason IN ({CURED}))) "
        "GROUP BY dd.borrower_id, COALESCE(c.portfolio, f.portfolio)"
    )
    await _analyze(conn, "feed_groups")
    # A case the table's NEW_DEFAULT row does not take (a written-off one) starts no new
    # episode: it stays as it is (a recovery is never returned to an earlier stage).
    renewable = ", ".join(f"'{s}'" for s in sorted(transition_for(Trigger.NEW_DEFAULT).from_stage))
    reopens = f"c.close_reason IN ({CURED}) AND c.watch_until >= {d.day(as_of)}"
    await _run(
        conn,
        f"CREATE TEMPORARY TABLE feed_moves AS SELECT c.id AS case_id, g.dpd, CASE WHEN "
        f"{reopens} THEN 'REOPEN' ELSE 'NEW_DEFAULT' END AS move FROM cases c JOIN feed_groups "
        "g ON g.borrower_id = c.borrower_id AND g.portfolio = c.portfolio WHERE c.status = "
        f"'CLOSED' AND (({reopens}) OR c.stage IN ({renewable}))",
    )
    kept = await _rows(
        conn,
        "SELECT count(*) AS n FROM cases c JOIN feed_groups g ON g.borrower_id = c.borrower_id "
        f"AND g.portfolio = c.portfolio WHERE c.status = 'CLOSED' AND c.stage NOT IN "
        f"({renewable}) AND NOT COALESCE({reopens}, FALSE)",
    )
    out.cases_kept_written_off = int(kept[0].n)
    new_default = f"m.move = '{Trigger.NEW_DEFAULT}'"

    in_effect = d.sql(plan_queries.in_effect_cases(conn, as_of))

    def moved(case: str) -> tuple[str, str]:
        status, stage = _moves_sql(d, case)
        escalated = _stage_for(lifecycle, "m.dpd", stage, f"{case}.id IN ({in_effect})")
        return status, f"CASE WHEN {new_default} THEN {escalated} ELSE {stage} END"

    to_status, to_stage = moved("c")
    data = d.json(
        {
            "trigger": "m.move",
            "from_status": "c.status",
            "to_status": to_status,
            "from_stage": "c.stage",
            "to_stage": to_stage,
            "close_reason": "NULL",
        }
    )
    await _run(
        conn,
        "INSERT INTO case_events (case_id, at, actor_id, name, data) SELECT c.id, :now, NULL, "
        f"'CaseTransitioned', {data} FROM feed_moves m JOIN cases c ON c.id = m.case_id",
        now=now,
    )
    per_move = await _rows(conn, "SELECT move, count(*) AS n FROM feed_moves GROUP BY move")
    counts = {row.move: int(row.n) for row in per_move}
    out.cases_reopened = counts.get("REOPEN", 0)
    out.cases_renewed = counts.get("NEW_DEFAULT", 0)
    status, stage = moved("cases")
    await _run(
        conn,
        f"UPDATE cases SET status = {status}, stage = {stage}, "
        f"opened_on = CASE WHEN {new_default} THEN {d.day(as_of)} ELSE cases.opened_on END, "
        "close_reason = NULL, closed_at = NULL, "
        "watch_until = NULL, closed_while_held = FALSE, version = cases.version + 1 "
        "FROM feed_moves m WHERE cases.id = m.case_id",
    )
    currency = _case_of_portfolio("n.portfolio", "currency")
    first_stage = f"'{CaseStage.EARLY}'"  # a case opens in the first stage
    out.cases_opened = await _run(
        conn,
        "INSERT INTO cases (id, reference, borrower_id, portfolio, currency, opened_on, status, "
        "stage, days_past_due, bucket, classification, policy_version, outstanding_amount, "
        f"closed_while_held, version) SELECT n.id, {d.reference(as_of.year, 'n.id')}, "
        f"n.borrower_id, n.portfolio, {currency}, {d.day(as_of)}, 'OPEN', "
        f"{_stage_for(lifecycle, 'n.dpd', first_stage)}, "
        "0, 'M0', 'CURRENT', '', 0, FALSE, 1 FROM (SELECT "
        f"{d.new_case_id} AS id, g.borrower_id, g.portfolio, g.dpd FROM feed_groups g WHERE NOT "
        "EXISTS (SELECT 1 FROM cases c WHERE c.borrower_id = g.borrower_id AND c.portfolio = "
        "g.portfolio)) n",
    )
    out.debts_attached = await _run(
        conn,
        "UPDATE debts SET case_id = s.case_id FROM (SELECT dd.id AS debt_id, c.id AS case_id "
        "FROM feed_debts f JOIN debts dd ON dd.account_number = f.account_number JOIN cases c "
        "ON c.borrower_id = dd.borrower_id AND c.portfolio = f.portfolio WHERE f.dpd >= 1 AND "
        "dd.case_id IS NULL) s WHERE debts.id = s.debt_id",
    )
    return before


async def _refigure_cases(
    conn: AsyncConnection,
    d: _Dialect,
    policy: ClassificationPolicy,
    as_of: date,
    now: datetime,
    out: MergeSummary,
) -> None:
    """Sets DPD, outstanding, bucket and classification of every case with a debt in the file,
    from all its debts as of the feed's date (records CaseReclassified where they change)."""
    # Every debt of those cases is aged by the one rule (store.ageing.debt_ages): the merge has
    # already stored the file's schedules and core figures, so the import and the daily run
    # cannot disagree.
    with_feed_debt: Select[Any] = select(literal_column("d2.case_id")).select_from(
        text("debts d2 JOIN feed_debts f2 ON f2.account_number = d2.account_number")
    )
    ages = d.sql(ageing.debt_ages(conn, as_of, tables.cases.c.id.in_(with_feed_debt)))
    await _run(
        conn,
        "CREATE TEMPORARY TABLE feed_figures AS SELECT dd.case_id, MAX(a.dpd) AS dpd, "
        "SUM(dd.principal + dd.interest + dd.penalty + dd.fee) AS outstanding FROM debts dd "
        f"JOIN ({ages}) a ON a.id = dd.id GROUP BY dd.case_id",
    )
    await _analyze(conn, "feed_figures")
    day = d.day(as_of)
    dpd: ColumnElement[int] = literal_column("f.dpd")
    bucket = d.sql(ageing.bucket_sql(policy, dpd))
    classification = d.sql(ageing.classification_sql(policy, dpd))
    version = f"'{policy.version}'"
    reclassified = (
        f"(c.bucket, c.classification, c.policy_version) {d.distinct} "
        f"({bucket}, {classification}, {version})"
    )
    data = d.json(
        {
            "days_past_due": "f.dpd",
            "bucket": bucket,
            "classification": classification,
            "previous_bucket": "CASE WHEN c.policy_version = '' THEN NULL ELSE c.bucket END",
            "previous_classification": "CASE WHEN c.policy_version = '' THEN NULL "
            "ELSE c.classification END",
            "policy_version": version,
        }
    )
    await _run(
        conn,
        "INSERT INTO case_events (case_id, at, actor_id, name, data) SELECT c.id, :now, NULL, "
        f"'CaseReclassified', {data} FROM cases c JOIN feed_figures f ON f.case_id = c.id "
        f"WHERE {reclassified}",
        now=now,
    )
    figures = (
        f"(c.days_past_due, c.outstanding_amount, c.bucket, c.classification, "
        f"c.policy_version, c.dpd_as_of) {d.distinct} (f.dpd, f.outstanding, {bucket}, "
        f"{classification}, {version}, {day})"
    )
    out.cases_refigured = await _run(
        conn,
        "UPDATE cases SET days_past_due = f.dpd, outstanding_amount = f.outstanding, "
        f"bucket = {bucket}, classification = {classification}, policy_version = {version}, "
        f"dpd_as_of = {day}, version = CASE WHEN cases.policy_version = '' THEN cases.version "
        "ELSE cases.version + 1 END FROM feed_figures f WHERE cases.id = f.case_id AND "
        + figures.replace("c.", "cases."),
    )


async def _merge_money(
    conn: AsyncConnection, d: _Dialect, now: datetime, out: MergeSummary
) -> None:
    total = (await _rows(conn, "SELECT count(*) AS n FROM feed_payments"))[0].n
    out.payments_deduplicated = (
        await _rows(
            conn,
            "SELECT count(*) AS n FROM feed_payments s WHERE EXISTS (SELECT 1 FROM payments p "
            "WHERE p.reference = s.reference)",
        )
    )[0].n
    since = writeoff_queries.recovery_since(literal_column("dd.id"), literal_column("dd.case_id"))
    recovery = d.sql(
        writeoff_queries.is_recovery(
            literal_column("dd.status"), literal_column("s.paid_at"), since
        )
    )
    inserted = await _run(
        conn,
        "INSERT INTO payments (case_id, debt_id, amount, currency, paid_at, reference, source, "
        "created_at, reversed, closed_case, recovery, version) SELECT dd.case_id, dd.id, "
        "s.amount, s.currency, s.paid_at, s.reference, 'FEED', :now, FALSE, FALSE, "
        # Paid on a written-off debt from its write-off on: a recovery (as postPayment marks
        # it; by the debt, not the case's stage).
        f"CASE WHEN {recovery} THEN TRUE ELSE FALSE END, 1 FROM "
        "feed_payments s JOIN debts dd ON dd.account_number = s.account_number "
        "WHERE dd.case_id IS NOT NULL "
        # A reference stored meanwhile (postPayment racing the import) is skipped, not an error.
        "ON CONFLICT (reference) DO NOTHING",
        now=now,
    )
    out.types["payment"] = Counts(int(total), inserted, 0, int(total) - inserted)
    total = (await _rows(conn, "SELECT count(*) AS n FROM feed_reversals"))[0].n
    out.reversals_applied = await _run(
        conn,
        "UPDATE payments SET reversed = TRUE, reversed_at = :now, reversal_reason = s.reason, "
        "version = payments.version + 1 FROM feed_reversals s WHERE payments.reference = "
        "s.reference AND payments.reversed = FALSE",
        now=now,
    )
    out.types["paymentReversal"] = Counts(
        int(total), 0, out.reversals_applied, int(total) - out.reversals_applied
    )
    staged = (
        "(SELECT dd.id AS debt_id, f.date, f.amount, f.currency FROM feed_charge_offs f "
        "JOIN debts dd ON dd.account_number = f.account_number)"
    )
    cols = ("amount", "currency")
    out.types["chargeOff"] = await _counted(
        conn,
        staged,
        "charge_offs",
        "t.debt_id = s.debt_id AND t.date = s.date",
        f"{_row('t', cols)} {d.distinct} {_row('s', cols)}",
    )
    await _run(
        conn,
        f"INSERT INTO charge_offs (debt_id, date, amount, currency, imported_at) SELECT "
        f"s.debt_id, s.date, s.amount, s.currency, :now FROM {staged} s WHERE true ON CONFLICT "
        "(debt_id, date) DO UPDATE SET amount = excluded.amount, currency = excluded.currency "
        f"WHERE {_row('charge_offs', cols)} {d.distinct} {_row('excluded', cols)}",
        now=now,
    )
    await _upsert_totals(
        conn,
        d,
        out,
        "loanBook",
        "feed_loan_book",
        "loan_book",
        ("date", "portfolio", "product_type", "currency"),
        "principal",
    )
    await _upsert_totals(
        conn,
        d,
        out,
        "cost",
        "feed_costs",
        "cost_records",
        ("date", "portfolio", "category", "currency"),
        "amount",
    )


async def _upsert_totals(
    conn: AsyncConnection,
    d: _Dialect,
    out: MergeSummary,
    kind: str,
    staged: str,
    target: str,
    key: tuple[str, ...],
    value: str,
) -> None:
    on = " AND ".join(f"t.{c} = s.{c}" for c in key)
    out.types[kind] = await _counted(conn, staged, target, on, f"t.{value} {d.distinct} s.{value}")
    cols = ", ".join((*key, value))
    await _run(
        conn,
        f"INSERT INTO {target} ({cols}) SELECT {', '.join('s.' + c for c in (*key, value))} "
        f"FROM {staged} s WHERE true ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
        f"{value} = excluded.{value} WHERE {target}.{value} {d.distinct} excluded.{value}",
    )


async def merge(
    conn: AsyncConnection,
    policy: ClassificationPolicy,
    as_of: date,
    now: datetime,
    step: Any = None,
    lifecycle: LifecyclePolicy = DEFAULT_POLICY,
) -> tuple[MergeSummary, int]:
    """Merges the staged rows into the stored tables (see the module's docstring); returns the
    summary and the id of the last case event written before (for the decisions feed).
    ``step(name)`` is called before each step (progress)."""
    d = _Dialect(conn)
    out = MergeSummary()

    def report(name: str) -> None:
        if step is not None:
            step(name)

    report("borrowers")
    await _merge_borrowers(conn, d, now, out)
    report("contact points")
    await _merge_contact_points(conn, d, now, out)
    report("debts")
    await _merge_debts(conn, d, as_of, out)
    report("cases")
    last_event = await _open_cases(conn, d, lifecycle, as_of, now, out)
    await _refigure_cases(conn, d, policy, as_of, now, out)
    report("payments")
    await _merge_money(conn, d, now, out)
    return out, last_event
