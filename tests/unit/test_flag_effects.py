"""Protections as data: every flag's and open complaint's effects through the one "what may be
done" function (``blocked_actions``) and the conduct engine (``assess``: stops, letters only, a
reduced attempt limit), the collection clock, and the services' refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.cases.model import CaseStage, CaseStatus
from domain.complaints.model import (
    Complaint,
    ComplaintChannel,
    ComplaintKind,
    Pause,
    clock_days_at,
    collection_clock_days,
)
from domain.conduct.engine import PastContact
from domain.conduct.profiles import RuleName
from domain.contacts.conduct import assess, situation_of
from domain.contacts.model import (
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    ContactParty,
    ContactPoint,
    ContactPointKind,
)
from domain.errors import ErrorCode
from domain.flags.effects import (
    COMPLAINT_RULES,
    FLAG_RULES,
    NO_PROTECTION,
    Effect,
    protection_of,
    render_markdown,
)
from domain.flags.model import BorrowerFlagKind
from domain.lifecycle.table import Action, Standing, blocked_actions
from tests.unit.test_contact_services import borrower, case, phone

F = BorrowerFlagKind
NOW = datetime(2026, 5, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, 00:00 in New York
OPEN = Standing(CaseStatus.OPEN, CaseStage.COLLECTION, placed=False, assigned=False)

# The documented effects, written out (the table must say exactly this).
EXPECTED = {
    F.HARDSHIP: {Effect.REDUCED_ATTEMPTS, Effect.NO_ESCALATION, Effect.PAUSE_CLOCK},
    F.SERIOUS_ILLNESS: {Effect.LETTERS_ONLY, Effect.NO_AGENCY_PLACEMENT},
    F.DECEASED: {
        Effect.STOP_CONTACT, Effect.NO_AGENCY_PLACEMENT, Effect.NO_ESCALATION, Effect.NO_ALLOCATION
    },
    F.MILITARY_SERVICE: {Effect.NO_AGENCY_PLACEMENT, Effect.NO_ESCALATION},
    F.BANKRUPTCY: {
        Effect.STOP_CONTACT, Effect.NO_AGENCY_PLACEMENT, Effect.NO_ESCALATION, Effect.NO_ALLOCATION
    },
    F.VULNERABLE: {Effect.REDUCED_ATTEMPTS, Effect.NO_AGENCY_PLACEMENT},
    F.CEASE_COMMUNICATION: {Effect.STOP_CONTACT, Effect.NO_ALLOCATION},
}  # fmt: skip
RULE = {flag: FLAG_RULES[flag].rule for flag in F}


def test_the_table_holds_the_documented_effects() -> None:
    assert {flag: set(row.effects) for flag, row in FLAG_RULES.items()} == EXPECTED
    assert RULE[F.CEASE_COMMUNICATION] == "CEASE_COMMUNICATION"
    assert RULE[F.DECEASED] == "FLAG_DECEASED"
    assert COMPLAINT_RULES[ComplaintKind.COMPLAINT].rule == "OPEN_COMPLAINT"
    assert COMPLAINT_RULES[ComplaintKind.DISPUTE].rule == "OPEN_DISPUTE"
    evidence = {flag for flag, row in FLAG_RULES.items() if row.evidence_required}
    assert evidence == {
        F.SERIOUS_ILLNESS, F.DECEASED, F.MILITARY_SERVICE, F.BANKRUPTCY, F.CEASE_COMMUNICATION
    }  # fmt: skip
    assert len(render_markdown().splitlines()) == 2 + len(FLAG_RULES) + len(COMPLAINT_RULES)


@pytest.mark.parametrize("flag", list(F))
def test_each_flag_forbids_exactly_its_actions(flag: BorrowerFlagKind) -> None:
    refused = blocked_actions(protection_of([], [flag]).protect(OPEN))
    expected = {
        action
        for effect, action in (
            (Effect.NO_AGENCY_PLACEMENT, Action.PLACE),
            (Effect.NO_ESCALATION, Action.ESCALATE),
            (Effect.NO_ALLOCATION, Action.ALLOCATE),
            (Effect.STOP_CONTACT, Action.CONTACT),
        )
        if effect in EXPECTED[flag]
    }
    # RECALL is refused by the life cycle itself (the case is not placed).
    assert set(refused) - {Action.RECALL} == expected
    for action in expected:
        code, why = refused[action]
        assert code is ErrorCode.ACTION_NOT_ALLOWED
        assert why.startswith(f"{RULE[flag]}: ")


@pytest.mark.parametrize("kind", list(ComplaintKind))
def test_an_open_complaint_holds_collection_on_its_case(kind: ComplaintKind) -> None:
    refused = blocked_actions(protection_of([kind], []).protect(OPEN))
    for action in (Action.CONTACT, Action.PLACE, Action.ESCALATE, Action.ALLOCATE):
        assert refused[action] == (
            ErrorCode.ACTION_NOT_ALLOWED,
            f"{COMPLAINT_RULES[kind].rule}: {COMPLAINT_RULES[kind].explanation}",
        )
    for action in (Action.PROMISE, Action.ASSIGN):
        assert action not in refused


def test_the_life_cycle_s_own_refusal_comes_first() -> None:
    closed = Standing(CaseStatus.CLOSED, CaseStage.COLLECTION, placed=False, assigned=False)
    refused = blocked_actions(protection_of([], [F.DECEASED]).protect(closed))
    assert refused[Action.PLACE][0] is ErrorCode.CASE_CLOSED
    assert NO_PROTECTION.protect(OPEN) is OPEN


# ---- through the conduct engine ---------------------------------------------------------------


def allowance(
    flags: list[BorrowerFlagKind],
    channel: ContactChannel = ContactChannel.PHONE,
    *,
    complaints: tuple[ComplaintKind, ...] = (),
    direction: ContactDirection = ContactDirection.OUTBOUND,
    history: tuple[PastContact, ...] = (),
    portfolio: str = "retail",
    points: tuple[ContactPoint, ...] = (),
) -> object:
    made = case(10, 100, portfolio=portfolio)
    owned = points or (
        phone(1, time_zone="Asia/Shanghai"),
        ContactPoint(100, ContactPointKind.ADDRESS, "上海市", ContactParty.BORROWER, id=2),
    )
    situation = situation_of(made, borrower(100), owned, protection_of(complaints, flags))
    point = next(
        (p for p in owned if p.kind == ("ADDRESS" if channel == "LETTER" else "PHONE")), None
    )
    return assess(
        situation,
        channel=channel,
        party=ContactParty.BORROWER,
        direction=direction,
        point=point if direction == ContactDirection.OUTBOUND else None,
        history=list(history),
        at=NOW,
    )


def failed(result: object) -> list[str]:
    return [c.rule for c in result.checks if not c.passed]  # type: ignore[attr-defined]


@pytest.mark.parametrize("flag", [F.DECEASED, F.BANKRUPTCY, F.CEASE_COMMUNICATION])
def test_a_stopping_flag_refuses_every_outbound_channel_but_not_inbound(
    flag: BorrowerFlagKind,
) -> None:
    for channel in (ContactChannel.PHONE, ContactChannel.LETTER):
        result = allowance([flag], channel)
        assert failed(result) == [RULE[flag]]
        assert result.next_allowed_at is None  # type: ignore[attr-defined]
    assert failed(allowance([flag], direction=ContactDirection.INBOUND)) == []


def test_letters_only_refuses_every_other_channel_naming_the_flag() -> None:
    assert failed(allowance([F.SERIOUS_ILLNESS], ContactChannel.PHONE)) == ["FLAG_SERIOUS_ILLNESS"]
    assert failed(allowance([F.SERIOUS_ILLNESS], ContactChannel.LETTER)) == []
    inbound = allowance([F.SERIOUS_ILLNESS], direction=ContactDirection.INBOUND)
    assert failed(inbound) == []


@pytest.mark.parametrize("flag", [F.MILITARY_SERVICE])
def test_a_flag_without_a_contact_effect_leaves_contact_alone(flag: BorrowerFlagKind) -> None:
    assert failed(allowance([flag])) == []


def unanswered(n: int) -> tuple[PastContact, ...]:
    return tuple(
        PastContact(
            case_id=10,
            at=NOW - timedelta(minutes=30 + i),
            channel=ContactChannel.PHONE,
            direction=ContactDirection.OUTBOUND,
            party=ContactParty.BORROWER,
            contact_point_id=1,
            outcome=ContactOutcome.NO_ANSWER,
        )
        for i in range(n)
    )


@pytest.mark.parametrize("flag", [F.HARDSHIP, F.VULNERABLE])
def test_a_reduced_attempt_limit_refuses_the_third_attempt_of_the_day(
    flag: BorrowerFlagKind,
) -> None:
    one = allowance([flag], history=unanswered(1))
    assert failed(one) == []
    assert one.attempts_left_today == 1  # type: ignore[attr-defined]
    two = allowance([flag], history=unanswered(2))
    assert failed(two) == [RULE[flag]]  # the refusal names the flag's rule
    check = next(c for c in two.checks if c.rule == RULE[flag])  # type: ignore[attr-defined]
    assert "2 of 2 unanswered call attempts" in check.detail
    assert RULE[flag] in check.detail
    assert check.next_allowed_at is not None  # tomorrow, local time
    # Without the flag the profile's own limit (6) applies.
    assert failed(allowance([], history=unanswered(2))) == []


def test_a_reduced_limit_applies_in_a_profile_without_a_daily_attempts_rule() -> None:
    points = (phone(1, time_zone="America/Chicago"),)
    made = case(10, 100, portfolio="us-cards")
    at = datetime(2026, 5, 1, 17, 0, tzinfo=UTC)  # midday in Chicago
    history = [
        PastContact(at=at - timedelta(minutes=5 + i), case_id=10, channel=ContactChannel.PHONE,
                    party=ContactParty.BORROWER, direction=ContactDirection.OUTBOUND,
                    contact_point_id=1, outcome=ContactOutcome.NO_ANSWER)
        for i in range(2)
    ]  # fmt: skip
    who = borrower(100)
    who.time_zone = "America/Chicago"
    for flags, refused in (([], []), ([F.HARDSHIP], ["FLAG_HARDSHIP"])):
        situation = situation_of(made, who, points, protection_of([], flags))
        result = assess(
            situation,
            channel=ContactChannel.PHONE,
            party=ContactParty.BORROWER,
            direction=ContactDirection.OUTBOUND,
            point=points[0],
            history=history,
            at=at,
        )
        assert failed(result) == refused


def test_an_open_complaint_or_dispute_stops_outbound_only() -> None:
    for kind, rule in ((ComplaintKind.COMPLAINT, "OPEN_COMPLAINT"),
                       (ComplaintKind.DISPUTE, "OPEN_DISPUTE")):  # fmt: skip
        assert failed(allowance([], complaints=(kind,))) == [rule]
        inbound = allowance([], complaints=(kind,), direction=ContactDirection.INBOUND)
        assert failed(inbound) == []
    both = allowance([F.CEASE_COMMUNICATION], complaints=tuple(ComplaintKind))
    assert failed(both) == [RuleName.OPEN_COMPLAINT, "OPEN_DISPUTE", "CEASE_COMMUNICATION"]


# ---- the collection clock ---------------------------------------------------------------------

D = date(2026, 3, 1)


@pytest.mark.parametrize(
    ("pauses", "days"),
    [
        ((), 30),
        ((Pause(D + timedelta(10), D + timedelta(10)),), 30),  # filed and resolved the same day
        ((Pause(D + timedelta(10), D + timedelta(11)),), 29),
        ((Pause(D + timedelta(10), None),), 10),  # still open: the clock stopped on day 10
        ((Pause(D + timedelta(10), None), Pause(D + timedelta(12), D + timedelta(15))), 10),
        (
            (Pause(D + timedelta(5), D + timedelta(8)), Pause(D + timedelta(7), D + timedelta(9))),
            26,
        ),
        ((Pause(D - timedelta(5), D + timedelta(2)),), 28),  # before the case opened: clipped
        ((Pause(D + timedelta(40), None),), 30),  # not yet begun
    ],
)
def test_collection_clock_days(pauses: tuple[Pause, ...], days: int) -> None:
    assert collection_clock_days(D, D + timedelta(30), pauses) == days


def test_the_clock_counts_in_the_portfolio_s_calendar() -> None:
    # 16:30 UTC on 10 March is already 11 March in Shanghai.
    spans = [(datetime(2026, 3, 10, 16, 30, tzinfo=UTC), None)]
    now = datetime(2026, 3, 31, 4, 0, tzinfo=UTC)
    assert clock_days_at(D, "retail", spans, now) == 10
    assert clock_days_at(D, "us-cards", spans, now) == 9
    assert collection_clock_days(D, D, ()) == 0


def test_days_to_resolve_count_local_days() -> None:
    complaint = Complaint(
        1, 100, ComplaintKind.DISPUTE, ComplaintChannel.LETTER, True, "wrong amount",
        datetime(2026, 3, 10, 15, 0, tzinfo=UTC), 1,
    )  # fmt: skip
    assert complaint.days_to_resolve("retail") is None
    complaint.resolve(" verified ", datetime(2026, 3, 12, 17, 0, tzinfo=UTC), 2)
    assert complaint.resolution == "verified"
    assert complaint.days_to_resolve("retail") == 3  # 10 Mar 23:00 → 13 Mar 01:00 local
    assert complaint.days_to_resolve("us-cards") == 2  # 10 Mar 11:00 → 12 Mar 13:00 local


def test_protection_is_ordered_by_the_table() -> None:
    found = protection_of([ComplaintKind.DISPUTE], [F.CEASE_COMMUNICATION, F.HARDSHIP])
    assert found.rules == ("OPEN_DISPUTE", "FLAG_HARDSHIP", "CEASE_COMMUNICATION")
    assert found.attempt_limit == (2, "FLAG_HARDSHIP")
    assert found.pauses_clock


def test_the_api_guide_shows_the_table_as_the_code_has_it() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "API.md").read_text()
    start, end = "<!-- protections:start -->\n", "<!-- protections:end -->"
    assert text.count(start) == 1 and text.count(end) == 1
    shown = text.split(start)[1].split(end)[0]
    assert shown == render_markdown(), (
        "docs/API.md's flag-effects table differs from domain.flags.effects.render_markdown()"
    )
