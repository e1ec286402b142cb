"""Plans and settlements in effect: what counts toward an approved restructuring, when a plan is
paid or a settlement paid in full, and how many plan payments were made in a row.

The rule is a pure function of the restructuring and the case's payments (``evaluate``), so that
a payment, its reversal and a payment posted late all re-evaluate the same way (as promises do,
``domain.arrangements.promises``): every payment that was not reversed and was made at or after
the approval counts, oldest first (by date, then id).

- An INSTALMENT_PLAN's instalments are covered oldest first, each taking at most its amount (an
  excess pays the next one ahead); an instalment's ``paid_on`` is the day the payment that
  completed it was made. ``payments_in_row`` is the streak of instalments paid in full by their
  due date plus grace days, the most recent paid ones: an instalment paid late starts it again
  from none (a borrower who catches up earns the cure back with the next ones on time). All
  paid: COMPLETED.
- A SETTLEMENT counts the payments made by its ``settle_by`` date plus grace days; once they
  reach the settlement amount it is COMPLETED: the debts it covers are SETTLED, the discount is
  the concession approved (balance − settlement amount; never a payment), and the case closes
  as SETTLED unless a debt it does not cover is in arrears (``domain.restructuring.execution``).

Nothing here breaks a restructuring: a plan instalment or a settlement not paid by its last day
is BROKEN by the daily run (``store.plan_queries``), which asks ``lapsed`` the same question of
every ACTIVE one at once, as of the run's date: an instalment whose last day is before that
date and that was not paid in full by its last day (a payment made later, even before the run,
does not mend it: a catch-up run for a past date judges that date).
While a plan has fewer than the configured payments in a row, or a settlement is in effect, the
case is on probation: it is not cured (``domain.lifecycle.table.Guard.NOT_ON_PLAN_PROBATION``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from domain.restructuring.model import RestructuringKind, RestructuringStatus

# The plan payments in a row before a case on a plan may be cured, when no policy says otherwise
# (the restructuring policy's "plan payments in a row before cure").
DEFAULT_PAYMENTS_IN_ROW = 3

PLAN = RestructuringKind.INSTALMENT_PLAN.value
SETTLEMENT = RestructuringKind.SETTLEMENT.value
ACTIVE = RestructuringStatus.ACTIVE.value
COMPLETED = RestructuringStatus.COMPLETED.value
BROKEN = RestructuringStatus.BROKEN.value
# The statuses a payment (or its reversal) can move: in effect, or completed by payments that a
# reversal may take back.
EVALUATED = frozenset({ACTIVE, COMPLETED})


def payments_in_row_needed(configured: int | None = None) -> int:
    """Returns the plan payments in a row a cure needs: the configured number, else 3."""
    if configured is None:
        return DEFAULT_PAYMENTS_IN_ROW
    if configured < 1:
        raise ValueError("plan payments in a row must be at least 1")
    return configured


def last_day(due: date, grace_days: int) -> date:
    """Returns the last day a payment is on time: the due date plus the grace days."""
    return due + timedelta(days=grace_days)


@dataclass(frozen=True, slots=True)
class PlanInstalment:
    """One instalment of a plan's schedule, with what counted toward it."""

    sequence: int
    due_date: date
    amount: Decimal
    amount_paid: Decimal = Decimal(0)
    paid_on: date | None = None
    id: int | None = None

    @property
    def paid(self) -> bool:
        return self.amount_paid >= self.amount


@dataclass(frozen=True, slots=True)
class InEffect:
    """An approved plan or settlement as the rule needs it (a read model of ``restructurings``):
    ``approved_at`` is when it took effect; amounts are in ``currency``."""

    id: int
    case_id: int
    kind: str
    status: str
    currency: str
    approved_at: datetime
    grace_days: int
    balance: Decimal
    concession: Decimal
    paid_amount: Decimal = Decimal(0)
    payments_in_row: int = 0
    settlement_amount: Decimal | None = None
    settle_by: date | None = None
    previous_stage: str | None = None
    instalments: tuple[PlanInstalment, ...] = ()
    # A settlement: the debts it covers (None until recorded, at its first evaluation) and,
    # once paid, each settled debt's status before (id, status), restored by a reversal.
    debt_ids: tuple[int, ...] | None = None
    debt_statuses: tuple[tuple[int, str], ...] = ()
    version: int = 0


