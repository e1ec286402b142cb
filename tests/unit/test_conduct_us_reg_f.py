"""The US_REG_F conduct profile, every rule driven to its boundary (Regulation F, 12 CFR 1006).

New York is UTC-5 (EST) / UTC-4 (EDT); in 2026 DST starts on 8 March and ends on 1 November.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.conduct.engine import RESERVATION, ContactRequest, PastContact, evaluate
from domain.conduct.profiles import US_REG_F, RuleName
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
WEEK = timedelta(days=7)


def ny_request(**kwargs: object) -> ContactRequest:
    """A call to the borrower's New York number."""
    kwargs.setdefault("contact_point", point(zone=NEW_YORK))
    kwargs.setdefault("zones", (NEW_YORK,))
    return request(**kwargs)  # type: ignore[arg-type]


def split_request() -> ContactRequest:
    """A borrower whose phone is in Los Angeles and whose address is in New York."""
    return request(contact_point=point(zone=LOS_ANGELES), zones=(NEW_YORK,))


def test_profile_rules() -> None:
    assert US.rule_names == (
        R.CONTACT_POINT_INVALID,
        R.OPTED_OUT,
        R.THIRD_PARTY,
        R.QUIET_HOURS,
        R.WEEKLY_CALLS,
        R.AFTER_CONVERSATION,
    )
    assert US.version == "US_REG_F-2021.1"


# --- QUIET_HOURS: 08:00-21:00 at every known location -----------------------------------------


def test_quiet_hours_boundaries_in_new_york() -> None:
    req = ny_request()
    assert evaluate(US, req, [], local(NEW_YORK, 2026, 6, 10, 20, 59, 59)).allowed
    nine = evaluate(US, req, [], local(NEW_YORK, 2026, 6, 10, 21, 0))
    assert nine.breaches == (R.QUIET_HOURS,)
    assert nine.next_allowed_at == utc(2026, 6, 11, 12, 0)  # 08:00 EDT
    early = evaluate(US, req, [], local(NEW_YORK, 2026, 6, 11, 7, 59, 59))
    assert early.breaches == (R.QUIET_HOURS,)
    assert early.next_allowed_at == utc(2026, 6, 11, 12, 0)
    assert evaluate(US, req, [], local(NEW_YORK, 2026, 6, 11, 8, 0)).allowed


def test_phone_and_address_in_different_zones_allow_11_to_21_new_york_time() -> None:
    """08:00 in Los Angeles is 11:00 in New York; 21:00 in New York is 18:00 in Los Angeles."""
    req = split_request()
    before = evaluate(US, req, [], local(NEW_YORK, 2026, 6, 10, 10, 59, 59))
    assert before.breaches == (R.QUIET_HOURS,)
    assert before.next_allowed_at == local(NEW_YORK, 2026, 6, 10, 11, 0)
    assert before.next_allowed_at == utc(2026, 6, 10, 15, 0)
    detail = check(before, R.QUIET_HOURS).detail
    assert "07:59 local time in America/Los_Angeles" in detail
    assert "America/New_York" not in detail
    assert evaluate(US, req, [], local(NEW_YORK, 2026, 6, 10, 11, 0)).allowed
    assert evaluate(US, req, [], local(NEW_YORK, 2026, 6, 10, 20, 59, 59)).allowed
    after = evaluate(US, req, [], local(NEW_YORK, 2026, 6, 10, 21, 0))
    assert after.breaches == (R.QUIET_HOURS,)
    assert after.next_allowed_at == utc(2026, 6, 11, 15, 0)
    assert "21:00 local time in America/New_York" in check(after, R.QUIET_HOURS).detail


def test_quiet_hours_across_the_spring_dst_change() -> None:
    """At 21:00 EST on 7 March the next allowed instant is 08:00 EDT on 8 March: 12:00 UTC, not
    13:00 (the night is an hour shorter)."""
    req = ny_request()
    refused = evaluate(US, req, [], local(NEW_YORK, 2026, 3, 7, 21, 0))
    assert refused.next_allowed_at == utc(2026, 3, 8, 12, 0)
    assert not evaluate(US, req, [], utc(2026, 3, 8, 11, 59, 59)).allowed
    assert evaluate(US, req, [], utc(2026, 3, 8, 12, 0)).allowed
    # The evening of the change: 21:00 EDT is 01:00 UTC.
    assert evaluate(US, req, [], utc(2026, 3, 9, 0, 59, 59)).allowed
    assert not evaluate(US, req, [], utc(2026, 3, 9, 1, 0)).allowed


