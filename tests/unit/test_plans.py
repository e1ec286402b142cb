"""Plans and settlements in effect: the pure rule at its boundaries (what counts, instalments
covered oldest first, payments in a row by due date plus grace, a settlement paid by its last
day, probation at N-1 and N), and the payment path through the arrangements service with fakes
(no cure on probation, pay in full never blocked, a settlement closing its case as SETTLED with
its discount recorded — never a payment — and a reversal reopening it).

The clock stands at 1 June 2026, 12:00 in Shanghai (04:00 UTC)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.cases.classification import DEFAULT_POLICY
from domain.cases.model import Case, CaseStatus
from domain.clock import FixedClock
from domain.debts.model import Debt, DebtStatus, Instalment, ProductType
from domain.lifecycle.moves import facts_of
from domain.lifecycle.table import Trigger, guards_hold
from domain.payments import services
from domain.restructuring import execution, plans
from domain.restructuring.plan_events import summary
from domain.restructuring.plans import InEffect, PlanInstalment, PlanPayment
from tests.unit.money_fakes import FakeMoneyUnitOfWork

D = Decimal
NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
TODAY = date(2026, 6, 1)
APPROVED = NOW - timedelta(days=45)


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def pay(amount: str, offset: int, pid: int = 0, *, reversed_: bool = False) -> PlanPayment:
    """A payment made at noon Shanghai time (04:00 UTC) ``offset`` days from today."""
    return PlanPayment(pid or None, D(amount), NOW + timedelta(days=offset), day(offset), reversed_)


def plan(*lines: tuple[int, str], grace: int = 0, **fields: object) -> InEffect:
    values: dict[str, object] = {
        "id": 1,
        "case_id": 1,
        "kind": plans.PLAN,
        "status": plans.ACTIVE,
        "currency": "CNY",
        "approved_at": APPROVED,
        "grace_days": grace,
        "balance": D("3000.00"),
        "concession": D("0.00"),
        "previous_stage": "EARLY",
        "instalments": tuple(
            PlanInstalment(n, day(offset), D(amount)) for n, (offset, amount) in enumerate(lines, 1)
        ),
    }
    values.update(fields)
    return InEffect(**values)  # type: ignore[arg-type]


def settlement(amount: str = "1800.00", by: int = 10, grace: int = 2, **fields: object) -> InEffect:
    return plan(
        grace=grace,
        kind=plans.SETTLEMENT,
        settlement_amount=D(amount),
        settle_by=day(by),
        concession=D("3000.00") - D(amount),
        **fields,
    )


# ---- the rule -----------------------------------------------------------------------------------


def test_instalments_are_covered_oldest_first_partial_full_and_ahead() -> None:
    three = plan((-30, "400.00"), (-20, "300.00"), (0, "300.00"))
    partial = plans.evaluate(three, [pay("250.00", -31, 1)])
    assert partial is not None
    assert [(i.amount_paid, i.paid_on) for i in partial.instalments] == [
        (D("250.00"), None),
        (D(0), None),
        (D(0), None),
    ]
    assert (partial.paid_amount, partial.payments_in_row, partial.status) == (
        D("250.00"),
        0,
        "ACTIVE",
    )
    # The rest of the first, then the second in full and 50.00 of the third ahead.
    ahead = plans.evaluate(three, [pay("250.00", -31, 1), pay("500.00", -25, 2)])
    assert ahead is not None
    assert [(i.amount_paid, i.paid_on) for i in ahead.instalments] == [
        (D("400.00"), day(-25)),
        (D("300.00"), day(-25)),
        (D("50.00"), None),
    ]
    # The first was completed 5 days late (grace 0): the streak starts again with the second,
    # paid ahead of its due date (1 in a row).
    assert ahead.payments_in_row == 1 and ahead.changed


@pytest.mark.parametrize(("paid_offset", "in_row"), [(-27, 3), (-28, 3), (-26, 1)])
def test_a_payment_on_the_last_day_of_grace_counts_in_a_row_the_day_after_does_not(
    paid_offset: int, in_row: int
) -> None:
    # Second instalment due day -30 with 3 days of grace: its last day is -27.
    three = plan((-40, "100.00"), (-30, "100.00"), (-20, "100.00"), grace=3)
    facts = [pay("100.00", -40, 1), pay("100.00", paid_offset, 2), pay("100.00", -20, 3)]
    evaluation = plans.evaluate(three, facts)
    assert evaluation is not None
    assert evaluation.payments_in_row == in_row
    assert evaluation.status == "COMPLETED"  # paid, late or not: the plan is completed


def test_what_counts_is_not_reversed_and_made_at_or_after_approval() -> None:
    one = plan((0, "100.00"))
    before = PlanPayment(1, D("100.00"), APPROVED - timedelta(microseconds=1), day(-45))
    at = PlanPayment(2, D("100.00"), APPROVED, day(-45))
    assert plans.counted(one, [before]) == []
    assert plans.counted(one, [at]) == [at]
    assert plans.counted(one, [replace(at, reversed=True)]) == []


def test_a_reversal_takes_a_completed_plan_back_to_active() -> None:
    paid = plan((-10, "100.00"), (0, "100.00"), status=plans.COMPLETED, payments_in_row=2)
    evaluation = plans.evaluate(paid, [pay("100.00", -10, 1), pay("100.00", -1, 2, reversed_=True)])
    assert evaluation is not None and evaluation.reinstated and not evaluation.completed
    assert (evaluation.status, evaluation.payments_in_row, evaluation.paid_amount) == (
        "ACTIVE",
        1,
        D("100.00"),
    )


@pytest.mark.parametrize(
    ("amounts", "offset", "status"),
    [
        (("1000.00", "800.00"), 12, "COMPLETED"),  # settle_by + grace: the last day
        (("1000.00", "799.99"), 0, "ACTIVE"),  # one cent short
        (("1000.00", "800.00"), 13, "ACTIVE"),  # the day after: it does not count
    ],
)
def test_a_settlement_is_paid_by_its_last_day(
    amounts: tuple[str, str], offset: int, status: str
) -> None:
    facts = [pay(amounts[0], -1, 1), pay(amounts[1], offset, 2)]
    evaluation = plans.evaluate(settlement(), facts)
    assert evaluation is not None and evaluation.status == status


def test_a_broken_or_other_restructuring_is_not_evaluated() -> None:
    assert plans.evaluate(plan((0, "1.00"), status=plans.BROKEN), [pay("1.00", -1, 1)]) is None
    waiver = plan((0, "1.00"), kind="PENALTY_WAIVER", status="APPROVED")
    assert plans.evaluate(waiver, [pay("1.00", -1, 1)]) is None


@pytest.mark.parametrize(("in_row", "probation"), [(2, True), (3, False)])
def test_probation_until_the_configured_payments_in_a_row(in_row: int, probation: bool) -> None:
    needed = plans.payments_in_row_needed()
    assert needed == 3
    assert plans.on_probation(plans.PLAN, plans.ACTIVE, in_row, needed) is probation
    # A settlement in effect: its case closes as SETTLED once paid, not as cured on the way.
    assert plans.on_probation(plans.SETTLEMENT, plans.ACTIVE, 0, needed) is True
    assert plans.on_probation(plans.SETTLEMENT, plans.COMPLETED, 0, needed) is False
    assert plans.on_probation(plans.PLAN, plans.COMPLETED, 0, needed) is False
    with pytest.raises(ValueError):
        plans.payments_in_row_needed(0)


def test_summaries_tell_the_events_apart_by_their_keys() -> None:
    assert summary(
        {"kind": "SETTLEMENT", "currency": "CNY", "paid": "1800.00", "discount": "1200.00"}
    ) == ("SETTLEMENT paid in full: 1800.00 CNY paid, 1200.00 CNY discount")
    broken = {
        "kind": "INSTALMENT_PLAN",
        "currency": "CNY",
        "paid_amount": "0.00",
        "broken_on": "2026-06-02",
    }
    assert summary(broken) is not None and "broken on 2026-06-02" in str(summary(broken))
    assert summary({"status": "PROPOSED", "kind": "SETTLEMENT"}) is None


# ---- the payment path ---------------------------------------------------------------------------


def make_case(principal: str = "3000.00") -> Case:
    """Case 1, debt 10: 1000.00 due 40 days ago (DPD 40), 1000.00 in 20 and in 50 days."""
    debt = Debt(
        "ACC-10",
        ProductType.CONSUMER_LOAN,
        "CNY",
        principal=D(principal),
        interest=D("0.00"),
        penalty=D("0.00"),
        fee=D("0.00"),
        opened_on=date(2025, 1, 1),
        instalments=[
            Instalment(n, day(offset), D("1000.00"), D("0.00"), id=100 + n)
            for n, offset in enumerate((-40, 20, 50), 1)
        ],
        case_id=1,
        id=10,
    )
    case = Case("AR-1", 5, "retail", "CNY", date(2025, 1, 1), id=1, debts=[debt])
    case.reclassify(DEFAULT_POLICY, TODAY, NOW - timedelta(days=1))
    case.events.clear()
    return case


def request(amount: str, offset: int, ref: str) -> services.PaymentRequest:
    return services.PaymentRequest(10, None, D(amount), "CNY", NOW + timedelta(days=offset), ref, 9)


async def post(uow: FakeMoneyUnitOfWork, amount: str, offset: int, ref: str) -> int:
    result = await services.post_payment(uow.factory, FixedClock(NOW), request(amount, offset, ref))
    assert result.payment.id is not None
    return result.payment.id


@pytest.mark.parametrize(("needed", "cured"), [(4, False), (3, True)])
async def test_the_payment_that_clears_the_arrears_cures_only_after_n_plan_payments_in_a_row(
    needed: int, cured: bool
) -> None:
    case = make_case()
    uow = FakeMoneyUnitOfWork([case])
    uow.plans.needed = needed
    uow.plans.put(plan((-30, "400.00"), (-20, "300.00"), (0, "300.00"), (30, "2000.00")))
    await post(uow, "400.00", -31, "P1")
    await post(uow, "300.00", -21, "P2")
    assert CaseStatus(case.status) is CaseStatus.OPEN and case.days_past_due == 40
    await post(uow, "300.00", -1, "P3")  # the core's first instalment is paid: DPD 0
    assert case.days_past_due == 0
    stored = await uow.plans.current(1)
    assert stored is not None and stored.payments_in_row == 3
    assert (CaseStatus(case.status) is CaseStatus.CLOSED) is cured
    assert case.close_reason == ("CURED" if cured else None)
    counted = [e for e in uow.events if e.name == "PlanPaymentCounted"]
    assert [e.data()["payments_in_row"] for e in counted] == [1, 2, 3]


async def test_pay_in_full_is_never_blocked_by_probation() -> None:
    case = make_case()
    uow = FakeMoneyUnitOfWork([case])
    uow.plans.put(plan((-30, "1000.00"), (0, "2000.00")))
    await post(uow, "3000.00", -1, "ALL")
    assert (case.status, case.close_reason) == ("CLOSED", "PAID_IN_FULL")
    stored = await uow.plans.current(1)
    # The first instalment was paid late, the second on time: 1 in a row.
    assert stored is not None and stored.status == "COMPLETED" and stored.payments_in_row == 1
    assert [e.data()["kind"] for e in uow.events if e.name == "RestructuringCompleted"] == [
        "INSTALMENT_PLAN"
    ]


async def test_a_paid_settlement_closes_the_case_as_settled_and_a_reversal_reopens_it() -> None:
    case = make_case()
    uow = FakeMoneyUnitOfWork([case])
    uow.plans.put(settlement("1800.00", by=10, approved_at=NOW - timedelta(days=3)))
    await post(uow, "1000.00", -2, "S1")
    assert CaseStatus(case.status) is CaseStatus.OPEN
    second = await post(uow, "800.00", -1, "S2")
    assert (case.status, case.close_reason) == ("CLOSED", "SETTLED")
    assert [d.status for d in case.debts] == [DebtStatus.SETTLED]
    assert case.outstanding_amount == D("1200.00")  # owed still: the discount, not paid
    assert len(uow.payments.by_id) == 2  # no payment for the discount
    stored = await uow.plans.current(1)
    assert stored is not None
    assert (stored.status, stored.paid_amount, stored.concession) == (
        "COMPLETED",
        D("1800.00"),
        D("1200.00"),
    )
    (completed,) = [e for e in uow.events if e.name == "RestructuringCompleted"]
    assert completed.data() == {
        "restructuring_id": 1,
        "kind": "SETTLEMENT",
        "paid": "1800.00",
        "discount": "1200.00",
        "currency": "CNY",
        "settled_debts": {"10": "DELINQUENT"},
        "written_off_debts": 0,
    }
    await services.reverse_payment(uow.factory, FixedClock(NOW), second, "bounced", 9)
    assert (case.status, case.close_reason, case.stage) == ("OPEN", None, "EARLY")
    assert [d.status for d in case.debts] == [DebtStatus.DELINQUENT]
    assert case.days_past_due == 0  # the 1000.00 left pays the core's overdue instalment
    stored = await uow.plans.current(1)
    assert stored is not None
    assert (stored.status, stored.paid_amount, stored.concession) == (
        "ACTIVE",
        D("1000.00"),
        D("1200.00"),
    )
    reopened = [e for e in uow.events if e.name == "CaseTransitioned"]
    assert [e.data()["trigger"] for e in reopened] == ["SETTLE", "UNSETTLE"]


async def test_reversing_the_first_settlement_payment_reopens_the_settled_case_too() -> None:
    case = make_case()
    uow = FakeMoneyUnitOfWork([case])
    uow.plans.put(settlement("1800.00", by=10, approved_at=NOW - timedelta(days=3)))
    first = await post(uow, "1000.00", -2, "S1")
    await post(uow, "800.00", -1, "S2")
    assert case.close_reason == "SETTLED"
    await services.reverse_payment(uow.factory, FixedClock(NOW), first, "bounced", 9)
    assert (case.status, case.close_reason) == ("OPEN", None)
    stored = await uow.plans.current(1)
    assert stored is not None and stored.status == "ACTIVE"


async def test_the_payment_that_ends_the_probation_cures_a_case_cleared_meanwhile() -> None:
    case = make_case()
    uow = FakeMoneyUnitOfWork([case])
    uow.plans.put(plan((-30, "400.00"), (-20, "600.00"), (0, "100.00"), (30, "1900.00")))
    await post(uow, "400.00", -31, "P1")
    await post(uow, "600.00", -21, "P2")  # the core's arrears are cleared: 2 in a row, no cure
    assert (case.status, case.days_past_due) == ("OPEN", 0)
    await post(uow, "100.00", -1, "P3")  # the third in a row: the probation ends
    assert (case.status, case.close_reason) == ("CLOSED", "CURED")


# ---- a settlement settles what it covers; lateness as of a date; the streak -------------------


async def test_a_settlement_settles_only_its_debts_and_discounts_only_the_concession() -> None:
    """Its debts are recorded at its first evaluation; a loan in arrears that joins the case
    afterwards stays owed (the case stays OPEN), interest accrued since is not discounted."""
    case = make_case()
    uow = FakeMoneyUnitOfWork([case])
    uow.plans.put(settlement("1800.00", by=10, approved_at=NOW - timedelta(days=3)))
    await post(uow, "1000.00", -2, "S1")
    stored = await uow.plans.current(1)
    assert stored is not None and stored.debt_ids == (10,)
    case.debts[0].interest += D("50.00")  # accrued since the approval
    later = Debt(
        "ACC-11",
        ProductType.CONSUMER_LOAN,
        "CNY",
        principal=D("500.00"),
        interest=D("0.00"),
        penalty=D("0.00"),
        fee=D("0.00"),
        opened_on=date(2026, 1, 1),
        instalments=[Instalment(1, day(-5), D("500.00"), D("0.00"), id=201)],
        case_id=1,
        id=11,
    )
    case.debts.append(later)
    second = await post(uow, "800.00", -1, "S2")
    assert [d.status for d in case.debts] == [DebtStatus.SETTLED, DebtStatus.DELINQUENT]
    assert (case.status, case.close_reason) == ("OPEN", None)  # the new loan is in arrears
    (completed,) = [e for e in uow.events if e.name == "RestructuringCompleted"]
    assert completed.data()["discount"] == "1200.00"  # the concession approved, not 1250.00
    assert completed.data()["settled_debts"] == {"10": "DELINQUENT"}
    stored = await uow.plans.current(1)
    assert stored is not None and stored.concession == D("1200.00")
    await services.reverse_payment(uow.factory, FixedClock(NOW), second, "bounced", 9)
    assert [d.status for d in case.debts] == [DebtStatus.DELINQUENT, DebtStatus.DELINQUENT]


@pytest.mark.parametrize("kept", [DebtStatus.WRITTEN_OFF, DebtStatus.RESTRUCTURED])
async def test_a_reversal_gives_the_settled_debts_back_the_status_they_had(
    kept: DebtStatus,
) -> None:
    case = make_case()
    case.debts[0].status = kept
    uow = FakeMoneyUnitOfWork([case])
    uow.plans.put(settlement("1800.00", by=10, approved_at=NOW - timedelta(days=3)))
    await post(uow, "1000.00", -2, "S1")
    second = await post(uow, "800.00", -1, "S2")
    # SETTLED whatever it was; one written off is counted (a recovery settlement).
    assert case.debts[0].status == DebtStatus.SETTLED
    (completed,) = [e for e in uow.events if e.name == "RestructuringCompleted"]
    assert completed.data()["settled_debts"] == {"10": kept.value}
    assert completed.data()["written_off_debts"] == (1 if kept is DebtStatus.WRITTEN_OFF else 0)
    told = summary(completed.data())
    assert told is not None and told.startswith("SETTLEMENT paid in full: 1800.00 CNY paid")
    recovery = "; a recovery: 1 written-off debt(s) settled"
    assert told.endswith(recovery) is (kept is DebtStatus.WRITTEN_OFF)
    assert case.close_reason == "SETTLED"
    await services.reverse_payment(uow.factory, FixedClock(NOW), second, "bounced", 9)
    assert case.debts[0].status == kept
    assert (case.status, case.close_reason) == ("OPEN", None)


@pytest.mark.parametrize(
    ("paid_offset", "as_of", "broken"),
    [
        (None, 2, False),  # due day 0, 2 days of grace: day 2 is its last day, not yet broken
        (None, 3, True),  # the day after its last day, unpaid: broken
        (2, 10, False),  # paid on its last day
        (3, 10, True),  # paid the day after its last day, before the run: still broken on 10
        (3, 3, True),  # a catch-up run for day 3 made after the payment: broken on 3
    ],
)
def test_a_plan_lapses_on_the_day_after_an_instalments_last_day_unless_paid_by_then(
    paid_offset: int | None, as_of: int, broken: bool
) -> None:
    one = plan((0, "100.00"), (30, "100.00"), grace=2)
    facts = [] if paid_offset is None else [pay("100.00", paid_offset, 1)]
    evaluation = plans.evaluate(one, facts)
    assert evaluation is not None
    assert plans.lapsed(evaluation.after, day(as_of)) is broken
    assert plans.in_effect(evaluation.after, day(as_of)) is not broken


async def test_the_payment_path_says_whether_a_plan_is_in_effect_for_the_escalation_guard() -> None:
    case = make_case()
    uow = FakeMoneyUnitOfWork([case])
    uow.plans.put(plan((-30, "400.00"), (5, "600.00")))
    await post(uow, "400.00", -31, "P1")
    standing = await execution.reevaluate_in_effect(uow, case, TODAY, NOW, None)
    assert (standing.plan_in_effect, standing.cure_held) == (True, True)
    facts = facts_of(case, TODAY, plan_in_effect=standing.plan_in_effect)
    assert not guards_hold(Trigger.ESCALATE, replace(facts, days_past_due=40))
    lapsed = await execution.reevaluate_in_effect(uow, case, day(6), NOW, None)
    assert lapsed.plan_in_effect is False  # its second instalment's last day has passed


def test_a_settlement_lapses_after_its_last_day_when_short() -> None:
    short = replace(settlement("1800.00", by=10, grace=2), paid_amount=D("1799.99"))
    assert plans.lapsed(short, day(12)) is False
    assert plans.lapsed(short, day(13)) is True
    assert plans.lapsed(replace(short, paid_amount=D("1800.00")), day(13)) is False
    assert plans.lapsed(replace(short, status=plans.BROKEN), day(13)) is False


@pytest.mark.parametrize(
    ("paid", "in_row"),
    [
        ((-40, -30, -20, -10), 4),  # all on time
        ((-35, -30, -20, -10), 3),  # the first late: the streak starts again from the second
        ((-40, -25, -20, -10), 2),  # the second late: the last two
        ((-40, -30, -20, -5), 0),  # the last late: none in a row now
        ((-40, -30, -20), 3),  # the fourth not paid yet (not due): three in a row
    ],
)
def test_payments_in_row_is_the_streak_of_the_most_recent_on_time_payments(
    paid: tuple[int, ...], in_row: int
) -> None:
    four = plan((-40, "100.00"), (-30, "100.00"), (-20, "100.00"), (-10, "100.00"))
    facts = [pay("100.00", offset, n) for n, offset in enumerate(paid, 1)]
    evaluation = plans.evaluate(four, facts)
    assert evaluation is not None and evaluation.payments_in_row == in_row
