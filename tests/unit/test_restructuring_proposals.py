"""The terms of a proposal at their boundaries: a settlement's amount and date, a waiver's
amount against the penalty, a plan's schedule adding up exactly (the difference named), and
how a waiver is taken off the debts' penalties (oldest debt first)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.errors import DomainError, ErrorCode
from domain.restructuring.errors import WaiverInvalid
from domain.restructuring.model import RestructuringKind as K
from domain.restructuring.policy import DEFAULT_POLICY
from domain.restructuring.proposals import (
    Proposal,
    ProposedInstalment,
    Terms,
    check_terms,
    penalty_waived,
)

D = Decimal
TODAY = date(2026, 11, 27)
BALANCE, PENALTY = D("20970.50"), D("120.50")


def terms(proposal: Proposal) -> Terms:
    return check_terms(
        proposal, balance=BALANCE, penalty=PENALTY, currency="CNY", today=TODAY,
        policy=DEFAULT_POLICY,
    )  # fmt: skip


def refused(proposal: Proposal) -> tuple[ErrorCode, str | None, str]:
    with pytest.raises(DomainError) as caught:
        terms(proposal)
    return caught.value.code, caught.value.field, caught.value.message


def day(n: int) -> date:
    return TODAY + timedelta(days=n)


def plan(*amounts: str, waiver: str | None = None, days: int = 30) -> Proposal:
    instalments = tuple(
        ProposedInstalment(day(days * (i + 1)), D(a)) for i, a in enumerate(amounts)
    )
    return Proposal(K.INSTALMENT_PLAN, waiver_amount=D(waiver) if waiver else None,
                    instalments=instalments)  # fmt: skip


def test_a_settlement_just_below_the_balance_by_tomorrow_is_a_discount() -> None:
    made = terms(Proposal(K.SETTLEMENT, settlement_amount=D("20970.49"), settle_by=day(1)))
    assert (made.concession, made.settlement_amount, made.settle_by) == (
        D("0.01"), D("20970.49"), day(1),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("amount", "settle_by", "field"),
    [
        ("20970.50", 1, "settlementAmount"),  # the whole balance: no discount
        ("0.00", 1, "settlementAmount"),
        ("-1.00", 1, "settlementAmount"),
        ("1000.00", 0, "settleBy"),  # today is not in the future
    ],
)
def test_settlement_refusals(amount: str, settle_by: int, field: str) -> None:
    code, at, _ = refused(
        Proposal(K.SETTLEMENT, settlement_amount=D(amount), settle_by=day(settle_by))
    )
    assert (code, at) == (ErrorCode.SETTLEMENT_INVALID, field)


def test_amounts_are_exact_and_in_the_cases_currency() -> None:
    precise = Proposal(K.SETTLEMENT, settlement_amount=D("1000.001"), settle_by=day(1))
    assert refused(precise)[:2] == (ErrorCode.AMOUNT_TOO_PRECISE, "settlementAmount")
    usd = Proposal(K.SETTLEMENT, settlement_amount=D("1000"), settle_by=day(1), currency="USD")
    assert refused(usd)[:2] == (ErrorCode.CURRENCY_MISMATCH, "currency")


@pytest.mark.parametrize(("amount", "ok"), [("120.50", True), ("120.51", False),
                                             ("0.01", True), ("0.00", False)])  # fmt: skip
def test_a_waiver_is_at_most_the_outstanding_penalty(amount: str, ok: bool) -> None:
    proposal = Proposal(K.PENALTY_WAIVER, waiver_amount=D(amount))
    if ok:
        assert terms(proposal).concession == D(amount)
    else:
        assert refused(proposal)[:2] == (ErrorCode.WAIVER_INVALID, "waiverAmount")


def test_a_plan_adds_up_exactly_line_by_line() -> None:
    made = terms(plan("7000.00", "7000.00", "6850.00", waiver="120.50"))
    assert (made.replaced_amount, made.waiver_amount, made.capitalised_interest, made.total) == (
        BALANCE, PENALTY, D("0.00"), D("20850.00"),
    )  # fmt: skip
    assert made.concession == PENALTY
    assert [(i.sequence, i.amount) for i in made.instalments] == [
        (1, D("7000.00")), (2, D("7000.00")), (3, D("6850.00")),
    ]  # fmt: skip
    without = terms(plan("20970.50"))
    assert (without.concession, without.total) == (D("0.00"), BALANCE)


@pytest.mark.parametrize(
    ("amounts", "fragment"),
    [
        (("7000.00", "7000.00", "6849.99"), "0.01 CNY short of"),
        (("7000.00", "7000.00", "6850.01"), "0.01 CNY over"),
    ],
)
def test_a_plan_a_cent_off_is_refused_naming_the_difference(
    amounts: tuple[str, ...], fragment: str
) -> None:
    code, field, message = refused(plan(*amounts, waiver="120.50"))
    assert (code, field) == (ErrorCode.PLAN_INVALID, "instalments")
    assert fragment in message
    assert "replaced 20970.50 CNY − waiver 120.50 CNY + capitalised interest 0.00 CNY" in message


def test_plan_schedule_refusals() -> None:
    assert refused(plan())[:2] == (ErrorCode.PLAN_INVALID, "instalments")
    today = Proposal(K.INSTALMENT_PLAN, instalments=(ProposedInstalment(TODAY, BALANCE),))
    assert refused(today)[:2] == (ErrorCode.PLAN_INVALID, "instalments[0].dueDate")
    same = Proposal(
        K.INSTALMENT_PLAN,
        instalments=(ProposedInstalment(day(5), D("1.00")), ProposedInstalment(day(5), D("2"))),
    )
    assert refused(same)[:2] == (ErrorCode.PLAN_INVALID, "instalments[1].dueDate")
    zero = Proposal(K.INSTALMENT_PLAN, instalments=(ProposedInstalment(day(5), D("0")),))
    assert refused(zero)[:2] == (ErrorCode.PLAN_INVALID, "instalments[0].amount")
    many = plan(*(["1.00"] * (DEFAULT_POLICY.max_instalments + 1)), days=1)
    assert refused(many)[:2] == (ErrorCode.PLAN_INVALID, "instalments")
    settled = Proposal(K.INSTALMENT_PLAN, settlement_amount=D("1"),
                       instalments=plan("20970.50").instalments)  # fmt: skip
    assert refused(settled)[:2] == (ErrorCode.PLAN_INVALID, "settlementAmount")


def test_a_waiver_comes_off_the_oldest_debts_penalty_first() -> None:
    assert penalty_waived([(1, D("100.00")), (2, D("50.00"))], D("120.00")) == [
        (1, D("100.00")), (2, D("20.00")),
    ]  # fmt: skip
    assert penalty_waived([(1, D("0.00")), (2, D("50.00"))], D("50.00")) == [(2, D("50.00"))]
    with pytest.raises(WaiverInvalid):
        penalty_waived([(1, D("10.00"))], D("10.01"))


@pytest.mark.parametrize("text", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_nan_and_infinities_are_refused_with_the_kinds_code(text: str) -> None:
    odd = D(text)
    cases = (
        (Proposal(K.PENALTY_WAIVER, waiver_amount=odd), ErrorCode.WAIVER_INVALID, "waiverAmount"),
        (Proposal(K.SETTLEMENT, settlement_amount=odd, settle_by=day(1)),
         ErrorCode.SETTLEMENT_INVALID, "settlementAmount"),
        (Proposal(K.INSTALMENT_PLAN, instalments=(ProposedInstalment(day(30), odd),)),
         ErrorCode.PLAN_INVALID, "instalments[0].amount"),
        (plan("20850.00", waiver=text), ErrorCode.WAIVER_INVALID, "waiverAmount"),
    )  # fmt: skip
    for proposal, code, field in cases:
        assert refused(proposal)[:2] == (code, field), proposal
