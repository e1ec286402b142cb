"""Demo promises to pay and payments, applied by the domain's own rules.

Payments go through the payment waterfall (``domain.payments.waterfall.apply_payment``, and
``reverse_and_reapply`` for a reversal) in the order they were posted, starting from the debt as it
stood before them; what the waterfall moved is what the allocation rows record, and the debt's
balances and schedule are what it left. Three shapes keep each case's days past due as drawn:

- *partial*: payments toward the oldest unpaid instalment that leave it unpaid (a delinquent
  borrower paying part of what is due, or a current one paying ahead);
- *cure*: the last one or two instalments that fell due were unpaid; the payments cleared them,
  the last one cured the case (CLOSED, CURED);
- *payoff*: every remaining instalment was unpaid, and the payments paid the debt off, the last
  one with a little to spare (CLOSED, PAID_IN_FULL, with an UNAPPLIED credit).

Promises come from the contacts on which they were made and are judged by the domain's rule
(``domain.arrangements.promises.evaluate`` and ``supersede_open``), replayed at each promise's
creation and at the as-of date, so their status and paid amount follow from the payments.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from domain.arrangements.promises import (
    DEFAULT_PROMISE_POLICY,
    PaymentFact,
    Promise,
    PromiseStatus,
    evaluate,
    supersede_open,
)
from domain.debts.model import Debt
from domain.money import Money
from domain.payments.waterfall import (
    Application,
    apply_payment,
    reverse_and_reapply,
    schedule_order,
)
from domain.portfolios import local_date
from store.demo_contacts import Logged, local_at
from store.demo_staff import STAFF_IDS

Row = dict[str, Any]

CENT = Decimal("0.01")
_REVERSAL_REASONS = (
    "Direct debit returned unpaid: insufficient funds.",
    "Payment recalled by the paying bank.",
)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_DOWN)


def _round_amount(value: Decimal) -> Decimal:
    """Rounds down to a whole ten (a promise is a round sum), at least one unit."""
    tens = (value / 10).to_integral_value(rounding=ROUND_DOWN) * 10
    return max(tens, Decimal(1)).quantize(CENT)


@dataclass
class Payment:
    """A payment as the demo makes it; ``application`` is what the waterfall moved."""

    id: int
    paid_at: datetime
    amount: Decimal
    source: str
    posted_by: str | None
    created_at: datetime
    reference: str
    reversed_at: datetime | None = None
    reversal_reason: str | None = None
    application: Application | None = None


@dataclass
class Closing:
    """Payments that cleared a debt's arrears (cure) or paid it off (payoff)."""

    fate: str  # "cured" or "paid"
    days: list[tuple[date, Decimal]]  # (day paid, amount), oldest first; the last one closes
    opened_on: date  # the due date of the oldest instalment they paid
    overpaid: Decimal = Decimal(0)


@dataclass
class MoneyCase:
    """What promises and payments need to know of a case."""

    id: int
    currency: str
    zone: str
    opened_on: date
    latest: datetime  # nothing is paid or posted after this instant
    closed_at: datetime | None = None


@dataclass
class MoneyRows:
    promises: list[Row] = field(default_factory=list)
    payments: list[Row] = field(default_factory=list)
    allocations: list[Row] = field(default_factory=list)
    instalments: list[Row] = field(default_factory=list)
    closed_at: datetime | None = None  # when the closing payment was posted


