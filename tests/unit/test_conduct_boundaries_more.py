"""Boundary cells the per-profile tests leave open: every rule of CN and US_REG_F at its instant
just inside and just outside, across local midnight, across both DST changes, for a person whose
phone and address are in different zones, and with counts made by the lender and two agencies.

2026 clock changes: New York on 8 March and 1 November; London on 29 March and 25 October (01:00
UTC). Shanghai is UTC+8 all year, Phoenix UTC-7 all year.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from domain.conduct.engine import ContactRequest, PastContact, evaluate
from domain.conduct.profiles import CN, TIMED_CHANNELS, US_REG_F, ConductProfile, RuleName
from domain.contacts.conduct import CONSENT_WINDOW
from domain.contacts.model import (
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    ContactParty,
    ContactPointStatus,
)
from tests.unit.conduct_builders import (
    LOS_ANGELES,
    NEW_YORK,
    OTHER_CASE,
    OTHER_POINT,
    SHANGHAI,
    call,
    check,
    local,
    point,
    request,
    utc,
)

R = RuleName
Ch = ContactChannel
O = ContactOutcome  # noqa: E741
US = US_REG_F
LONDON = "Europe/London"
PHOENIX = "America/Phoenix"
SECOND = timedelta(seconds=1)
WEEK = timedelta(days=7)
LENDER, ZENITH, ACME = None, 100, 200
TP = ContactParty.UNRELATED_THIRD_PARTY


def shanghai_with_london_phone(channel: ContactChannel = Ch.PHONE, **kwargs: Any) -> ContactRequest:
    """A borrower living in Shanghai whose point (a phone, or an address for a visit) is in
    London: CN allows contact only where both clocks show 08:00-22:00."""
    return request(
        channel=channel,
        contact_point=point(channel=channel, zone=LONDON),
        zones=(SHANGHAI,),
        staff_count=2,
        **kwargs,
    )


def ny_request(**kwargs: Any) -> ContactRequest:
    kwargs.setdefault("contact_point", point(zone=NEW_YORK))
    kwargs.setdefault("zones", (NEW_YORK,))
    return request(**kwargs)


def assert_refused(
    profile: ConductProfile, req: ContactRequest, history: list[PastContact], at: Any, rule: str
) -> Any:
    """Evaluates at ``at``; asserts that only ``rule`` refuses and returns the allowance."""
    allowance = evaluate(profile, req, history, at)
    assert not allowance.allowed, at
    assert allowance.breaches == (rule,), (at, allowance.breaches)
    assert allowance.first_failure is not None and allowance.first_failure.rule == rule
    return allowance


# --- the numbers of DOMAIN.md ------------------------------------------------------------------


def test_every_number_of_the_profiles_is_the_domains() -> None:
    """CN: 22:00-08:00 quiet (calls, SMS, visits), 6 unanswered attempts per number per day
    (consent lifts it), 3 connected calls per person per day, third parties after 3 failed
    attempts in a row, two collectors on a visit. Reg F: 08:00-21:00 at every known location,
    7 calls in 7 days, 7 days after a conversation, consent counted for 7 days."""
    expected = {
        CN.name: {
            R.CONTACT_POINT_INVALID: {},
            R.OPTED_OUT: {},
            R.THIRD_PARTY: {"failedAttempts": "3"},
            R.FIELD_VISIT_TWO_STAFF: {"minStaff": "2"},
            R.QUIET_HOURS: {
                "allowedFrom": "08:00",
                "allowedUntil": "22:00",
                "channels": "AUTOMATED_CALL,FIELD_VISIT,PHONE,SMS",
                "fallbackTimeZones": "Asia/Shanghai",
            },
            R.DAILY_ATTEMPTS: {"limit": "6", "consentLifts": "true"},
            R.CONNECTED_CALLS_PER_DAY: {"limit": "3"},
        },
        US.name: {
            R.CONTACT_POINT_INVALID: {},
            R.OPTED_OUT: {},
            R.THIRD_PARTY: {"failedAttempts": "3"},
            R.QUIET_HOURS: {
                "allowedFrom": "08:00",
                "allowedUntil": "21:00",
                "channels": "AUTOMATED_CALL,FIELD_VISIT,PHONE,SMS",
                "fallbackTimeZones": (
                    "America/New_York,America/Chicago,America/Denver,America/Los_Angeles"
                ),
            },
            R.WEEKLY_CALLS: {"limit": "7", "windowDays": "7"},
            R.AFTER_CONVERSATION: {"waitDays": "7"},
        },
    }
    for conduct in (CN, US):
        assert {r.name: r.parameters() for r in conduct.rules} == expected[conduct.name]
    assert {Ch.PHONE, Ch.AUTOMATED_CALL, Ch.SMS, Ch.FIELD_VISIT} == TIMED_CHANNELS
    assert CONSENT_WINDOW == WEEK
    assert (CN.default_time_zone, US.default_time_zone) == (SHANGHAI, NEW_YORK)


# --- CN QUIET_HOURS: across DST, phone and home in different zones, every timed channel --------

CN_TIMED = [Ch.PHONE, Ch.AUTOMATED_CALL, Ch.SMS, Ch.FIELD_VISIT]


@pytest.mark.parametrize("channel", CN_TIMED)
def test_cn_quiet_hours_across_the_spring_change_for_a_london_point(
    channel: ContactChannel,
) -> None:
    """Shanghai allows 00:00-14:00 UTC; London 08:00-22:00 UTC in GMT, 07:00-21:00 UTC in BST.
    On 28 March contact is allowed 08:00-14:00 UTC; from 29 March 07:00-14:00 UTC."""
    req = shanghai_with_london_phone(channel)
    assert_refused(CN, req, [], utc(2026, 3, 28, 7, 59, 59), R.QUIET_HOURS)
    assert evaluate(CN, req, [], utc(2026, 3, 28, 8, 0)).allowed
    assert evaluate(CN, req, [], utc(2026, 3, 28, 13, 59, 59)).allowed  # 21:59:59 Shanghai
    evening = assert_refused(CN, req, [], utc(2026, 3, 28, 14, 0), R.QUIET_HOURS)
    # Across Shanghai's midnight and London's clock change: 08:00 BST, not 08:00 UTC.
    assert evening.next_allowed_at == utc(2026, 3, 29, 7, 0)
    assert check(evening, R.QUIET_HOURS).next_allowed_at == utc(2026, 3, 29, 7, 0)
    assert check(evening, R.QUIET_HOURS).detail == (
        "outside the allowed hours 08:00-22:00: 22:00 local time in Asia/Shanghai"
    )
    early = assert_refused(CN, req, [], utc(2026, 3, 29, 6, 59, 59), R.QUIET_HOURS)
    assert early.next_allowed_at == utc(2026, 3, 29, 7, 0)
    assert check(early, R.QUIET_HOURS).detail == (
        "outside the allowed hours 08:00-22:00: 07:59 local time in Europe/London"
    )
    assert evaluate(CN, req, [], utc(2026, 3, 29, 7, 0)).allowed


@pytest.mark.parametrize("channel", CN_TIMED)
def test_cn_quiet_hours_across_the_autumn_change_for_a_london_point(
    channel: ContactChannel,
) -> None:
    """On 24 October (BST) contact is allowed 07:00-14:00 UTC; from 25 October 08:00-14:00."""
    req = shanghai_with_london_phone(channel)
    assert evaluate(CN, req, [], utc(2026, 10, 24, 7, 0)).allowed
    assert evaluate(CN, req, [], utc(2026, 10, 24, 13, 59, 59)).allowed
    evening = assert_refused(CN, req, [], utc(2026, 10, 24, 14, 0), R.QUIET_HOURS)
    assert evening.next_allowed_at == utc(2026, 10, 25, 8, 0)
    early = assert_refused(CN, req, [], utc(2026, 10, 25, 7, 59, 59), R.QUIET_HOURS)
    assert early.next_allowed_at == utc(2026, 10, 25, 8, 0)
    assert evaluate(CN, req, [], utc(2026, 10, 25, 8, 0)).allowed


def test_cn_quiet_hours_for_a_borrower_living_in_a_dst_zone() -> None:
    """A CN borrower in New York: 22:00 EDT on 31 October waits for 08:00 EST (13:00 UTC) on 1
    November; 22:00 EST on 7 March for 08:00 EDT (12:00 UTC) on 8 March."""
    req = ny_request()
    autumn = assert_refused(CN, req, [], local(NEW_YORK, 2026, 10, 31, 22, 0), R.QUIET_HOURS)
    assert autumn.next_allowed_at == utc(2026, 11, 1, 13, 0)
    assert_refused(CN, req, [], utc(2026, 11, 1, 12, 59, 59), R.QUIET_HOURS)
    assert evaluate(CN, req, [], utc(2026, 11, 1, 13, 0)).allowed
    assert evaluate(CN, req, [], local(NEW_YORK, 2026, 3, 7, 21, 59, 59)).allowed
    spring = assert_refused(CN, req, [], local(NEW_YORK, 2026, 3, 7, 22, 0), R.QUIET_HOURS)
    assert spring.next_allowed_at == utc(2026, 3, 8, 12, 0)
    assert_refused(CN, req, [], utc(2026, 3, 8, 11, 59, 59), R.QUIET_HOURS)
    assert evaluate(CN, req, [], utc(2026, 3, 8, 12, 0)).allowed


# --- US QUIET_HOURS: midnight, every timed channel, split zones across DST ---------------------


def test_reg_f_quiet_hours_across_local_midnight() -> None:
    req = ny_request()
    for at in (local(NEW_YORK, 2026, 6, 10, 23, 59, 59), local(NEW_YORK, 2026, 6, 11, 0, 0)):
        refused = assert_refused(US, req, [], at, R.QUIET_HOURS)
        assert refused.next_allowed_at == local(NEW_YORK, 2026, 6, 11, 8, 0)
        assert refused.next_allowed_at == utc(2026, 6, 11, 12, 0)


@pytest.mark.parametrize("channel", [Ch.PHONE, Ch.AUTOMATED_CALL, Ch.SMS, Ch.FIELD_VISIT])
def test_reg_f_quiet_hours_hold_for_every_timed_channel_at_every_location(
    channel: ContactChannel,
) -> None:
    """A borrower with a home in New York and a phone in Los Angeles: calls, texts and visits
    (to the New York address) are allowed only 11:00-21:00 New York time (08:00 in LA)."""
    req = request(
        channel=channel,
        contact_point=point(
            channel=channel, zone=NEW_YORK if channel is Ch.FIELD_VISIT else LOS_ANGELES
        ),
        zones=(NEW_YORK, LOS_ANGELES),
    )
    early = assert_refused(US, req, [], local(NEW_YORK, 2026, 6, 10, 10, 59, 59), R.QUIET_HOURS)
    assert early.next_allowed_at == utc(2026, 6, 10, 15, 0)
    assert "07:59 local time in America/Los_Angeles" in check(early, R.QUIET_HOURS).detail
    assert evaluate(US, req, [], local(NEW_YORK, 2026, 6, 10, 11, 0)).allowed
    assert evaluate(US, req, [], local(NEW_YORK, 2026, 6, 10, 20, 59, 59)).allowed
    late = assert_refused(US, req, [], local(NEW_YORK, 2026, 6, 10, 21, 0), R.QUIET_HOURS)
    assert late.next_allowed_at == utc(2026, 6, 11, 15, 0)


def test_reg_f_split_zones_inside_and_outside_on_both_change_days() -> None:
    """Los Angeles phone, New York home. 8 March: 08:00 PDT = 15:00 UTC to 21:00 EDT = 01:00 UTC.
    1 November: 08:00 PST = 16:00 UTC to 21:00 EST = 02:00 UTC."""
    req = request(contact_point=point(zone=LOS_ANGELES), zones=(NEW_YORK,))
    for opens, closes, next_day in (
        (utc(2026, 3, 8, 15, 0), utc(2026, 3, 9, 1, 0), utc(2026, 3, 9, 15, 0)),
        (utc(2026, 11, 1, 16, 0), utc(2026, 11, 2, 2, 0), utc(2026, 11, 2, 16, 0)),
    ):
        before = assert_refused(US, req, [], opens - SECOND, R.QUIET_HOURS)
        assert before.next_allowed_at == opens
        assert evaluate(US, req, [], opens).allowed
        assert evaluate(US, req, [], closes - SECOND).allowed
        after = assert_refused(US, req, [], closes, R.QUIET_HOURS)
        assert after.next_allowed_at == next_day


def test_reg_f_split_zones_when_only_one_clock_changes() -> None:
    """A New York home and a Phoenix phone (MST, no DST): the evening limit moves an hour
    earlier in UTC on 8 March (21:00 EST = 02:00 UTC, then 21:00 EDT = 01:00 UTC); the morning
    stays at 08:00 MST = 15:00 UTC."""
    req = request(contact_point=point(zone=PHOENIX), zones=(NEW_YORK,))
    assert evaluate(US, req, [], utc(2026, 3, 8, 1, 59, 59)).allowed  # 20:59:59 EST on 7 March
    evening = assert_refused(US, req, [], utc(2026, 3, 8, 2, 0), R.QUIET_HOURS)
    assert evening.next_allowed_at == utc(2026, 3, 8, 15, 0)
    assert_refused(US, req, [], utc(2026, 3, 8, 14, 59, 59), R.QUIET_HOURS)
    assert evaluate(US, req, [], utc(2026, 3, 8, 15, 0)).allowed
    assert evaluate(US, req, [], utc(2026, 3, 9, 0, 59, 59)).allowed
    changed = assert_refused(US, req, [], utc(2026, 3, 9, 1, 0), R.QUIET_HOURS)
    assert "21:00 local time in America/New_York" in check(changed, R.QUIET_HOURS).detail
    assert "America/Phoenix" not in check(changed, R.QUIET_HOURS).detail
    assert changed.next_allowed_at == utc(2026, 3, 9, 15, 0)


def test_a_third_partys_hours_are_those_of_their_own_point() -> None:
    """A third party is not the borrower: their point's zone alone (here New York) sets the
    hours, whatever zones are known for the borrower."""
    req = request(
        party=TP,
        contact_point=point(id=9, owner=TP, zone=NEW_YORK),
        zones=(),
        borrower_reachable=False,
    )
    assert evaluate(US, req, [], local(NEW_YORK, 2026, 6, 10, 20, 59, 59)).allowed
    late = assert_refused(US, req, [], local(NEW_YORK, 2026, 6, 10, 21, 0), R.QUIET_HOURS)
    assert late.next_allowed_at == local(NEW_YORK, 2026, 6, 11, 8, 0)
    unknown = request(
        party=TP, contact_point=point(id=9, owner=TP, zone=None), zones=(), borrower_reachable=False
    )
    # No zone known for them: every contiguous US zone (08:00 in Los Angeles = 11:00 in NY).
    assert_refused(US, unknown, [], local(NEW_YORK, 2026, 6, 10, 10, 59, 59), R.QUIET_HOURS)
    assert evaluate(US, unknown, [], local(NEW_YORK, 2026, 6, 10, 11, 0)).allowed
    assert evaluate(US, unknown, [], local(NEW_YORK, 2026, 6, 10, 20, 59, 59)).allowed
    night = assert_refused(US, unknown, [], local(NEW_YORK, 2026, 6, 10, 21, 0), R.QUIET_HOURS)
    assert night.next_allowed_at == local(NEW_YORK, 2026, 6, 11, 11, 0)


# --- CN DAILY_ATTEMPTS --------------------------------------------------------------------------


def six_attempts(start: Any, **kwargs: Any) -> list[PastContact]:
    return [call(start + timedelta(minutes=i), O.NO_ANSWER, **kwargs) for i in range(6)]


def test_daily_attempts_reset_at_the_exact_local_midnight() -> None:
    history = six_attempts(local(SHANGHAI, 2026, 5, 1, 9, 0))
    last = evaluate(CN, request(), history, local(SHANGHAI, 2026, 5, 1, 23, 59, 59))
    daily = check(last, R.DAILY_ATTEMPTS)
    assert not daily.passed
    assert daily.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 0, 0)
    assert last.breaches == (R.QUIET_HOURS, R.DAILY_ATTEMPTS)
    assert last.attempts_left_today == 0
    assert last.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 8, 0)
    midnight = evaluate(CN, request(), history, local(SHANGHAI, 2026, 5, 2, 0, 0))
    assert check(midnight, R.DAILY_ATTEMPTS).passed
    assert midnight.attempts_left_today == 6
    assert midnight.breaches == (R.QUIET_HOURS,)


def test_daily_attempts_across_the_autumn_change_a_25_hour_day() -> None:
    """A New York number on 1 November: the day ends at midnight EST, 05:00 UTC on 2 November;
    the next call may be made at 08:00 EST = 13:00 UTC."""
    req = ny_request()
    history = six_attempts(local(NEW_YORK, 2026, 11, 1, 9, 0))
    five = evaluate(CN, req, history[:5], local(NEW_YORK, 2026, 11, 1, 12, 0))
    assert five.allowed and five.attempts_left_today == 1
    refused = assert_refused(
        CN, req, history, local(NEW_YORK, 2026, 11, 1, 12, 0), R.DAILY_ATTEMPTS
    )
    assert check(refused, R.DAILY_ATTEMPTS).next_allowed_at == utc(2026, 11, 2, 5, 0)
    assert refused.next_allowed_at == utc(2026, 11, 2, 13, 0)
    late = evaluate(CN, req, history, utc(2026, 11, 2, 4, 59, 59))  # 23:59:59 EST
    assert not check(late, R.DAILY_ATTEMPTS).passed
    assert check(evaluate(CN, req, history, utc(2026, 11, 2, 5, 0)), R.DAILY_ATTEMPTS).passed
    assert_refused(CN, req, history, utc(2026, 11, 2, 12, 59, 59), R.QUIET_HOURS)
    assert evaluate(CN, req, history, utc(2026, 11, 2, 13, 0)).allowed


def test_daily_attempts_count_on_the_phones_day_not_the_borrowers() -> None:
    """A Shanghai borrower with a London number (BST in May). Six attempts logged at 23:30-23:35
    London time on 5 May (06:30 on 6 May in Shanghai) count on London's 5 May: they hold the
    number until London's midnight (23:00 UTC), and not on 6 May."""
    req = shanghai_with_london_phone()
    history = six_attempts(local(LONDON, 2026, 5, 5, 23, 30))
    before = evaluate(CN, req, history, utc(2026, 5, 5, 22, 59, 59))
    daily = check(before, R.DAILY_ATTEMPTS)
    assert not daily.passed
    assert daily.next_allowed_at == utc(2026, 5, 5, 23, 0)
    assert daily.detail == (
        "6 of 6 unanswered call attempts on this number today (Europe/London): the limit is reached"
    )
    # Both clocks show 08:00-22:00 again from 08:00 BST (07:00 UTC, 15:00 in Shanghai).
    assert before.next_allowed_at == utc(2026, 5, 6, 7, 0)
    morning = evaluate(CN, req, history, utc(2026, 5, 6, 7, 0))
    assert morning.allowed
    assert morning.attempts_left_today == 6


