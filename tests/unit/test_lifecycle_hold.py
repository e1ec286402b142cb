"""A case on hold that a payment cures, and whose curing payment is then reversed, goes back to
its hold — never straight back to collection work (the complaint or dispute still stands)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from domain.cases.model import Case, CaseStage, CaseStatus
from domain.lifecycle.moves import after_balance_change, facts_of, move
from domain.lifecycle.table import CloseReason, Trigger

AT = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
TODAY = date(2026, 11, 29)


def _case(status: CaseStatus, dpd: int) -> Case:
    return Case(
        reference="C-1",
        borrower_id=1,
        portfolio="retail",
        currency="CNY",
        opened_on=date(2026, 9, 1),
        status=status,
        stage=CaseStage.COLLECTION,
        days_past_due=dpd,
        outstanding_amount=Decimal("500.00"),
        id=1,
    )


def _cure_then_default(status: CaseStatus) -> Case:
    case = _case(status, dpd=31)
    case.days_past_due = 0
    assert after_balance_change(case, 31, TODAY, AT, None) is Trigger.CURE
    assert (case.status, case.close_reason) == (CaseStatus.CLOSED, CloseReason.CURED)
    case.days_past_due = 31
    assert (
        after_balance_change(case, 0, TODAY, AT, None, closing_payment_reversed=True)
        is Trigger.REOPEN
    )
    return case


def test_a_case_cured_while_on_hold_reopens_on_hold() -> None:
    case = _cure_then_default(CaseStatus.ON_HOLD)
    assert case.status is CaseStatus.ON_HOLD
    assert case.closed_while_held is False
    assert case.events[-1].data()["to_status"] == "ON_HOLD"


def test_a_case_cured_while_open_reopens_open() -> None:
    case = _cure_then_default(CaseStatus.OPEN)
    assert case.status is CaseStatus.OPEN
    assert case.events[-1].data()["to_status"] == "OPEN"


def test_any_closing_remembers_the_hold() -> None:
    case = _case(CaseStatus.ON_HOLD, dpd=0)
    move(case, Trigger.CLOSE, facts_of(case, TODAY), AT, None, reason=CloseReason.DEBT_SOLD)
    assert case.closed_while_held is True
    assert facts_of(case, TODAY).held_when_closed is True
