"""The terms of a proposal, checked and computed: pure rules over plain values.

What each kind gives up (its ``concession``) and what it must satisfy:
- SETTLEMENT: 0 < settlementAmount < the case's balance, settleBy after today (the portfolio's
  local date); concession = balance − settlementAmount (SETTLEMENT_INVALID otherwise).
- PENALTY_WAIVER: 0 < waiverAmount ≤ the case's outstanding penalty; concession = waiverAmount
  (WAIVER_INVALID otherwise).
- INSTALMENT_PLAN: one instalment or more (at most the policy's maximum), due dates after
  today and strictly increasing, positive amounts that add up EXACTLY to its total: the amount
  it replaces (the case's balance) − its waiver (optional, ≤ the penalty) + capitalised interest
  (PLAN_INVALID otherwise, naming the difference); concession = its waiver (0 without one).

Capitalised interest is 0: a plan adds no interest for the time it gives (the core books any
when it books the plan). It is carried as a line of its own so that a later policy can set it.
Amounts are exact to the currency's minor unit and in the case's currency, as payments are
(AMOUNT_TOO_PRECISE, CURRENCY_MISMATCH); NaN and infinities are refused with the kind's code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.errors import InvalidInput
from domain.money import Money, exact_amount
from domain.restructuring import errors
from domain.restructuring.model import PlanInstalment, RestructuringKind
from domain.restructuring.policy import RestructuringPolicy

CAPITALISED_INTEREST = Decimal("0.00")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class ProposedInstalment:
    due_date: date
    amount: Decimal


@dataclass(frozen=True)
class Proposal:
    """A restructuring as its maker states it (fields another kind does not use stay None)."""

    kind: RestructuringKind
    settlement_amount: Decimal | None = None
    settle_by: date | None = None
    waiver_amount: Decimal | None = None
    instalments: tuple[ProposedInstalment, ...] = ()
    currency: str | None = None  # the case's when not given


@dataclass(frozen=True)
class Terms:
    """A proposal's checked terms, every amount in the case's currency."""

    kind: RestructuringKind
    currency: str
    balance: Decimal
    concession: Decimal
    settlement_amount: Decimal | None = None
    settle_by: date | None = None
    waiver_amount: Decimal | None = None
    replaced_amount: Decimal | None = None
    capitalised_interest: Decimal | None = None
    instalments: tuple[PlanInstalment, ...] = ()

    @property
    def total(self) -> Decimal | None:
        if self.replaced_amount is None:
            return None
        waiver = self.waiver_amount or ZERO
        return self.replaced_amount - waiver + (self.capitalised_interest or ZERO)


def _show(amount: Decimal, currency: str) -> str:
    return str(Money(amount, currency))


def _exact(amount: Decimal, currency: str, expected: str, field: str) -> Decimal:
    return exact_amount(amount, currency, expected, field=field).amount


def _finite(amount: Decimal | None, error: type[InvalidInput], field: str) -> None:
    """Refuses NaN and infinities with the kind's code before any comparison (a comparison
    with NaN raises ``decimal.InvalidOperation``, no refusal)."""
    if amount is not None and not amount.is_finite():
        raise error(f"{amount} is not an amount", field=field)


def _no_other(proposal: Proposal, error: type[InvalidInput], what: str, *fields: str) -> None:
    given = {
        "settlementAmount": proposal.settlement_amount is not None,
        "settleBy": proposal.settle_by is not None,
        "waiverAmount": proposal.waiver_amount is not None,
        "instalments": bool(proposal.instalments),
    }
    for name in fields:
        if given[name]:
            raise error(f"{what} takes no {name}", field=name)


def _waiver(amount: Decimal | None, penalty: Decimal, currency: str, stated: str) -> Decimal:
    _finite(amount, errors.WaiverInvalid, "waiverAmount")
    if amount is None or amount <= 0:
        raise errors.WaiverInvalid("the waiver amount must be above zero", field="waiverAmount")
    waiver = _exact(amount, stated, currency, "waiverAmount")
    if waiver > penalty:
        raise errors.WaiverInvalid(
            f"the waiver of {_show(waiver, currency)} is more than the case's outstanding "
            f"penalty of {_show(penalty, currency)}",
            field="waiverAmount",
        )
    return waiver


def check_terms(
    proposal: Proposal,
    *,
    balance: Decimal,
    penalty: Decimal,
    currency: str,
    today: date,
    policy: RestructuringPolicy,
) -> Terms:
    """Returns the proposal's terms on a case with this balance and penalty (its debts'
    outstanding and penalty components) as of the portfolio's ``today``, or refuses them."""
    stated = proposal.currency or currency
    kind = proposal.kind
    if kind is RestructuringKind.SETTLEMENT:
        _no_other(proposal, errors.SettlementInvalid, "a settlement", "waiverAmount", "instalments")
        amount = proposal.settlement_amount
        _finite(amount, errors.SettlementInvalid, "settlementAmount")
        if amount is None or amount <= 0:
            raise errors.SettlementInvalid(
                "the settlement amount must be above zero", field="settlementAmount"
            )
        amount = _exact(amount, stated, currency, "settlementAmount")
        if amount >= balance:
            raise errors.SettlementInvalid(
                f"the settlement amount must be below the balance of {_show(balance, currency)}",
                field="settlementAmount",
            )
        if proposal.settle_by is None or proposal.settle_by <= today:
            raise errors.SettlementInvalid(
                f"settleBy must be after today ({today.isoformat()}, the portfolio's date)",
                field="settleBy",
            )
        return Terms(
            kind,
            currency,
            balance,
            balance - amount,
            settlement_amount=amount,
            settle_by=proposal.settle_by,
        )
    if kind is RestructuringKind.PENALTY_WAIVER:
        others = ("settlementAmount", "settleBy", "instalments")
        _no_other(proposal, errors.WaiverInvalid, "a waiver", *others)
        waiver = _waiver(proposal.waiver_amount, penalty, currency, stated)
        return Terms(kind, currency, balance, waiver, waiver_amount=waiver)
    _no_other(proposal, errors.PlanInvalid, "a plan", "settlementAmount", "settleBy")
    return _plan(proposal, balance, penalty, currency, stated, today, policy)