def test_daily_attempts_across_the_london_spring_change_a_23_hour_day() -> None:
    """29 March in London lasts 23 hours: it ends at 23:00 UTC."""
    req = shanghai_with_london_phone()
    history = six_attempts(utc(2026, 3, 29, 7, 0))
    refused = assert_refused(CN, req, history, utc(2026, 3, 29, 8, 0), R.DAILY_ATTEMPTS)
    assert check(refused, R.DAILY_ATTEMPTS).next_allowed_at == utc(2026, 3, 29, 23, 0)
    assert refused.next_allowed_at == utc(2026, 3, 30, 7, 0)
    assert_refused(CN, req, history, utc(2026, 3, 30, 6, 59, 59), R.QUIET_HOURS)
    assert evaluate(CN, req, history, utc(2026, 3, 30, 7, 0)).allowed


# --- CN CONNECTED_CALLS_PER_DAY ----------------------------------------------------------------


def three_talks(start: Any, **kwargs: Any) -> list[PastContact]:
    return [call(start + timedelta(minutes=i), O.RIGHT_PARTY_CONTACT, **kwargs) for i in range(3)]


def test_connected_calls_reset_at_the_exact_local_midnight() -> None:
    history = three_talks(local(SHANGHAI, 2026, 5, 1, 9, 0))
    last = evaluate(CN, request(), history, local(SHANGHAI, 2026, 5, 1, 23, 59, 59))
    rule = check(last, R.CONNECTED_CALLS_PER_DAY)
    assert not rule.passed
    assert rule.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 0, 0)
    assert last.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 8, 0)
    midnight = evaluate(CN, request(), history, local(SHANGHAI, 2026, 5, 2, 0, 0))
    rule = check(midnight, R.CONNECTED_CALLS_PER_DAY)
    assert rule.passed
    assert rule.detail == "0 of 3 connected calls to this person today (Asia/Shanghai)"
    assert evaluate(CN, request(), history, local(SHANGHAI, 2026, 5, 2, 8, 0)).allowed


