"""Money: exact Decimal arithmetic in one ISO-4217 currency, banker's rounding, never float."""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_UP, Decimal

import pytest

from domain.money import CurrencyMismatch, Money, minor_units, total


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


# --- construction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(Decimal("12.30"), Decimal("12.30")), (7, Decimal(7)), ("0.10", Decimal("0.10"))],
)
def test_amount_is_stored_as_decimal(raw: Decimal | int | str, expected: Decimal) -> None:
    money = Money(raw, "CNY")  # type: ignore[arg-type]
    assert type(money.amount) is Decimal
    assert money.amount == expected
    assert str(money.amount) == str(expected)


@pytest.mark.parametrize("raw", [0.1, 1.0, float("nan")])
def test_float_amounts_are_refused(raw: float) -> None:
    with pytest.raises(TypeError, match="never float"):
        Money(raw, "CNY")  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [None, [1], b"1"])
def test_non_numeric_amounts_are_refused(raw: object) -> None:
    with pytest.raises(TypeError):
        Money(raw, "CNY")  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["abc", "1,00", "", Decimal("NaN"), "Infinity", "-inf"])
def test_non_finite_or_unparseable_amounts_are_refused(raw: str | Decimal) -> None:
    with pytest.raises(ValueError):
        Money(raw, "CNY")  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["cny", "Cny", "CN", "CNYY", "", "C1Y", "US$", "CN "])
def test_invalid_currency_codes_are_refused(currency: str) -> None:
    with pytest.raises(ValueError, match="ISO-4217"):
        Money(Decimal(1), currency)


@pytest.mark.parametrize("currency", ["CNY", "USD", "JPY", "XAF"])
def test_valid_currency_codes_are_accepted(currency: str) -> None:
    assert Money(Decimal(1), currency).currency == currency


def test_full_width_currency_code_is_refused() -> None:
    with pytest.raises(ValueError):
        Money(Decimal(1), "ＣＮＹ")


def test_money_is_immutable() -> None:
    money = cny("1.00")
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.amount = Decimal(2)  # type: ignore[misc]


def test_zero_and_is_zero() -> None:
    assert Money.zero("USD") == Money(Decimal(0), "USD")
    assert Money.zero("USD").is_zero
    assert cny("-0.00").is_zero
    assert not cny("0.01").is_zero


# --- arithmetic ---------------------------------------------------------------------------


def test_addition_is_exact() -> None:
    result = cny("0.10") + cny("0.20")
    assert result.amount == Decimal("0.30")
    assert str(result.amount) == "0.30"
    assert result.currency == "CNY"


def test_hundred_cents_make_exactly_one_yuan() -> None:
    result = Money.zero("CNY")
    for _ in range(100):
        result = result + cny("0.01")
    assert result == cny("1.00")


def test_subtraction_and_negation() -> None:
    assert (cny("10.00") - cny("0.01")).amount == Decimal("9.99")
    assert (cny("1.00") - cny("2.50")).amount == Decimal("-1.50")
    assert (-cny("3.21")).amount == Decimal("-3.21")
    assert (-cny("3.21")).currency == "CNY"


@pytest.mark.parametrize("operation", ["add", "sub", "lt", "le", "gt", "ge"])
def test_currency_mismatch_raises(operation: str) -> None:
    left, right = cny("1.00"), Money(Decimal("1.00"), "USD")
    with pytest.raises(CurrencyMismatch, match="CNY with USD"):
        getattr(left, f"__{operation}__")(right)


def test_currency_mismatch_is_a_value_error() -> None:
    assert issubclass(CurrencyMismatch, ValueError)


def test_combining_with_a_bare_number_is_refused() -> None:
    with pytest.raises(TypeError, match="Money with Money"):
        cny("1.00") + Decimal("1.00")  # type: ignore[operator]


