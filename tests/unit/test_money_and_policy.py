"""Money and the classification policy: exact arithmetic and bucket boundaries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.cases.classification import (
    DEFAULT_POLICY,
    ClassBand,
    Classification,
    ClassificationPolicy,
)
from domain.money import CurrencyMismatch, Money, total


def test_money_adds_exactly() -> None:
    assert Money(Decimal("0.10"), "CNY") + Money(Decimal("0.20"), "CNY") == Money(
        Decimal("0.30"), "CNY"
    )


def test_money_refuses_float_and_mixed_currencies() -> None:
    with pytest.raises(TypeError):
        Money(0.1, "CNY")  # type: ignore[arg-type]
    with pytest.raises(CurrencyMismatch):
        Money(Decimal(1), "CNY") + Money(Decimal(1), "USD")
    with pytest.raises(ValueError):
        Money(Decimal(1), "cny")


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("2.345", "CNY", "2.34"),
        ("2.355", "CNY", "2.36"),
        ("-2.345", "CNY", "-2.34"),
        ("1234.5", "JPY", "1234"),
    ],
)
def test_rounding_is_bankers_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    assert Money(Decimal(amount), currency).rounded().amount == Decimal(expected)


def test_multiply_and_total() -> None:
    assert Money(Decimal("100.00"), "CNY").multiply(Decimal("0.1815")).amount == Decimal("18.15")
    amounts = [Money(Decimal("1.01"), "CNY"), Money(Decimal("2.02"), "CNY")]
    assert total(amounts, "CNY") == Money(Decimal("3.03"), "CNY")
    assert Money(Decimal(1), "CNY") < Money(Decimal(2), "CNY")


@pytest.mark.parametrize(
    ("dpd", "bucket", "classification"),
    [
        (0, "M0", Classification.CURRENT),
        (1, "M1", Classification.MILD),
        (30, "M1", Classification.MILD),
        (31, "M2", Classification.MODERATE),
        (60, "M2", Classification.MODERATE),
        (61, "M3", Classification.MODERATE),
        (90, "M3", Classification.MODERATE),
        (91, "M4", Classification.SERIOUS),
        (180, "M6", Classification.SERIOUS),
        (181, "M7", Classification.SEVERE),
        (1000, "M7", Classification.SEVERE),
    ],
)
def test_default_policy_boundaries(dpd: int, bucket: str, classification: Classification) -> None:
    verdict = DEFAULT_POLICY.classify(dpd)
    assert (verdict.bucket, verdict.classification) == (bucket, classification)
    assert verdict.policy_version == DEFAULT_POLICY.version


def test_policy_refuses_negative_dpd_and_malformed_bands() -> None:
    with pytest.raises(ValueError):
        DEFAULT_POLICY.classify(-1)
    with pytest.raises(ValueError, match="contiguous"):
        ClassificationPolicy(
            "bad",
            (
                ClassBand(0, 5, Classification.CURRENT, ""),
                ClassBand(7, None, Classification.MILD, ""),
            ),
        )
    with pytest.raises(ValueError, match="open"):
        ClassificationPolicy(
            "bad",
            (
                ClassBand(0, None, Classification.CURRENT, ""),
                ClassBand(1, None, Classification.MILD, ""),
            ),
        )
