"""Demo contact history: logged contacts that keep every conduct rule, and scripted stories in
which each rule grants, refuses or is breached.

The history of an ordinary case is made to comply by construction: calls, messages and visits in
daytime hours that are inside every zone the person may be in, at most a few a day, a field visit
always by two staff, only usable points of the party reached, and in the US no call within seven
days after a conversation. The scripted stories are checked against the conduct engine itself
(``domain.conduct.engine.evaluate``) while they are generated: a granted attempt must be allowed,
a refused one refused by the rule the story names (its ``next_allowed_at`` is the engine's), a
contact logged after the fact carries exactly the breaches the engine finds.
"""

from __future__ import annotations

import heapq
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from domain.conduct.engine import ContactRequest, PastContact, PointFacts, evaluate
from domain.conduct.profiles import ConductProfile
from domain.contacts.model import (
    CHANNEL_KIND,
    CONVERSATION_OUTCOMES,
    NOT_CONNECTED_OUTCOMES,
    VOICE_CHANNELS,
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    ContactParty,
    ContactPointKind,
    ContactPointStatus,
)
from domain.portfolios import Portfolio
from store.demo_people import LOS_ANGELES, NEW_YORK, SHANGHAI, Person
from store.demo_staff import AGENCY_IDS, AGENCY_STAFF, COLLECTORS, STAFF, STAFF_IDS

Row = dict[str, Any]

C, Out, P = ContactChannel, ContactOutcome, ContactParty
OUT, IN = ContactDirection.OUTBOUND, ContactDirection.INBOUND
_AGENCY_OF = {login: agency for login, _r, _t, agency, _c, _a in STAFF if agency}
_FIELD_PARTNER = {
    "collector1": "collector2",
    "collector2": "collector1",
    "collector3": "collector1",
    "lead1": "collector1",
    "acme.agent1": "acme.manager",
    "acme.manager": "acme.agent1",
}
_NOTES = {
    Out.RIGHT_PARTY_CONTACT: ("Reminded of the overdue balance.", "Discussed repayment options."),
    Out.THIRD_PARTY_CONTACT: ("Asked them to pass on a request to call back; debt not mentioned.",),
    Out.NO_ANSWER: ("No answer.", "No response received."),
    Out.BUSY_OR_NOT_CONNECTED: ("Line busy.", "Call did not connect."),
    Out.WRONG_NUMBER: ("Number does not reach the intended party.",),
    Out.LEFT_MESSAGE: ("Left a voicemail asking for a call back.",),
    Out.PROMISE_TO_PAY: ("Promise to pay recorded.", "Agreed to pay before the next due date."),
    Out.REFUSED_TO_PAY: ("Declined to discuss repayment.",),
    Out.DISPUTE_RAISED: ("Balance disputed; referred for review.",),
    Out.CALLBACK_REQUESTED: ("Asked to be called back later.",),
    Out.DELIVERED: ("Delivered.", "Sent; delivery confirmed."),
    Out.FAILED: ("Delivery failed.",),
}
_MESSAGE = ((Out.DELIVERED, 88), (Out.FAILED, 12))
_CALLBACK = (
    (Out.RIGHT_PARTY_CONTACT, 40),
    (Out.PROMISE_TO_PAY, 35),
    (Out.NO_ANSWER, 15),
    (Out.REFUSED_TO_PAY, 10),
)
_OUTCOMES: dict[tuple[str, ContactDirection, str], tuple[tuple[ContactOutcome, int], ...]] = {
    ("call", OUT, P.BORROWER): (
        (Out.RIGHT_PARTY_CONTACT, 20),
        (Out.NO_ANSWER, 24),
        (Out.BUSY_OR_NOT_CONNECTED, 8),
        (Out.LEFT_MESSAGE, 6),
        (Out.PROMISE_TO_PAY, 16),
        (Out.REFUSED_TO_PAY, 8),
        (Out.DISPUTE_RAISED, 3),
        (Out.CALLBACK_REQUESTED, 8),
    ),
    ("call", OUT, P.GUARANTOR): (
        (Out.RIGHT_PARTY_CONTACT, 35),
        (Out.NO_ANSWER, 30),
        (Out.LEFT_MESSAGE, 10),
        (Out.PROMISE_TO_PAY, 10),
        (Out.REFUSED_TO_PAY, 10),
        (Out.CALLBACK_REQUESTED, 5),
    ),
    ("call", OUT, P.EMERGENCY_CONTACT): (
        (Out.THIRD_PARTY_CONTACT, 45),
        (Out.NO_ANSWER, 40),
        (Out.LEFT_MESSAGE, 15),
    ),
    ("robot", OUT, P.BORROWER): (
        (Out.RIGHT_PARTY_CONTACT, 20),
        (Out.NO_ANSWER, 50),
        (Out.LEFT_MESSAGE, 20),
        (Out.BUSY_OR_NOT_CONNECTED, 10),
    ),
    ("visit", OUT, P.BORROWER): (
        (Out.RIGHT_PARTY_CONTACT, 40),
        (Out.NO_ANSWER, 30),
        (Out.PROMISE_TO_PAY, 15),
        (Out.REFUSED_TO_PAY, 10),
        (Out.THIRD_PARTY_CONTACT, 5),
    ),
    ("call", IN, P.BORROWER): (
        (Out.RIGHT_PARTY_CONTACT, 40),
        (Out.PROMISE_TO_PAY, 30),
        (Out.DISPUTE_RAISED, 10),
        (Out.REFUSED_TO_PAY, 10),
        (Out.CALLBACK_REQUESTED, 10),
    ),
    ("message", IN, P.BORROWER): (
        (Out.RIGHT_PARTY_CONTACT, 50),
        (Out.PROMISE_TO_PAY, 30),
        (Out.DISPUTE_RAISED, 20),
    ),
}
_OUTCOMES[("call", OUT, P.SPOUSE)] = _OUTCOMES[("call", OUT, P.GUARANTOR)]
_GROUP = {
    C.PHONE: "call",
    C.AUTOMATED_CALL: "robot",
    C.FIELD_VISIT: "visit",
    C.SMS: "message",
    C.EMAIL: "message",
    C.LETTER: "message",
    C.LEGAL_NOTICE: "message",
}
_CHANNELS = (C.PHONE, C.SMS, C.EMAIL, C.LETTER, C.FIELD_VISIT, C.LEGAL_NOTICE, C.AUTOMATED_CALL)
_PARTIES = ((P.BORROWER, 85), (P.GUARANTOR, 5), (P.SPOUSE, 4), (P.EMERGENCY_CONTACT, 6))
# Local hours (from, until) in which ordinary contacts happen: inside the quiet-hours window of
# every zone the person may be in (in the US, 11:00-20:00 New York is 08:00-17:00 Los Angeles).
_DAYTIME = {SHANGHAI: (9, 20), NEW_YORK: (11, 20)}
_WEEK = timedelta(days=7)