@pytest.mark.parametrize(
    ("day", "day_end", "morning"),
    [
        ((2026, 3, 8), utc(2026, 3, 9, 4, 0), utc(2026, 3, 9, 12, 0)),  # 23-hour day
        ((2026, 11, 1), utc(2026, 11, 2, 5, 0), utc(2026, 11, 2, 13, 0)),  # 25-hour day
    ],
    ids=["spring", "autumn"],
)
def test_connected_calls_across_a_dst_change(
    day: tuple[int, int, int], day_end: Any, morning: Any
) -> None:
    req = ny_request()
    history = three_talks(local(NEW_YORK, *day, 9, 0))
    two = evaluate(CN, req, history[:2], local(NEW_YORK, *day, 12, 0))
    assert two.allowed
    refused = assert_refused(
        CN, req, history, local(NEW_YORK, *day, 12, 0), R.CONNECTED_CALLS_PER_DAY
    )
    assert check(refused, R.CONNECTED_CALLS_PER_DAY).next_allowed_at == day_end
    assert refused.next_allowed_at == morning
    assert_refused(CN, req, history, morning - SECOND, R.QUIET_HOURS)
    assert evaluate(CN, req, history, morning).allowed


def test_connected_calls_count_on_the_borrowers_day_attempts_on_the_phones() -> None:
    """A Shanghai borrower with a London number: three conversations at 08:00 BST (15:00 in
    Shanghai) close the person's day until Shanghai's midnight (16:00 UTC), while an attempt
    count would run until London's (23:00 UTC); the next call is at 08:00 BST the next day."""
    req = shanghai_with_london_phone()
    history = three_talks(utc(2026, 5, 5, 7, 0))
    refused = assert_refused(CN, req, history, utc(2026, 5, 5, 13, 0), R.CONNECTED_CALLS_PER_DAY)
    rule = check(refused, R.CONNECTED_CALLS_PER_DAY)
    assert rule.next_allowed_at == utc(2026, 5, 5, 16, 0)
    assert rule.detail == (
        "3 of 3 connected calls to this person today (Asia/Shanghai): the limit is reached"
    )
    assert refused.next_allowed_at == utc(2026, 5, 6, 7, 0)
    assert evaluate(CN, req, history, utc(2026, 5, 6, 7, 0)).allowed
    # Six unanswered attempts at the same moment run to London's midnight instead.
    attempts = evaluate(CN, req, six_attempts(utc(2026, 5, 5, 7, 0)), utc(2026, 5, 5, 13, 0))
    assert check(attempts, R.DAILY_ATTEMPTS).next_allowed_at == utc(2026, 5, 5, 23, 0)


