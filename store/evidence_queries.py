"""Evidence packs in SQL: a case's record read set-based (one statement per part, rows by id,
columns named as the pack writes them), a generated pack stored, and a stored pack found for
its download (the caller's own, in their case scope, not expired) — or why not.

Rows are plain mappings of ordinary values (``domain.evidence.pack.canonical`` writes them);
confidential values are masked by the caller (``authz.masking``) before they go into a pack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, insert, select

from store import tables
from store.db import Session

Row = dict[str, object]

c, d, i = tables.cases.c, tables.debts.c, tables.instalments.c
p, ct, cp = tables.payments.c, tables.contacts.c, tables.contact_points.c
pr, r, ri = tables.promises.c, tables.restructurings.c, tables.restructuring_instalments.c
lr, la, ep = tables.legal_referrals.c, tables.legal_actions.c, tables.evidence_packs.c


async def _rows(session: Session, statement: Select[Any]) -> list[Row]:
    return [dict(row) for row in (await session.execute(statement)).mappings()]


async def case_of(session: Session, case_id: int) -> Row | None:
    """The case's own record (no assignment or placement: who works it is not evidence)."""
    stmt = select(
        c.reference.label("reference"),
        c.portfolio.label("portfolio"),
        c.currency.label("currency"),
        c.opened_on.label("openedOn"),
        c.status.label("status"),
        c.stage.label("stage"),
        c.days_past_due.label("daysPastDue"),
        c.dpd_as_of.label("daysPastDueAsOf"),
        c.classification.label("classification"),
        c.outstanding_amount.label("outstandingAmount"),
        c.close_reason.label("closeReason"),
        c.closed_at.label("closedAt"),
    ).where(c.id == case_id)
    rows = await _rows(session, stmt)
    return rows[0] if rows else None


async def debts_of(session: Session, case_id: int) -> list[Row]:
    """The case's debts: the contract data of each account."""
    stmt = (
        select(
            d.id.label("id"),
            d.account_number.label("accountNumber"),
            d.product_type.label("productType"),
            d.opened_on.label("openedOn"),
            d.currency.label("currency"),
            d.principal.label("principal"),
            d.interest.label("interest"),
            d.penalty.label("penalty"),
            d.fee.label("fee"),
            d.status.label("status"),
            d.balances_as_of.label("balancesAsOf"),
        )
        .where(d.case_id == case_id)
        .order_by(d.id)
    )
    return await _rows(session, stmt)


async def schedule_of(session: Session, case_id: int) -> list[Row]:
    """Every instalment of the case's debts (the core's schedule), by id."""
    stmt = (
        select(
            i.id.label("id"),
            d.account_number.label("accountNumber"),
            i.sequence.label("sequence"),
            i.due_date.label("dueDate"),
            i.amount_due.label("amountDue"),
            i.amount_paid.label("amountPaid"),
            d.currency.label("currency"),
        )
        .join(tables.debts, d.id == i.debt_id)
        .where(d.case_id == case_id)
        .order_by(i.id)
    )
    return await _rows(session, stmt)


async def payments_of(session: Session, case_id: int) -> list[Row]:
    """Every payment on the case, reversed ones too (with when and why), by id."""
    stmt = (
        select(
            p.id.label("id"),
            d.account_number.label("accountNumber"),
            p.amount.label("amount"),
            p.currency.label("currency"),
            p.paid_at.label("paidAt"),
            p.reference.label("reference"),
            p.source.label("source"),
            p.recovery.label("recovery"),
            p.reversed.label("reversed"),
            p.reversed_at.label("reversedAt"),
            p.reversal_reason.label("reversalReason"),
        )
        .join(tables.debts, d.id == p.debt_id)
        .where(p.case_id == case_id)
        .order_by(p.id)
    )
    return await _rows(session, stmt)


async def contacts_of(session: Session, case_id: int) -> list[Row]:
    """The case's contact log, refused attempts included, with the kind and (clear) value of
    the point each went to (the caller masks it), by id."""
    stmt = (
        select(
            ct.id.label("id"),
            ct.at.label("at"),
            ct.channel.label("channel"),
            ct.direction.label("direction"),
            ct.party.label("party"),
            ct.outcome.label("outcome"),
            ct.staff_id.label("staffId"),
            ct.second_staff_id.label("secondStaffId"),
            ct.source.label("source"),
            ct.blocked.label("blocked"),
            ct.rule.label("rule"),
            ct.breaches.label("breaches"),
            ct.completed_at.label("completedAt"),
            ct.callback_at.label("callbackAt"),
            ct.profile_version.label("profileVersion"),
            cp.kind.label("contactPointKind"),
            cp.value.label("contactPoint"),
            ct.notes.label("notes"),
            ct.recording_ref.label("recordingRef"),
        )
        .outerjoin(tables.contact_points, cp.id == ct.contact_point_id)
        .where(ct.case_id == case_id)
        .order_by(ct.id)
    )
    return await _rows(session, stmt)