@dataclass(frozen=True)
class PromisePlan:
    """What a promise made on a contact turns into: due ``due_in`` days after the day it was
    made, for ``share`` of what is due on the oldest unpaid instalment; ``paid`` of it is paid
    ``pay_after`` days after it was made (reversed ``reversed_after`` days later, if set);
    ``closing``: the promise is for ``share`` of the payment that closes the case."""

    due_in: int
    share: Decimal
    paid: Decimal = Decimal(0)
    pay_after: int = 0
    reversed_after: int | None = None
    closing: bool = False


@dataclass
class CaseView:
    """What the contact history needs to know of a case."""

    id: int
    portfolio: Portfolio
    profile: ConductProfile
    person: Person
    opened_on: date
    dpd: int
    holder: str | None
    placed_at: datetime | None
    until: datetime  # ordinary history ends before this instant (now, a hold, a closure)
    story: str | None = None
    closing_day: date | None = None  # the day of the payment that closed the case


@dataclass
class Logged:
    """A contact's row and the promise made on it, if any."""

    row: Row
    plan: PromisePlan | None = None


@dataclass(frozen=True)
class Attempt:
    """One contact of a scripted story and what the conduct engine must say about it.

    ``started``: asked for through startContact (granted, or refused by ``refused_by``);
    otherwise logged after the fact with exactly ``breaches``. ``status_then``: the point's
    status at the time (a number found to be wrong was not yet marked invalid)."""

    at: datetime
    channel: ContactChannel
    point: Row
    outcome: ContactOutcome | None = None
    staff: str | None = None
    direction: ContactDirection = OUT
    started: bool = True
    refused_by: str | None = None
    breaches: tuple[str, ...] = ()
    second: str | None = None
    callback_at: datetime | None = None
    consented: bool = False
    status_then: str | None = None
    plan: PromisePlan | None = None