def test_quiet_hours_across_the_autumn_dst_change() -> None:
    """At 21:00 EDT on 31 October the next allowed instant is 08:00 EST: 13:00 UTC."""
    req = ny_request()
    refused = evaluate(US, req, [], local(NEW_YORK, 2026, 10, 31, 21, 0))
    assert refused.next_allowed_at == utc(2026, 11, 1, 13, 0)
    assert not evaluate(US, req, [], utc(2026, 11, 1, 12, 59, 59)).allowed
    assert evaluate(US, req, [], utc(2026, 11, 1, 13, 0)).allowed
    assert evaluate(US, req, [], utc(2026, 11, 2, 1, 59, 59)).allowed  # 20:59:59 EST
    assert not evaluate(US, req, [], utc(2026, 11, 2, 2, 0)).allowed


def test_split_zones_across_both_dst_changes() -> None:
    req = split_request()
    spring = evaluate(US, req, [], local(NEW_YORK, 2026, 3, 7, 21, 0))
    assert spring.next_allowed_at == utc(2026, 3, 8, 15, 0)  # 11:00 EDT = 08:00 PDT
    autumn = evaluate(US, req, [], local(NEW_YORK, 2026, 10, 31, 21, 0))
    assert autumn.next_allowed_at == utc(2026, 11, 1, 16, 0)  # 11:00 EST = 08:00 PST


def test_written_channels_are_not_timed() -> None:
    email = ny_request(channel=Ch.EMAIL, contact_point=point(channel=Ch.EMAIL, zone=NEW_YORK))
    allowance = evaluate(US, email, [], local(NEW_YORK, 2026, 6, 10, 23, 0))
    assert allowance.allowed
    assert "do not apply to EMAIL" in check(allowance, R.QUIET_HOURS).detail


def test_no_zone_known_assumes_every_contiguous_us_zone() -> None:
    req = request(contact_point=point(zone=None), zones=())
    # 08:00 in Los Angeles is the first instant all four zones allow: 15:00 UTC in June.
    refused = evaluate(US, req, [], local(NEW_YORK, 2026, 6, 10, 10, 0))
    assert refused.next_allowed_at == utc(2026, 6, 10, 15, 0)
    assert "assumed" in check(refused, R.QUIET_HOURS).detail


# --- WEEKLY_CALLS: more than 7 calls in 7 days -------------------------------------------------

T0 = local(NEW_YORK, 2026, 6, 1, 10, 0)  # 14:00 UTC


def week_of_calls(n: int = 7, outcome: ContactOutcome | None = O.NO_ANSWER) -> list[PastContact]:
    """n calls about the case, one a day at 10:00 New York time from T0."""
    return [call(T0 + timedelta(days=i), outcome) for i in range(n)]


def test_seven_calls_refuse_an_eighth_until_the_first_leaves_the_window() -> None:
    req = ny_request()
    history = week_of_calls()
    refused = evaluate(US, req, history, T0 + timedelta(days=6, hours=1))
    assert refused.breaches == (R.WEEKLY_CALLS,)
    assert refused.next_allowed_at == T0 + WEEK
    assert check(refused, R.WEEKLY_CALLS).detail.startswith("7 of 7")
    just_before = evaluate(US, req, history, T0 + WEEK - timedelta(seconds=1))
    assert just_before.breaches == (R.WEEKLY_CALLS,)
    assert just_before.next_allowed_at == T0 + WEEK
    exactly = evaluate(US, req, history, T0 + WEEK)
    assert exactly.allowed
    assert check(exactly, R.WEEKLY_CALLS).detail.startswith("6 of 7")


def test_six_calls_allow_a_seventh() -> None:
    assert evaluate(US, ny_request(), week_of_calls(6), T0 + timedelta(days=6, hours=1)).allowed


def test_eight_calls_wait_for_the_second_oldest() -> None:
    history = [*week_of_calls(), call(T0 + timedelta(days=6, minutes=30))]
    refused = evaluate(US, ny_request(), history, T0 + timedelta(days=6, hours=1))
    assert refused.next_allowed_at == T0 + timedelta(days=8)


@pytest.mark.parametrize("outcome", [O.NO_ANSWER, O.LEFT_MESSAGE])
def test_unanswered_calls_count(outcome: ContactOutcome | None) -> None:
    history = [*week_of_calls(6), call(T0 + timedelta(days=6), outcome)]
    refused = evaluate(US, ny_request(), history, T0 + timedelta(days=6, hours=1))
    assert refused.breaches == (R.WEEKLY_CALLS,)


