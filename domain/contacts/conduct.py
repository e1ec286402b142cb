"""From a case, its borrower and their contact points to the conduct engine's question.

One function, ``assess``, answers whether a contact is allowed; ``contactAllowance``,
``startContact`` and ``logContact`` all ask it, with the facts loaded their own way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from domain.borrowers.model import Borrower
from domain.cases.model import Case
from domain.conduct.engine import (
    Allowance,
    AttemptLimit,
    ContactRequest,
    PastContact,
    PointFacts,
    evaluate,
)
from domain.conduct.profiles import ConductProfile, RuleName, profile
from domain.contacts.errors import ContactPointMismatch, ContactPointNotFound
from domain.contacts.model import (
    CHANNEL_KIND,
    USABLE_STATUSES,
    ContactChannel,
    ContactDirection,
    ContactParty,
    ContactPoint,
    ContactPointKind,
    ContactPointStatus,
)
from domain.flags.effects import NO_PROTECTION, Protection
from domain.lifecycle.moves import standing_of
from domain.lifecycle.table import Action, Standing, blocked_actions
from domain.portfolios import conduct_profile_of

# A call placed within this long after the person consented is a consented call (Reg F).
CONSENT_WINDOW = timedelta(days=7)
# The channels a letters-only protection leaves open.
WRITTEN_CHANNELS = frozenset({ContactChannel.LETTER})


@dataclass(frozen=True)
class Situation:
    """What the rules need to know of a case, its borrower and the borrower's contact points."""

    case_id: int
    borrower_id: int
    portfolio: str
    standing: Standing
    borrower_time_zone: str
    borrower_has_phone: bool  # the borrower record's own number (before any contact point)
    points: tuple[ContactPoint, ...]
    # Open complaints and the borrower's flags (already in ``standing``'s cease conditions).
    protection: Protection = NO_PROTECTION

    @property
    def profile_name(self) -> str:
        return conduct_profile_of(self.portfolio)


def situation_of(
    case: Case,
    borrower: Borrower,
    points: Sequence[ContactPoint],
    protection: Protection = NO_PROTECTION,
) -> Situation:
    """Returns the facts of a case for the conduct rules, with the protections in force on it
    (open complaints, the borrower's flags)."""
    assert case.id is not None and borrower.id is not None
    return Situation(
        case_id=case.id,
        borrower_id=borrower.id,
        portfolio=case.portfolio,
        standing=protection.protect(standing_of(case)),
        borrower_time_zone=borrower.time_zone,
        borrower_has_phone=bool(borrower.phone.strip()),
        points=tuple(points),
        protection=protection,
    )


def _rank(point: ContactPoint) -> tuple[int, int]:
    verified = 0 if point.status == ContactPointStatus.VERIFIED else 1
    return verified, point.id or 0


def shared_status(point: ContactPoint, points: Sequence[ContactPoint]) -> ContactPointStatus:
    """Returns the status the rules give a point: an opt-out or an invalid mark on any point of
    the same value (a duplicate added later) holds for every point of that value."""
    same = [p.status for p in points if p.key == point.key] + [point.status]
    for protective in (ContactPointStatus.OPTED_OUT, ContactPointStatus.INVALID):
        if protective in same:
            return protective
    return ContactPointStatus(point.status)


def default_point(
    points: Sequence[ContactPoint], party: ContactParty, channel: ContactChannel
) -> ContactPoint | None:
    """Returns the party's primary point for a channel: the first usable point of the channel's
    kind (by ``shared_status``), verified before unverified, oldest first (None: there is
    none)."""
    kind = CHANNEL_KIND[channel]
    usable = [
        p
        for p in points
        if p.owner == party and p.kind == kind and shared_status(p, points) in USABLE_STATUSES
    ]
    return min(usable, key=_rank) if usable else None


def chosen_point(
    situation: Situation, channel: ContactChannel, party: ContactParty, point_id: int | None
) -> ContactPoint | None:
    """Returns the point named (refused unless it is the borrower's, of the channel's kind and
    the party's), or, without ``point_id``, the party's primary point for the channel."""
    if point_id is None:
        return default_point(situation.points, party, channel)
    point = next((p for p in situation.points if p.id == point_id), None)
    if point is None:
        raise ContactPointNotFound(
            "no such contact point of the case's borrower", field="contactPointId"
        )
    kind = CHANNEL_KIND[channel]
    if point.kind != kind:
        raise ContactPointMismatch(
            f"{channel.value} needs a {kind.value} contact point", field="contactPointId"
        )
    if point.owner != party:
        raise ContactPointMismatch(
            f"the contact point is the {ContactParty(point.owner).value}'s, not the "
            f"{party.value}'s",
            field="contactPointId",
        )
    return point


def point_facts(point: ContactPoint, points: Sequence[ContactPoint] = ()) -> PointFacts:
    """Returns what the rules see of a point (its value only as its key): its status as
    ``shared_status`` has it among ``points``, its consented hours while consent is recorded."""
    consented = point.consented_at is not None
    return PointFacts(
        id=point.id,
        kind=ContactPointKind(point.kind),
        owner=ContactParty(point.owner),
        status=shared_status(point, points),
        time_zone=point.time_zone,
        consent_start=point.consent_start if consented else None,
        consent_end=point.consent_end if consented else None,
        consented_at=point.consented_at,
        key=point.key,
    )