def test_connected_calls_by_the_lender_and_two_agencies_exactly_at_the_limit() -> None:
    at = local(SHANGHAI, 2026, 5, 1, 12, 0)
    history = [
        call(local(SHANGHAI, 2026, 5, 1, 9, 0), O.RIGHT_PARTY_CONTACT, agency_id=LENDER),
        call(local(SHANGHAI, 2026, 5, 1, 10, 0), O.PROMISE_TO_PAY, agency_id=ZENITH),
        call(
            local(SHANGHAI, 2026, 5, 1, 11, 0), O.CALLBACK_REQUESTED, agency_id=ACME,
            case_id=OTHER_CASE, point_id=OTHER_POINT,
        ),
    ]  # fmt: skip
    assert evaluate(CN, request(), history[:2], at).allowed
    refused = assert_refused(CN, request(), history, at, R.CONNECTED_CALLS_PER_DAY)
    assert refused.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 8, 0)


# --- US WEEKLY_CALLS ---------------------------------------------------------------------------


def daily_calls(first_day: tuple[int, int, int], n: int = 7) -> list[PastContact]:
    """n unanswered calls, one a day at 10:00 New York wall-clock time from ``first_day``."""
    days = [date(*first_day) + timedelta(days=i) for i in range(n)]
    return [call(local(NEW_YORK, d.year, d.month, d.day, 10, 0)) for d in days]