def test_a_call_in_progress_counts_and_may_be_a_conversation() -> None:
    """A call still in progress is counted among the week's calls, and as a conversation until
    its outcome says otherwise (or its reservation lapses): a second agent may not call
    meanwhile."""
    history = [*week_of_calls(6), call(T0 + timedelta(days=6), None)]
    refused = evaluate(US, ny_request(), history, T0 + timedelta(days=6, minutes=30))
    assert refused.breaches == (R.WEEKLY_CALLS, R.AFTER_CONVERSATION)
    wait = check(refused, R.AFTER_CONVERSATION)
    assert wait.next_allowed_at == T0 + timedelta(days=6) + RESERVATION
    assert "in progress" in wait.detail


def test_a_call_in_progress_alone_holds_the_next_call() -> None:
    """Two agents asking at once: the first call is in progress, so the second is refused."""
    at = T0 + timedelta(minutes=5)
    in_progress = call(T0, None)
    refused = evaluate(US, ny_request(), [in_progress], at)
    assert refused.breaches == (R.AFTER_CONVERSATION,)
    # Once its outcome says nobody answered, the next call is allowed at once.
    assert evaluate(US, ny_request(), [call(T0, O.NO_ANSWER)], at).allowed
    # Blocked attempts and in-progress calls about another case are not conversations.
    for other in (call(T0, None, blocked=True), call(T0, None, case_id=OTHER_CASE)):
        assert evaluate(US, ny_request(), [other], at).allowed


@pytest.mark.parametrize("outcome", [O.BUSY_OR_NOT_CONNECTED, O.WRONG_NUMBER, O.FAILED])
def test_calls_that_never_connect_do_not_count(outcome: ContactOutcome) -> None:
    history = [*week_of_calls(6), call(T0 + timedelta(days=6), outcome)]
    assert evaluate(US, ny_request(), history, T0 + timedelta(days=6, hours=1)).allowed


@pytest.mark.parametrize(
    "other",
    [
        call(T0 + timedelta(days=6), consented=True),
        call(T0 + timedelta(days=6), None, blocked=True),
        call(T0 + timedelta(days=6), case_id=OTHER_CASE),
        call(T0 + timedelta(days=6), channel=Ch.SMS),
        call(T0 + timedelta(days=6), O.NO_ANSWER, direction=ContactDirection.INBOUND),
        call(T0 + timedelta(days=6), party=ContactParty.GUARANTOR, point_id=OTHER_POINT),
    ],
    ids=["consented", "blocked", "other-case", "sms", "inbound", "other-person"],
)
def test_calls_that_do_not_count(other: PastContact) -> None:
    history = [*week_of_calls(6), other]
    assert evaluate(US, ny_request(), history, T0 + timedelta(days=6, hours=1)).allowed


def test_calls_by_the_lender_and_two_agencies_count_together() -> None:
    history = [
        call(T0 + timedelta(days=i), agency_id=(None, 100, 200)[i % 3], point_id=1 + i % 2)
        for i in range(7)
    ]
    refused = evaluate(US, ny_request(), history, T0 + timedelta(days=6, hours=1))
    assert refused.breaches == (R.WEEKLY_CALLS,)


def test_consent_within_seven_days_exempts_the_weekly_limit() -> None:
    at = T0 + timedelta(days=6, hours=1)
    inside = ny_request(
        contact_point=point(zone=NEW_YORK, consented_at=at - WEEK + timedelta(seconds=1))
    )
    allowance = evaluate(US, inside, week_of_calls(), at)
    assert allowance.allowed
    assert "consented" in check(allowance, R.WEEKLY_CALLS).detail
    edge = ny_request(contact_point=point(zone=NEW_YORK, consented_at=at - WEEK))
    assert evaluate(US, edge, week_of_calls(), at).breaches == (R.WEEKLY_CALLS,)


# --- AFTER_CONVERSATION: 7 days after a telephone conversation ---------------------------------


@pytest.mark.parametrize(
    ("outcome", "direction"),
    [
        (O.RIGHT_PARTY_CONTACT, ContactDirection.INBOUND),
        (O.PROMISE_TO_PAY, ContactDirection.OUTBOUND),
        (O.CALLBACK_REQUESTED, ContactDirection.OUTBOUND),
        (O.DISPUTE_RAISED, ContactDirection.INBOUND),
    ],
)
def test_no_call_within_seven_days_after_a_conversation(
    outcome: ContactOutcome, direction: ContactDirection
) -> None:
    history = [call(T0, outcome, direction=direction)]
    req = ny_request()
    refused = evaluate(US, req, history, T0 + WEEK - timedelta(seconds=1))
    assert refused.breaches == (R.AFTER_CONVERSATION,)
    assert refused.next_allowed_at == T0 + WEEK
    assert check(refused, R.AFTER_CONVERSATION).next_allowed_at == T0 + WEEK
    assert evaluate(US, req, history, T0 + WEEK).allowed


