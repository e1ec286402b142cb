"""Exact money: a Decimal amount with an ISO-4217 currency, never a float."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache

from domain.errors import ErrorCode, InvalidInput

_ISO_4217 = re.compile(r"[A-Z]{3}")

# Minor units per currency (ISO 4217); unknown currencies default to two places.
_MINOR_UNITS = {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2, "JPY": 0, "KRW": 0}


class CurrencyMismatch(ValueError):
    """Raised when two amounts of different currencies are combined."""


def minor_units(currency: str) -> int:
    """Returns the number of decimal places used by a currency."""
    return _MINOR_UNITS.get(currency, 2)


def rounded_amount(amount: Decimal, currency: str, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """An amount of a currency rounded to its minor unit (banker's rounding by default): the
    one rounding of every amount shown."""
    return amount.quantize(_unit(currency), rounding=rounding)


@cache
def _unit(currency: str) -> Decimal:
    """The currency's minor unit as a Decimal exponent (0.01 for CNY)."""
    return Decimal(1).scaleb(-minor_units(currency))


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, (float, bool)) or not isinstance(
            self.amount, (Decimal, int, str)
        ):
            raise TypeError("Money amounts must be Decimal, int or str, never float")
        try:
            amount = Decimal(self.amount)
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal amount: {self.amount!r}") from exc
        if not amount.is_finite():
            raise ValueError("Money amounts must be finite")
        if not _ISO_4217.fullmatch(self.currency):
            raise ValueError(f"not an ISO-4217 currency code: {self.currency!r}")
        object.__setattr__(self, "amount", amount)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Returns zero in the given currency."""
        return cls(Decimal(0), currency)

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("can only combine Money with Money")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.amount >= other.amount

    def multiply(self, factor: Decimal, rounding: str = ROUND_HALF_EVEN) -> Money:
        """Returns this amount times a Decimal factor, rounded to the currency's minor unit."""
        if isinstance(factor, float):
            raise TypeError("factors must be Decimal, never float")
        return Money(self.amount * factor, self.currency).rounded(rounding)

    def rounded(self, rounding: str = ROUND_HALF_EVEN) -> Money:
        """Returns the amount rounded to the minor unit (banker's rounding by default)."""
        return Money(self.rounded_amount(rounding), self.currency)

    def rounded_amount(self, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        """The amount rounded as ``rounded`` rounds it, without a new Money (what is shown)."""
        return rounded_amount(self.amount, self.currency, rounding)

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.rounded().amount} {self.currency}"


def total(amounts: list[Money], currency: str) -> Money:
    """Returns the sum of amounts, all of which must be in the given currency."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result


# --- amounts received from outside (payments, promises) -----------------------------------

# Above this an amount received is a typing error, not money: a business cap, one digit below
# what the amount columns can hold (NUMERIC(18, 2), ``store.keys.AMOUNT_LIMIT``), so a sum of a
# few such amounts still fits them.
MAX_AMOUNT = Decimal("1000000000000000")


class WrongCurrency(InvalidInput):
    """The amount is not in the currency of the debt or case it is meant for."""

    code = ErrorCode.CURRENCY_MISMATCH


class AmountNotPositive(InvalidInput):
    code = ErrorCode.AMOUNT_NOT_POSITIVE


class AmountTooPrecise(InvalidInput):
    """The amount has more decimal places than its currency's minor unit."""

    code = ErrorCode.AMOUNT_TOO_PRECISE


class AmountTooLarge(InvalidInput):
    code = ErrorCode.AMOUNT_TOO_LARGE


def exact_amount(
    amount: Decimal, currency: str, expected_currency: str, *, field: str = "amount"
) -> Money:
    """Returns a positive amount in the expected currency, exact to its minor unit, or refuses.

    ``100.000`` is the same money as ``100.00`` and is accepted; ``100.001`` is refused, never
    rounded: a cent lost or made up in rounding is a cent the ledger cannot explain."""
    if currency != expected_currency:
        raise WrongCurrency(
            f"the amount is in {currency!r}, but this is kept in {expected_currency}",
            field="currency",
        )
    if isinstance(amount, (float, bool)) or not isinstance(amount, (Decimal, int)):
        raise TypeError("amounts must be Decimal or int, never float")
    amount = Decimal(amount)
    if not amount.is_finite():
        raise InvalidInput(f"{amount} is not an amount", field=field)
    if amount <= 0:
        raise AmountNotPositive(f"the amount must be above zero, not {amount}", field=field)
    if amount >= MAX_AMOUNT:
        raise AmountTooLarge(f"the amount must be below {MAX_AMOUNT}", field=field)
    places = minor_units(expected_currency)
    exact = amount.quantize(Decimal(1).scaleb(-places))
    if exact != amount:
        raise AmountTooPrecise(
            f"{expected_currency} amounts have at most {places} decimal places, not {amount}",
            field=field,
        )
    return Money(exact, expected_currency)