@pytest.mark.parametrize(
    ("first_day", "freed"),
    [
        # 10:00 EST on 2 March = 15:00 UTC: 168 hours later is 11:00 EDT on 9 March.
        ((2026, 3, 2), utc(2026, 3, 9, 15, 0)),
        # 10:00 EDT on 27 October = 14:00 UTC: 168 hours later is 09:00 EST on 3 November.
        ((2026, 10, 27), utc(2026, 11, 3, 14, 0)),
    ],
    ids=["spring", "autumn"],
)
def test_weekly_calls_across_a_dst_change(first_day: tuple[int, int, int], freed: Any) -> None:
    """Seven calls, one a day at 10:00 New York time: the window is 7 x 24 hours, so the eighth
    call is allowed 168 hours after the first, whatever the clocks did meanwhile."""
    req = ny_request()
    history = daily_calls(first_day)
    assert evaluate(US, req, history[:6], history[-1].at + timedelta(hours=2)).allowed
    refused = assert_refused(US, req, history, history[-1].at + timedelta(hours=2), R.WEEKLY_CALLS)
    assert refused.next_allowed_at == freed
    just_before = assert_refused(US, req, history, freed - SECOND, R.WEEKLY_CALLS)
    assert just_before.next_allowed_at == freed
    assert check(just_before, R.WEEKLY_CALLS).detail == (
        "7 of 7 calls about this case in the last 7 days: the limit is reached"
    )
    exactly = evaluate(US, req, history, freed)
    assert exactly.allowed
    assert (
        check(exactly, R.WEEKLY_CALLS).detail == "6 of 7 calls about this case in the last 7 days"
    )