def _plan(
    proposal: Proposal,
    balance: Decimal,
    penalty: Decimal,
    currency: str,
    stated: str,
    today: date,
    policy: RestructuringPolicy,
) -> Terms:
    given = proposal.instalments
    if not given:
        raise errors.PlanInvalid("a plan needs at least one instalment", field="instalments")
    if len(given) > policy.max_instalments:
        raise errors.PlanInvalid(
            f"a plan has at most {policy.max_instalments} instalments", field="instalments"
        )
    waiver = None
    if proposal.waiver_amount is not None:
        waiver = _waiver(proposal.waiver_amount, penalty, currency, stated)
    instalments: list[PlanInstalment] = []
    previous = today
    for index, item in enumerate(given):
        where = f"instalments[{index}]"
        _finite(item.amount, errors.PlanInvalid, f"{where}.amount")
        if item.amount <= 0:
            raise errors.PlanInvalid(
                f"instalment {index + 1}: the amount must be above zero", field=f"{where}.amount"
            )
        amount = _exact(item.amount, stated, currency, f"{where}.amount")
        if item.due_date <= previous:
            after = "today" if index == 0 else "the one before it"
            raise errors.PlanInvalid(
                f"instalment {index + 1}: due {item.due_date.isoformat()}, which is not after "
                f"{after} ({previous.isoformat()})",
                field=f"{where}.dueDate",
            )
        previous = item.due_date
        instalments.append(PlanInstalment(index + 1, item.due_date, amount))
    terms = Terms(
        RestructuringKind.INSTALMENT_PLAN,
        currency,
        balance,
        waiver or ZERO,
        waiver_amount=waiver,
        replaced_amount=balance,
        capitalised_interest=CAPITALISED_INTEREST,
        instalments=tuple(instalments),
    )
    total = terms.total
    assert total is not None
    added = sum((i.amount for i in instalments), ZERO)
    if added != total:
        gap = added - total
        how = f"{_show(abs(gap), currency)} {'over' if gap > 0 else 'short of'}"
        raise errors.PlanInvalid(
            f"the instalments add up to {_show(added, currency)}, {how} the plan's total of "
            f"{_show(total, currency)} (replaced {_show(balance, currency)} − waiver "
            f"{_show(waiver or ZERO, currency)} + capitalised interest "
            f"{_show(CAPITALISED_INTEREST, currency)})",
            field="instalments",
        )
    return terms


def penalty_waived(
    penalties: Sequence[tuple[int, Decimal]], amount: Decimal
) -> list[tuple[int, Decimal]]:
    """How a waiver reduces the penalties of a case's debts, given oldest debt first as
    (debt id, penalty): (debt id, amount waived) for each debt it reduces."""
    left = amount
    waived: list[tuple[int, Decimal]] = []
    for debt_id, penalty in penalties:
        if left <= 0:
            break
        take = min(max(penalty, ZERO), left)
        if take > 0:
            waived.append((debt_id, take))
            left -= take
    if left > 0:
        raise errors.WaiverInvalid(
            f"the debts' penalties no longer hold the {left} left of the waiver",
            field="restructuringId",
        )
    return waived
