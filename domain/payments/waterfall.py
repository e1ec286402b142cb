"""How money received is applied to a debt (DESIGN.md: the one home of "how money is applied").

A payment first settles the schedule, oldest instalment first, and reduces the debt's component
balances in the order of a *waterfall*, which is versioned configuration (the default follows
China's Civil Code art. 561: costs, then interest, then principal). Money above the outstanding is
never refused: it stays on the payment as an ``UNAPPLIED`` credit. The returned ``Application``
records every cent it moved, so that ``reverse_application`` restores the debt exactly.

A reversal leaves the debt as if the reversed payment had never been made: ``reverse_and_reapply``
takes back every later payment too, newest first, then the reversed one, and applies the later
ones again in their order, so that their money moves to what the reversed payment had paid
(oldest instalment first, waterfall order).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain.debts.model import Debt, Instalment
from domain.errors import DomainError, ErrorCode, RuleViolation
from domain.money import Money, WrongCurrency, exact_amount


class DebtComponent(enum.StrEnum):
    """A balance of a debt that money can go to; ``UNAPPLIED`` is credit above the balance."""

    PENALTY = "PENALTY"
    FEE = "FEE"
    INTEREST = "INTEREST"
    PRINCIPAL = "PRINCIPAL"
    UNAPPLIED = "UNAPPLIED"


# The Debt attribute that holds each balance component.
BALANCE_ATTRIBUTES: dict[DebtComponent, str] = {
    DebtComponent.PENALTY: "penalty",
    DebtComponent.FEE: "fee",
    DebtComponent.INTEREST: "interest",
    DebtComponent.PRINCIPAL: "principal",
}


@dataclass(frozen=True, slots=True)
class Waterfall:
    """A versioned order in which a payment reduces the balance components (each exactly once)."""

    version: str
    order: tuple[DebtComponent, ...]

    def __post_init__(self) -> None:
        if sorted(self.order) != sorted(BALANCE_ATTRIBUTES) or len(set(self.order)) != len(
            self.order
        ):
            names = ", ".join(BALANCE_ATTRIBUTES)
            raise ValueError(f"waterfall {self.version}: order each of {names} exactly once")

    def __iter__(self) -> Iterator[DebtComponent]:
        return iter(self.order)


DEFAULT_WATERFALL = Waterfall(
    version="2026.1",
    order=(
        DebtComponent.PENALTY,
        DebtComponent.FEE,
        DebtComponent.INTEREST,
        DebtComponent.PRINCIPAL,
    ),
)


@dataclass(frozen=True, slots=True)
class ComponentAllocation:
    """How much of a payment went to one component (or stayed unapplied)."""

    component: DebtComponent
    amount: Decimal


@dataclass(frozen=True, slots=True)
class InstalmentAllocation:
    """How much of a payment was credited to one instalment of the schedule."""

    sequence: int
    amount: Decimal
    instalment_id: int | None = None


@dataclass(frozen=True, slots=True)
class Application:
    """Everything one payment moved on one debt; the component amounts sum to ``amount``."""

    currency: str
    amount: Decimal
    components: tuple[ComponentAllocation, ...]
    instalments: tuple[InstalmentAllocation, ...]
    waterfall_version: str = DEFAULT_WATERFALL.version

    @property
    def unapplied(self) -> Decimal:
        """Returns the credit above the debt's outstanding (zero when all of it applied)."""
        return sum(
            (a.amount for a in self.components if a.component == DebtComponent.UNAPPLIED),
            Decimal(0),
        )

    @property
    def applied(self) -> Decimal:
        """Returns the part of the payment that reduced the debt's balance."""
        return self.amount - self.unapplied

    def to(self, component: DebtComponent) -> Decimal:
        """Returns the amount allocated to one component (zero if none)."""
        return sum((a.amount for a in self.components if a.component == component), Decimal(0))


class ApplicationNotReversible(RuleViolation):
    """The debt no longer holds what the payment moved (its schedule changed meanwhile)."""

    code = ErrorCode.APPLICATION_NOT_REVERSIBLE


def schedule_order(instalments: list[Instalment]) -> list[Instalment]:
    """Returns the instalments oldest first: by due date, then by sequence."""
    return sorted(instalments, key=lambda i: (i.due_date, i.sequence))


