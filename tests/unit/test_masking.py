"""Partial masks hide at least four characters: a short value shows fewer, the prefix giving
way first, then the suffix; the rules of a role set, looked up once, mask as looking them up
each time does."""

from __future__ import annotations

from decimal import Decimal

import pytest

from authz.masking import (
    DEFAULT_RULES,
    FULL_MASK,
    MIN_HIDDEN,
    ROLE_RULES,
    Mask,
    Rule,
    _lookup,
    apply,
    mask_area,
    mask_borrower,
    mask_partial,
    rule_for,
)
from domain.borrowers.model import Borrower, ConfidentialField


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


def test_the_rules_of_a_role_set_are_looked_up_once_and_give_the_same_masks() -> None:
    borrower = Borrower(
        "Zhang San", "110101199003071234", "18612344530", "zhang@example.com", "1 Road",
        "上海市", "浦东新区", "[anonymised]", Decimal("1234.50"), id=1,
    )  # fmt: skip
    role_sets = [(), ("legal",), ("collector", "legal"), ("auditor",), ("unknown", "manager")]
    for roles in role_sets:
        for legal_stage in (False, True):
            masked = mask_borrower(borrower, iter(roles), legal_stage)  # any iterable, once
            assert masked == mask_borrower(borrower, list(roles), legal_stage)
            for field in ConfidentialField:
                rule = _lookup(roles, field, legal_stage)  # the lookup, not kept
                assert rule_for(roles, field, legal_stage) == rule
                shown = apply(rule, borrower.value_of(field), borrower.city, borrower.district)
                assert masked.values[field] == shown
                assert (field in masked.clear_fields) == rule.clear
    # What is kept cannot go stale: the rules it was made from cannot change.
    with pytest.raises(TypeError):
        DEFAULT_RULES[ConfidentialField.PHONE] = Rule(Mask.NONE)  # type: ignore[index]
    with pytest.raises(TypeError):
        ROLE_RULES["legal"][ConfidentialField.PHONE] = Rule(Mask.FULL)  # type: ignore[index]