# --- rounding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("2.345", "CNY", "2.34"),
        ("2.355", "CNY", "2.36"),
        ("2.3450001", "CNY", "2.35"),
        ("2.344", "CNY", "2.34"),
        ("2.346", "CNY", "2.35"),
        ("0.005", "CNY", "0.00"),
        ("0.015", "CNY", "0.02"),
        ("-2.345", "CNY", "-2.34"),
        ("-2.355", "USD", "-2.36"),
        ("5", "CNY", "5.00"),
        ("1234.5", "JPY", "1234"),
        ("1235.5", "JPY", "1236"),
        ("0.5", "JPY", "0"),
        ("999.49", "KRW", "999"),
        ("1.125", "XAF", "1.12"),
    ],
)
def test_rounding_is_bankers_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    rounded = Money(Decimal(amount), currency).rounded()
    assert rounded.amount == Decimal(expected)
    assert str(rounded.amount) == expected  # the exponent is the currency's minor unit
    assert rounded.currency == currency


def test_rounding_mode_can_be_chosen() -> None:
    assert cny("2.345").rounded(ROUND_HALF_UP).amount == Decimal("2.35")


def test_rounding_leaves_the_original_untouched() -> None:
    money = cny("2.345")
    money.rounded()
    assert money.amount == Decimal("2.345")


@pytest.mark.parametrize(
    ("currency", "places"), [("CNY", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("XAF", 2)]
)
def test_minor_units(currency: str, places: int) -> None:
    assert minor_units(currency) == places


@pytest.mark.parametrize(
    ("amount", "currency", "factor", "expected"),
    [
        ("100.00", "CNY", "0.1815", "18.15"),
        ("10.00", "CNY", "0.3333", "3.33"),
        ("1.00", "CNY", "2.345", "2.34"),
        ("1.00", "CNY", "2.355", "2.36"),
        ("1000", "JPY", "0.1555", "156"),
        ("1000", "JPY", "0.1545", "154"),
    ],
)
def test_multiply_rounds_to_the_minor_unit(
    amount: str, currency: str, factor: str, expected: str
) -> None:
    result = Money(Decimal(amount), currency).multiply(Decimal(factor))
    assert result == Money(Decimal(expected), currency)
    assert str(result.amount) == expected


def test_multiply_refuses_float_factors() -> None:
    with pytest.raises(TypeError, match="never float"):
        cny("100.00").multiply(0.18)  # type: ignore[arg-type]


def test_str_shows_the_rounded_amount_and_currency() -> None:
    assert str(cny("2.345")) == "2.34 CNY"
    assert str(Money(Decimal("1234.5"), "JPY")) == "1234 JPY"
    assert str(cny("7")) == "7.00 CNY"


# --- comparison ---------------------------------------------------------------------------


def test_ordering_within_one_currency() -> None:
    small, large = cny("1.99"), cny("2.00")
    assert small < large and small <= large
    assert large > small and large >= small
    assert not large < small and not small > large
    assert small <= cny("1.99") and small >= cny("1.99")
    assert sorted([large, small, cny("-5")]) == [cny("-5"), small, large]


def test_equality_ignores_trailing_zeros_but_not_currency() -> None:
    assert cny("1.0") == cny("1.00")
    assert hash(cny("1.0")) == hash(cny("1.00"))
    assert cny("1.00") != Money(Decimal("1.00"), "USD")
    assert cny("1.00") != cny("1.01")


# --- total --------------------------------------------------------------------------------


def test_total_sums_exactly() -> None:
    amounts = [cny("1.01"), cny("2.02"), cny("0.001")]
    assert total(amounts, "CNY") == cny("3.031")


def test_total_of_nothing_is_zero_in_that_currency() -> None:
    result = total([], "JPY")
    assert result == Money(Decimal(0), "JPY")
    assert result.currency == "JPY"


def test_total_refuses_other_currencies() -> None:
    with pytest.raises(CurrencyMismatch):
        total([cny("1.00"), Money(Decimal("1.00"), "USD")], "CNY")
    with pytest.raises(CurrencyMismatch):
        total([cny("1.00")], "USD")


def test_booleans_are_not_amounts() -> None:
    with pytest.raises(TypeError):
        Money(True, "CNY")  # type: ignore[arg-type]