def local_at(day: date, hhmm: str, zone: str) -> datetime:
    """Returns the UTC instant of a local wall-clock time ("22:30") on a day in a zone."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return datetime.combine(day, time(hours, minutes), ZoneInfo(zone)).astimezone(UTC)


def point_facts(point: Row, status: str | None = None) -> PointFacts:
    """Returns what the conduct rules see of a contact point row (never its value)."""
    return PointFacts(
        id=point["id"],
        kind=ContactPointKind(point["kind"]),
        owner=ContactParty(point["owner"]),
        status=ContactPointStatus(status or point["status"]),
        time_zone=point["time_zone"],
        consent_start=point["consent_start"],
        consent_end=point["consent_end"],
        consented_at=point["consented_at"],
    )


def past_contact(row: Row) -> PastContact:
    """Returns a contact row as the conduct rules count it."""
    outcome = row["outcome"]
    return PastContact(
        at=row["at"],
        case_id=row["case_id"],
        channel=ContactChannel(row["channel"]),
        party=ContactParty(row["party"]),
        direction=ContactDirection(row["direction"]),
        contact_point_id=row["contact_point_id"],
        outcome=ContactOutcome(outcome) if outcome else None,
        blocked=row["blocked"],
        consented=row["consented"],
    )


def _weighted(rng: random.Random, options: Sequence[tuple[Any, int]]) -> Any:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


class Contacts:
    """Builds each case's contacts; every random choice comes from ``rng``."""

    def __init__(
        self, rng: random.Random, as_of: date, now: datetime, take: Callable[[str], int]
    ) -> None:
        self.rng, self.as_of, self.now, self.take = rng, as_of, now, take

    def for_case(self, case: CaseView) -> list[Logged]:
        """Returns the case's contacts in time order: its history, then its story's."""
        logged = self._history(case)
        if case.story:
            for entry in logged:  # the story's promises are the scripted ones
                entry.plan = None
            script = _STORIES.get(case.story)
            if script is not None:
                logged.extend(self._play(case, logged, script(self, case)))
        return logged

    # -- ordinary history -----------------------------------------------------------------------

    def _history(self, case: CaseView) -> list[Logged]:
        rng, person = self.rng, case.person
        zone = SHANGHAI if case.portfolio.time_zone == SHANGHAI else NEW_YORK
        last_day = min(case.until.astimezone(ZoneInfo(zone)).date(), self.as_of)
        span = (last_day - case.opened_on).days
        if span <= 0 or rng.random() < 0.12:
            return []
        start, end = _DAYTIME[zone]
        moments = sorted(
            local_at(
                case.opened_on + timedelta(days=rng.randrange(span)),
                f"{rng.randrange(start, end)}:{rng.randrange(60):02d}",
                zone,
            )
            + timedelta(seconds=rng.randrange(60))
            for _ in range(rng.randint(1, 2) if case.dpd == 0 else rng.randint(1, 6))
        )
        moments = [m for m in moments if m < case.until]
        us = zone == NEW_YORK
        dpd = case.dpd
        weights = (
            [55, 20, 12, 8, 0, 5 if dpd > 90 else 0, 0]
            if us
            else [50, 20, 8, 7, 4 if dpd > 30 else 0, 6 if dpd > 90 else 0, 6 if dpd <= 30 else 0]
        )
        budget = _Budget(us)
        logged: list[Logged] = []
        wrong = person.of(ContactPointKind.PHONE, P.BORROWER, ContactPointStatus.INVALID.value)
        # Contacts to make, in time order: the drawn moments, and the callbacks borrowers ask
        # for on the way (a callback due before the history ends is made, so none is left
        # pending from long ago).
        queue: list[tuple[datetime, int, Row | None]] = [
            (at, n, None) for n, at in enumerate(moments)
        ]
        heapq.heapify(queue)
        while queue:
            at, index, asked = heapq.heappop(queue)
            if asked is not None:
                entry = self._call_back(case, at, asked, budget, zone)
            elif index == 0 and wrong is not None and rng.random() < 0.5:
                # How the number came to be marked invalid.
                staff = self._staff(case, C.PHONE, at)
                entry = Logged(self._row(case, at, C.PHONE, OUT, wrong, Out.WRONG_NUMBER, staff))
                budget.count(entry.row, zone)
            else:
                channel = rng.choices(_CHANNELS, weights)[0]
                entry = self._ordinary(case, at, channel, budget, zone)
            logged.append(entry)
            callback_at = entry.row["callback_at"]
            if callback_at is not None and callback_at < case.until:
                heapq.heappush(queue, (callback_at, len(moments) + len(logged), entry.row))
        return logged

    def _call_back(
        self, case: CaseView, at: datetime, asked: Row, budget: _Budget, zone: str
    ) -> Logged:
        """The call a borrower asked for (a message where the limits allow no call: in the US,
        within seven days of the conversation in which they asked)."""
        point = next(p for p in case.person.points if p["id"] == asked["contact_point_id"])
        party = ContactParty(point["owner"])
        staff = self._staff(case, C.PHONE, at)
        if budget.allows(party, point, at, zone):
            outcome: ContactOutcome = _weighted(self.rng, _CALLBACK)
            row = self._row(case, at, C.PHONE, OUT, point, outcome, staff)
        else:
            outcome = Out.DELIVERED
            row = self._row(case, at, C.SMS, OUT, point, outcome, staff)
        budget.count(row, zone)
        return Logged(row, self._plan() if outcome is Out.PROMISE_TO_PAY else None)

    def _ordinary(
        self, case: CaseView, at: datetime, channel: ContactChannel, budget: _Budget, zone: str
    ) -> Logged:
        rng, person = self.rng, case.person
        inbound = channel in (C.PHONE, C.SMS, C.EMAIL) and rng.random() < 0.1
        direction = IN if inbound else OUT
        party = P.BORROWER
        if channel is C.PHONE and not inbound:
            present = [(p, w) for p, w in _PARTIES if person.usable(ContactPointKind.PHONE, p)]
            party = _weighted(rng, present)
        kind = CHANNEL_KIND[channel]
        if inbound:  # from the mobile, or to the borrower's e-mail address
            email = kind is ContactPointKind.EMAIL
            points = (
                [p for p in person.points if p["kind"] == kind][:1] if email else [person.mobile]
            )
        else:
            points = person.usable(kind, party)
        staff = self._staff(case, channel, at)
        second = None
        if channel is C.FIELD_VISIT:
            second = _FIELD_PARTNER.get(staff or "")
        if not points or (channel is C.FIELD_VISIT and second is None):
            channel, party, points = C.SMS, P.BORROWER, [person.mobile]
        point = rng.choice(points)
        if not inbound and channel in VOICE_CHANNELS and not budget.allows(party, point, at, zone):
            channel, party, point, second = C.SMS, P.BORROWER, person.mobile, None
        group = _GROUP[channel]
        options = _OUTCOMES.get((group, direction, party), _MESSAGE)
        outcome: ContactOutcome = _weighted(rng, options)
        callback_at = None
        if outcome is Out.CALLBACK_REQUESTED:
            day = (at + timedelta(days=rng.randint(1, 3))).astimezone(ZoneInfo(zone)).date()
            start, end = _DAYTIME[zone]
            callback_at = local_at(
                day, f"{rng.randrange(start, end)}:{rng.choice((0, 30)):02d}", zone
            )
        if channel is C.AUTOMATED_CALL:
            staff = None
        row = self._row(
            case,
            at,
            channel,
            direction,
            point,
            outcome,
            staff,
            second=second,
            callback_at=callback_at,
        )
        budget.count(row, zone)
        return Logged(row, self._plan() if outcome is Out.PROMISE_TO_PAY else None)

    def _plan(self) -> PromisePlan:
        """What becomes of a promise made in an ordinary contact: kept, partly kept or not."""
        rng = self.rng
        due_in = rng.randint(2, 14)
        partly = Decimal(rng.randint(3, 7)) / 10
        paid = _weighted(rng, ((Decimal(1), 45), (partly, 20), (Decimal(0), 35)))
        return PromisePlan(
            due_in=due_in,
            share=Decimal(rng.randint(2, 6)) / 10,
            paid=paid,
            pay_after=rng.randint(0, due_in + 4),
        )

    def _staff(self, case: CaseView, channel: ContactChannel, at: datetime) -> str | None:
        rng, holder = self.rng, case.holder
        if channel is C.LEGAL_NOTICE:
            return "legal1"
        if holder in AGENCY_STAFF and case.placed_at is not None and at >= case.placed_at:
            return rng.choice(AGENCY_STAFF[holder])
        if holder in COLLECTORS and rng.random() < 0.9:
            return holder
        return rng.choice(("collector1", "collector2", "collector3"))

    def _row(
        self,
        case: CaseView,
        at: datetime,
        channel: ContactChannel,
        direction: ContactDirection,
        point: Row,
        outcome: ContactOutcome | None,
        staff: str | None,
        *,
        source: str = "LOGGED",
        second: str | None = None,
        callback_at: datetime | None = None,
        blocked: bool = False,
        rule: str | None = None,
        next_allowed_at: datetime | None = None,
        breaches: Sequence[str] = (),
        consented: bool = False,
    ) -> Row:
        contact_id = self.take("contacts")
        voice = channel in VOICE_CHANNELS
        connected = outcome is not None and outcome not in NOT_CONNECTED_OUTCOMES
        agency = _AGENCY_OF.get(staff or "")
        return {
            "id": contact_id,
            "case_id": case.id,
            "borrower_id": case.person.borrower["id"],
            "contact_point_id": point["id"],
            "staff_id": STAFF_IDS[staff] if staff else None,
            "second_staff_id": STAFF_IDS[second] if second else None,
            "agency_id": AGENCY_IDS[agency] if agency else None,
            "at": at,
            "channel": channel.value,
            "direction": direction.value,
            "party": point["owner"],
            "outcome": outcome.value if outcome else None,
            "notes": self.rng.choice(_NOTES[outcome]) if outcome else "",
            "recording_ref": (
                f"REC-{case.portfolio.conduct_profile}-{contact_id:09d}"
                if channel is C.PHONE and connected
                else None
            ),
            "callback_at": callback_at,
            "completed_at": (
                None
                if outcome is None
                else at + timedelta(seconds=self.rng.randint(20, 600) if voice else 1)
            ),
            "source": source,
            "blocked": blocked,
            "rule": rule,
            "next_allowed_at": next_allowed_at,
            "breaches": list(breaches),
            "consented": consented,
            "profile_version": case.profile.version,
        }

    # -- scripted stories -----------------------------------------------------------------------

    def _play(self, case: CaseView, earlier: list[Logged], attempts: list[Attempt]) -> list[Logged]:
        """Checks each attempt with the conduct engine, in time order, and records it."""
        person = case.person
        history = [past_contact(entry.row) for entry in earlier]
        logged: list[Logged] = []
        for attempt in sorted(attempts, key=lambda a: a.at):
            assert attempt.at <= self.now, f"case {case.id}: {attempt} is in the future"
            party = ContactParty(attempt.point["owner"])
            request = ContactRequest(
                case_id=case.id,
                channel=attempt.channel,
                party=party,
                direction=attempt.direction,
                point=point_facts(attempt.point, attempt.status_then),
                person_time_zones=person.zones if party is P.BORROWER else (),
                borrower_reachable=person.reachable,
                staff_count=2 if attempt.second else 1,
            )
            allowance = evaluate(case.profile, request, history, attempt.at)
            refused = attempt.started and attempt.refused_by is not None
            if attempt.started:
                failure = allowance.first_failure
                found = failure.rule if failure else None
                assert found == attempt.refused_by, (
                    f"case {case.id} ({case.story}): at {attempt.at} the engine says {found}, "
                    f"the story {attempt.refused_by}: {allowance.checks}"
                )
            else:
                assert allowance.breaches == attempt.breaches, (
                    f"case {case.id} ({case.story}): at {attempt.at} the engine finds "
                    f"{allowance.breaches}, the story {attempt.breaches}"
                )
            row = self._row(
                case,
                attempt.at,
                attempt.channel,
                attempt.direction,
                attempt.point,
                None if refused else attempt.outcome,
                attempt.staff,
                source="STARTED" if attempt.started else "LOGGED",
                second=attempt.second,
                callback_at=attempt.callback_at,
                blocked=refused,
                rule=attempt.refused_by if refused else None,
                next_allowed_at=allowance.next_allowed_at if refused else None,
                breaches=() if attempt.started else allowance.breaches,
                consented=attempt.consented,
            )
            history.append(past_contact(row))
            logged.append(Logged(row, attempt.plan))
        return logged