class Ledger:
    """Builds each case's promises and payments; every random choice comes from ``rng``."""

    def __init__(
        self, rng: random.Random, as_of: date, now: datetime, take: Callable[[str], int]
    ) -> None:
        self.rng, self.as_of, self.now, self.take = rng, as_of, now, take

    # -- closing a case by payments -------------------------------------------------------------

    def closing(self, debt: Debt, fate: str, zone: str) -> Closing:
        """Reopens the instalments that the closing payments paid (the debt as it stood before
        them) and returns those payments. The debt's schedule must have been paid up to a future
        instalment (cure) or to its end (payoff), with at least two instalments past due."""
        rng, as_of = self.rng, self.as_of
        order = schedule_order(debt.instalments)
        future = next(i for i, inst in enumerate(order) if inst.due_date > as_of)
        assert future >= 2 and all(i.is_settled for i in order[:future]), "not a paid schedule"
        first = future - rng.randint(1, 2)
        reopened = order[first:future] if fate == "cured" else order[first:]
        assert fate == "cured" or all(i.is_settled for i in reopened)
        total = sum((i.amount_due for i in reopened), Decimal(0))
        for instalment in reopened:
            instalment.amount_paid = Decimal(0)
        if fate == "cured":  # late, the debt had drawn a penalty and a late fee
            debt.penalty += _cents(total * Decimal("0.02"))
            debt.fee += Decimal("30.00")
        else:  # what was owed was exactly what remained of the schedule
            debt.penalty = _cents(total * Decimal("0.03"))
            debt.fee = Decimal("50.00") if total > 1000 else Decimal(0)
            debt.interest = _cents(total * Decimal("0.08"))
            debt.principal = total - debt.penalty - debt.fee - debt.interest
        closing_day = as_of - timedelta(days=rng.randint(2, 6))
        start = order[future - 1].due_date + timedelta(days=1)
        room = (closing_day - start).days
        assert room >= 1, "no time between the last due date and the closing payment"
        count = rng.choice((0, 1, 1, 2)) if room > 1 else 0
        days = sorted(start + timedelta(days=rng.randrange(room)) for _ in range(count))
        parts = [_cents(total * Decimal(rng.randint(15, 30)) / 100) for _ in days]
        overpaid = (
            rng.choice((Decimal("0.50"), Decimal("1.00"), Decimal("12.30")))
            if fate == "paid"
            else Decimal(0)
        )
        last = total - sum(parts, Decimal(0)) + overpaid
        return Closing(
            fate,
            [*zip(days, parts, strict=True), (closing_day, last)],
            order[first].due_date,
            overpaid,
        )

    # -- promises and payments ------------------------------------------------------------------

    def settle(
        self,
        case: MoneyCase,
        debts: Sequence[Debt],
        contacts: Sequence[Logged],
        closing: Closing | None,
        pays: bool,
        extras: bool = True,
    ) -> MoneyRows:
        """Returns the case's promises and payments and leaves the first debt as they left it.

        ``pays``: whether the borrower pays at all (no payments on written-off or sold cases);
        ``extras``: whether payments may come without a promise (not in a scripted story).
        """
        rng = self.rng
        debt = debts[0]
        order = schedule_order(debt.instalments)
        oldest = next((i for i in order if not i.is_settled), None)
        base = (
            sum((a for _d, a in closing.days), Decimal(0))
            if closing
            else (oldest.unpaid if oldest else Decimal(0))
        )
        promises: list[tuple[Promise, Logged]] = []
        wishes: list[tuple[datetime, Decimal, int | None]] = []  # (paid at, amount, reversed after)
        for entry in contacts:
            plan = entry.plan
            if plan is None or base <= 0:
                continue
            row = entry.row
            made_on = local_date(case.zone, row["at"])
            amount = (
                _cents((closing.days[-1][1] - closing.overpaid) * plan.share)
                if plan.closing and closing
                else _round_amount(base * plan.share)
            )
            promise = Promise(
                case_id=case.id,
                amount=amount,
                currency=case.currency,
                due_date=made_on + timedelta(days=plan.due_in),
                promised_on=made_on,
                grace_days=DEFAULT_PROMISE_POLICY.grace_days,
                contact_id=row["id"],
                staff_id=row["staff_id"],
                agency_id=row["agency_id"],
                created_at=row["completed_at"] or row["at"],
                id=self.take("promises"),
            )
            promises.append((promise, entry))
            if plan.paid > 0 and closing is None and pays:
                wishes.append(
                    (
                        self._daytime(made_on + timedelta(days=plan.pay_after), case.zone),
                        _cents(amount * plan.paid),
                        plan.reversed_after,
                    )
                )
        payments: list[Payment] = []
        if closing is not None:
            for day, amount in closing.days:
                payments.append(
                    self._payment(case, self._daytime(day, case.zone), amount, api=True)
                )
        elif pays and oldest is not None:
            if extras and rng.random() < 0.15:
                for _ in range(rng.randint(1, 2)):
                    first = max(case.opened_on, self.as_of - timedelta(days=60))
                    span = (self.as_of - first).days
                    if span > 0:
                        day = first + timedelta(days=rng.randrange(span))
                        share = Decimal(rng.randint(10, 30)) / 100
                        reverse = rng.randint(2, 5) if rng.random() < 0.08 else None
                        wishes.append(
                            (self._daytime(day, case.zone), _cents(base * share), reverse)
                        )
            room = oldest.unpaid - CENT  # the oldest unpaid instalment stays unpaid: DPD holds
            for paid_at, amount, reversed_after in sorted(wishes, key=lambda w: w[0]):
                take = min(amount, room)
                if take < 1 or paid_at > case.latest or paid_at.date() < case.opened_on:
                    continue
                room -= take
                payment = self._payment(case, paid_at, take, api=False)
                if payment.created_at > case.latest:
                    continue
                if reversed_after is not None:
                    reversed_at = payment.created_at + timedelta(days=reversed_after)
                    if reversed_at <= case.latest:
                        payment.reversed_at = reversed_at
                        payment.reversal_reason = rng.choice(_REVERSAL_REASONS)
                payments.append(payment)
        self._apply(debt, case.currency, payments, closing)
        rows = MoneyRows()
        if closing is not None:
            rows.closed_at = payments[-1].created_at
        self._judge(case, promises, payments, rows.closed_at or case.closed_at, rows)
        for payment in payments:
            self._payment_rows(case, debt, payment, rows)
        return rows

    def _daytime(self, day: date, zone: str) -> datetime:
        return local_at(day, f"{self.rng.randint(9, 19)}:{self.rng.randrange(60):02d}", zone)

    def _payment(self, case: MoneyCase, paid_at: datetime, amount: Decimal, api: bool) -> Payment:
        rng = self.rng
        payment_id = self.take("payments")
        feed = not api and rng.random() < 0.6
        created_at = paid_at + (
            timedelta(hours=6) if feed else timedelta(minutes=rng.randint(1, 30))
        )
        if feed and created_at > case.latest:
            feed, created_at = False, paid_at + timedelta(minutes=1)
        posted_by = None if feed else ("manager" if rng.random() < 0.15 else "core.banking")
        day = local_date(case.zone, paid_at)
        reference = f"CBS{day:%Y%m%d}{payment_id:07d}" if feed else f"TXN-{payment_id:08d}"
        return Payment(
            payment_id,
            paid_at,
            amount,
            "FEED" if feed else "API",
            posted_by,
            created_at,
            reference,
        )

    def _apply(
        self, debt: Debt, currency: str, payments: list[Payment], closing: Closing | None
    ) -> None:
        """Applies the payments (and reversals) in the order they were posted."""
        dpd = debt.days_past_due(self.as_of)
        moves: list[tuple[datetime, int, Payment]] = [(p.created_at, 0, p) for p in payments]
        moves += [(p.reversed_at, 1, p) for p in payments if p.reversed_at is not None]
        standing: list[Payment] = []  # applied and not reversed, in the order posted
        for _at, reverse, payment in sorted(moves, key=lambda m: (m[0], m[1], m[2].id)):
            if reverse:
                # As reversePayment does: the later payments are applied again after it.
                assert payment.application is not None
                later = standing[standing.index(payment) + 1 :]
                redone = reverse_and_reapply(
                    debt, payment.application, [p.application for p in later if p.application]
                )
                for again, application in zip(later, redone, strict=True):
                    again.application = application
                standing.remove(payment)
            else:
                payment.application = apply_payment(debt, Money(payment.amount, currency))
                standing.append(payment)
        unapplied = sum((p.application.unapplied for p in payments if p.application), Decimal(0))
        if closing is None:
            assert debt.days_past_due(self.as_of) == dpd, "payments moved the days past due"
            assert unapplied == 0
        else:
            assert debt.days_past_due(self.as_of) == 0 and unapplied == closing.overpaid
            due = [i for i in debt.instalments if i.due_date <= self.as_of]
            assert all(i.is_settled for i in due), "the closing payments left arrears"
            if closing.fate == "paid":
                assert debt.outstanding.amount == 0
                assert all(i.is_settled for i in debt.instalments)

    def _judge(
        self,
        case: MoneyCase,
        promises: list[tuple[Promise, Logged]],
        payments: list[Payment],
        closed_at: datetime | None,
        rows: MoneyRows,
    ) -> None:
        """Judges the promises as the arrangements service would: at each new promise (which
        supersedes an open one), then on the as-of date."""

        def facts(at: datetime) -> list[PaymentFact]:
            return [
                PaymentFact(
                    p.id,
                    p.amount,
                    local_date(case.zone, p.paid_at),
                    reversed=p.reversed_at is not None and p.reversed_at <= at,
                )
                for p in payments
                if p.created_at <= at
            ]

        live: list[Promise] = []
        resolved: dict[int, datetime] = {}
        for promise, _entry in promises:
            assert promise.created_at is not None
            at = promise.created_at
            for change in evaluate(live, facts(at), local_date(case.zone, at)):
                change.apply()
            for old in supersede_open(live):
                resolved[id(old)] = at
            live.append(promise)
        for change in evaluate(live, facts(self.now), self.as_of):
            change.apply()
        for promise, _entry in promises:
            assert promise.created_at is not None
            status = promise.status
            if status is PromiseStatus.OPEN and closed_at is not None:
                promise.status = status = PromiseStatus.CANCELLED
                resolved[id(promise)] = closed_at
            if status is PromiseStatus.KEPT:
                counted = [
                    p.created_at
                    for p in payments
                    if p.reversed_at is None and promise.counts(local_date(case.zone, p.paid_at))
                ]
                resolved[id(promise)] = max([promise.created_at, *counted])
            elif status in (PromiseStatus.BROKEN, PromiseStatus.PARTIALLY_KEPT):
                judged = local_at(promise.last_day + timedelta(days=1), "00:30", case.zone)
                resolved[id(promise)] = max(promise.created_at, min(judged, self.now))
            rows.promises.append(
                {
                    "id": promise.id,
                    "case_id": case.id,
                    "contact_id": promise.contact_id,
                    "staff_id": promise.staff_id,
                    "agency_id": promise.agency_id,
                    "amount": promise.amount,
                    "currency": promise.currency,
                    "promised_on": promise.promised_on,
                    "due_date": promise.due_date,
                    "grace_days": promise.grace_days,
                    "status": status.value,
                    "paid_amount": promise.paid_amount,
                    "created_at": promise.created_at,
                    "resolved_at": resolved.get(id(promise)),
                    "version": 1 if status is PromiseStatus.OPEN and not promise.paid_amount else 2,
                }
            )

    def _payment_rows(self, case: MoneyCase, debt: Debt, payment: Payment, rows: MoneyRows) -> None:
        application = payment.application
        assert application is not None and debt.id is not None
        reversed_by = STAFF_IDS["core.banking"] if payment.reversed_at else None
        rows.payments.append(
            {
                "id": payment.id,
                "case_id": case.id,
                "debt_id": debt.id,
                "amount": payment.amount,
                "currency": case.currency,
                "paid_at": payment.paid_at,
                "reference": payment.reference,
                "source": payment.source,
                "posted_by": STAFF_IDS[payment.posted_by] if payment.posted_by else None,
                "created_at": payment.created_at,
                "reversed": payment.reversed_at is not None,
                "reversed_at": payment.reversed_at,
                "reversed_by": reversed_by,
                "reversal_reason": payment.reversal_reason,
                "version": 2 if payment.reversed_at else 1,
            }
        )
        for component in application.components:
            rows.allocations.append(
                {
                    "id": self.take("payment_allocations"),
                    "payment_id": payment.id,
                    "component": component.component.value,
                    "amount": component.amount,
                }
            )
        for credit in application.instalments:
            rows.instalments.append(
                {
                    "id": self.take("payment_instalments"),
                    "payment_id": payment.id,
                    "instalment_id": credit.instalment_id,
                    "amount": credit.amount,
                }
            )
