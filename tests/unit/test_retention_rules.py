"""The retention rules as plain values: cutoffs at their boundaries (the lender's period, Reg F's
floor of 3 years that no shorter setting shortens, 29 February), the periods' lower bound, the
placeholders and how masking shows them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from authz.masking import Mask, Rule, apply, mask_contact_point
from domain.contacts.model import ContactPointKind
from domain.retention.placeholders import (
    PLACEHOLDER,
    is_placeholder,
    national_id_placeholder,
)
from domain.retention.rules import (
    MIN_DAYS,
    RULES,
    LenderPeriods,
    RetentionRule,
    cutoffs,
)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_the_cutoffs_are_the_start_of_the_day_the_period_ends_before() -> None:
    cut = cutoffs(date(2026, 11, 29), LenderPeriods(closed_case_days=1825, contact_days=365))
    assert cut.closed_before == midnight(date(2021, 11, 30))
    assert cut.contact_before == midnight(date(2025, 11, 29))
    # Reg F: 3 years after the last activity, though the lender keeps contacts for one year.
    assert cut.contact_cutoff("US_REG_F") == midnight(date(2023, 11, 29))
    assert cut.contact_cutoff("CN") == cut.contact_before


def test_a_longer_lender_period_wins_over_the_floor() -> None:
    cut = cutoffs(date(2026, 11, 29), LenderPeriods(contact_days=2000))
    assert cut.contact_cutoff("US_REG_F") == cut.contact_before == midnight(date(2021, 6, 8))


def test_the_floor_from_29_february_is_28_february() -> None:
    cut = cutoffs(date(2028, 2, 29), LenderPeriods(contact_days=MIN_DAYS))
    assert cut.contact_cutoff("US_REG_F") == midnight(date(2025, 2, 28))


@pytest.mark.parametrize("days", [0, MIN_DAYS - 1, -5])
def test_a_period_shorter_than_the_minimum_is_refused(days: int) -> None:
    with pytest.raises(ValueError, match=f"at least {MIN_DAYS} days"):
        LenderPeriods(closed_case_days=days)
    with pytest.raises(ValueError, match=f"at least {MIN_DAYS} days"):
        LenderPeriods(contact_days=days)


def test_every_rule_is_described_and_audit_entries_are_never_purged() -> None:
    assert [r.rule for r in RULES] == list(RetentionRule)
    assert {r.rule: r.purged for r in RULES}[RetentionRule.AUDIT_ENTRIES] is False


def test_placeholders_fit_the_columns_and_are_recognised() -> None:
    assert national_id_placeholder(42) == "[anon]42"
    assert len(national_id_placeholder(999_999_999_999)) == 18  # borrowers.national_id
    assert is_placeholder(PLACEHOLDER) and is_placeholder("[anon]42")
    assert not is_placeholder("310115198001011234") and not is_placeholder("anon@example.org")
    # Only the placeholders themselves: a value that merely starts alike is masked as any other.
    assert not is_placeholder("[anonymised] 13800138000") and not is_placeholder("[anon]+8613800")
    assert apply(Rule(Mask.PARTIAL, 3, 4), "[anon]13800138000x") == "[an****000x"


def test_masking_shows_a_placeholder_as_it_is() -> None:
    assert apply(Rule(Mask.PARTIAL, 3, 4), "[anon]42") == "[anon]42"
    assert apply(Rule(Mask.EMAIL), PLACEHOLDER) == PLACEHOLDER
    assert apply(Rule(Mask.AREA), PLACEHOLDER, PLACEHOLDER, PLACEHOLDER) == PLACEHOLDER
    assert apply(Rule(Mask.FULL), PLACEHOLDER) == PLACEHOLDER
    assert apply(Rule(Mask.PARTIAL, 3, 4), "18612344530") == "186****4530"
    assert mask_contact_point(ContactPointKind.PHONE, PLACEHOLDER, ["collector"], False) == (
        PLACEHOLDER,
        False,
    )
