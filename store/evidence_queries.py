"""Evidence packs in SQL: a case's record read set-based (one statement per part, rows by id,
columns named as the pack writes them: camelCase), a generated pack stored, and a stored pack
found for its download (the caller's own, in their case scope, not expired) — or why not.

Rows are plain mappings of ordinary values (``domain.evidence.pack.canonical`` writes them);
confidential values are masked by the caller (``authz.masking``) before they go into a pack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, insert, select

from store import tables
from store.db import Session

Row = dict[str, object]


def _camel(name: str) -> str:
    """A column's name as the pack writes it: ``dpd_as_of`` → ``dpdAsOf``."""
    first, *rest = name.split("_")
    return first + "".join(word.title() for word in rest)


c, d, i = tables.cases.c, tables.debts.c, tables.instalments.c
p, ct, cp = tables.payments.c, tables.contacts.c, tables.contact_points.c
pr, r, ri = tables.promises.c, tables.restructurings.c, tables.restructuring_instalments.c
lr, la, ep = tables.legal_referrals.c, tables.legal_actions.c, tables.evidence_packs.c
nt, nr = tables.notices.c, tables.notice_receipts.c


async def _rows(session: Session, statement: Select[Any]) -> list[Row]:
    """Each row with its columns named in camelCase (a label already in camelCase stays)."""
    rows = (await session.execute(statement)).mappings()
    return [{_camel(key): value for key, value in row.items()} for row in rows]


async def case_of(session: Session, case_id: int) -> Row | None:
    """The case's own record (no assignment or placement: who works it is not evidence)."""
    stmt = select(
        c.reference,
        c.portfolio,
        c.currency,
        c.opened_on,
        c.status,
        c.stage,
        c.days_past_due,
        c.dpd_as_of.label("daysPastDueAsOf"),
        c.classification,
        c.outstanding_amount,
        c.close_reason,
        c.closed_at,
    ).where(c.id == case_id)
    rows = await _rows(session, stmt)
    return rows[0] if rows else None


async def debts_of(session: Session, case_id: int) -> list[Row]:
    """The case's debts: the contract data of each account."""
    stmt = (
        select(
            d.id,
            d.account_number,
            d.product_type,
            d.opened_on,
            d.currency,
            d.principal,
            d.interest,
            d.penalty,
            d.fee,
            d.status,
            d.balances_as_of,
        )
        .where(d.case_id == case_id)
        .order_by(d.id)
    )
    return await _rows(session, stmt)


async def schedule_of(session: Session, case_id: int) -> list[Row]:
    """Every instalment of the case's debts (the core's schedule), by id."""
    stmt = (
        select(
            i.id,
            d.account_number,
            i.sequence,
            i.due_date,
            i.amount_due,
            i.amount_paid,
            d.currency,
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
            p.id,
            d.account_number,
            p.amount,
            p.currency,
            p.paid_at,
            p.reference,
            p.source,
            p.recovery,
            p.reversed,
            p.reversed_at,
            p.reversal_reason,
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
            ct.id,
            ct.at,
            ct.channel,
            ct.direction,
            ct.party,
            ct.outcome,
            ct.staff_id,
            ct.second_staff_id,
            ct.source,
            ct.blocked,
            ct.rule,
            ct.breaches,
            ct.completed_at,
            ct.callback_at,
            ct.profile_version,
            cp.kind.label("contactPointKind"),
            cp.value.label("contactPoint"),
            ct.notes,
            ct.recording_ref,
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
            pr.id,
            pr.amount,
            pr.currency,
            pr.promised_on,
            pr.due_date,
            pr.grace_days,
            pr.status,
            pr.paid_amount,
            pr.contact_id,
            pr.staff_id,
            pr.created_at,
            pr.resolved_at,
        )
        .where(pr.case_id == case_id)
        .order_by(pr.id)
    )
    return await _rows(session, stmt)


async def restructurings_of(session: Session, case_id: int) -> list[Row]:
    """The case's restructurings (plans, settlements, waivers), decided or not, by id."""
    stmt = (
        select(
            r.id,
            r.kind,
            r.status,
            r.currency,
            r.balance,
            r.concession,
            r.settlement_amount,
            r.settle_by,
            r.waiver_amount,
            r.replaced_amount,
            r.capitalised_interest,
            r.grace_days,
            r.required_authority,
            r.reason,
            r.proposed_by,
            r.proposed_at,
            r.decided_by,
            r.decided_at,
            r.decision_reason,
            r.payments_in_row,
            r.paid_amount,
            r.ended_at,
        )
        .where(r.case_id == case_id)
        .order_by(r.id)
    )
    return await _rows(session, stmt)


async def restructuring_instalments_of(session: Session, case_id: int) -> list[Row]:
    """The instalments of the case's restructuring plans, by id."""
    stmt = (
        select(
            ri.id,
            ri.restructuring_id,
            ri.sequence,
            ri.due_date,
            ri.amount,
            r.currency,
            ri.amount_paid,
            ri.paid_on,
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
            lr.id,
            lr.status,
            lr.reason,
            lr.conditions,
            lr.referred_by,
            lr.referred_at,
            lr.decided_by,
            lr.decided_at,
            lr.decision_reason,
        )
        .where(lr.case_id == case_id)
        .order_by(lr.id)
    )
    return await _rows(session, stmt)


async def legal_actions_of(session: Session, case_id: int) -> list[Row]:
    """The case's legal route and its steps, by id."""
    stmt = (
        select(
            la.id,
            la.kind,
            la.step,
            la.body,
            la.reference,
            la.occurred_on,
            la.amount,
            la.currency,
            la.recorded_by,
            la.recorded_at,
        )
        .where(la.case_id == case_id)
        .order_by(la.id)
    )
    return await _rows(session, stmt)


async def notices_of(session: Session, case_id: int) -> list[Row]:
    """The case's notices as the outbox handled them, each with the kind and (clear) value of
    the point it went to and the subject and body it was sent with (the caller masks them),
    its digest, and every delivery receipt kept of it, by id (two statements)."""
    stmt = (
        select(
            nt.id,
            nt.channel,
            nt.party,
            nt.template,
            nt.template_version,
            nt.language,
            nt.status,
            nt.rule,
            nt.created_at,
            nt.sent_at,
            nt.delivered_at,
            nt.failed_at,
            nt.provider_ref,
            nt.subject,
            nt.body,
            nt.body_digest,
            nt.attempts,
            cp.kind.label("contactPointKind"),
            cp.value.label("contactPoint"),
        )
        .outerjoin(tables.contact_points, cp.id == nt.contact_point_id)
        .where(nt.case_id == case_id)
        .order_by(nt.id)
    )
    notices = await _rows(session, stmt)
    receipts = select(
        nr.notice_id,
        nr.id,
        nr.status,
        nr.delivered_at,
        nr.provider_ref,
        nr.received_at,
        nr.recorded_by,
    ).where(nr.notice_id.in_(select(nt.id).where(nt.case_id == case_id)))
    kept: dict[object, list[Row]] = {}
    for row in await _rows(session, receipts.order_by(nr.id)):
        kept.setdefault(row.pop("noticeId"), []).append(row)
    return [{**row, "receipts": kept.get(row["id"], [])} for row in notices]


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
    # The outbox's notices with their receipts (``notices_of``).
    notices: list[Row] = field(default_factory=list)


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
        notices=await notices_of(session, case_id),
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
