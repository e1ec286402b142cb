"""Use cases of flag work: flagBorrower and unflagBorrower, each one unit of work.

The borrower must be in the caller's scope (BORROWER_NOT_FOUND otherwise). A flag is set once
at a time (FLAG_ALREADY_SET) and lifted only while set (FLAG_NOT_SET); the lifted row stays. The
table in ``domain.flags.effects`` says which flags need evidence and a review date."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from domain.borrowers.errors import BorrowerNotFound
from domain.clock import Clock
from domain.errors import free_text
from domain.flags import errors
from domain.flags.effects import FLAG_RULES
from domain.flags.events import (
    BorrowerFlagged,
    BorrowerFlagLifted,
    BorrowerFlagSet,
    BorrowerUnflagged,
)
from domain.flags.model import BorrowerFlag, BorrowerFlagKind
from domain.flags.ports import FlagsUnitOfWork
from domain.portfolios import local_date, local_today

MAX_NOTE = 2000
MAX_EVIDENCE_REF = 200

UowFactory = Callable[[], FlagsUnitOfWork]


@dataclass(frozen=True)
class FlagRequest:
    borrower_id: int
    flag: BorrowerFlagKind
    evidence_ref: str | None = None
    note: str | None = None
    review_on: date | None = None


async def flag_borrower(
    uow_factory: UowFactory, clock: Clock, actor_id: int | None, request: FlagRequest
) -> BorrowerFlag:
    """Sets a flag on a borrower the caller may see: evidence where the table requires it
    (EVIDENCE_REQUIRED), a review date after today in the time zone of each of the borrower's
    portfolios where it requires one (REVIEW_DATE_INVALID), not while the flag is set
    (FLAG_ALREADY_SET)."""
    row = FLAG_RULES[request.flag]
    async with uow_factory() as uow:
        borrower = await uow.borrowers.get(request.borrower_id)
        if borrower is None or borrower.id is None:
            raise BorrowerNotFound("no such borrower", field="borrowerId")
        evidence = free_text(request.evidence_ref, "evidenceRef", MAX_EVIDENCE_REF)
        note = free_text(request.note, "note", MAX_NOTE)
        if row.evidence_required and evidence is None:
            raise errors.EvidenceRequired(
                f"{request.flag.value} needs an evidence reference", field="evidenceRef"
            )
        now = clock.now()
        cases = await uow.flags.cases_of(borrower.id)
        # "Today" where it is latest: the review date lies ahead in every portfolio of theirs.
        todays = [local_today(portfolio, now) for _, portfolio in cases]
        today = max(todays) if todays else local_date(borrower.time_zone, now)
        if request.review_on is None and row.review_required:
            raise errors.ReviewDateInvalid(
                f"{request.flag.value} needs a review date", field="reviewOn"
            )
        if request.review_on is not None and request.review_on <= today:
            raise errors.ReviewDateInvalid(
                f"the review date must be after today ({today.isoformat()})", field="reviewOn"
            )
        active = await uow.flags.active(borrower.id)
        if any(f.flag == request.flag for f in active):
            raise errors.FlagAlreadySet(
                f"the borrower is already flagged {request.flag.value}", field="flag"
            )
        flag = BorrowerFlag(
            borrower_id=borrower.id,
            flag=request.flag,
            set_at=now,
            set_by=actor_id,
            evidence_ref=evidence,
            note=note,
            review_on=request.review_on,
        )
        await uow.flags.add(flag)
        assert flag.id is not None
        case_ids = tuple(case_id for case_id, _ in cases)
        uow.record(
            BorrowerFlagSet(
                borrower.id,
                flag.id,
                now,
                actor_id,
                request.flag.value,
                request.review_on,
                evidence is not None,
                case_ids,
            )
        )
        for case_id in case_ids:
            uow.record(
                BorrowerFlagged(
                    case_id,
                    now,
                    actor_id,
                    borrower.id,
                    flag.id,
                    request.flag.value,
                    request.review_on,
                )
            )
        await uow.commit()
        return flag


async def unflag_borrower(
    uow_factory: UowFactory,
    clock: Clock,
    actor_id: int | None,
    borrower_id: int,
    flag_kind: BorrowerFlagKind,
    note: str | None = None,
) -> BorrowerFlag:
    """Lifts a flag that is set on a borrower the caller may see (FLAG_NOT_SET otherwise)."""
    async with uow_factory() as uow:
        borrower = await uow.borrowers.get(borrower_id)
        if borrower is None or borrower.id is None:
            raise BorrowerNotFound("no such borrower", field="borrowerId")
        text = free_text(note, "note", MAX_NOTE)
        active = await uow.flags.active(borrower.id)
        flag = next((f for f in active if f.flag == flag_kind), None)
        if flag is None or flag.id is None:
            raise errors.FlagNotSet(f"the borrower is not flagged {flag_kind.value}", field="flag")
        now = clock.now()
        flag.lift(now, actor_id, text)
        await uow.flags.save(flag)
        case_ids = tuple(case_id for case_id, _ in await uow.flags.cases_of(borrower.id))
        uow.record(
            BorrowerFlagLifted(borrower.id, flag.id, now, actor_id, flag_kind.value, case_ids)
        )
        for case_id in case_ids:
            uow.record(
                BorrowerUnflagged(case_id, now, actor_id, borrower.id, flag.id, flag_kind.value)
            )
        await uow.commit()
        return flag