@dataclass(frozen=True, slots=True)
class PlanPayment:
    """What the rule needs of a payment: its amount, the instant and local date it was made,
    and whether it was reversed."""

    id: int | None
    amount: Decimal
    paid_at: datetime
    paid_on: date
    reversed: bool = False


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A restructuring's status, paid amount, payments in a row and instalments as its payments
    make them, beside the restructuring as it was."""

    before: InEffect
    status: str
    paid_amount: Decimal
    payments_in_row: int
    instalments: tuple[PlanInstalment, ...]

    @property
    def changed(self) -> bool:
        b = self.before
        return (self.status, self.paid_amount, self.payments_in_row, self.instalments) != (
            b.status,
            b.paid_amount,
            b.payments_in_row,
            b.instalments,
        )

    @property
    def completed(self) -> bool:
        """It was in effect and is now paid (a plan in full, a settlement its amount)."""
        return self.before.status == ACTIVE and self.status == COMPLETED

    @property
    def reinstated(self) -> bool:
        """It was completed and a reversal took back some of what completed it."""
        return self.before.status == COMPLETED and self.status == ACTIVE

    @property
    def after(self) -> InEffect:
        """The restructuring as the evaluation leaves it."""
        return replace(
            self.before,
            status=self.status,
            paid_amount=self.paid_amount,
            payments_in_row=self.payments_in_row,
            instalments=self.instalments,
        )


def counted(restructuring: InEffect, payments: Sequence[PlanPayment]) -> list[PlanPayment]:
    """Returns the payments that count, oldest first: not reversed, made at or after approval
    (a settlement's: by its last day)."""
    found = [p for p in payments if not p.reversed and p.paid_at >= restructuring.approved_at]
    if restructuring.kind == SETTLEMENT and restructuring.settle_by is not None:
        end = last_day(restructuring.settle_by, restructuring.grace_days)
        found = [p for p in found if p.paid_on <= end]
    return sorted(found, key=lambda p: (p.paid_on, p.paid_at, p.id or 0))


def cover(
    instalments: Sequence[PlanInstalment], payments: Sequence[PlanPayment]
) -> tuple[PlanInstalment, ...]:
    """Returns the instalments (by sequence) covered by the payments, oldest instalment first,
    each taking at most its amount; ``paid_on`` is the day of the payment that completed one."""
    ordered = sorted(instalments, key=lambda i: i.sequence)
    paid = [Decimal(0)] * len(ordered)
    paid_on: list[date | None] = [None] * len(ordered)
    at = 0
    for payment in payments:
        left = payment.amount
        while left > 0 and at < len(ordered):
            take = min(ordered[at].amount - paid[at], left)
            paid[at] += take
            left -= take
            if paid[at] >= ordered[at].amount:
                paid_on[at] = payment.paid_on
                at += 1
    return tuple(
        replace(i, amount_paid=amount, paid_on=on)
        for i, amount, on in zip(ordered, paid, paid_on, strict=True)
    )


def in_row(instalments: Sequence[PlanInstalment], grace_days: int) -> int:
    """Returns the streak of instalments paid in full by their last day, the most recent paid
    ones (an instalment paid late ends a streak: the next starts from none)."""
    count = 0
    for instalment in sorted(instalments, key=lambda i: i.sequence):
        on = instalment.paid_on
        if not instalment.paid or on is None:
            break  # covered oldest first: the rest are not paid either
        count = count + 1 if on <= last_day(instalment.due_date, grace_days) else 0
    return count


def lapsed(restructuring: InEffect, as_of: date) -> bool:
    """Whether an ACTIVE plan or settlement is broken on ``as_of``: a plan instalment whose last
    day is before ``as_of`` and that was not paid in full by its last day, or a settlement whose
    last day is before ``as_of`` and whose counted payments (made by that day) fall short. The
    daily run's SQL (``store.plan_queries.lapsed``) is this rule over every row at once."""
    r = restructuring
    if r.status != ACTIVE:
        return False
    if r.kind == PLAN:
        return any(
            last_day(i.due_date, r.grace_days) < as_of
            and (i.paid_on is None or i.paid_on > last_day(i.due_date, r.grace_days))
            for i in r.instalments
        )
    if r.kind == SETTLEMENT and r.settle_by is not None and r.settlement_amount is not None:
        return last_day(r.settle_by, r.grace_days) < as_of and r.paid_amount < r.settlement_amount
    return False


def in_effect(restructuring: InEffect, as_of: date) -> bool:
    """Whether a plan or settlement holds escalation on ``as_of`` (``Facts.plan_in_effect``):
    ACTIVE and not lapsed."""
    r = restructuring
    return r.status == ACTIVE and r.kind in (PLAN, SETTLEMENT) and not lapsed(r, as_of)


def evaluate(restructuring: InEffect, payments: Sequence[PlanPayment]) -> Evaluation | None:
    """Returns what the payments make of a plan or settlement in effect (or completed); None for
    one in any other status (broken, or not a plan or settlement), which no payment changes."""
    r = restructuring
    if r.status not in EVALUATED or r.kind not in (PLAN, SETTLEMENT):
        return None
    paying = counted(r, payments)
    if r.kind == PLAN:
        instalments = cover(r.instalments, paying)
        paid = sum((i.amount_paid for i in instalments), Decimal(0))
        done = bool(instalments) and all(i.paid for i in instalments)
        return Evaluation(
            r, COMPLETED if done else ACTIVE, paid, in_row(instalments, r.grace_days), instalments
        )
    paid = sum((p.amount for p in paying), Decimal(0))
    target = r.settlement_amount
    done = target is not None and paid >= target
    return Evaluation(r, COMPLETED if done else ACTIVE, paid, 0, r.instalments)


def on_probation(kind: str, status: str, payments_in_row: int, needed: int) -> bool:
    """Whether a case may not be cured yet: an ACTIVE plan with fewer than ``needed`` payments in
    a row, or an ACTIVE settlement (its case closes as SETTLED once paid, not as cured by a part
    of it that clears the arrears on the way). Paying in full is never held back."""
    if status != ACTIVE:
        return False
    return kind == SETTLEMENT or (kind == PLAN and payments_in_row < needed)


def proposed_concession(restructuring: InEffect) -> Decimal:
    """Returns a settlement's concession as proposed (balance − settlement amount): what it is
    again when a reversal takes back its completion."""
    amount = restructuring.settlement_amount
    if restructuring.kind != SETTLEMENT or amount is None:
        return restructuring.concession
    return max(restructuring.balance - amount, Decimal(0))