class _Budget:
    """Counts an ordinary history's calls so that it keeps the daily, weekly and
    after-conversation limits of both profiles (a call that would not is sent as an SMS)."""

    def __init__(self, us: bool) -> None:
        self.us = us
        self.unanswered: dict[tuple[int, date], int] = defaultdict(int)
        self.connected: dict[tuple[object, date], int] = defaultdict(int)
        self.calls: dict[object, list[datetime]] = defaultdict(list)
        self.conversations: dict[object, list[datetime]] = defaultdict(list)

    @staticmethod
    def _person(party: ContactParty, point: Row) -> object:
        return "borrower" if party is P.BORROWER else point["id"]

    def allows(self, party: ContactParty, point: Row, at: datetime, zone: str) -> bool:
        person = self._person(party, point)
        if self.us:
            week = [t for t in self.calls[person] if t > at - _WEEK]
            talked = any(t > at - _WEEK for t in self.conversations[person])
            return len(week) < 7 and not talked
        day = at.astimezone(ZoneInfo(zone)).date()
        return self.unanswered[(point["id"], day)] < 6 and self.connected[(person, day)] < 3

    def count(self, row: Row, zone: str) -> None:
        channel, outcome = ContactChannel(row["channel"]), row["outcome"]
        if channel not in VOICE_CHANNELS or outcome is None:
            return
        outcome = ContactOutcome(outcome)
        party, at = ContactParty(row["party"]), row["at"]
        person = "borrower" if party is P.BORROWER else row["contact_point_id"]
        day = at.astimezone(ZoneInfo(zone)).date()
        conversation = outcome in CONVERSATION_OUTCOMES
        if conversation:
            self.conversations[person].append(at)
        if row["direction"] != OUT.value:
            return
        if outcome not in NOT_CONNECTED_OUTCOMES:
            self.calls[person].append(at)
        if conversation:
            self.connected[(person, day)] += 1
        else:
            self.unanswered[(row["contact_point_id"], day)] += 1