def test_the_latest_conversation_sets_the_wait() -> None:
    history = [call(T0, O.RIGHT_PARTY_CONTACT), call(T0 + timedelta(days=2), O.PROMISE_TO_PAY)]
    refused = evaluate(US, ny_request(), history, T0 + timedelta(days=3))
    assert refused.next_allowed_at == T0 + timedelta(days=9)


@pytest.mark.parametrize(
    "other",
    [
        call(T0, O.RIGHT_PARTY_CONTACT, case_id=OTHER_CASE),
        call(T0, O.RIGHT_PARTY_CONTACT, channel=Ch.SMS),
        call(T0, O.NO_ANSWER),
        call(T0, O.THIRD_PARTY_CONTACT, party=ContactParty.GUARANTOR, point_id=OTHER_POINT),
    ],
    ids=["other-case", "not-a-call", "no-conversation", "other-person"],
)
def test_what_is_not_a_conversation_about_the_case(other: PastContact) -> None:
    assert evaluate(US, ny_request(), [other], T0 + timedelta(days=1)).allowed


def test_a_late_conversation_waits_for_the_morning() -> None:
    """A borrower called in at 22:30: seven days later it is night, so 08:00 the day after."""
    late = local(NEW_YORK, 2026, 6, 1, 22, 30)
    refused = evaluate(
        US, ny_request(), [call(late, O.RIGHT_PARTY_CONTACT)], T0 + timedelta(days=2)
    )
    assert check(refused, R.AFTER_CONVERSATION).next_allowed_at == late + WEEK
    assert refused.next_allowed_at == local(NEW_YORK, 2026, 6, 9, 8, 0)


def test_consent_within_seven_days_exempts_the_wait() -> None:
    at = T0 + timedelta(days=1)
    consented = ny_request(contact_point=point(zone=NEW_YORK, consented_at=T0 + timedelta(hours=1)))
    history = [call(T0, O.CALLBACK_REQUESTED)]
    allowance = evaluate(US, consented, history, at)
    assert allowance.allowed
    assert "consented" in check(allowance, R.AFTER_CONVERSATION).detail


def test_inbound_calls_are_never_refused_for_frequency() -> None:
    history = [*week_of_calls(), call(T0 + timedelta(days=6), O.RIGHT_PARTY_CONTACT)]
    req = ny_request(direction=ContactDirection.INBOUND)
    assert evaluate(US, req, history, T0 + timedelta(days=6, hours=1)).allowed


# --- no daily counts, no field-visit rule; the common rules -----------------------------------


def test_no_daily_counts_in_reg_f() -> None:
    history = [call(T0 + timedelta(minutes=i), O.BUSY_OR_NOT_CONNECTED) for i in range(20)]
    allowance = evaluate(US, ny_request(), history, T0 + timedelta(hours=1))
    assert allowance.allowed
    assert allowance.attempts_left_today is None


def test_a_field_visit_by_one_collector_is_not_refused_by_reg_f() -> None:
    visit = ny_request(
        channel=Ch.FIELD_VISIT, contact_point=point(channel=Ch.FIELD_VISIT, zone=NEW_YORK)
    )
    assert evaluate(US, visit, [], T0).allowed


@pytest.mark.parametrize(
    ("status", "rule"),
    [
        (ContactPointStatus.INVALID, R.CONTACT_POINT_INVALID),
        (ContactPointStatus.OPTED_OUT, R.OPTED_OUT),
    ],
)
def test_unusable_points(status: ContactPointStatus, rule: str) -> None:
    req = ny_request(contact_point=point(zone=NEW_YORK, status=status))
    refused = evaluate(US, req, [], T0)
    assert refused.breaches == (rule,)
    assert refused.next_allowed_at is None


def test_third_party_conditions() -> None:
    tp = ContactParty.UNRELATED_THIRD_PARTY
    req = ny_request(party=tp, contact_point=point(id=9, owner=tp, zone=NEW_YORK))
    assert evaluate(US, req, [], T0).breaches == (R.THIRD_PARTY,)
    failed = [call(T0 - timedelta(hours=3 - i), O.NO_ANSWER) for i in range(3)]
    assert evaluate(US, req, failed, T0).allowed