def test_weekly_calls_freed_in_the_evening_wait_for_the_morning() -> None:
    """The oldest call was logged at 21:30 New York time (itself a breach): the week frees up at
    21:30 seven days later, inside the quiet hours, so the next call is at 08:00 after midnight."""
    req = ny_request()
    first = local(NEW_YORK, 2026, 6, 1, 21, 30)
    history = [call(first), *[call(local(NEW_YORK, 2026, 6, 2 + i, 10, 0)) for i in range(6)]]
    refused = assert_refused(US, req, history, local(NEW_YORK, 2026, 6, 8, 12, 0), R.WEEKLY_CALLS)
    assert check(refused, R.WEEKLY_CALLS).next_allowed_at == first + WEEK
    assert refused.next_allowed_at == local(NEW_YORK, 2026, 6, 9, 8, 0)
    assert evaluate(US, req, history, local(NEW_YORK, 2026, 6, 9, 8, 0)).allowed
    night = evaluate(US, req, history, first + WEEK)
    assert night.breaches == (R.QUIET_HOURS,)


def test_weekly_calls_with_phone_and_home_in_different_zones() -> None:
    """A New York home, a Los Angeles phone (learnt after the first call, made at 10:30 New York
    time): the week frees up at 10:30 on 8 June, but that is 07:30 in Los Angeles, so the next
    call is at 11:00 New York time."""
    req = request(contact_point=point(zone=LOS_ANGELES), zones=(NEW_YORK,))
    first = local(NEW_YORK, 2026, 6, 1, 10, 30)
    history = [call(first), *[call(local(NEW_YORK, 2026, 6, 2 + i, 12, 0)) for i in range(6)]]
    refused = assert_refused(US, req, history, local(NEW_YORK, 2026, 6, 7, 13, 0), R.WEEKLY_CALLS)
    assert check(refused, R.WEEKLY_CALLS).next_allowed_at == first + WEEK
    assert refused.next_allowed_at == local(NEW_YORK, 2026, 6, 8, 11, 0)
    freed = assert_refused(US, req, history, first + WEEK, R.QUIET_HOURS)
    assert freed.next_allowed_at == local(NEW_YORK, 2026, 6, 8, 11, 0)
    assert_refused(US, req, history, local(NEW_YORK, 2026, 6, 8, 10, 59, 59), R.QUIET_HOURS)
    assert evaluate(US, req, history, local(NEW_YORK, 2026, 6, 8, 11, 0)).allowed


def test_weekly_calls_by_the_lender_and_two_agencies_exactly_at_the_limit() -> None:
    """Three callers, two numbers of the borrower, one case: the seventh call closes the week;
    a call about another case by any of them does not count."""
    t0 = local(NEW_YORK, 2026, 6, 1, 10, 0)
    callers = [LENDER, ZENITH, ACME, LENDER, ZENITH, ACME, ZENITH]
    history = [
        call(t0 + timedelta(days=i), agency_id=a, point_id=(1, OTHER_POINT)[i % 2])
        for i, a in enumerate(callers)
    ]
    at = t0 + timedelta(days=6, hours=2)
    six = evaluate(US, ny_request(), history[:6], at)
    assert six.allowed
    other_case = [*history[:6], call(t0 + timedelta(days=6), agency_id=ACME, case_id=OTHER_CASE)]
    assert evaluate(US, ny_request(), other_case, at).allowed
    refused = assert_refused(US, ny_request(), history, at, R.WEEKLY_CALLS)
    assert refused.next_allowed_at == t0 + WEEK


def test_consented_calls_and_never_connected_calls_leave_the_week_open() -> None:
    """Six counted calls plus any number of consented or never-connected ones: the seventh
    counted call is still allowed; one more unanswered call closes the week."""
    t0 = local(NEW_YORK, 2026, 6, 1, 10, 0)
    counted = [call(t0 + timedelta(days=i)) for i in range(6)]
    free = [
        call(t0 + timedelta(days=6), O.NO_ANSWER, consented=True),
        call(t0 + timedelta(days=6, minutes=2), O.BUSY_OR_NOT_CONNECTED),
        call(t0 + timedelta(days=6, minutes=3), O.WRONG_NUMBER, agency_id=ACME),
        call(t0 + timedelta(days=6, minutes=4), O.FAILED, agency_id=ZENITH),
    ]
    at = t0 + timedelta(days=6, hours=2)
    allowance = evaluate(US, ny_request(), [*counted, *free], at)
    assert allowance.allowed
    assert check(allowance, R.WEEKLY_CALLS).detail.startswith("6 of 7")
    closed = [*counted, *free, call(t0 + timedelta(days=6, minutes=5), O.LEFT_MESSAGE)]
    refused = assert_refused(US, ny_request(), closed, at, R.WEEKLY_CALLS)
    assert refused.next_allowed_at == t0 + WEEK


