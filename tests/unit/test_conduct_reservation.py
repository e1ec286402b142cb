"""An attempt reserved by startContact counts as a possible conversation only while its
reservation holds (RESERVATION); one nobody completes then counts as an unanswered attempt, so it
cannot hold the connected-call limits for the rest of the day (CN) or for seven days (Reg F)."""

from __future__ import annotations

from datetime import timedelta

from domain.conduct.engine import RESERVATION, evaluate
from domain.conduct.profiles import CN, US_REG_F, RuleName
from domain.contacts.model import ContactOutcome
from tests.unit.conduct_builders import NEW_YORK, SHANGHAI, call, check, local, point, request

SECOND = timedelta(seconds=1)


def test_a_fresh_reservation_counts_as_connected_and_a_lapsed_one_does_not() -> None:
    at = local(SHANGHAI, 2026, 11, 30, 15, 0)
    talks = [call(at - timedelta(hours=h), ContactOutcome.RIGHT_PARTY_CONTACT) for h in (4, 3)]
    just_inside = [*talks, call(at - RESERVATION + SECOND, None)]
    lapsed = [*talks, call(at - RESERVATION, None)]
    rule = RuleName.CONNECTED_CALLS_PER_DAY
    assert not check(evaluate(CN, request(), just_inside, at), rule).passed
    assert check(evaluate(CN, request(), lapsed, at), rule).passed
    # The lapsed reservation still counts as an unanswered attempt on the number.
    attempts = check(evaluate(CN, request(), lapsed, at), RuleName.DAILY_ATTEMPTS)
    assert attempts.detail.startswith("1 of 6")


def test_after_a_reservation_reg_f_waits_only_until_it_lapses() -> None:
    zone = NEW_YORK
    at = local(zone, 2026, 11, 30, 12, 0)
    reserved = at - timedelta(minutes=10)
    us = request(contact_point=point(zone=zone), zones=(zone,))
    result = check(evaluate(US_REG_F, us, [call(reserved, None)], at), "AFTER_CONVERSATION")
    assert not result.passed
    assert result.next_allowed_at == reserved + RESERVATION
    later = evaluate(US_REG_F, us, [call(reserved, None)], reserved + RESERVATION)
    assert check(later, "AFTER_CONVERSATION").passed
