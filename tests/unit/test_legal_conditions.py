"""The legal conditions at every boundary, and the legal policy as versioned data."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from domain.cases.model import CaseStage, CaseStatus
from domain.legal.conditions import ConditionName, LegalFacts, evaluate, failed, refusal_text
from domain.legal.errors import LegalPolicyInvalid
from domain.legal.policy import DEFAULTS, LegalPolicy, add_years, from_payload, to_payload
from domain.money import Money

N = ConditionName
TODAY = date(2026, 5, 20)
CN = DEFAULTS["CN"]
# A case that meets every condition: 120 days past due, 20,000 owed, refused to pay, a demand
# delivered, the oldest unpaid instalment 120 days back, nothing open, nobody flagged.
GOOD = LegalFacts(
    today=TODAY,
    status=CaseStatus.OPEN,
    stage=CaseStage.COLLECTION,
    days_past_due=120,
    outstanding=Money(Decimal("20000.00"), "CNY"),
    opened_on=date(2025, 1, 1),
    last_right_party_contact=date(2026, 5, 1),
    last_right_party_refused=True,
    last_demand_delivered=date(2026, 5, 10),
    oldest_unpaid_due=date(2026, 1, 20),
)


def verdicts(facts: LegalFacts, policy: LegalPolicy = CN) -> dict[ConditionName, bool]:
    return {c.name: c.passed for c in evaluate(policy, facts)}


def test_a_case_meeting_every_condition_passes_them_all_in_a_stable_order() -> None:
    checked = evaluate(CN, GOOD)
    assert [c.name for c in checked] == list(ConditionName)
    assert failed(checked) == []


@pytest.mark.parametrize(("dpd", "passed"), [(89, False), (90, True)])
def test_days_past_due_boundary(dpd: int, passed: bool) -> None:
    assert verdicts(replace(GOOD, days_past_due=dpd))[N.MIN_DAYS_PAST_DUE] is passed


@pytest.mark.parametrize(
    ("amount", "currency", "passed"),
    [("4999.99", "CNY", False), ("5000.00", "CNY", True), ("4999.99", "USD", False),
     ("5000.00", "USD", True), ("4999.99", "EUR", False), ("5000.00", "EUR", True)],
)  # fmt: skip
def test_outstanding_threshold_minus_one_cent_and_exactly(
    amount: str, currency: str, passed: bool
) -> None:
    facts = replace(GOOD, outstanding=Money(Decimal(amount), currency))
    assert verdicts(facts)[N.OUTSTANDING_THRESHOLD] is passed


def test_effort_is_exhausted_in_each_of_its_three_ways_and_not_otherwise() -> None:
    none = replace(
        GOOD, last_right_party_contact=TODAY.replace(day=1), last_right_party_refused=False
    )
    assert verdicts(none)[N.EFFORT_EXHAUSTED] is False
    detail = next(c.detail for c in evaluate(CN, none) if c.name is N.EFFORT_EXHAUSTED)
    assert "19 days without a right-party contact" in detail
    # 1. No right-party contact for 60 days (59 is not enough).
    quiet59 = replace(none, last_right_party_contact=date(2026, 3, 22))
    quiet60 = replace(none, last_right_party_contact=date(2026, 3, 21))
    assert verdicts(quiet59)[N.EFFORT_EXHAUSTED] is False
    assert verdicts(quiet60)[N.EFFORT_EXHAUSTED] is True
    # Never reached: counted from the opening.
    never = replace(none, last_right_party_contact=None, opened_on=date(2026, 3, 21))
    assert verdicts(never)[N.EFFORT_EXHAUSTED] is True
    assert verdicts(replace(never, opened_on=date(2026, 3, 22)))[N.EFFORT_EXHAUSTED] is False
    # 2. The latest right-party contact was a refusal to pay.
    assert verdicts(replace(none, last_right_party_refused=True))[N.EFFORT_EXHAUSTED] is True
    # 3. Three broken promises (two are not enough).
    assert verdicts(replace(none, broken_promises=2))[N.EFFORT_EXHAUSTED] is False
    assert verdicts(replace(none, broken_promises=3))[N.EFFORT_EXHAUSTED] is True


def test_a_demand_notice_must_have_been_delivered() -> None:
    assert verdicts(replace(GOOD, last_demand_delivered=None))[N.DEMAND_NOTICE_DELIVERED] is False


def test_the_limitation_period_runs_through_its_last_day_inclusive() -> None:
    # CN: 3 years from the oldest unpaid due date 2023-05-20 (no demand, no payment since):
    # the last day is 2026-05-20.
    base = replace(GOOD, oldest_unpaid_due=date(2023, 5, 20), last_demand_delivered=None)
    assert verdicts(replace(base, today=date(2026, 5, 20)))[N.WITHIN_LIMITATION_PERIOD] is True
    late = replace(base, today=date(2026, 5, 21))
    assert verdicts(late)[N.WITHIN_LIMITATION_PERIOD] is False
    detail = next(c.detail for c in evaluate(CN, late) if c.name is N.WITHIN_LIMITATION_PERIOD)
    assert detail == "3 years from 2023-05-20 (the oldest unpaid instalment's due date): " \
        "expired after 2026-05-20"  # fmt: skip
    # US_REG_F: 6 years by default.
    us = DEFAULTS["US_REG_F"]
    assert verdicts(late, us)[N.WITHIN_LIMITATION_PERIOD] is True
    assert verdicts(replace(late, today=date(2029, 5, 21)), us)[N.WITHIN_LIMITATION_PERIOD] is False


def test_a_part_payment_or_a_demand_restarts_the_limitation_period() -> None:
    late = replace(
        GOOD,
        today=date(2026, 5, 21),
        oldest_unpaid_due=date(2023, 5, 20),
        last_demand_delivered=None,
    )
    assert verdicts(late)[N.WITHIN_LIMITATION_PERIOD] is False
    paid = replace(late, part_payments_since_due=(date(2023, 6, 1),))
    assert verdicts(paid)[N.WITHIN_LIMITATION_PERIOD] is True
    detail = next(c.detail for c in evaluate(CN, paid) if c.name is N.WITHIN_LIMITATION_PERIOD)
    assert detail == "3 years from 2023-06-01 (a part-payment): runs through 2026-06-01"
    assert verdicts(replace(paid, today=date(2026, 6, 2)))[N.WITHIN_LIMITATION_PERIOD] is False
    demanded = replace(late, demands_since_due=(date(2024, 1, 5),))
    assert verdicts(demanded)[N.WITHIN_LIMITATION_PERIOD] is True
    # Nothing unpaid and due: no claim.
    assert verdicts(replace(GOOD, oldest_unpaid_due=None))[N.WITHIN_LIMITATION_PERIOD] is False


def test_a_demand_or_payment_after_the_period_expired_does_not_revive_the_claim() -> None:
    # Due 2020-01-10: the period ended 2023-01-10. A demand on 2023-01-11 (a day late) and a
    # payment in 2024 restart nothing: the claim had expired.
    expired = replace(
        GOOD,
        today=date(2026, 5, 20),
        oldest_unpaid_due=date(2020, 1, 10),
        demands_since_due=(date(2023, 1, 11),),
        part_payments_since_due=(date(2024, 3, 1),),
    )
    checked = next(c for c in evaluate(CN, expired) if c.name is N.WITHIN_LIMITATION_PERIOD)
    assert checked.passed is False
    assert checked.detail == (
        "3 years from 2020-01-10 (the oldest unpaid instalment's due date): expired after "
        "2023-01-10 (a demand delivered on 2023-01-11 came after it expired and restarts nothing)"
    )
    # On the period's last day, the same demand restarts it (through 2026-01-10, so today,
    # 2026-05-20, is out again; the 2024 payment, within that period, restarts it once more).
    in_time = replace(expired, demands_since_due=(date(2023, 1, 10),))
    checked = next(c for c in evaluate(CN, in_time) if c.name is N.WITHIN_LIMITATION_PERIOD)
    assert (checked.passed, checked.detail) == (
        True, "3 years from 2024-03-01 (a part-payment): runs through 2027-03-01",
    )  # fmt: skip


def test_demands_within_each_period_chain_restarts() -> None:
    # Due 2021-01-10 (ends 2024-01-10); a demand in year 2 (ends 2026-01-10); another in year 4
    # (2025-01-10, within the restarted period: ends 2028-01-10).
    base = replace(GOOD, today=date(2027, 6, 1), oldest_unpaid_due=date(2021, 1, 10))
    once = replace(base, demands_since_due=(date(2023, 1, 10),))
    assert verdicts(once)[N.WITHIN_LIMITATION_PERIOD] is False
    chained = replace(base, demands_since_due=(date(2023, 1, 10), date(2025, 1, 10)))
    checked = next(c for c in evaluate(CN, chained) if c.name is N.WITHIN_LIMITATION_PERIOD)
    assert (checked.passed, checked.detail) == (
        True, "3 years from 2025-01-10 (a demand delivered): runs through 2028-01-10",
    )  # fmt: skip
    # Without the year-2 demand the year-4 one comes too late (the first period ended 2024).
    alone = replace(base, demands_since_due=(date(2025, 1, 10),))
    assert verdicts(alone)[N.WITHIN_LIMITATION_PERIOD] is False


def test_a_restructuring_in_effect_or_waiting_refuses_a_referral() -> None:
    for shown in ("INSTALMENT_PLAN ACTIVE", "SETTLEMENT ACTIVE", "PENALTY_WAIVER PROPOSED"):
        checked = next(
            c
            for c in evaluate(CN, replace(GOOD, restructurings=(shown,)))
            if c.name is N.NO_RESTRUCTURING_IN_EFFECT
        )
        assert checked.passed is False
        assert checked.detail.startswith(f"on the case: {shown} ")
    assert verdicts(GOOD)[N.NO_RESTRUCTURING_IN_EFFECT] is True


def test_a_leap_day_period_ends_on_28_february() -> None:
    assert add_years(date(2024, 2, 29), 3) == date(2027, 2, 28)


def test_open_complaints_and_protecting_flags_each_fail_their_own_condition() -> None:
    complained = verdicts(replace(GOOD, open_complaints=("DISPUTE",)))
    assert (complained[N.NO_OPEN_COMPLAINT], complained[N.NO_PROTECTING_FLAG]) == (False, True)
    flagged = verdicts(replace(GOOD, protecting_flags=("BANKRUPTCY",)))
    assert (flagged[N.NO_OPEN_COMPLAINT], flagged[N.NO_PROTECTING_FLAG]) == (True, False)


@pytest.mark.parametrize(
    ("status", "stage", "passed"),
    [(CaseStatus.OPEN, CaseStage.EARLY, True), (CaseStatus.OPEN, CaseStage.COLLECTION, True),
     (CaseStatus.OPEN, CaseStage.LEGAL, False), (CaseStatus.ON_HOLD, CaseStage.COLLECTION, False),
     (CaseStatus.CLOSED, CaseStage.COLLECTION, False),
     (CaseStatus.OPEN, CaseStage.WRITTEN_OFF, False)],
)  # fmt: skip
def test_the_life_cycle_row_decides_where_a_referral_may_start(
    status: CaseStatus, stage: CaseStage, passed: bool
) -> None:
    assert verdicts(replace(GOOD, status=status, stage=stage))[N.LIFE_CYCLE] is passed


def test_the_refusal_names_each_failed_condition() -> None:
    bad = replace(GOOD, days_past_due=89, open_complaints=("COMPLAINT",))
    text = refusal_text(evaluate(CN, bad))
    assert "MIN_DAYS_PAST_DUE: 89 days past due (needs 90)" in text
    assert "NO_OPEN_COMPLAINT: open on the case: COMPLAINT" in text
    assert "OUTSTANDING_THRESHOLD" not in text


def test_the_policy_round_trips_and_its_payload_is_validated() -> None:
    for policy in DEFAULTS.values():
        assert from_payload(to_payload(policy)) == policy
    payload = to_payload(CN)
    assert payload == {
        "minDaysPastDue": 90,
        "outstandingThresholds": {"CNY": "5000", "USD": "5000"},
        "defaultThreshold": "5000",
        "noRightPartyContactDays": 60,
        "brokenPromises": 3,
        "limitationYears": 3,
    }
    custom = from_payload({**payload, "outstandingThresholds": {"CNY": "8000.50"}})
    assert custom.threshold("CNY") == Decimal("8000.50")
    assert custom.threshold("USD") == Decimal("5000")
    bad_values = [
        {**payload, "minDaysPastDue": 0},
        {**payload, "minDaysPastDue": True},
        {**payload, "limitationYears": "3"},
        {**payload, "defaultThreshold": 5000.0},
        {**payload, "defaultThreshold": "-1"},
        {**payload, "defaultThreshold": "1.001"},
        {**payload, "outstandingThresholds": {"cny": "1"}},
        {**payload, "outstandingThresholds": []},
        {**payload, "extra": 1},
        {k: v for k, v in payload.items() if k != "brokenPromises"},
    ]
    for bad in bad_values:
        with pytest.raises(LegalPolicyInvalid) as refused:
            from_payload(bad)
        assert refused.value.code == "CHANGE_INVALID"