def person_time_zones(situation: Situation, party: ContactParty) -> tuple[str, ...]:
    """Every zone known for the person: for the borrower, their own and those of their usable
    points; for anyone else, none beyond the point's own."""
    if party != ContactParty.BORROWER:
        return ()
    zones = [situation.borrower_time_zone]
    for point in situation.points:
        owned = point.owner == ContactParty.BORROWER and point.status != ContactPointStatus.INVALID
        if owned and point.time_zone and point.time_zone not in zones:
            zones.append(point.time_zone)
    return tuple(zones)


def borrower_reachable(situation: Situation) -> bool:
    """Whether the borrower can be reached by phone, for the third-party rule: a phone point of
    theirs not marked invalid, or, while they have no phone point at all, the number on their
    record. An opt-out limits how the borrower may be contacted; it does not make them
    unreachable (that would open the door to calling the people around them)."""
    phones = [
        p
        for p in situation.points
        if p.owner == ContactParty.BORROWER and p.kind == ContactPointKind.PHONE
    ]
    if not phones:
        return situation.borrower_has_phone
    return any(shared_status(p, situation.points) != ContactPointStatus.INVALID for p in phones)


def lifecycle_refusal(standing: Standing) -> tuple[str, str] | None:
    """The life cycle's refusal of contact on the case as it stands (closed, on hold), if any,
    as (code, explanation); the cease conditions of ``standing.blocks`` apart."""
    refused = blocked_actions(replace(standing, blocks=())).get(Action.CONTACT)
    return (str(refused[0]), refused[1]) if refused else None


def cease_conditions(standing: Standing) -> tuple[tuple[str, str], ...]:
    """The conditions that stop contact on the case: the cease conditions of the standing
    (complaints, flags), after the life cycle's own refusal."""
    found = list(standing.blocks)
    refusal = lifecycle_refusal(standing)
    if refusal is not None:
        found.insert(0, refusal)
    return tuple(found)


def consented_call(point: ContactPoint | None, at: datetime) -> bool:
    """Whether a contact through the point at ``at`` is one its owner consented to lately."""
    given = point.consented_at if point else None
    return given is not None and at - CONSENT_WINDOW < given <= at


def assess(
    situation: Situation,
    *,
    channel: ContactChannel,
    party: ContactParty,
    direction: ContactDirection,
    point: ContactPoint | None,
    history: Sequence[PastContact],
    at: datetime,
    staff_count: int = 1,
    conduct: ConductProfile | None = None,
) -> Allowance:
    """Evaluates the case's conduct profile for a contact at an instant; outbound contact also
    meets the case's cease conditions, the life cycle's refusal, a letters-only protection on
    any other channel, and a protection's lower attempt limit. ``conduct``: the version of the
    case's profile in effect at ``at`` (default: its checked-in version)."""
    outbound = direction == ContactDirection.OUTBOUND
    protection = situation.protection
    extra = cease_conditions(situation.standing) if outbound else ()
    if outbound and channel not in WRITTEN_CHANNELS:
        extra += protection.letters_only
    lower = protection.attempt_limit
    request = ContactRequest(
        case_id=situation.case_id,
        channel=channel,
        party=party,
        direction=direction,
        point=point_facts(point, situation.points) if point else None,
        person_time_zones=person_time_zones(situation, party),
        borrower_reachable=borrower_reachable(situation),
        staff_count=staff_count,
        extra=extra,
        attempt_limit=AttemptLimit(*lower) if lower else None,
    )
    rules = conduct if conduct is not None else profile(situation.profile_name)
    return evaluate(rules, request, history, at)


# The input field a refusal by each rule is about (the others are about the moment, or, for the
# life cycle's refusal and the cease conditions, about the case: ``recorded_rule_field``).
RULE_FIELDS: dict[str, str] = {
    RuleName.CONTACT_POINT_INVALID: "contactPointId",
    RuleName.OPTED_OUT: "contactPointId",
    RuleName.THIRD_PARTY: "party",
    RuleName.FIELD_VISIT_TWO_STAFF: "secondAgentLogin",
}


# The rules about the moment of a contact (no input field is to blame).
MOMENT_RULES = frozenset(
    {
        RuleName.QUIET_HOURS,
        RuleName.DAILY_ATTEMPTS,
        RuleName.CONNECTED_CALLS_PER_DAY,
        RuleName.WEEKLY_CALLS,
        RuleName.AFTER_CONVERSATION,
    }
)


def recorded_rule_field(rule: str) -> str | None:
    """The input field a refusal by ``rule`` is about, as it is recorded (no situation needed):
    a rule that is neither a profile's rule about the moment nor about an input is one of the
    case's cease conditions or its life cycle's refusal (the case)."""
    if rule in RULE_FIELDS:
        return RULE_FIELDS[rule]
    return None if rule in MOMENT_RULES else "caseId"
