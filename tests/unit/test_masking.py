"""Partial masks hide at least four characters: a short value shows fewer, the prefix giving
way first, then the suffix."""

from __future__ import annotations

import pytest

from authz.masking import DEFAULT_RULES, FULL_MASK, MIN_HIDDEN, apply, mask_area, mask_partial
from domain.borrowers.model import ConfidentialField


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("18612344530", "186****4530"),  # 11 digits: 4 hidden, the documented mask
        ("110101199003071234", "110****1234"),  # a national ID
        ("1234567890", "12****7890"),  # 10: the prefix gives way first
        ("123456789", "1****6789"),
        ("12345678", "****5678"),  # 8: no prefix left
        ("1234567", "****567"),  # then the suffix gives way
        ("12345", "****5"),
        ("1234", FULL_MASK),
        ("", FULL_MASK),
    ],
)
def test_a_partial_mask_hides_at_least_four_characters(value: str, shown: str) -> None:
    assert mask_partial(value, 3, 4) == shown
    visible = len(shown) - len(FULL_MASK)
    assert len(value) - visible >= MIN_HIDDEN or value == ""


def test_the_phone_rule_applies_the_minimum() -> None:
    rule = DEFAULT_RULES[ConfidentialField.PHONE]
    assert apply(rule, "13812345678") == "138****5678"
    assert apply(rule, "87654321") == "****4321"


def test_a_suffix_alone_keeps_the_minimum() -> None:
    assert mask_partial("123456", 0, 4) == "****56"
    assert mask_partial("123456", 2, 0) == "12****"


def test_an_area_reads_as_its_language_writes_it() -> None:
    assert mask_area("上海市", "浦东新区") == "上海市浦东新区****"
    assert mask_area("Chicago", "IL") == "Chicago IL****"
    assert mask_area("", "IL") == "IL****"