# --- US AFTER_CONVERSATION ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("talk", "freed", "next_at"),
    [
        # 10:00 EST on 2 March (15:00 UTC): 168 hours later is 11:00 EDT on 9 March.
        (local(NEW_YORK, 2026, 3, 2, 10, 0), utc(2026, 3, 9, 15, 0), utc(2026, 3, 9, 15, 0)),
        # 10:00 EDT on 27 October (14:00 UTC): 168 hours later is 09:00 EST on 3 November.
        (local(NEW_YORK, 2026, 10, 27, 10, 0), utc(2026, 11, 3, 14, 0), utc(2026, 11, 3, 14, 0)),
        # 20:30 EST on 2 March: 168 hours later is 21:30 EDT, inside the quiet hours: 08:00 EDT
        # on 10 March (12:00 UTC).
        (local(NEW_YORK, 2026, 3, 2, 20, 30), utc(2026, 3, 10, 1, 30), utc(2026, 3, 10, 12, 0)),
    ],
    ids=["spring", "autumn", "spring-evening"],
)
def test_after_conversation_across_a_dst_change(talk: Any, freed: Any, next_at: Any) -> None:
    req = ny_request()
    history = [call(talk, O.RIGHT_PARTY_CONTACT, direction=ContactDirection.INBOUND)]
    just_before = evaluate(US, req, history, freed - SECOND)
    wait = check(just_before, R.AFTER_CONVERSATION)
    assert not wait.passed
    assert wait.next_allowed_at == freed
    assert wait.detail == (
        "a telephone conversation about this case took place within the last 7 days"
    )
    assert just_before.next_allowed_at == next_at
    assert check(evaluate(US, req, history, freed), R.AFTER_CONVERSATION).passed
    assert evaluate(US, req, history, next_at).allowed


def test_seven_days_are_seven_calendar_days_when_the_autumn_change_adds_an_hour() -> None:
    """Reg F's period is seven consecutive days, the day of the conversation the first. A
    conversation at 00:30 EDT on 26 October is 168 hours before 23:30 EST on 1 November, still
    the seventh calendar day: the wait ends at midnight New York time, not an hour earlier.
    The same holds for the seven-calls window."""
    req = ny_request()
    talk = local(NEW_YORK, 2026, 10, 26, 0, 30)
    assert talk + WEEK == utc(2026, 11, 2, 4, 30)  # 23:30 EST on 1 November
    freed = utc(2026, 11, 2, 5, 0)  # 00:00 EST on 2 November
    history = [call(talk, O.RIGHT_PARTY_CONTACT, direction=ContactDirection.INBOUND)]
    for at in (talk + WEEK, freed - SECOND):
        wait = check(evaluate(US, req, history, at), R.AFTER_CONVERSATION)
        assert not wait.passed
        assert wait.next_allowed_at == freed
    assert check(evaluate(US, req, history, freed), R.AFTER_CONVERSATION).passed
    calls = [call(talk + timedelta(minutes=i), O.NO_ANSWER) for i in range(7)]
    weekly = check(evaluate(US, req, calls, talk + WEEK), R.WEEKLY_CALLS)
    assert not weekly.passed
    assert weekly.next_allowed_at == freed
    assert check(evaluate(US, req, calls, freed), R.WEEKLY_CALLS).passed


def test_after_conversation_held_by_another_callers_conversation() -> None:
    """The borrower talked to Zenith (inbound) and later to Acme: the lender waits seven days
    from the later one; a conversation on the borrower's other case does not hold this one."""
    t0 = local(NEW_YORK, 2026, 6, 1, 10, 0)
    history = [
        call(t0, O.RIGHT_PARTY_CONTACT, direction=ContactDirection.INBOUND, agency_id=ZENITH),
        call(t0 + timedelta(days=1), O.PROMISE_TO_PAY, agency_id=ACME, point_id=OTHER_POINT),
        call(t0 + timedelta(days=3), O.RIGHT_PARTY_CONTACT, case_id=OTHER_CASE, agency_id=LENDER),
    ]
    freed = t0 + timedelta(days=8)
    refused = assert_refused(US, ny_request(), history, freed - SECOND, R.AFTER_CONVERSATION)
    assert refused.next_allowed_at == freed
    assert evaluate(US, ny_request(), history, freed).allowed
    first_only = assert_refused(
        US, ny_request(), history[:1], t0 + WEEK - SECOND, R.AFTER_CONVERSATION
    )
    assert first_only.next_allowed_at == t0 + WEEK


def test_after_conversation_with_phone_and_home_in_different_zones() -> None:
    """A conversation at 19:00 New York time with a borrower whose phone is in Los Angeles:
    seven days later it is still 16:00 in LA, so the call is allowed at exactly 19:00 NY."""
    req = request(contact_point=point(zone=LOS_ANGELES), zones=(NEW_YORK,))
    talk = local(NEW_YORK, 2026, 6, 1, 19, 0)
    history = [call(talk, O.CALLBACK_REQUESTED)]
    refused = assert_refused(US, req, history, talk + WEEK - SECOND, R.AFTER_CONVERSATION)
    assert refused.next_allowed_at == talk + WEEK
    assert evaluate(US, req, history, talk + WEEK).allowed


# --- THIRD_PARTY: failed attempts by the lender and two agencies -------------------------------


