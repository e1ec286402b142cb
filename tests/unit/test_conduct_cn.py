"""The CN conduct profile, every rule driven to its boundary (Asia/Shanghai is UTC+8, no DST)."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest

from domain.conduct.engine import ContactRequest, PastContact, PointFacts, evaluate
from domain.conduct.profiles import CN, RuleName
from domain.contacts.model import (
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    ContactParty,
    ContactPointKind,
    ContactPointStatus,
)
from tests.unit.conduct_builders import (
    NEW_YORK,
    OTHER_CASE,
    OTHER_POINT,
    POINT,
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


# --- QUIET_HOURS -------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", [Ch.PHONE, Ch.AUTOMATED_CALL, Ch.SMS, Ch.FIELD_VISIT])
def test_quiet_hours_evening_boundary(channel: ContactChannel) -> None:
    req = request(channel=channel, staff_count=2)
    inside = evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 1, 21, 59, 59))
    assert inside.allowed
    assert inside.next_allowed_at == utc(2026, 5, 1, 13, 59, 59)

    outside = evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 1, 22, 0, 0))
    assert not outside.allowed
    assert outside.breaches == (R.QUIET_HOURS,)
    assert outside.first_failure is not None
    assert outside.first_failure.rule == R.QUIET_HOURS
    # 08:00 the next morning in Shanghai is 00:00 UTC.
    assert outside.next_allowed_at == utc(2026, 5, 2, 0, 0)
    assert check(outside, R.QUIET_HOURS).next_allowed_at == utc(2026, 5, 2, 0, 0)
    assert "22:00 local time in Asia/Shanghai" in check(outside, R.QUIET_HOURS).detail


def test_quiet_hours_morning_boundary() -> None:
    req = request()
    before = evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 2, 7, 59, 59))
    assert not before.allowed
    assert before.breaches == (R.QUIET_HOURS,)
    assert before.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 8, 0)
    at_eight = evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 2, 8, 0, 0))
    assert at_eight.allowed
    assert check(at_eight, R.QUIET_HOURS).passed


def test_quiet_hours_across_local_midnight() -> None:
    """Refused at 23:59:59 and at 00:00 the next day; both next at 08:00 of the right day."""
    req = request()
    late = evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 1, 23, 59, 59))
    after_midnight = evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 2, 0, 0, 0))
    assert late.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 8, 0)
    assert after_midnight.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 8, 0)


@pytest.mark.parametrize("channel", [Ch.EMAIL, Ch.LETTER, Ch.LEGAL_NOTICE])
def test_quiet_hours_do_not_cover_written_channels(channel: ContactChannel) -> None:
    allowance = evaluate(CN, request(channel=channel), [], local(SHANGHAI, 2026, 5, 1, 23, 30))
    assert allowance.allowed
    qh = check(allowance, R.QUIET_HOURS)
    assert qh.passed
    assert "do not apply" in qh.detail


def test_quiet_hours_hold_in_every_zone_of_the_person() -> None:
    """A Shanghai borrower with a New York number (EDT in May, UTC-4, 12 hours behind): allowed
    only where both clocks show 08:00-22:00: 08:00-10:00 and 20:00-22:00 Shanghai time."""
    req = request(contact_point=point(zone=NEW_YORK), zones=(SHANGHAI,))
    evening = [
        (local(SHANGHAI, 2026, 5, 1, 19, 59, 59), local(SHANGHAI, 2026, 5, 1, 20, 0)),
        (local(SHANGHAI, 2026, 5, 1, 22, 0), local(SHANGHAI, 2026, 5, 2, 8, 0)),
        (local(SHANGHAI, 2026, 5, 2, 7, 59, 59), local(SHANGHAI, 2026, 5, 2, 8, 0)),
        (local(SHANGHAI, 2026, 5, 2, 10, 0), local(SHANGHAI, 2026, 5, 2, 20, 0)),
    ]
    for at, next_at in evening:
        refused = evaluate(CN, req, [], at)
        assert refused.breaches == (R.QUIET_HOURS,), at
        assert refused.next_allowed_at == next_at, at
    for at in (
        local(SHANGHAI, 2026, 5, 1, 20, 0),
        local(SHANGHAI, 2026, 5, 1, 21, 59, 59),
        local(SHANGHAI, 2026, 5, 2, 8, 0),
        local(SHANGHAI, 2026, 5, 2, 9, 59, 59),
    ):
        assert evaluate(CN, req, [], at).allowed, at
    detail = check(evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 1, 19, 59, 59)), R.QUIET_HOURS)
    assert detail.detail.endswith("07:59 local time in America/New_York")


def test_point_without_zone_uses_the_person_zones_alone() -> None:
    req = request(contact_point=point(zone=None), zones=(NEW_YORK,))
    # 09:00 in Shanghai is 21:00 in New York (EDT): fine in New York, which alone is considered.
    allowance = evaluate(CN, req, [], local(NEW_YORK, 2026, 5, 1, 21, 0))
    assert allowance.allowed
    assert evaluate(CN, req, [], local(NEW_YORK, 2026, 5, 1, 22, 0)).next_allowed_at == local(
        NEW_YORK, 2026, 5, 2, 8, 0
    )


def test_no_zone_known_assumes_the_profile_zone() -> None:
    req = request(contact_point=point(zone=None), zones=())
    refused = evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 1, 22, 0))
    assert refused.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 8, 0)
    assert "assumed" in check(refused, R.QUIET_HOURS).detail


def test_consented_hours_replace_the_window() -> None:
    req = request(contact_point=point(consent=(time(7, 0), time(9, 0))))
    assert not evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 1, 6, 59, 59)).allowed
    assert evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 1, 7, 0)).allowed
    assert evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 1, 8, 59, 59)).allowed
    refused = evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 1, 9, 0))
    assert refused.breaches == (R.QUIET_HOURS,)
    assert refused.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 7, 0)
    assert "consented hours 07:00-09:00" in check(refused, R.QUIET_HOURS).detail


def test_consented_hours_apply_only_while_consent_is_recorded() -> None:
    """Hours kept without consent (withdrawn, or never given) are the profile's hours again; so
    are hours whose consent was given only after the instant asked about."""
    hours = (time(21, 0), time(1, 0))
    at = local(SHANGHAI, 2026, 5, 1, 23, 30)
    withdrawn = PointFacts(
        POINT, ContactPointKind.PHONE, ContactParty.BORROWER, ContactPointStatus.VERIFIED,
        SHANGHAI, *hours, consented_at=None,
    )  # fmt: skip
    refused = evaluate(CN, request(contact_point=withdrawn), [], at)
    assert refused.breaches == (R.QUIET_HOURS,)
    assert "allowed hours 08:00-22:00" in check(refused, R.QUIET_HOURS).detail
    later = point(consent=hours, consented_at=at + timedelta(seconds=1))
    assert evaluate(CN, request(contact_point=later), [], at).breaches == (R.QUIET_HOURS,)
    given = point(consent=hours, consented_at=at)
    assert evaluate(CN, request(contact_point=given), [], at).allowed


def test_consented_hours_over_midnight() -> None:
    req = request(contact_point=point(consent=(time(21, 0), time(1, 0))))
    assert evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 1, 23, 30)).allowed
    assert evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 2, 0, 59, 59)).allowed
    refused = evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 2, 1, 0))
    assert refused.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 21, 0)


def test_inbound_contact_passes_the_quiet_hours() -> None:
    req = request(direction=ContactDirection.INBOUND)
    allowance = evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 1, 23, 0))
    assert allowance.allowed
    assert check(allowance, R.QUIET_HOURS).detail.startswith("inbound")


# --- DAILY_ATTEMPTS ----------------------------------------------------------------------------

DAY = (2026, 5, 1)


def attempts(n: int, **kwargs: Any) -> list[PastContact]:
    """n unanswered attempts on the point, at 09:00, 09:05, … Shanghai time on 1 May."""
    return [call(local(SHANGHAI, *DAY, 9, 5 * i), O.NO_ANSWER, **kwargs) for i in range(n)]


def test_five_attempts_leave_one() -> None:
    allowance = evaluate(CN, request(), attempts(5), local(SHANGHAI, *DAY, 12, 0))
    assert allowance.allowed
    assert allowance.attempts_left_today == 1
    assert check(allowance, R.DAILY_ATTEMPTS).detail.startswith("5 of 6")


def test_sixth_attempt_used_refuses_until_local_midnight_then_eight() -> None:
    allowance = evaluate(CN, request(), attempts(6), local(SHANGHAI, *DAY, 12, 0))
    assert not allowance.allowed
    assert allowance.attempts_left_today == 0
    assert allowance.breaches == (R.DAILY_ATTEMPTS,)
    daily = check(allowance, R.DAILY_ATTEMPTS)
    assert daily.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 0, 0)
    # Midnight is inside the quiet hours: the first instant both pass is 08:00.
    assert allowance.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 8, 0)


def test_attempts_of_the_previous_local_day_do_not_count() -> None:
    history = attempts(6)
    last_second = evaluate(CN, request(), history, local(SHANGHAI, *DAY, 21, 59, 59))
    assert not last_second.allowed
    next_day = evaluate(CN, request(), history, local(SHANGHAI, 2026, 5, 2, 8, 0))
    assert next_day.allowed
    assert next_day.attempts_left_today == 6


def test_the_local_day_is_the_points_day_not_utc() -> None:
    """An attempt at 07:30 Shanghai on 2 May is 23:30 UTC on 1 May: it counts on 2 May."""
    history = [call(local(SHANGHAI, 2026, 5, 2, 7, 30 + i // 10, i % 10)) for i in range(6)]
    allowance = evaluate(CN, request(), history, local(SHANGHAI, 2026, 5, 2, 8, 0))
    assert not allowance.allowed
    assert allowance.breaches == (R.DAILY_ATTEMPTS,)


@pytest.mark.parametrize(
    "outcome",
    [O.RIGHT_PARTY_CONTACT, O.PROMISE_TO_PAY, O.REFUSED_TO_PAY, O.CALLBACK_REQUESTED],
)
def test_answered_calls_are_not_attempts(outcome: ContactOutcome) -> None:
    history = [*attempts(5), call(local(SHANGHAI, *DAY, 11, 0), outcome)]
    allowance = evaluate(CN, request(), history, local(SHANGHAI, *DAY, 12, 0))
    assert allowance.attempts_left_today == 1
    assert check(allowance, R.DAILY_ATTEMPTS).passed


@pytest.mark.parametrize(
    "outcome", [None, O.NO_ANSWER, O.LEFT_MESSAGE, O.BUSY_OR_NOT_CONNECTED, O.FAILED]
)
def test_unanswered_and_in_progress_attempts_count(outcome: ContactOutcome | None) -> None:
    history = [*attempts(5), call(local(SHANGHAI, *DAY, 11, 0), outcome)]
    allowance = evaluate(CN, request(), history, local(SHANGHAI, *DAY, 12, 0))
    assert not allowance.allowed
    assert allowance.breaches == (R.DAILY_ATTEMPTS,)


def test_blocked_other_point_inbound_and_sms_do_not_count() -> None:
    history = [
        *attempts(5),
        call(local(SHANGHAI, *DAY, 11, 0), None, blocked=True),
        call(local(SHANGHAI, *DAY, 11, 1), point_id=OTHER_POINT),
        call(local(SHANGHAI, *DAY, 11, 2), direction=ContactDirection.INBOUND),
        call(local(SHANGHAI, *DAY, 11, 3), O.FAILED, channel=Ch.SMS),
    ]
    allowance = evaluate(CN, request(), history, local(SHANGHAI, *DAY, 12, 0))
    assert allowance.allowed
    assert allowance.attempts_left_today == 1


def test_attempts_are_shared_by_the_lender_and_two_agencies() -> None:
    history = [
        *attempts(2, agency_id=None),
        *[call(local(SHANGHAI, *DAY, 10, i), agency_id=100) for i in range(2)],
        *[call(local(SHANGHAI, *DAY, 11, i), agency_id=200, case_id=OTHER_CASE) for i in range(2)],
    ]
    allowance = evaluate(CN, request(), history, local(SHANGHAI, *DAY, 12, 0))
    assert allowance.breaches == (R.DAILY_ATTEMPTS,)
    assert allowance.attempts_left_today == 0
    assert evaluate(CN, request(), history[:-1], local(SHANGHAI, *DAY, 12, 0)).allowed


def test_attempts_on_a_duplicate_point_of_the_same_number_count_together() -> None:
    """The number was added twice (points 1 and 2): attempts on either count against both."""
    key = "PHONE:13900000001"
    history = [*attempts(3, key=key), *attempts(3, point_id=OTHER_POINT, key=key)]
    same_number = request(contact_point=point(key=key))
    allowance = evaluate(CN, same_number, history, local(SHANGHAI, *DAY, 12, 0))
    assert allowance.breaches == (R.DAILY_ATTEMPTS,)
    assert allowance.attempts_left_today == 0
    other_number = request(contact_point=point(key="PHONE:13900000002"))
    assert evaluate(CN, other_number, history, local(SHANGHAI, *DAY, 12, 0)).allowed
    # Without a key (as before), only the point's own attempts count.
    assert evaluate(CN, request(), history, local(SHANGHAI, *DAY, 12, 0)).attempts_left_today == 3


def test_consent_lifts_the_daily_limit() -> None:
    consented = point(consented_at=local(SHANGHAI, *DAY, 8, 30))
    allowance = evaluate(
        CN, request(contact_point=consented), attempts(10), local(SHANGHAI, *DAY, 12, 0)
    )
    assert allowance.allowed
    assert allowance.attempts_left_today is None
    assert "consented" in check(allowance, R.DAILY_ATTEMPTS).detail


def test_consent_given_later_does_not_lift_the_limit_earlier() -> None:
    later = point(consented_at=local(SHANGHAI, *DAY, 13, 0))
    allowance = evaluate(
        CN, request(contact_point=later), attempts(6), local(SHANGHAI, *DAY, 12, 0)
    )
    assert allowance.breaches == (R.DAILY_ATTEMPTS,)


def test_daily_attempts_only_count_calls() -> None:
    allowance = evaluate(CN, request(channel=Ch.SMS), attempts(6), local(SHANGHAI, *DAY, 12, 0))
    assert allowance.allowed
    assert allowance.attempts_left_today is None


def test_daily_attempts_use_the_points_zone_across_dst() -> None:
    """A New York number on 8 March 2026 (a 23-hour day): the day ends at 04:00 UTC on 9 March
    (midnight EDT), and the next call may be made at 08:00 EDT = 12:00 UTC."""
    ny = point(zone=NEW_YORK)
    req = request(contact_point=ny, zones=(NEW_YORK,))
    history = [call(local(NEW_YORK, 2026, 3, 8, 9, i)) for i in range(6)]
    allowance = evaluate(CN, req, history, local(NEW_YORK, 2026, 3, 8, 12, 0))
    assert check(allowance, R.DAILY_ATTEMPTS).next_allowed_at == utc(2026, 3, 9, 4, 0)
    assert allowance.next_allowed_at == utc(2026, 3, 9, 12, 0)


# --- CONNECTED_CALLS_PER_DAY -------------------------------------------------------------------


def connected(n: int, **kwargs: Any) -> list[PastContact]:
    return [call(local(SHANGHAI, *DAY, 9, i), O.RIGHT_PARTY_CONTACT, **kwargs) for i in range(n)]


def test_two_connected_calls_allow_a_third() -> None:
    allowance = evaluate(CN, request(), connected(2), local(SHANGHAI, *DAY, 12, 0))
    assert allowance.allowed
    assert check(allowance, R.CONNECTED_CALLS_PER_DAY).detail.startswith("2 of 3")


def test_three_connected_calls_refuse_until_the_next_morning() -> None:
    allowance = evaluate(CN, request(), connected(3), local(SHANGHAI, *DAY, 12, 0))
    assert allowance.breaches == (R.CONNECTED_CALLS_PER_DAY,)
    rule = check(allowance, R.CONNECTED_CALLS_PER_DAY)
    assert rule.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 0, 0)
    assert allowance.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 8, 0)


def test_connected_calls_count_every_point_case_caller_and_automated_calls() -> None:
    history = [
        call(local(SHANGHAI, *DAY, 9, 0), O.PROMISE_TO_PAY, point_id=OTHER_POINT, agency_id=100),
        call(local(SHANGHAI, *DAY, 9, 5), O.REFUSED_TO_PAY, case_id=OTHER_CASE, agency_id=200),
        call(local(SHANGHAI, *DAY, 9, 9), O.RIGHT_PARTY_CONTACT, channel=Ch.AUTOMATED_CALL),
    ]
    allowance = evaluate(CN, request(), history, local(SHANGHAI, *DAY, 12, 0))
    assert allowance.breaches == (R.CONNECTED_CALLS_PER_DAY,)


def test_connected_calls_ignore_inbound_other_parties_and_the_previous_day() -> None:
    history = [
        *connected(2),
        call(
            local(SHANGHAI, *DAY, 10, 0), O.RIGHT_PARTY_CONTACT, direction=ContactDirection.INBOUND
        ),
        call(local(SHANGHAI, *DAY, 10, 1), O.THIRD_PARTY_CONTACT, party=ContactParty.GUARANTOR),
        call(local(SHANGHAI, 2026, 4, 30, 21, 0), O.RIGHT_PARTY_CONTACT),
    ]
    assert evaluate(CN, request(), history, local(SHANGHAI, *DAY, 12, 0)).allowed


def test_a_call_in_progress_is_reserved_as_connected() -> None:
    """Two conversations today and a call in progress: a fourth is refused (the call in
    progress may yet connect), so two agents asking at once cannot both get the third."""
    in_progress = call(local(SHANGHAI, *DAY, 11, 0), None)
    allowance = evaluate(CN, request(), [*connected(2), in_progress], local(SHANGHAI, *DAY, 11, 1))
    assert allowance.breaches == (R.CONNECTED_CALLS_PER_DAY,)
    rule = check(allowance, R.CONNECTED_CALLS_PER_DAY)
    assert rule.detail.startswith("3 of 3 connected calls to this person today (1 in progress")
    assert rule.next_allowed_at == local(SHANGHAI, 2026, 5, 2, 0, 0)
    # Its outcome recorded as unanswered, the third connected call is allowed again.
    finished = call(local(SHANGHAI, *DAY, 11, 0), O.NO_ANSWER)
    assert evaluate(CN, request(), [*connected(2), finished], local(SHANGHAI, *DAY, 11, 1)).allowed


@pytest.mark.parametrize(
    "other",
    [
        call(local(SHANGHAI, *DAY, 11, 0), None, blocked=True),
        call(local(SHANGHAI, *DAY, 11, 0), None, channel=Ch.SMS),
        call(local(SHANGHAI, *DAY, 11, 0), None, party=ContactParty.GUARANTOR, point_id=9),
    ],
    ids=["blocked", "sms", "other-person"],
)
def test_what_is_not_reserved_as_connected(other: PastContact) -> None:
    assert evaluate(CN, request(), [*connected(2), other], local(SHANGHAI, *DAY, 12, 0)).allowed


def test_consent_does_not_lift_the_connected_limit() -> None:
    consented = point(consented_at=local(SHANGHAI, *DAY, 8, 0))
    allowance = evaluate(
        CN, request(contact_point=consented), connected(3), local(SHANGHAI, *DAY, 12, 0)
    )
    assert allowance.breaches == (R.CONNECTED_CALLS_PER_DAY,)


# --- THIRD_PARTY -------------------------------------------------------------------------------

TP = ContactParty.UNRELATED_THIRD_PARTY
THIRD_POINT = 7


def third_party(**kwargs: Any) -> ContactRequest:
    return request(
        party=TP,
        contact_point=point(id=THIRD_POINT, owner=TP),
        **kwargs,
    )


def failed_attempts(n: int, last: ContactOutcome = O.NO_ANSWER) -> list[PastContact]:
    outcomes = [O.NO_ANSWER, O.WRONG_NUMBER, O.BUSY_OR_NOT_CONNECTED, O.NO_ANSWER][: n - 1]
    outcomes.append(last)
    return [call(local(SHANGHAI, *DAY, 9, i), o) for i, o in enumerate(outcomes)]


def test_third_party_refused_while_the_borrower_can_be_reached() -> None:
    at = local(SHANGHAI, *DAY, 12, 0)
    for history in ([], failed_attempts(2)):
        allowance = evaluate(CN, third_party(), history, at)
        assert allowance.breaches == (R.THIRD_PARTY,)
        assert allowance.next_allowed_at is None
        assert check(allowance, R.THIRD_PARTY).next_allowed_at is None


def test_third_party_allowed_after_three_failed_attempts_in_a_row() -> None:
    allowance = evaluate(CN, third_party(), failed_attempts(3), local(SHANGHAI, *DAY, 12, 0))
    assert allowance.allowed
    assert "3 attempts" in check(allowance, R.THIRD_PARTY).detail


def test_a_conversation_among_the_last_three_keeps_third_parties_out() -> None:
    history = failed_attempts(4, last=O.RIGHT_PARTY_CONTACT)
    allowance = evaluate(CN, third_party(), history, local(SHANGHAI, *DAY, 12, 0))
    assert allowance.breaches == (R.THIRD_PARTY,)


def test_blocked_and_unfinished_attempts_are_not_failures() -> None:
    history = [
        *failed_attempts(2),
        call(local(SHANGHAI, *DAY, 10, 0), None, blocked=True),
        call(local(SHANGHAI, *DAY, 10, 1), None),
    ]
    allowance = evaluate(CN, third_party(), history, local(SHANGHAI, *DAY, 12, 0))
    assert allowance.breaches == (R.THIRD_PARTY,)


def test_third_party_allowed_when_the_borrower_has_no_usable_number() -> None:
    req = third_party(borrower_reachable=False)
    assert evaluate(CN, req, [], local(SHANGHAI, *DAY, 12, 0)).allowed


def test_never_again_once_the_third_party_refused() -> None:
    refusal = call(
        local(SHANGHAI, 2026, 4, 28, 10, 0), O.REFUSED_TO_PAY, point_id=THIRD_POINT, party=TP
    )
    req = third_party(borrower_reachable=False)
    allowance = evaluate(CN, req, [refusal], local(SHANGHAI, *DAY, 12, 0))
    assert allowance.breaches == (R.THIRD_PARTY,)
    assert allowance.next_allowed_at is None
    assert "refused" in check(allowance, R.THIRD_PARTY).detail


def test_a_refusal_holds_for_a_duplicate_point_of_the_third_party() -> None:
    key = "PHONE:13911112222"
    refusal = call(
        local(SHANGHAI, 2026, 4, 28, 10, 0), O.REFUSED_TO_PAY, point_id=THIRD_POINT + 1,
        party=TP, key=key,
    )  # fmt: skip
    req = request(
        party=TP, contact_point=point(id=THIRD_POINT, owner=TP, key=key), borrower_reachable=False
    )
    allowance = evaluate(CN, req, [refusal], local(SHANGHAI, *DAY, 12, 0))
    assert allowance.breaches == (R.THIRD_PARTY,)
    assert "refused" in check(allowance, R.THIRD_PARTY).detail


def test_other_parties_are_not_third_parties() -> None:
    for party in (ContactParty.GUARANTOR, ContactParty.SPOUSE, ContactParty.EMERGENCY_CONTACT):
        allowance = evaluate(CN, request(party=party), [], local(SHANGHAI, *DAY, 12, 0))
        assert allowance.allowed


# --- FIELD_VISIT_TWO_STAFF, CONTACT_POINT_INVALID, OPTED_OUT ----------------------------------


def test_field_visit_needs_two_staff() -> None:
    at = local(SHANGHAI, *DAY, 10, 0)
    alone = evaluate(CN, request(channel=Ch.FIELD_VISIT, staff_count=1), [], at)
    assert alone.breaches == (R.FIELD_VISIT_TWO_STAFF,)
    assert alone.next_allowed_at is None
    assert evaluate(CN, request(channel=Ch.FIELD_VISIT, staff_count=2), [], at).allowed


def test_field_visits_keep_the_quiet_hours() -> None:
    req = request(channel=Ch.FIELD_VISIT, staff_count=2)
    assert evaluate(CN, req, [], local(SHANGHAI, *DAY, 21, 59, 59)).allowed
    late = evaluate(CN, req, [], local(SHANGHAI, *DAY, 22, 0))
    assert late.breaches == (R.QUIET_HOURS,)


@pytest.mark.parametrize(
    ("status", "rule"),
    [
        (ContactPointStatus.INVALID, R.CONTACT_POINT_INVALID),
        (ContactPointStatus.OPTED_OUT, R.OPTED_OUT),
    ],
)
def test_unusable_points_refuse_with_no_next_time(status: ContactPointStatus, rule: str) -> None:
    req = request(contact_point=point(status=status))
    allowance = evaluate(CN, req, [], local(SHANGHAI, *DAY, 12, 0))
    assert allowance.breaches == (rule,)
    assert allowance.next_allowed_at is None


@pytest.mark.parametrize("status", [ContactPointStatus.VERIFIED, ContactPointStatus.UNVERIFIED])
def test_usable_points(status: ContactPointStatus) -> None:
    allowance = evaluate(
        CN, request(contact_point=point(status=status)), [], local(SHANGHAI, *DAY, 12, 0)
    )
    assert allowance.allowed


def test_outbound_contact_needs_a_point_of_the_channels_kind_and_party() -> None:
    at = local(SHANGHAI, *DAY, 12, 0)
    missing = evaluate(CN, request(no_point=True), [], at)
    assert missing.breaches == (R.CONTACT_POINT_INVALID,)
    address = evaluate(CN, request(contact_point=point(channel=Ch.LETTER)), [], at)
    assert address.breaches == (R.CONTACT_POINT_INVALID,)
    guarantors = evaluate(CN, request(contact_point=point(owner=ContactParty.GUARANTOR)), [], at)
    assert guarantors.breaches == (R.CONTACT_POINT_INVALID,)


def test_an_opted_out_point_at_night_reports_the_opt_out_first() -> None:
    req = request(contact_point=point(status=ContactPointStatus.OPTED_OUT))
    allowance = evaluate(CN, req, [], local(SHANGHAI, *DAY, 23, 0))
    assert allowance.breaches == (R.OPTED_OUT, R.QUIET_HOURS)
    assert allowance.first_failure is not None
    assert allowance.first_failure.rule == R.OPTED_OUT
    assert allowance.next_allowed_at is None


def test_inbound_contact_without_a_point_is_allowed() -> None:
    req = request(direction=ContactDirection.INBOUND, no_point=True)
    assert evaluate(CN, req, attempts(6), local(SHANGHAI, *DAY, 23, 0)).allowed


def test_history_after_the_instant_asked_about_is_ignored() -> None:
    history = attempts(6)
    allowance = evaluate(CN, request(), history, local(SHANGHAI, *DAY, 9, 22))
    assert allowance.allowed
    assert allowance.attempts_left_today == 1
