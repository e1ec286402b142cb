"""Write-off rules and services on plain values and in-memory fakes: the policy's DPD threshold
at its boundary and the LEGAL stage, the payload's validation, a write-off's moves, debts, row
and events, every refusal (changing nothing), and the sale of a written-off debt."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.cases.errors import CaseNotFound
from domain.cases.model import Case, CaseStage, CaseStatus
from domain.clock import FixedClock
from domain.debts.model import Debt, DebtStatus, Instalment, ProductType
from domain.decisions import is_decision
from domain.errors import DomainError, ErrorCode, InvalidInput
from domain.lifecycle.table import (
    CloseReason,
    Facts,
    IllegalTransition,
    Trigger,
    decide,
)
from domain.timeline.entries import EVENT_KINDS, EntryKind, event_summary
from domain.writeoff import services
from domain.writeoff.errors import InvalidWriteOffPolicy, WriteOffNotAllowed
from domain.writeoff.events import CaseWrittenOff, ChargeOffRequested, WriteOffDecided
from domain.writeoff.policy import (
    DEFAULT,
    ReasonCode,
    WriteOffPolicy,
    WriteOffSource,
    from_payload,
    to_payload,
)
from domain.writeoff.rules import (
    RULE,
    PendingWork,
    check_no_pending_work,
    check_write_off,
    write_off_allowed,
)
from tests.unit.fakes import FakeUnitOfWork

# 02:00 UTC is 10:00 in Asia/Shanghai: the retail portfolio's today is TODAY.
AT = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 28)
MANAGER = 5


# ---- the policy and its rule ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "dpd", "allowed"),
    [
        (CaseStage.COLLECTION, 179, False),  # the threshold minus one
        (CaseStage.COLLECTION, 180, True),  # exactly the threshold
        (CaseStage.EARLY, 181, True),
        (CaseStage.LEGAL, 0, True),  # from LEGAL whatever the DPD
        (CaseStage.EARLY, 0, False),
    ],
)
def test_a_manager_write_off_needs_legal_or_the_policy_dpd(
    stage: CaseStage, dpd: int, allowed: bool
) -> None:
    assert write_off_allowed(DEFAULT, stage, dpd) is allowed
    if allowed:
        check_write_off(DEFAULT, stage, dpd)
        return
    with pytest.raises(WriteOffNotAllowed) as refused:
        check_write_off(DEFAULT, stage, dpd)
    assert refused.value.code is ErrorCode.WRITE_OFF_NOT_ALLOWED
    assert refused.value.field == "caseId"
    message = refused.value.message
    assert message.startswith(f"{RULE}:")
    assert "stage LEGAL" in message and "at least 180" in message
    assert f"at {dpd} days past due" in message and "default@builtin" in message


def test_the_threshold_is_configurable() -> None:
    policy = WriteOffPolicy(min_days_past_due=120, from_stages=frozenset(), version="default@2")
    assert not write_off_allowed(policy, CaseStage.LEGAL, 119)
    assert write_off_allowed(policy, CaseStage.LEGAL, 120)
    with pytest.raises(WriteOffNotAllowed, match="needs stage no stage or days past due"):
        check_write_off(policy, CaseStage.LEGAL, 119)


def test_the_payload_round_trips_and_is_validated() -> None:
    assert to_payload(DEFAULT) == {"minDaysPastDue": 180, "fromStages": ["LEGAL"]}
    assert from_payload(to_payload(DEFAULT)) == DEFAULT
    read = from_payload({"minDaysPastDue": 90, "fromStages": ["COLLECTION", "LEGAL"]}, "v@7")
    assert read == WriteOffPolicy(90, frozenset({CaseStage.COLLECTION, CaseStage.LEGAL}), "v@7")
    assert from_payload({}) == DEFAULT  # every key has its default
    bad: list[Any] = [
        [],
        {"minDaysPastDue": 0},
        {"minDaysPastDue": 3651},
        {"minDaysPastDue": "180"},
        {"minDaysPastDue": True},
        {"minDaysPastDue": 180.0},
        {"fromStages": "LEGAL"},
        {"fromStages": ["WRITTEN_OFF"]},
        {"fromStages": ["NOWHERE"]},
        {"threshold": 180},
    ]
    for payload in bad:
        with pytest.raises(InvalidWriteOffPolicy) as refused:
            from_payload(payload)
        assert isinstance(refused.value, InvalidInput)
        assert refused.value.code is ErrorCode.CHANGE_INVALID


# ---- the life-cycle table ------------------------------------------------------------------------


def test_the_table_writes_off_cases_of_any_earlier_stage_only() -> None:
    facts = Facts(days_past_due=200, outstanding=Decimal(1), today=TODAY)
    # A closed case too (the core's charge-off): it stays closed with its close reason.
    for status in (CaseStatus.OPEN, CaseStatus.ON_HOLD, CaseStatus.CLOSED):
        for stage in (CaseStage.EARLY, CaseStage.COLLECTION, CaseStage.LEGAL):
            moved = decide(status, stage, Trigger.WRITE_OFF, facts)
            assert (moved.status, moved.stage) == (status, CaseStage.WRITTEN_OFF)
    for status in CaseStatus:
        with pytest.raises(IllegalTransition):
            decide(status, CaseStage.WRITTEN_OFF, Trigger.WRITE_OFF, facts)
    # A recovery that clears the arrears does not cure a written-off case.
    with pytest.raises(IllegalTransition):
        decide(
            CaseStatus.OPEN,
            CaseStage.WRITTEN_OFF,
            Trigger.CURE,
            Facts(days_past_due=0, outstanding=Decimal(1), today=TODAY),
        )
    # A written-off case never starts a new episode (back to EARLY).
    closed = replace(facts, close_reason=CloseReason.PAID_IN_FULL)
    with pytest.raises(IllegalTransition):
        decide(CaseStatus.CLOSED, CaseStage.WRITTEN_OFF, Trigger.NEW_DEFAULT, closed)
    # Cure, pay in full and reopen keep the stage.
    cleared = Facts(days_past_due=0, outstanding=Decimal(0), today=TODAY)
    paid = decide(CaseStatus.OPEN, CaseStage.WRITTEN_OFF, Trigger.PAY_IN_FULL, cleared)
    assert (paid.status, paid.stage) == (CaseStatus.CLOSED, CaseStage.WRITTEN_OFF)
    reopened = decide(
        CaseStatus.CLOSED,
        CaseStage.WRITTEN_OFF,
        Trigger.REOPEN,
        replace(facts, close_reason=CloseReason.PAID_IN_FULL, closing_payment_reversed=True),
    )
    assert (reopened.status, reopened.stage) == (CaseStatus.OPEN, CaseStage.WRITTEN_OFF)


# ---- the services --------------------------------------------------------------------------------


class FakeWriteOffs:
    def __init__(self, policy: WriteOffPolicy = DEFAULT) -> None:
        self.current = policy
        self.rows: list[services.WriteOff] = []
        self.asked_at: list[datetime] = []
        self.pending = PendingWork()

    async def policy(self, at: datetime) -> WriteOffPolicy:
        self.asked_at.append(at)
        return self.current

    async def add(self, write_off: services.WriteOff) -> int:
        self.rows.append(write_off)
        return len(self.rows)

    async def pending_work(self, case_id: int) -> PendingWork:
        return self.pending


class FakeWriteOffUnitOfWork(FakeUnitOfWork):
    def __init__(self, cases: list[Case], policy: WriteOffPolicy = DEFAULT) -> None:
        super().__init__(cases, [], [])
        self.write_offs = FakeWriteOffs(policy)

    async def __aenter__(self) -> FakeWriteOffUnitOfWork:
        return self

    def factory(self) -> FakeWriteOffUnitOfWork:
        return self


def debt(dpd: int, n: int, status: DebtStatus = DebtStatus.DELINQUENT) -> Debt:
    due = TODAY - timedelta(days=dpd)
    return Debt(
        account_number=f"ACC-{n}",
        product_type=ProductType.CONSUMER_LOAN,
        currency="CNY",
        principal=Decimal("1000.00"),
        interest=Decimal("10.50"),
        penalty=Decimal("2.25"),
        fee=Decimal("0.25"),
        opened_on=date(2025, 1, 1),
        status=status,
        instalments=[Instalment(1, due, Decimal("500.00")), Instalment(2, TODAY, Decimal("513"))],
        id=n,
        case_id=9,
    )


def a_case(
    dpd: int,
    stage: CaseStage = CaseStage.COLLECTION,
    status: CaseStatus = CaseStatus.OPEN,
    **changes: Any,
) -> Case:
    case = Case(
        reference="AR-9",
        borrower_id=19,
        portfolio="retail",
        currency="CNY",
        opened_on=date(2026, 1, 5),
        status=status,
        stage=stage,
        id=9,
        debts=[debt(dpd, 1), debt(10, 2), debt(0, 3, DebtStatus.SETTLED)],
        **{"days_past_due": dpd, **changes},
    )
    return case


def request(**changes: Any) -> services.WriteOffRequest:
    values = {"case_id": 9, "reason_code": "UNCOLLECTIBLE", "reason_text": " no assets "}
    return services.WriteOffRequest(**{**values, **changes})


async def test_a_write_off_at_the_threshold_moves_marks_stores_and_records() -> None:
    case = a_case(180)
    uow = FakeWriteOffUnitOfWork([case])
    done = await services.write_off(uow.factory, FixedClock(AT), MANAGER, request())
    assert (case.status, case.stage) == (CaseStatus.OPEN, CaseStage.WRITTEN_OFF)
    assert [d.status for d in case.debts] == [
        DebtStatus.WRITTEN_OFF,
        DebtStatus.WRITTEN_OFF,
        DebtStatus.SETTLED,  # no longer owed here: neither marked nor counted
    ]
    expected = services.WriteOff(
        case_id=9,
        source=WriteOffSource.MANAGER,
        reason_code="UNCOLLECTIBLE",
        amount=Decimal("2026.00"),
        currency="CNY",
        written_off_at=AT,
        reason_text="no assets",
        written_off_by=MANAGER,
        policy_version="default@builtin",
    )
    assert uow.write_offs.rows == [expected]
    assert done.write_off == replace(expected, id=1)
    assert uow.write_offs.asked_at == [AT]
    assert uow.commit_count == 1
    names = [e.name for e in uow.events]
    assert names == ["CaseTransitioned", "CaseWrittenOff", "ChargeOffRequested"]
    written = uow.events[1]
    assert isinstance(written, CaseWrittenOff)
    assert written.data() == {
        "source": "MANAGER",
        "reason_code": "UNCOLLECTIBLE",
        "amount": "2026.00",
        "currency": "CNY",
        "policy_version": "default@builtin",
        "charge_off_id": None,
    }
    requested = uow.events[2]
    assert isinstance(requested, ChargeOffRequested)
    assert requested.data() == {
        "reason_code": "UNCOLLECTIBLE",
        "amount": "2026.00",
        "currency": "CNY",
    }
    # No free text on the timeline or the feed: it is in the audit record only.
    assert "no assets" not in str([e.data() for e in uow.events])
    (decided,) = uow.recorded
    assert isinstance(decided, WriteOffDecided)
    assert (decided.decision, decided.reason_code, decided.reason_text) == (
        "WRITE_OFF",
        "UNCOLLECTIBLE",
        "no assets",
    )
    assert decided.changes["fromStage"] == "COLLECTION" and decided.changes["daysPastDue"] == 180
    # Both are decisions, each of its own event; the write-off shows on the timeline.
    assert all(is_decision(e.name, e.data()) for e in uow.events[1:])
    assert EVENT_KINDS["CaseWrittenOff"] is EntryKind.WRITTEN_OFF
    assert event_summary(EntryKind.WRITTEN_OFF, written.data()) == (
        "Written off by a manager: 2026.00 CNY (UNCOLLECTIBLE); recovery continues"
    )


async def test_the_dpd_is_the_schedule_s_today_not_the_stored_figure() -> None:
    case = a_case(179, days_past_due=400)  # a stale stored figure does not count
    uow = FakeWriteOffUnitOfWork([case])
    with pytest.raises(WriteOffNotAllowed, match="at 179 days past due"):
        await services.write_off(uow.factory, FixedClock(AT), MANAGER, request())
    assert not uow.committed and case.stage is CaseStage.COLLECTION
    assert [d.status for d in case.debts][:2] == [DebtStatus.DELINQUENT] * 2


async def test_from_legal_a_write_off_needs_no_dpd() -> None:
    case = a_case(1, CaseStage.LEGAL, CaseStatus.ON_HOLD)
    uow = FakeWriteOffUnitOfWork([case])
    await services.write_off(uow.factory, FixedClock(AT), MANAGER, request(reason_code="FRAUD"))
    assert (case.status, case.stage) == (CaseStatus.ON_HOLD, CaseStage.WRITTEN_OFF)


@pytest.mark.parametrize(
    ("case", "changes", "error", "code", "field"),
    [
        (a_case(400, CaseStage.WRITTEN_OFF), {}, IllegalTransition, "ILLEGAL_TRANSITION", "caseId"),
        (
            a_case(400, status=CaseStatus.CLOSED),
            {},
            IllegalTransition,
            "ILLEGAL_TRANSITION",
            "caseId",
        ),
        (a_case(400), {"reason_text": "  "}, InvalidInput, "REASON_REQUIRED", "reasonText"),
        (a_case(400), {"reason_code": "BORED"}, InvalidInput, "INVALID_INPUT", "reasonCode"),
        (
            a_case(400),
            {"reason_code": "CORE_CHARGE_OFF"},
            InvalidInput,
            "INVALID_INPUT",
            "reasonCode",
        ),
        (a_case(400), {"case_id": 10}, CaseNotFound, "CASE_NOT_FOUND", "caseId"),
    ],
)
async def test_every_refusal_changes_nothing(
    case: Case, changes: dict[str, Any], error: type[Exception], code: str, field: str
) -> None:
    stage = case.stage
    uow = FakeWriteOffUnitOfWork([case])
    with pytest.raises(error) as refused:
        await services.write_off(uow.factory, FixedClock(AT), MANAGER, request(**changes))
    assert (str(refused.value.code), refused.value.field) == (code, field)  # type: ignore[attr-defined]
    assert not uow.committed and uow.write_offs.rows == [] and case.stage == stage


@pytest.mark.parametrize(
    ("pending", "code", "says"),
    [
        (
            PendingWork((("SETTLEMENT", "ACTIVE"),)),
            "RESTRUCTURING_PENDING",
            "the SETTLEMENT of case AR-9 is ACTIVE: it ends",
        ),
        (
            PendingWork((("PENALTY_WAIVER", "PROPOSED"),)),
            "RESTRUCTURING_PENDING",
            "reject it before",
        ),
        (PendingWork(referral_pending=True), "REFERRAL_PENDING", "legal referral awaiting"),
    ],
)
async def test_a_write_off_waits_for_pending_work(
    pending: PendingWork, code: str, says: str
) -> None:
    case = a_case(400)
    uow = FakeWriteOffUnitOfWork([case])
    uow.write_offs.pending = pending
    with pytest.raises(DomainError) as refused:
        await services.write_off(uow.factory, FixedClock(AT), MANAGER, request())
    assert (str(refused.value.code), refused.value.field) == (code, "caseId")
    assert refused.value.message.startswith("WRITE_OFF_NO_PENDING_WORK: ")
    assert says in refused.value.message
    assert not uow.committed and uow.write_offs.rows == [] and case.stage is CaseStage.COLLECTION
    # Nothing pending (a waiver APPROVED, a plan COMPLETED or BROKEN are not read): allowed.
    check_no_pending_work("AR-9", PendingWork())


async def test_a_written_off_case_is_marked_sold_and_only_then() -> None:
    case = a_case(200, CaseStage.WRITTEN_OFF)
    uow = FakeWriteOffUnitOfWork([case])
    await services.mark_debt_sold(uow.factory, FixedClock(AT), MANAGER, 9, "sold to Buyer Co")
    assert (case.status, case.stage, case.close_reason) == (
        CaseStatus.CLOSED,
        CaseStage.WRITTEN_OFF,
        CloseReason.DEBT_SOLD,
    )
    (moved,) = uow.events
    assert moved.data()["close_reason"] == "DEBT_SOLD"
    assert is_decision(moved.name, moved.data())  # CASE_CLOSED, DEBT_SOLD
    (decided,) = uow.recorded
    assert isinstance(decided, WriteOffDecided) and decided.decision == "DEBT_SOLD"
    # Not written off, already closed, no reason: refused.
    for other, text, code in (
        (a_case(200), "sold", "ILLEGAL_TRANSITION"),
        (a_case(200, CaseStage.WRITTEN_OFF, CaseStatus.CLOSED), "sold", "ILLEGAL_TRANSITION"),
        (a_case(200, CaseStage.WRITTEN_OFF), "", "REASON_REQUIRED"),
    ):
        uow = FakeWriteOffUnitOfWork([other])
        with pytest.raises((InvalidInput, IllegalTransition)) as refused:
            await services.mark_debt_sold(uow.factory, FixedClock(AT), MANAGER, 9, text)
        assert str(refused.value.code) == code
        assert not uow.committed


def test_every_reason_code_is_documented_in_the_enum() -> None:
    assert [str(r) for r in ReasonCode] == [
        "UNCOLLECTIBLE",
        "DECEASED_NO_ESTATE",
        "BANKRUPTCY",
        "STATUTE_BARRED",
        "COST_EXCEEDS_RECOVERY",
        "FRAUD",
        "UNTRACEABLE",
    ]
