"""Legal escalation in a unit of work: the policy in effect, a case's facts, referrals read
through the caller's case scope and locked for a decision, legal actions."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.cases.model import Case
from domain.legal.conditions import LegalFacts
from domain.legal.errors import AlreadyDecided, ReferralPending
from domain.legal.model import LegalAction, LegalReferral, ReferralStatus
from domain.legal.policy import BUILTIN, LegalPolicy, default_for, from_payload
from domain.rulesets import RuleSetKind
from store import rule_sets, tables
from store.legal_queries import legal_facts, referral_of

lr, la, cs = tables.legal_referrals.c, tables.legal_actions.c, tables.cases.c
PENDING = ReferralStatus.PENDING.value
# The one pending referral per case (a partial unique index).
ONE_PENDING = next(
    i for i in tables.legal_referrals.indexes if i.name == "uq_legal_referrals_pending"
)


class SqlLegalRepository:
    def __init__(self, session: AsyncSession, case_scope: ColumnElement[bool]) -> None:
        self.session = session
        self.scope = case_scope

    async def policy(self, profile: str, at: datetime) -> tuple[LegalPolicy, str]:
        stored = await rule_sets.in_effect(self.session, RuleSetKind.LEGAL_POLICY, profile, at)
        if stored is None:
            return default_for(profile), f"{profile}@{BUILTIN}"
        return from_payload(stored.payload), f"{profile}@{stored.version}"

    async def facts(self, case: Case, today: date) -> LegalFacts:
        # The borrower's row stays locked until commit (PostgreSQL; SQLite serialises writers):
        # flag work takes the same lock, so a flag and this check never overlap.
        b = tables.borrowers.c
        await self.session.execute(select(b.id).where(b.id == case.borrower_id).with_for_update())
        return await legal_facts(self.session, case, today)

    async def pending_referral(self, case_id: int) -> int | None:
        stmt = select(lr.id).where(lr.case_id == case_id, lr.status == PENDING)
        found = (await self.session.execute(stmt)).scalar_one_or_none()
        return int(found) if found is not None else None

    async def approved_referral(self, case_id: int) -> bool:
        stmt = (
            select(lr.id)
            .where(lr.case_id == case_id, lr.status == ReferralStatus.APPROVED.value)
            .limit(1)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def get_referral(self, referral_id: int) -> LegalReferral | None:
        stmt = (
            select(tables.legal_referrals)
            .join(tables.cases, cs.id == lr.case_id)
            .where(lr.id == referral_id, self.scope)
            .with_for_update(of=tables.legal_referrals)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return referral_of(row) if row is not None else None

    async def add_referral(self, referral: LegalReferral) -> None:
        stmt = insert(tables.legal_referrals).values(
            case_id=referral.case_id,
            status=referral.status.value,
            reason=referral.reason,
            conditions=[c.to_payload() for c in referral.conditions],
            referred_by=referral.referred_by,
            referred_at=referral.referred_at,
            version=referral.version,
        )
        try:
            inserted = (await self.session.execute(stmt.returning(lr.id))).scalar_one()
        except IntegrityError as error:
            from store.uow import is_violation_of  # store.uow holds this repository

            # Only a clash on the one-pending-referral index means one is waiting; any other
            # integrity error is a fault and propagates.
            if not is_violation_of(error, ONE_PENDING):
                raise
            raise ReferralPending("a referral of this case is waiting for a decision") from None
        referral.id = int(inserted)

    async def save_referral(self, referral: LegalReferral) -> None:
        stmt = (
            update(tables.legal_referrals)
            .where(lr.id == referral.id, lr.status == PENDING, lr.version == referral.version - 1)
            .values(
                status=referral.status.value,
                conditions=[c.to_payload() for c in referral.conditions],
                decided_by=referral.decided_by,
                decided_at=referral.decided_at,
                decision_reason=referral.decision_reason,
                version=referral.version,
            )
        )
        if (await self.session.execute(stmt)).rowcount != 1:  # type: ignore[attr-defined]
            raise AlreadyDecided("the referral was decided meanwhile", field="referralId")

    async def add_action(self, action: LegalAction) -> None:
        stmt = insert(tables.legal_actions).values(
            case_id=action.case_id,
            kind=action.kind.value,
            step=action.step.value,
            body=action.body,
            reference=action.reference,
            occurred_on=action.occurred_on,
            amount=action.amount,
            currency=action.currency,
            recorded_by=action.recorded_by,
            recorded_at=action.recorded_at,
            idempotency_key=action.idempotency_key,
        )
        action.id = int((await self.session.execute(stmt.returning(la.id))).scalar_one())