# --- the stories -------------------------------------------------------------------------------

Script = Callable[[Contacts, CaseView], list[Attempt]]


@dataclass(frozen=True)
class _Day:
    """Builds instants relative to the demo's as-of date in one zone."""

    as_of: date
    zone: str

    def __call__(self, offset: int, hhmm: str, zone: str | None = None) -> datetime:
        return local_at(self.as_of + timedelta(days=offset), hhmm, zone or self.zone)


def _phone(person: Person, owner: ContactParty = P.BORROWER, n: int = 0) -> Row:
    return person.usable(ContactPointKind.PHONE, owner)[n]


def _address(person: Person) -> Row:
    return person.usable(ContactPointKind.ADDRESS, P.BORROWER)[0]


def _daily_attempts(c: Contacts, case: CaseView) -> list[Attempt]:
    """CN: six unanswered calls to the mobile this morning; the seventh is refused."""
    at, mobile = _Day(c.as_of, SHANGHAI), case.person.mobile
    times = ("08:02", "08:11", "08:23", "08:37", "08:49", "09:05")
    calls = [Attempt(at(0, t), C.PHONE, mobile, Out.NO_ANSWER, "collector1") for t in times]
    return [
        *calls,
        Attempt(at(0, "09:20"), C.PHONE, mobile, staff="collector1", refused_by="DAILY_ATTEMPTS"),
        Attempt(at(0, "09:22"), C.SMS, mobile, Out.DELIVERED, "collector1"),
    ]


