"""Promises to pay: which payments count, when a promise is kept, partially kept or broken.

The running example: on 1 June a borrower promises 500.00 CNY by 10 June; with 3 grace days,
payments made from 1 June up to and including 13 June count.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.arrangements.promises import (
    DEFAULT_PROMISE_POLICY,
    PaymentFact,
    Promise,
    PromisePolicy,
    PromiseStatus,
    evaluate,
    new_promise,
    supersede_open,
)
from domain.errors import ErrorCode, InvalidInput

D = Decimal
MADE = date(2026, 6, 1)
DUE = date(2026, 6, 10)
LAST = date(2026, 6, 13)  # due date + 3 grace days: the last day a payment counts
AFTER = date(2026, 6, 14)  # the first day the promise is past its window


def promise(
    amount: str = "500.00",
    *,
    made: date = MADE,
    due: date = DUE,
    status: PromiseStatus = PromiseStatus.OPEN,
    paid: str = "0.00",
    pid: int | None = None,
) -> Promise:
    return Promise(
        case_id=1,
        amount=D(amount),
        currency="CNY",
        due_date=due,
        promised_on=made,
        grace_days=3,
        status=status,
        paid_amount=D(paid),
        id=pid,
    )


def pay(amount: str, on: date, pid: int = 1, reversed: bool = False) -> PaymentFact:
    return PaymentFact(pid, D(amount), on, reversed)


def settle(promises: list[Promise], payments: list[PaymentFact], today: date | None) -> None:
    for change in evaluate(promises, payments, today):
        change.apply()


def outcome(p: Promise) -> tuple[PromiseStatus, Decimal]:
    return p.status, p.paid_amount


# --- the window: promised_on ... due date + grace days -----------------------------------


@pytest.mark.parametrize(
    ("paid_on", "counts"),
    [
        (date(2026, 5, 31), False),  # before the promise was made
        (MADE, True),  # the day it was made
        (DUE, True),
        (LAST, True),  # due date + grace exactly
        (AFTER, False),  # one day after
    ],
)
def test_a_payment_counts_inside_the_window_only(paid_on: date, counts: bool) -> None:
    p = promise()
    settle([p], [pay("500.00", paid_on)], today=AFTER)
    assert outcome(p) == (
        (PromiseStatus.KEPT, D("500.00")) if counts else (PromiseStatus.BROKEN, D("0.00"))
    )


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (None, PromiseStatus.OPEN),
        (MADE, PromiseStatus.OPEN),
        (DUE, PromiseStatus.OPEN),
        (LAST, PromiseStatus.OPEN),  # still in grace
        (AFTER, PromiseStatus.BROKEN),
    ],
)
def test_nothing_paid_is_broken_only_after_the_grace_days(
    today: date | None, status: PromiseStatus
) -> None:
    p = promise()
    settle([p], [], today)
    assert outcome(p) == (status, D("0.00"))


@pytest.mark.parametrize(
    ("amount", "today", "expected"),
    [
        ("500.00", MADE, (PromiseStatus.KEPT, "500.00")),  # kept at once, before the due date
        ("500.01", MADE, (PromiseStatus.KEPT, "500.00")),  # filled at most to its amount
        ("499.99", LAST, (PromiseStatus.OPEN, "499.99")),  # one cent short, still in grace
        ("499.99", AFTER, (PromiseStatus.PARTIALLY_KEPT, "499.99")),
        ("0.01", AFTER, (PromiseStatus.PARTIALLY_KEPT, "0.01")),
    ],
)
def test_paid_in_full_is_kept_at_once_and_one_cent_short_is_not(
    amount: str, today: date, expected: tuple[PromiseStatus, str]
) -> None:
    p = promise()
    settle([p], [pay(amount, date(2026, 6, 5))], today)
    assert outcome(p) == (expected[0], D(expected[1]))


def test_several_payments_add_up() -> None:
    p = promise()
    settle([p], [pay("200.00", date(2026, 6, 2), 1)], today=date(2026, 6, 2))
    assert outcome(p) == (PromiseStatus.OPEN, D("200.00"))
    settle(
        [p],
        [pay("200.00", date(2026, 6, 2), 1), pay("300.00", LAST, 2)],
        today=LAST,
    )
    assert outcome(p) == (PromiseStatus.KEPT, D("500.00"))


# --- reversals and late-posted payments ---------------------------------------------------


def test_a_reversal_reopens_a_kept_promise_inside_its_window() -> None:
    p = promise(status=PromiseStatus.KEPT, paid="500.00")
    settle([p], [pay("500.00", date(2026, 6, 5), reversed=True)], today=DUE)
    assert outcome(p) == (PromiseStatus.OPEN, D("0.00"))


def test_a_reversal_after_the_window_breaks_a_kept_promise() -> None:
    p = promise(status=PromiseStatus.KEPT, paid="500.00")
    settle([p], [pay("500.00", date(2026, 6, 5), reversed=True)], today=AFTER)
    assert outcome(p) == (PromiseStatus.BROKEN, D("0.00"))


def test_a_reversal_of_one_of_two_payments_leaves_it_partially_kept() -> None:
    p = promise(status=PromiseStatus.KEPT, paid="500.00")
    payments = [pay("300.00", date(2026, 6, 3), 1), pay("200.00", date(2026, 6, 4), 2, True)]
    settle([p], payments, today=AFTER)
    assert outcome(p) == (PromiseStatus.PARTIALLY_KEPT, D("300.00"))


def test_a_late_posted_payment_dated_inside_the_window_keeps_a_broken_promise() -> None:
    p = promise(status=PromiseStatus.BROKEN)
    settle([p], [pay("500.00", LAST)], today=date(2026, 6, 20))
    assert outcome(p) == (PromiseStatus.KEPT, D("500.00"))


def test_without_a_date_a_lapsed_promise_stays_lapsed() -> None:
    # The rule cannot tell that a window has passed without today, but a promise already judged
    # lapsed stays so: reversing its only payment turns PARTIALLY_KEPT into BROKEN, not OPEN.
    p = promise(status=PromiseStatus.PARTIALLY_KEPT, paid="100.00")
    settle([p], [pay("100.00", date(2026, 6, 5), reversed=True)], today=None)
    assert outcome(p) == (PromiseStatus.BROKEN, D("0.00"))


# --- several promises ---------------------------------------------------------------------


P2_MADE = date(2026, 6, 6)
P2_DUE = date(2026, 6, 12)  # its window runs to 15 June


@pytest.mark.parametrize("today", [date(2026, 6, 7), None])
def test_an_older_promise_a_reversal_would_reopen_is_superseded_by_the_newer_one(
    today: date | None,
) -> None:
    # P1 (500.00, made 1 June, due 10 June) was KEPT by 500.00 paid on 5 June; P2 (300.00,
    # made 6 June, due 12 June) followed, P1 staying KEPT. The payment bounces on 7 June: P1
    # would be OPEN again next to P2; it is SUPERSEDED (nothing counts toward it any more).
    p1 = promise(status=PromiseStatus.KEPT, paid="500.00", pid=1)
    p2 = promise("300.00", made=P2_MADE, due=P2_DUE, pid=2)
    settle([p2, p1], [pay("500.00", date(2026, 6, 5), reversed=True)], today=today)
    assert outcome(p1) == (PromiseStatus.SUPERSEDED, D("0.00"))
    assert outcome(p2) == (PromiseStatus.OPEN, D("0.00"))


def test_after_its_window_the_older_promise_is_judged_not_superseded() -> None:
    # The same bounce judged on 14 June: P1's window (to 13 June) has passed, so it would not be
    # open: BROKEN. P2's window runs to 15 June: OPEN.
    p1 = promise(status=PromiseStatus.KEPT, paid="500.00", pid=1)
    p2 = promise("300.00", made=P2_MADE, due=P2_DUE, pid=2)
    settle([p1, p2], [pay("500.00", date(2026, 6, 5), reversed=True)], today=AFTER)
    assert outcome(p1) == (PromiseStatus.BROKEN, D("0.00"))
    assert outcome(p2) == (PromiseStatus.OPEN, D("0.00"))


def test_a_superseded_promise_keeps_what_counted_and_a_second_evaluation_changes_nothing() -> None:
    # P1 was KEPT by 300.00 (2 June) and 200.00 (6 June). The 200.00 bounces on 7 June: 300.00
    # still counts toward P1, which would be OPEN: SUPERSEDED with 300.00. P1 out, the payments
    # are shared again: 2 June is before P2 was made, so P2 has 0.00 and stays OPEN.
    p1 = promise(status=PromiseStatus.KEPT, paid="500.00", pid=1)
    p2 = promise("300.00", made=P2_MADE, due=P2_DUE, pid=2)
    payments = [pay("300.00", date(2026, 6, 2), 1), pay("200.00", P2_MADE, 2, reversed=True)]
    settle([p1, p2], payments, today=date(2026, 6, 7))
    assert outcome(p1) == (PromiseStatus.SUPERSEDED, D("300.00"))
    assert outcome(p2) == (PromiseStatus.OPEN, D("0.00"))
    assert evaluate([p1, p2], payments, today=date(2026, 6, 7)) == []


def test_once_the_older_promise_is_out_its_payments_go_to_the_newer_one() -> None:
    # As above, but the 300.00 was paid on 6 June, the day P2 was made: with P1 superseded it
    # counts toward P2 (300.00: KEPT).
    p1 = promise(status=PromiseStatus.KEPT, paid="500.00", pid=1)
    p2 = promise("300.00", made=P2_MADE, due=P2_DUE, pid=2)
    payments = [pay("300.00", P2_MADE, 1), pay("200.00", P2_MADE, 2, reversed=True)]
    changes = evaluate([p1, p2], payments, today=date(2026, 6, 7))
    assert [(c.promise.id, c.status, c.paid_amount) for c in changes] == [
        (1, PromiseStatus.SUPERSEDED, D("300.00")),
        (2, PromiseStatus.KEPT, D("300.00")),
    ]
    for change in changes:
        change.apply()
    assert evaluate([p1, p2], payments, today=date(2026, 6, 7)) == []


def test_a_newer_cancelled_promise_does_not_supersede() -> None:
    p1 = promise(status=PromiseStatus.KEPT, paid="500.00", pid=1)
    p2 = promise("300.00", made=P2_MADE, due=P2_DUE, status=PromiseStatus.CANCELLED, pid=2)
    settle([p1, p2], [pay("500.00", date(2026, 6, 5), reversed=True)], today=date(2026, 6, 7))
    assert outcome(p1) == (PromiseStatus.OPEN, D("0.00"))
    assert p2.status == PromiseStatus.CANCELLED


def test_oldest_payment_fills_the_oldest_promise_first() -> None:
    # A: 300.00 made 1 June, due 10 June. B: 200.00 made 5 June, due 20 June (A was still open
    # in this example's world of two live promises, e.g. after A was kept).
    a = promise("300.00", pid=1)
    b = promise("200.00", made=date(2026, 6, 5), due=date(2026, 6, 20), pid=2)
    # 6 June 400.00: A takes 300.00, B the other 100.00. 15 June 100.00: only B's window holds it.
    payments = [pay("100.00", date(2026, 6, 15), 2), pay("400.00", date(2026, 6, 6), 1)]
    changes = evaluate([b, a], payments, today=date(2026, 6, 15))
    assert [(c.promise.id, c.status, c.paid_amount) for c in changes] == [
        (1, PromiseStatus.KEPT, D("300.00")),
        (2, PromiseStatus.KEPT, D("200.00")),
    ]


def test_a_payment_before_a_newer_promise_counts_only_for_the_older_one() -> None:
    a = promise("300.00", pid=1)
    b = promise("200.00", made=date(2026, 6, 5), due=date(2026, 6, 20), pid=2)
    settle([a, b], [pay("450.00", date(2026, 6, 4))], today=date(2026, 6, 30))
    assert outcome(a) == (PromiseStatus.KEPT, D("300.00"))
    assert outcome(b) == (PromiseStatus.BROKEN, D("0.00"))


@pytest.mark.parametrize("status", [PromiseStatus.SUPERSEDED, PromiseStatus.CANCELLED])
def test_superseded_and_cancelled_promises_are_left_alone(status: PromiseStatus) -> None:
    old = promise(status=status, paid="0.00", pid=1)
    new = promise("500.00", made=date(2026, 6, 5), pid=2)
    changes = evaluate([old, new], [pay("500.00", date(2026, 6, 5))], today=AFTER)
    assert [c.promise.id for c in changes] == [2]
    assert old.status == status


def test_nothing_to_change_returns_no_changes() -> None:
    p = promise(status=PromiseStatus.KEPT, paid="500.00")
    assert evaluate([p], [pay("500.00", DUE)], today=AFTER) == []
    assert evaluate([promise()], [], today=DUE) == []


def test_a_change_remembers_what_it_replaced() -> None:
    p = promise()
    [change] = evaluate([p], [pay("500.00", DUE)], today=DUE)
    assert (change.previous_status, change.previous_paid_amount) == (
        PromiseStatus.OPEN,
        D("0.00"),
    )
    assert p.status == PromiseStatus.OPEN  # evaluate is pure: apply() makes the change
    change.apply()
    assert outcome(p) == (PromiseStatus.KEPT, D("500.00"))


# --- recording ----------------------------------------------------------------------------

TODAY = date(2026, 6, 1)
NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def record(
    amount: str = "500.00",
    currency: str = "CNY",
    due: date = DUE,
    policy: PromisePolicy = DEFAULT_PROMISE_POLICY,
) -> Promise:
    return new_promise(
        case_id=7,
        case_currency="CNY",
        amount=D(amount),
        currency=currency,
        due_date=due,
        today=TODAY,
        at=NOW,
        policy=policy,
        contact_id=3,
        staff_id=4,
        agency_id=5,
    )


def test_a_new_promise_is_open_made_today_with_the_policy_grace() -> None:
    p = record(policy=PromisePolicy(grace_days=5, max_horizon_days=30))
    assert (p.case_id, p.amount, p.currency, p.due_date) == (7, D("500.00"), "CNY", DUE)
    assert (p.promised_on, p.grace_days, p.status, p.paid_amount) == (
        TODAY,
        5,
        PromiseStatus.OPEN,
        D(0),
    )
    assert (p.contact_id, p.staff_id, p.agency_id, p.created_at) == (3, 4, 5, NOW)
    assert p.last_day == date(2026, 6, 15)


@pytest.mark.parametrize(
    ("due", "allowed"),
    [
        (date(2026, 5, 31), False),  # yesterday
        (TODAY, True),
        (date(2026, 7, 1), True),  # today + 30
        (date(2026, 7, 2), False),  # today + 31
    ],
)
def test_the_due_date_runs_from_today_to_the_horizon(due: date, allowed: bool) -> None:
    if allowed:
        assert record(due=due).due_date == due
        return
    with pytest.raises(InvalidInput) as refused:
        record(due=due)
    assert refused.value.code == ErrorCode.PROMISE_DUE_DATE_INVALID
    assert refused.value.field == "dueDate"


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        ("0.00", "CNY", ErrorCode.AMOUNT_NOT_POSITIVE),
        ("-5.00", "CNY", ErrorCode.AMOUNT_NOT_POSITIVE),
        ("0.001", "CNY", ErrorCode.AMOUNT_TOO_PRECISE),
        ("500.00", "USD", ErrorCode.CURRENCY_MISMATCH),
    ],
)
def test_amounts_are_positive_exact_cents_in_the_case_currency(
    amount: str, currency: str, code: ErrorCode
) -> None:
    with pytest.raises(InvalidInput) as refused:
        record(amount, currency)
    assert refused.value.code == code


def test_one_cent_is_a_promise() -> None:
    assert record("0.01").amount == D("0.01")


def test_a_new_promise_supersedes_only_the_open_one() -> None:
    kept = promise(status=PromiseStatus.KEPT, paid="500.00", pid=1)
    broken = promise(status=PromiseStatus.BROKEN, pid=2)
    open_one = promise(pid=3)
    assert supersede_open([kept, broken, open_one]) == [open_one]
    assert [p.status for p in (kept, broken, open_one)] == [
        PromiseStatus.KEPT,
        PromiseStatus.BROKEN,
        PromiseStatus.SUPERSEDED,
    ]


def test_policy_values_cannot_be_negative() -> None:
    with pytest.raises(ValueError):
        PromisePolicy(grace_days=-1)


CLOSED_AT = datetime(2026, 6, 5, 4, 0, tzinfo=UTC)
CLOSED_ON = date(2026, 6, 5)


def test_on_a_closed_case_an_open_promise_is_cancelled_and_the_others_keep_their_status() -> None:
    """The case closed on 5 June: the promise that would stay open (300.00 of 500.00 paid, its
    window not passed) is CANCELLED; a kept one stays KEPT; after its window a promise is still
    judged BROKEN or PARTIALLY_KEPT first (what happened before the closing stands)."""
    open_one = promise(pid=1)
    changes = evaluate([open_one], [pay("300.00", MADE)], MADE, closed_on=CLOSED_ON)
    assert [(c.status, c.paid_amount, c.previous_status) for c in changes] == [
        (PromiseStatus.CANCELLED, D("300.00"), PromiseStatus.OPEN)
    ]
    kept = promise(pid=2)
    assert [
        c.status for c in evaluate([kept], [pay("500.00", MADE)], MADE, closed_on=CLOSED_ON)
    ] == [PromiseStatus.KEPT]
    late = promise(pid=3)
    assert [c.status for c in evaluate([late], [], AFTER, closed_on=CLOSED_ON)] == [
        PromiseStatus.BROKEN
    ]


def test_a_promise_cancelled_by_an_undone_closing_stands_again() -> None:
    """Only the promises cancelled at the closing that was undone come back; one cancelled at
    another instant stays cancelled."""
    by_this = promise(status=PromiseStatus.CANCELLED, paid="300.00", pid=1)
    by_this.resolved_at = CLOSED_AT
    changes = evaluate([by_this], [], MADE, reopened_from=CLOSED_AT)
    assert [(c.status, c.paid_amount, c.previous_status) for c in changes] == [
        (PromiseStatus.OPEN, D("0.00"), PromiseStatus.CANCELLED)
    ]
    by_another = promise(status=PromiseStatus.CANCELLED, pid=2)
    by_another.resolved_at = datetime(2026, 6, 4, tzinfo=UTC)
    assert evaluate([by_another], [], MADE, reopened_from=CLOSED_AT) == []
    assert evaluate([by_this], [], MADE) == []  # without a reopening, cancelled is final


@pytest.mark.parametrize(
    ("closed_on", "today", "status"),
    [
        (LAST, LAST, PromiseStatus.CANCELLED),  # closed on the window's last day: cancelled
        (AFTER, LAST, PromiseStatus.OPEN),  # closed after it, judged on its last day: open still
        (AFTER, AFTER, PromiseStatus.BROKEN),  # and broken once judged the day after
    ],
)
def test_a_promise_whose_window_ended_before_the_closing_is_judged_not_cancelled(
    closed_on: date, today: date, status: PromiseStatus
) -> None:
    changes = evaluate([promise(pid=1)], [], today, closed_on=closed_on)
    assert [c.status for c in changes] == ([] if status is PromiseStatus.OPEN else [status])