async def promises_of(session: Session, case_id: int) -> list[Row]:
    """The case's promises to pay and how each ended, by id."""
    stmt = (
        select(
            pr.id.label("id"),
            pr.amount.label("amount"),
            pr.currency.label("currency"),
            pr.promised_on.label("promisedOn"),
            pr.due_date.label("dueDate"),
            pr.grace_days.label("graceDays"),
            pr.status.label("status"),
            pr.paid_amount.label("paidAmount"),
            pr.contact_id.label("contactId"),
            pr.staff_id.label("staffId"),
            pr.created_at.label("createdAt"),
            pr.resolved_at.label("resolvedAt"),
        )
        .where(pr.case_id == case_id)
        .order_by(pr.id)
    )
    return await _rows(session, stmt)


async def restructurings_of(session: Session, case_id: int) -> list[Row]:
    """The case's restructurings (plans, settlements, waivers), decided or not, by id."""
    stmt = (
        select(
            r.id.label("id"),
            r.kind.label("kind"),
            r.status.label("status"),
            r.currency.label("currency"),
            r.balance.label("balance"),
            r.concession.label("concession"),
            r.settlement_amount.label("settlementAmount"),
            r.settle_by.label("settleBy"),
            r.waiver_amount.label("waiverAmount"),
            r.replaced_amount.label("replacedAmount"),
            r.capitalised_interest.label("capitalisedInterest"),
            r.grace_days.label("graceDays"),
            r.required_authority.label("requiredAuthority"),
            r.reason.label("reason"),
            r.proposed_by.label("proposedBy"),
            r.proposed_at.label("proposedAt"),
            r.decided_by.label("decidedBy"),
            r.decided_at.label("decidedAt"),
            r.decision_reason.label("decisionReason"),
            r.payments_in_row.label("paymentsInRow"),
            r.paid_amount.label("paidAmount"),
            r.ended_at.label("endedAt"),
        )
        .where(r.case_id == case_id)
        .order_by(r.id)
    )
    return await _rows(session, stmt)


async def restructuring_instalments_of(session: Session, case_id: int) -> list[Row]:
    """The instalments of the case's restructuring plans, by id."""
    stmt = (
        select(
            ri.id.label("id"),
            ri.restructuring_id.label("restructuringId"),
            ri.sequence.label("sequence"),
            ri.due_date.label("dueDate"),
            ri.amount.label("amount"),
            r.currency.label("currency"),
            ri.amount_paid.label("amountPaid"),
            ri.paid_on.label("paidOn"),
        )
        .join(tables.restructurings, r.id == ri.restructuring_id)
        .where(r.case_id == case_id)
        .order_by(ri.id)
    )
    return await _rows(session, stmt)


async def legal_referrals_of(session: Session, case_id: int) -> list[Row]:
    """The case's referrals to legal with every condition as checked, by id."""
    stmt = (
        select(
            lr.id.label("id"),
            lr.status.label("status"),
            lr.reason.label("reason"),
            lr.conditions.label("conditions"),
            lr.referred_by.label("referredBy"),
            lr.referred_at.label("referredAt"),
            lr.decided_by.label("decidedBy"),
            lr.decided_at.label("decidedAt"),
            lr.decision_reason.label("decisionReason"),
        )
        .where(lr.case_id == case_id)
        .order_by(lr.id)
    )
    return await _rows(session, stmt)


async def legal_actions_of(session: Session, case_id: int) -> list[Row]:
    """The case's legal route and its steps, by id."""
    stmt = (
        select(
            la.id.label("id"),
            la.kind.label("kind"),
            la.step.label("step"),
            la.body.label("body"),
            la.reference.label("reference"),
            la.occurred_on.label("occurredOn"),
            la.amount.label("amount"),
            la.currency.label("currency"),
            la.recorded_by.label("recordedBy"),
            la.recorded_at.label("recordedAt"),
        )
        .where(la.case_id == case_id)
        .order_by(la.id)
    )
    return await _rows(session, stmt)


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """Everything of a case that goes into its evidence pack, as stored (values in clear)."""

    case: Row
    debts: list[Row]
    schedule: list[Row]
    payments: list[Row]
    contacts: list[Row]
    promises: list[Row]
    restructurings: list[Row]
    restructuring_instalments: list[Row]
    legal_referrals: list[Row]
    legal_actions: list[Row]