def _connected_calls(c: Contacts, case: CaseView) -> list[Attempt]:
    """CN: three conversations with the borrower today, by two agents; a fourth is refused."""
    at, mobile = _Day(c.as_of, SHANGHAI), case.person.mobile
    return [
        Attempt(at(0, "08:15"), C.PHONE, mobile, Out.RIGHT_PARTY_CONTACT, "acme.agent1"),
        Attempt(
            at(0, "09:02"),
            C.PHONE,
            mobile,
            Out.CALLBACK_REQUESTED,
            "acme.manager",
            callback_at=at(1, "10:00"),
        ),
        Attempt(
            at(0, "09:40"),
            C.PHONE,
            mobile,
            Out.PROMISE_TO_PAY,
            "acme.agent1",
            plan=PromisePlan(due_in=7, share=Decimal("0.5")),
        ),
        Attempt(
            at(0, "09:55"),
            C.PHONE,
            mobile,
            staff="acme.agent1",
            refused_by="CONNECTED_CALLS_PER_DAY",
        ),
    ]


def _quiet_hours(c: Contacts, case: CaseView) -> list[Attempt]:
    """CN: a visit by two, a visit by one (breach), a call refused at 22:30 and one logged
    at 22:40 (breach)."""
    at, person = _Day(c.as_of, SHANGHAI), case.person
    mobile, home = person.mobile, _address(person)
    return [
        Attempt(
            at(-10, "14:00"),
            C.FIELD_VISIT,
            home,
            Out.NO_ANSWER,
            "collector2",
            started=False,
            second="collector1",
        ),
        Attempt(
            at(-3, "15:00"),
            C.FIELD_VISIT,
            home,
            Out.RIGHT_PARTY_CONTACT,
            "collector2",
            started=False,
            breaches=("FIELD_VISIT_TWO_STAFF",),
        ),
        Attempt(at(-1, "22:30"), C.PHONE, mobile, staff="collector2", refused_by="QUIET_HOURS"),
        Attempt(
            at(-1, "22:40"),
            C.PHONE,
            mobile,
            Out.NO_ANSWER,
            "collector2",
            started=False,
            breaches=("QUIET_HOURS",),
        ),
    ]


def _third_party(c: Contacts, case: CaseView) -> list[Attempt]:
    """CN: three failed calls in a row open the way to unrelated third parties; one of them
    refuses, and a later call to them is refused for good."""
    at, person = _Day(c.as_of, SHANGHAI), case.person
    mobile = person.mobile
    first, second = (_phone(person, P.UNRELATED_THIRD_PARTY, n) for n in (0, 1))
    agent = "zenith.agent1"
    return [
        Attempt(at(-3, "10:00"), C.PHONE, mobile, Out.NO_ANSWER, agent),
        Attempt(at(-2, "11:00"), C.PHONE, mobile, Out.BUSY_OR_NOT_CONNECTED, agent),
        Attempt(at(-1, "15:00"), C.PHONE, mobile, Out.NO_ANSWER, agent),
        Attempt(at(-1, "15:30"), C.PHONE, first, Out.THIRD_PARTY_CONTACT, agent),
        Attempt(at(-1, "16:00"), C.PHONE, second, Out.REFUSED_TO_PAY, agent),
        Attempt(at(0, "09:10"), C.PHONE, second, staff=agent, refused_by="THIRD_PARTY"),
    ]


def _points(c: Contacts, case: CaseView) -> list[Attempt]:
    """CN: a wrong number (since marked invalid), an opted-out number and e-mail: refused."""
    at, person = _Day(c.as_of, SHANGHAI), case.person
    phone = ContactPointKind.PHONE
    invalid = person.of(phone, P.BORROWER, ContactPointStatus.INVALID.value)
    opted = person.of(phone, P.BORROWER, ContactPointStatus.OPTED_OUT.value)
    email = person.of(ContactPointKind.EMAIL, P.BORROWER, ContactPointStatus.OPTED_OUT.value)
    assert invalid is not None and opted is not None and email is not None
    who = "collector3"
    return [
        Attempt(
            at(-12, "10:30"),
            C.PHONE,
            invalid,
            Out.WRONG_NUMBER,
            who,
            started=False,
            status_then=ContactPointStatus.UNVERIFIED.value,
        ),
        Attempt(at(-1, "10:00"), C.SMS, opted, staff=who, refused_by="OPTED_OUT"),
        Attempt(at(-1, "10:05"), C.PHONE, invalid, staff=who, refused_by="CONTACT_POINT_INVALID"),
        Attempt(at(-1, "10:07"), C.EMAIL, email, staff=who, refused_by="OPTED_OUT"),
        Attempt(at(-1, "10:10"), C.PHONE, person.mobile, Out.RIGHT_PARTY_CONTACT, who),
        Attempt(at(-1, "10:20"), C.LETTER, _address(person), Out.DELIVERED, who, started=False),
    ]