def apply_payment(
    debt: Debt, amount: Money, waterfall: Waterfall = DEFAULT_WATERFALL
) -> Application:
    """Applies a payment to a debt and its loaded instalments; returns what it moved.

    The applied part (at most the outstanding) is credited to the instalments oldest first, each
    up to its amount due (future ones too), and reduces the components in waterfall order; the
    rest is ``UNAPPLIED``. Refuses another currency, a non-positive amount and fractions of a
    cent before changing anything."""
    money = exact_amount(amount.amount, amount.currency, debt.currency)
    remaining = money.amount
    components: list[ComponentAllocation] = []
    for component in waterfall:
        attribute = BALANCE_ATTRIBUTES[component]
        balance: Decimal = getattr(debt, attribute)
        take = min(max(balance, Decimal(0)), remaining)
        if take > 0:
            setattr(debt, attribute, balance - take)
            components.append(ComponentAllocation(component, take))
            remaining -= take
    if remaining > 0:
        components.append(ComponentAllocation(DebtComponent.UNAPPLIED, remaining))
    left = money.amount - remaining
    instalments: list[InstalmentAllocation] = []
    for instalment in schedule_order(debt.instalments):
        if left == 0:
            break
        take = min(instalment.unpaid, left)
        if take > 0:
            instalment.amount_paid += take
            instalments.append(InstalmentAllocation(instalment.sequence, take, instalment.id))
            left -= take
    return Application(
        money.currency, money.amount, tuple(components), tuple(instalments), waterfall.version
    )


def _instalment_for(debt: Debt, allocation: InstalmentAllocation) -> Instalment | None:
    """Returns the instalment an allocation went to: by id where known, else by sequence."""
    if allocation.instalment_id is not None:
        for instalment in debt.instalments:
            if instalment.id == allocation.instalment_id:
                return instalment
    return next((i for i in debt.instalments if i.sequence == allocation.sequence), None)


def reverse_application(debt: Debt, application: Application) -> None:
    """Restores a debt's components and instalments to what they were before the application.

    Checks first that every instalment still holds what the payment credited to it, so that a
    refused reversal changes nothing."""
    if application.currency != debt.currency:
        raise WrongCurrency(
            f"the payment was in {application.currency}, the debt is in {debt.currency}",
            field="currency",
        )
    credited: list[tuple[Instalment, Decimal]] = []
    for credit in application.instalments:
        instalment = _instalment_for(debt, credit)
        if instalment is None or instalment.amount_paid < credit.amount:
            raise ApplicationNotReversible(
                f"instalment {credit.sequence} of {debt.account_number} no longer holds "
                f"the {credit.amount} {application.currency} this payment paid into it"
            )
        credited.append((instalment, credit.amount))
    for instalment, amount in credited:
        instalment.amount_paid -= amount
    for allocation in application.components:
        if allocation.component == DebtComponent.UNAPPLIED:
            continue
        attribute = BALANCE_ATTRIBUTES[allocation.component]
        setattr(debt, attribute, getattr(debt, attribute) + allocation.amount)


def reverse_and_reapply(
    debt: Debt,
    reversed_: Application,
    later: Sequence[Application],
    waterfall: Waterfall = DEFAULT_WATERFALL,
) -> tuple[Application, ...]:
    """Takes a payment back as if it had never been made; returns the new applications of the
    payments posted after it on this debt (``later``, in the order they were posted).

    The later payments are taken back newest first, then the reversed one, and the later ones
    are applied again in their order (oldest instalment first, components by ``waterfall``).
    A refusal (``ApplicationNotReversible``, another currency) changes nothing."""
    components = {attribute: getattr(debt, attribute) for attribute in BALANCE_ATTRIBUTES.values()}
    paid = [(instalment, instalment.amount_paid) for instalment in debt.instalments]
    try:
        for application in reversed(later):
            reverse_application(debt, application)
        reverse_application(debt, reversed_)
        return tuple(apply_payment(debt, Money(a.amount, a.currency), waterfall) for a in later)
    except DomainError:
        for attribute, value in components.items():
            setattr(debt, attribute, value)
        for instalment, amount in paid:
            instalment.amount_paid = amount
        raise