async def record_of(session: Session, case_id: int) -> CaseRecord | None:
    """Reads a case's record, one statement per part (the caller checked the case's scope)."""
    case = await case_of(session, case_id)
    if case is None:
        return None
    return CaseRecord(
        case=case,
        debts=await debts_of(session, case_id),
        schedule=await schedule_of(session, case_id),
        payments=await payments_of(session, case_id),
        contacts=await contacts_of(session, case_id),
        promises=await promises_of(session, case_id),
        restructurings=await restructurings_of(session, case_id),
        restructuring_instalments=await restructuring_instalments_of(session, case_id),
        legal_referrals=await legal_referrals_of(session, case_id),
        legal_actions=await legal_actions_of(session, case_id),
    )


async def store_pack(
    session: Session,
    *,
    case_id: int,
    sha256: str,
    manifest: dict[str, object],
    content: bytes,
    clear: bool,
    generated_by: int,
    generated_at: datetime,
) -> int:
    """Stores a generated pack (in the caller's transaction) and returns its id; ``manifest`` is
    the zip's ``manifest.json`` as a document (its parts, and which fields are in clear)."""
    stmt = (
        insert(tables.evidence_packs)
        .values(
            case_id=case_id,
            sha256=sha256,
            manifest=manifest,
            content=content,
            clear=clear,
            generated_by=generated_by,
            generated_at=generated_at,
        )
        .returning(ep.id)
    )
    return int((await session.execute(stmt)).scalar_one())


@dataclass(frozen=True, slots=True)
class StoredPack:
    id: int
    case_id: int
    borrower_id: int
    case_reference: str
    sha256: str
    clear: bool
    fields: dict[str, bool]  # each confidential field in the pack: whether in clear
    generated_by: int
    content: bytes


async def pack_in_scope(
    session: Session,
    pack_id: int,
    case_scope: ColumnElement[bool],
    *,
    generated_by: int,
    generated_after: datetime,
) -> StoredPack | None:
    """Returns a stored pack generated by ``generated_by`` after ``generated_after``, whose case
    is in the caller's scope, else None (so nobody else's content is ever read)."""
    stmt = (
        select(
            ep.id,
            ep.case_id,
            c.borrower_id,
            c.reference,
            ep.sha256,
            ep.clear,
            ep.manifest,
            ep.generated_by,
            ep.content,
        )
        .join(tables.cases, c.id == ep.case_id)
        .where(
            ep.id == pack_id,
            case_scope,
            ep.generated_by == generated_by,
            ep.generated_at > generated_after,
        )
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        return None
    fields = row.manifest.get("fields", {}) if isinstance(row.manifest, dict) else {}
    return StoredPack(
        id=row.id,
        case_id=row.case_id,
        borrower_id=row.borrower_id,
        case_reference=row.reference,
        sha256=row.sha256,
        clear=bool(row.clear),
        fields={str(name): bool(clear) for name, clear in fields.items()},
        generated_by=row.generated_by,
        content=bytes(row.content),
    )


async def why_not_found(
    session: Session,
    pack_id: int,
    case_scope: ColumnElement[bool],
    *,
    generated_by: int,
    generated_after: datetime,
) -> str:
    """Says, for the audit trail only, why ``pack_in_scope`` found nothing: ``NO_SUCH_PACK``,
    ``OUT_OF_SCOPE`` (its case is not in the caller's scope), ``NOT_YOURS`` (someone else
    generated it) or ``EXPIRED`` (its download time is over). Reads no content."""
    stmt = (
        select(
            case((case_scope, True), else_=False).label("in_scope"),
            ep.generated_by,
            ep.generated_at,
        )
        .join(tables.cases, c.id == ep.case_id)
        .where(ep.id == pack_id)
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        return "NO_SUCH_PACK"
    if not row.in_scope:
        return "OUT_OF_SCOPE"
    if row.generated_by != generated_by:
        return "NOT_YOURS"
    if row.generated_at <= generated_after:
        return "EXPIRED"
    return "NO_SUCH_PACK"  # it became available meanwhile: nothing to explain