@pytest.mark.parametrize("conduct", [CN, US], ids=["CN", "US_REG_F"])
def test_third_party_after_three_failed_attempts_by_three_callers(conduct: ConductProfile) -> None:
    zone = SHANGHAI if conduct is CN else NEW_YORK
    at = local(zone, 2026, 6, 1, 15, 0)
    req = request(
        party=TP, contact_point=point(id=9, owner=TP, zone=zone), zones=(), case_id=OTHER_CASE
    )
    failed = [
        call(local(zone, 2026, 6, 1, 9, 0), O.NO_ANSWER, agency_id=LENDER),
        call(
            local(zone, 2026, 6, 1, 10, 0), O.WRONG_NUMBER, agency_id=ZENITH, point_id=OTHER_POINT
        ),
        call(local(zone, 2026, 6, 1, 11, 0), O.BUSY_OR_NOT_CONNECTED, agency_id=ACME),
    ]
    two = evaluate(conduct, req, failed[:2], at)
    assert two.breaches == (R.THIRD_PARTY,)
    assert two.next_allowed_at is None
    assert check(two, R.THIRD_PARTY).detail == (
        "the borrower can still be reached: fewer than 3 failed attempts in a row"
    )
    three = evaluate(conduct, req, failed, at)
    assert three.allowed
    assert check(three, R.THIRD_PARTY).detail == "the last 3 attempts to reach the borrower failed"
    # One of the callers then reached the borrower: the third party is closed again.
    reached = [*failed, call(local(zone, 2026, 6, 1, 12, 0), O.RIGHT_PARTY_CONTACT, agency_id=ACME)]
    again = evaluate(conduct, req, reached, at)
    assert again.breaches == (R.THIRD_PARTY,)
    assert again.next_allowed_at is None


@pytest.mark.parametrize("conduct", [CN, US], ids=["CN", "US_REG_F"])
def test_a_refusal_to_one_agency_closes_the_third_party_to_every_caller(
    conduct: ConductProfile,
) -> None:
    zone = SHANGHAI if conduct is CN else NEW_YORK
    refusal = call(
        local(zone, 2026, 5, 20, 10, 0), O.REFUSED_TO_PAY, party=TP, point_id=9, agency_id=ZENITH
    )
    req = request(
        party=TP, contact_point=point(id=9, owner=TP, zone=zone), zones=(), borrower_reachable=False
    )
    at = local(zone, 2026, 6, 1, 15, 0)
    assert evaluate(conduct, req, [], at).allowed
    refused = evaluate(conduct, req, [refusal], at)
    assert refused.breaches == (R.THIRD_PARTY,)
    assert refused.next_allowed_at is None
    assert check(refused, R.THIRD_PARTY).detail == "this third party refused further contact"


# --- CONTACT_POINT_INVALID, OPTED_OUT: every channel, both profiles, no next instant -------------


@pytest.mark.parametrize("conduct", [CN, US], ids=["CN", "US_REG_F"])
@pytest.mark.parametrize(
    "channel", [Ch.PHONE, Ch.AUTOMATED_CALL, Ch.SMS, Ch.FIELD_VISIT, Ch.EMAIL, Ch.LETTER]
)
@pytest.mark.parametrize(
    ("status", "rule"),
    [
        (ContactPointStatus.INVALID, R.CONTACT_POINT_INVALID),
        (ContactPointStatus.OPTED_OUT, R.OPTED_OUT),
    ],
)
def test_unusable_points_refuse_every_channel_for_good(
    conduct: ConductProfile, channel: ContactChannel, status: ContactPointStatus, rule: str
) -> None:
    zone = SHANGHAI if conduct is CN else NEW_YORK
    req = request(
        channel=channel,
        contact_point=point(channel=channel, status=status, zone=zone),
        zones=(zone,),
        staff_count=2,
    )
    at = local(zone, 2026, 6, 1, 12, 0)
    refused = evaluate(conduct, req, [], at)
    assert refused.breaches == (rule,)
    assert refused.next_allowed_at is None
    assert check(refused, rule).next_allowed_at is None
    usable = request(
        channel=channel,
        contact_point=point(channel=channel, zone=zone),
        zones=(zone,),
        staff_count=2,
    )
    assert evaluate(conduct, usable, [], at).allowed
    inbound = request(
        channel=channel,
        direction=ContactDirection.INBOUND,
        contact_point=point(channel=channel, status=status, zone=zone),
        zones=(zone,),
    )
    assert evaluate(conduct, inbound, [], at).allowed


# --- FIELD_VISIT_TWO_STAFF: the count boundary and the clock ------------------------------------


def test_field_visit_two_staff_at_the_boundary_and_across_midnight() -> None:
    alone = request(channel=Ch.FIELD_VISIT, staff_count=1)
    pair = request(channel=Ch.FIELD_VISIT, staff_count=2)
    day = local(SHANGHAI, 2026, 5, 1, 10, 0)
    refused = evaluate(CN, alone, [], day)
    assert refused.breaches == (R.FIELD_VISIT_TWO_STAFF,)
    assert check(refused, R.FIELD_VISIT_TWO_STAFF).detail == (
        "a field visit needs at least 2 staff; 1 named"
    )
    assert refused.next_allowed_at is None
    assert evaluate(CN, pair, [], day).allowed
    # One collector at night: waiting does not lift the staff rule, so no next time at all.
    night = evaluate(CN, alone, [], local(SHANGHAI, 2026, 5, 1, 23, 59, 59))
    assert night.breaches == (R.FIELD_VISIT_TWO_STAFF, R.QUIET_HOURS)
    assert night.next_allowed_at is None
    assert night.first_failure is not None
    assert night.first_failure.rule == R.FIELD_VISIT_TWO_STAFF
    paired_night = evaluate(CN, pair, [], local(SHANGHAI, 2026, 5, 2, 0, 0))
    assert paired_night.breaches == (R.QUIET_HOURS,)
    assert paired_night.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 8, 0)
