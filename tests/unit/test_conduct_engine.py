"""The conduct engine's shared mechanics: profiles as data, cease conditions, the next allowed
instant, local clocks across DST gaps, and what it refuses to take."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from domain.conduct.engine import ContactRequest, PointFacts, evaluate, local_instant
from domain.conduct.profiles import (
    CN,
    DEFAULT_PROFILE,
    PROFILES,
    US_REG_F,
    ConductProfile,
    RuleName,
    UnknownProfile,
    flag_rule,
    profile,
)
from domain.contacts.model import (
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    ContactParty,
    ContactPointKind,
    ContactPointStatus,
)
from tests.unit.conduct_builders import NEW_YORK, SHANGHAI, call, check, local, point, request, utc

R = RuleName


def test_profiles_are_named_and_versioned() -> None:
    assert DEFAULT_PROFILE == "CN"
    assert set(PROFILES) == {"CN", "US_REG_F"}
    assert profile("CN") is CN
    assert profile("US_REG_F") is US_REG_F
    assert CN.version == "CN-2026.1"
    with pytest.raises(UnknownProfile):
        profile("EU")


def test_cn_lists_its_rules_in_a_fixed_order() -> None:
    assert CN.rule_names == (
        R.CONTACT_POINT_INVALID,
        R.OPTED_OUT,
        R.THIRD_PARTY,
        R.FIELD_VISIT_TWO_STAFF,
        R.QUIET_HOURS,
        R.DAILY_ATTEMPTS,
        R.CONNECTED_CALLS_PER_DAY,
    )


@pytest.mark.parametrize("conduct", [CN, US_REG_F], ids=["CN", "US_REG_F"])
def test_every_rule_explains_itself_in_one_line(conduct: ConductProfile) -> None:
    assert PROFILES[conduct.name] is conduct
    for rule in conduct.rules:
        assert rule.explanation and "\n" not in rule.explanation
        assert all(isinstance(v, str) for v in rule.parameters().values())


def test_rule_parameters_are_the_numbers_of_the_profile() -> None:
    quiet = CN.rule(R.QUIET_HOURS)
    assert quiet is not None
    assert quiet.parameters()["allowedFrom"] == "08:00"
    assert quiet.parameters()["allowedUntil"] == "22:00"
    daily = CN.rule(R.DAILY_ATTEMPTS)
    assert daily is not None and daily.parameters() == {"limit": "6", "consentLifts": "true"}
    weekly = US_REG_F.rule(R.WEEKLY_CALLS)
    assert weekly is not None and weekly.parameters() == {"limit": "7", "windowDays": "7"}
    us_quiet = US_REG_F.rule(R.QUIET_HOURS)
    assert us_quiet is not None and us_quiet.parameters()["allowedUntil"] == "21:00"
    assert US_REG_F.rule(R.DAILY_ATTEMPTS) is None
    assert US_REG_F.rule(R.FIELD_VISIT_TWO_STAFF) is None


def test_every_check_is_reported_even_when_allowed() -> None:
    allowance = evaluate(CN, request(), [], local(SHANGHAI, 2026, 5, 1, 12, 0))
    assert allowance.allowed
    assert tuple(c.rule for c in allowance.checks) == CN.rule_names
    assert allowance.breaches == ()
    assert allowance.first_failure is None
    assert allowance.next_allowed_at == local(SHANGHAI, 2026, 5, 1, 12, 0)
    assert allowance.profile_version == "CN-2026.1"


def test_cease_conditions_fail_with_no_next_time() -> None:
    extra = (
        (R.OPEN_COMPLAINT, "a complaint is open on the case"),
        (flag_rule("deceased"), "the borrower is flagged DECEASED"),
    )
    at = local(SHANGHAI, 2026, 5, 1, 12, 0)
    allowance = evaluate(CN, request(extra=extra), [], at)
    assert not allowance.allowed
    assert allowance.breaches == ("OPEN_COMPLAINT", "FLAG_DECEASED")
    assert allowance.next_allowed_at is None
    assert allowance.checks[-1].detail == "the borrower is flagged DECEASED"
    assert allowance.first_failure is not None
    assert allowance.first_failure.rule == "OPEN_COMPLAINT"


def test_a_cease_condition_overrides_a_time_that_would_pass() -> None:
    extra = ((R.CEASE_COMMUNICATION, "the borrower asked in writing to stop"),)
    night = evaluate(CN, request(extra=extra), [], local(SHANGHAI, 2026, 5, 1, 23, 0))
    assert night.breaches == (R.QUIET_HOURS, R.CEASE_COMMUNICATION)
    assert night.next_allowed_at is None
    assert night.first_failure is not None and night.first_failure.rule == R.CEASE_COMMUNICATION


def test_the_next_instant_satisfies_every_time_rule_at_once() -> None:
    """Seven calls from 6 June, the last a conversation at 20:50 on 11 June (New York time): the
    week frees up at 11:00 on 13 June, the wait after the conversation at 20:50 on 18 June, and
    the quiet hours (a Los Angeles phone: 11:00-21:00 New York time) allow 20:50: that is next."""
    req = request(contact_point=point(zone="America/Los_Angeles"), zones=(NEW_YORK,))
    conversation = local(NEW_YORK, 2026, 6, 11, 20, 50)
    history = [
        *[call(local(NEW_YORK, 2026, 6, 6 + i, 11, 0)) for i in range(6)],
        call(conversation, ContactOutcome.PROMISE_TO_PAY),
    ]
    allowance = evaluate(US_REG_F, req, history, local(NEW_YORK, 2026, 6, 12, 12, 0))
    assert allowance.breaches == (R.WEEKLY_CALLS, R.AFTER_CONVERSATION)
    assert check(allowance, R.WEEKLY_CALLS).next_allowed_at == local(NEW_YORK, 2026, 6, 13, 11, 0)
    assert allowance.next_allowed_at == local(NEW_YORK, 2026, 6, 18, 20, 50)


def test_the_next_instant_moves_past_the_quiet_hours() -> None:
    """The same, with the conversation at 21:30: seven days later it is night in New York, and
    the next instant is 11:00 the day after (08:00 in Los Angeles)."""
    req = request(contact_point=point(zone="America/Los_Angeles"), zones=(NEW_YORK,))
    history = [call(local(NEW_YORK, 2026, 6, 11, 21, 30), ContactOutcome.RIGHT_PARTY_CONTACT)]
    allowance = evaluate(US_REG_F, req, history, local(NEW_YORK, 2026, 6, 12, 12, 0))
    assert allowance.next_allowed_at == local(NEW_YORK, 2026, 6, 19, 11, 0)


def test_no_next_time_when_the_zones_never_share_an_allowed_hour() -> None:
    """Consented hours 08:00-09:00 in both Shanghai and New York never overlap."""
    consenting = point(zone=NEW_YORK, consent=(time(8, 0), time(9, 0)))
    req = request(contact_point=consenting, zones=(SHANGHAI,))
    allowance = evaluate(CN, req, [], local(SHANGHAI, 2026, 5, 1, 12, 0))
    assert allowance.breaches == (R.QUIET_HOURS,)
    assert allowance.next_allowed_at is None
    assert "no moment" in check(allowance, R.QUIET_HOURS).detail


def test_local_instant_in_a_dst_gap_is_the_end_of_the_gap() -> None:
    ny = ZoneInfo(NEW_YORK)
    assert local_instant(date(2026, 3, 8), time(2, 30), ny) == utc(2026, 3, 8, 7, 0)
    assert local_instant(date(2026, 3, 8), time(3, 0), ny) == utc(2026, 3, 8, 7, 0)
    assert local_instant(date(2026, 3, 8), time(1, 59, 59), ny) == utc(2026, 3, 8, 6, 59, 59)
    # 01:30 on 1 November is shown twice: the first showing (EDT).
    assert local_instant(date(2026, 11, 1), time(1, 30), ny) == utc(2026, 11, 1, 5, 30)


def test_consented_hours_inside_a_dst_gap() -> None:
    """Consent from 02:30 on the night the clocks skip 02:00-03:00: allowed from 03:00 EDT."""
    consenting = point(zone=NEW_YORK, consent=(time(2, 30), time(6, 0)))
    req = request(contact_point=consenting, zones=(NEW_YORK,))
    refused = evaluate(CN, req, [], utc(2026, 3, 8, 6, 59, 59))  # 01:59:59 EST
    assert refused.next_allowed_at == utc(2026, 3, 8, 7, 0)
    assert evaluate(CN, req, [], utc(2026, 3, 8, 7, 0)).allowed


def test_naive_instants_and_unknown_zones_are_refused() -> None:
    with pytest.raises(ValueError):
        evaluate(CN, request(), [], datetime(2026, 5, 1, 12, 0))
    with pytest.raises(ValueError):
        PointFacts(
            1,
            ContactPointKind.PHONE,
            ContactParty.BORROWER,
            ContactPointStatus.VERIFIED,
            "Mars/Olympus",
        )
    with pytest.raises(ValueError):
        ContactRequest(
            1,
            ContactChannel.PHONE,
            ContactParty.BORROWER,
            ContactDirection.OUTBOUND,
            None,
            ("Not/AZone",),
        )


def test_instants_in_any_offset_are_the_same_instant() -> None:
    at = datetime(2026, 5, 1, 22, 0, tzinfo=ZoneInfo(SHANGHAI))
    in_utc = at.astimezone(UTC)
    assert (
        evaluate(CN, request(), [], at).next_allowed_at
        == evaluate(CN, request(), [], in_utc).next_allowed_at
    )