def _consent(c: Contacts, case: CaseView) -> list[Attempt]:
    """CN: the borrower consented to calls 07:00-23:00: a call at 22:15 and a seventh
    unanswered call in a day are allowed."""
    at, mobile = _Day(c.as_of, SHANGHAI), case.person.mobile
    times = ("07:10", "07:25", "07:50", "08:20", "08:45", "09:10", "09:40")
    return [
        Attempt(at(-1, "22:15"), C.PHONE, mobile, Out.RIGHT_PARTY_CONTACT, "lead1"),
        *(Attempt(at(0, t), C.PHONE, mobile, Out.NO_ANSWER, "lead1") for t in times),
    ]


def _promise_kept_then_open(c: Contacts, case: CaseView) -> list[Attempt]:
    """CN: a promise kept three weeks ago, one due today, a callback asked for this afternoon."""
    at, mobile = _Day(c.as_of, SHANGHAI), case.person.mobile
    return [
        Attempt(
            at(-20, "10:00"),
            C.PHONE,
            mobile,
            Out.PROMISE_TO_PAY,
            "collector1",
            started=False,
            plan=PromisePlan(due_in=6, share=Decimal("0.4"), paid=Decimal(1), pay_after=5),
        ),
        Attempt(
            at(-3, "11:00"),
            C.PHONE,
            mobile,
            Out.PROMISE_TO_PAY,
            "collector1",
            direction=IN,
            started=False,
            plan=PromisePlan(due_in=3, share=Decimal("0.3")),
        ),
        Attempt(
            at(-1, "11:30"),
            C.PHONE,
            mobile,
            Out.CALLBACK_REQUESTED,
            "collector1",
            callback_at=at(0, "15:00"),
        ),
    ]


def _promise_broken_then_partial(c: Contacts, case: CaseView) -> list[Attempt]:
    """CN: a broken promise, a partially kept one, and an open one."""
    at, mobile = _Day(c.as_of, SHANGHAI), case.person.mobile
    who = "collector2"
    return [
        Attempt(
            at(-40, "10:00"),
            C.PHONE,
            mobile,
            Out.PROMISE_TO_PAY,
            who,
            started=False,
            plan=PromisePlan(due_in=5, share=Decimal("0.3")),
        ),
        Attempt(
            at(-25, "16:00"),
            C.PHONE,
            mobile,
            Out.PROMISE_TO_PAY,
            who,
            started=False,
            plan=PromisePlan(due_in=7, share=Decimal("0.4"), paid=Decimal("0.5"), pay_after=6),
        ),
        Attempt(
            at(-5, "10:30"),
            C.PHONE,
            mobile,
            Out.PROMISE_TO_PAY,
            who,
            direction=IN,
            started=False,
            plan=PromisePlan(due_in=10, share=Decimal("0.3")),
        ),
    ]


def _promise_superseded(c: Contacts, case: CaseView) -> list[Attempt]:
    """CN: a promise replaced by a newer one before it fell due."""
    at, mobile = _Day(c.as_of, SHANGHAI), case.person.mobile
    return [
        Attempt(
            at(-8, "14:00"),
            C.PHONE,
            mobile,
            Out.PROMISE_TO_PAY,
            "acme.agent1",
            plan=PromisePlan(due_in=10, share=Decimal("0.5")),
        ),
        Attempt(
            at(-2, "10:00"),
            C.PHONE,
            mobile,
            Out.PROMISE_TO_PAY,
            "acme.manager",
            plan=PromisePlan(due_in=8, share=Decimal("0.4")),
        ),
    ]


def _reversed_payment(c: Contacts, case: CaseView) -> list[Attempt]:
    """CN: a promise paid on time by a direct debit that bounced: reversed, so broken."""
    at, mobile = _Day(c.as_of, SHANGHAI), case.person.mobile
    plan = PromisePlan(
        due_in=7, share=Decimal("0.5"), paid=Decimal(1), pay_after=6, reversed_after=4
    )
    return [
        Attempt(
            at(-12, "10:00"),
            C.PHONE,
            mobile,
            Out.PROMISE_TO_PAY,
            "collector3",
            started=False,
            plan=plan,
        )
    ]


def _closing_promise(c: Contacts, case: CaseView) -> list[Attempt]:
    """A promise for the payment that then cleared the arrears. In the US the borrower promised
    a quarter more than that payment: the cure closes the case before the rest is paid, so the
    promise, still open, is CANCELLED as of the closing (every promise status shows)."""
    assert case.closing_day is not None
    zone = SHANGHAI if case.portfolio.time_zone == SHANGHAI else NEW_YORK
    day = case.closing_day - timedelta(days=1)
    at = local_at(day, "15:00" if zone == NEW_YORK else "11:00", zone)
    share = Decimal("1.25") if zone == NEW_YORK else Decimal(1)
    plan = PromisePlan(due_in=5, share=share, closing=True)
    return [
        Attempt(
            at,
            C.PHONE,
            case.person.mobile,
            Out.PROMISE_TO_PAY,
            "collector1",
            direction=IN,
            started=False,
            plan=plan,
        )
    ]


def _weekly_calls(c: Contacts, case: CaseView) -> list[Attempt]:
    """US: seven calls about the debt in seven days (a busy line does not count); the eighth
    is refused until the oldest leaves the window."""
    at, mobile = _Day(c.as_of, NEW_YORK), case.person.mobile
    who = "collector3"
    counted = (
        (-6, "13:00", Out.NO_ANSWER),
        (-5, "13:30", Out.LEFT_MESSAGE),
        (-4, "14:00", Out.NO_ANSWER),
        (-3, "14:30", Out.LEFT_MESSAGE),
        (-3, "17:00", Out.NO_ANSWER),
        (-2, "15:00", Out.NO_ANSWER),
        (-1, "13:00", Out.LEFT_MESSAGE),
    )
    return [
        *(Attempt(at(d, t), C.PHONE, mobile, o, who) for d, t, o in counted),
        Attempt(at(-4, "16:00"), C.PHONE, mobile, Out.BUSY_OR_NOT_CONNECTED, who),
        Attempt(at(-1, "16:00"), C.PHONE, mobile, staff=who, refused_by="WEEKLY_CALLS"),
    ]


def _after_conversation(c: Contacts, case: CaseView) -> list[Attempt]:
    """US: the borrower called in and promised to pay; calls wait seven days (one refused, one
    logged by the agency's dialler with the breach)."""
    at, mobile = _Day(c.as_of, NEW_YORK), case.person.mobile
    who = "zenith.agent1"
    return [
        Attempt(
            at(-3, "14:00"),
            C.PHONE,
            mobile,
            Out.PROMISE_TO_PAY,
            who,
            direction=IN,
            started=False,
            plan=PromisePlan(due_in=7, share=Decimal("0.4")),
        ),
        Attempt(at(-2, "15:00"), C.PHONE, mobile, staff=who, refused_by="AFTER_CONVERSATION"),
        Attempt(
            at(-1, "16:00"),
            C.PHONE,
            mobile,
            Out.NO_ANSWER,
            who,
            started=False,
            breaches=("AFTER_CONVERSATION",),
        ),
    ]


def _two_zones(c: Contacts, case: CaseView) -> list[Attempt]:
    """US: home in New York, mobile from Los Angeles: 19:30 at the phone is 22:30 at home, and
    09:00 at home is 06:00 at the phone; both refused."""
    at, mobile = _Day(c.as_of, NEW_YORK), case.person.mobile
    who = "collector1"
    return [
        Attempt(at(-2, "19:30", LOS_ANGELES), C.PHONE, mobile, staff=who, refused_by="QUIET_HOURS"),
        Attempt(at(-1, "09:00"), C.PHONE, mobile, staff=who, refused_by="QUIET_HOURS"),
        Attempt(at(-1, "12:00"), C.PHONE, mobile, Out.NO_ANSWER, who),
        Attempt(at(-1, "12:05"), C.SMS, mobile, Out.DELIVERED, who),
    ]


def _consented_callback(c: Contacts, case: CaseView) -> list[Attempt]:
    """US: in a conversation the borrower asked to be called back the next day (consent): the
    call inside the seven days is allowed and counts as consented."""
    at, mobile = _Day(c.as_of, NEW_YORK), case.person.mobile
    who = "collector2"
    mobile["consented_at"] = at(-2, "14:21")
    return [
        Attempt(
            at(-2, "14:20"),
            C.PHONE,
            mobile,
            Out.CALLBACK_REQUESTED,
            who,
            callback_at=at(-1, "13:30"),
        ),
        Attempt(
            at(-1, "13:30"),
            C.PHONE,
            mobile,
            Out.PROMISE_TO_PAY,
            who,
            consented=True,
            plan=PromisePlan(due_in=5, share=Decimal("0.5")),
        ),
    ]


_STORIES: dict[str, Script] = {
    "daily_attempts": _daily_attempts,
    "connected_calls": _connected_calls,
    "quiet_hours": _quiet_hours,
    "third_party": _third_party,
    "points": _points,
    "consent": _consent,
    "promise_kept_then_open": _promise_kept_then_open,
    "promise_broken_then_partial": _promise_broken_then_partial,
    "promise_superseded": _promise_superseded,
    "reversed_payment": _reversed_payment,
    "cured": _closing_promise,
    "weekly_calls": _weekly_calls,
    "after_conversation": _after_conversation,
    "two_zones": _two_zones,
    "consented_callback": _consented_callback,
}
