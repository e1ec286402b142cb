"""The conduct engine: whether a contact is allowed at an instant, and when it next will be.

Pure: a profile, a request (who, how, through which point, the person's time zones), the recent
contacts of the borrower (every case, the lender and every agency) and an instant go in; an
``Allowance`` with every rule's check comes out. Details name rules, counts, local times and time
zones only, never a contact point's value or anything else personal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import assert_never
from zoneinfo import ZoneInfo

from domain.conduct.profiles import (
    AfterConversation,
    ConductProfile,
    ConductRule,
    ConnectedCallsPerDay,
    ContactPointInvalid,
    DailyAttempts,
    FieldVisitTwoStaff,
    OptedOut,
    QuietHours,
    ThirdParty,
    WeeklyCalls,
    hhmm,
)
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
    is_time_zone,
)

# Channels by which a collector tries to reach a person (attempts that can fail), as opposed to
# messages that are only sent.
REACH_CHANNELS = VOICE_CHANNELS | {ContactChannel.FIELD_VISIT}
# How many times evaluate() re-checks at a later instant before it gives up on a next time.
_MAX_STEPS = 16


@dataclass(frozen=True)
class PointFacts:
    """What the rules need to know about a contact point (its value only as ``key``, the
    normalised form that finds attempts on duplicate points of the same number; never shown).

    ``consent_start``/``consent_end`` apply only while consent is recorded (``consented_at``)."""

    id: int | None
    kind: ContactPointKind
    owner: ContactParty
    status: ContactPointStatus
    time_zone: str | None = None
    consent_start: time | None = None
    consent_end: time | None = None
    consented_at: datetime | None = None
    key: str | None = None

    def consented_by(self, at: datetime) -> bool:
        """Whether the owner's consent is recorded as given at or before ``at``."""
        return self.consented_at is not None and self.consented_at <= at

    def same_point(self, contact: PastContact) -> bool:
        """Whether a past contact went to this point, or to another point of the same value."""
        if self.id is not None and contact.contact_point_id == self.id:
            return True
        return self.key is not None and contact.point_key == self.key

    def __post_init__(self) -> None:
        if self.time_zone is not None and not is_time_zone(self.time_zone):
            raise ValueError("unknown time zone on the contact point")
        if self.consented_at is not None and self.consented_at.tzinfo is None:
            raise ValueError("consented_at must be aware")


@dataclass(frozen=True)
class ContactRequest:
    """A contact someone wants to make (or made), as the rules see it.

    ``person_time_zones``: every zone known for the person reached (for the borrower: their own
    and their other points'). ``borrower_reachable``: False when the borrower has no usable phone
    point. ``extra``: cease conditions found by the caller, as ``(rule, detail)``; each fails with
    no next time, in either direction."""

    case_id: int
    channel: ContactChannel
    party: ContactParty
    direction: ContactDirection
    point: PointFacts | None
    person_time_zones: tuple[str, ...] = ()
    borrower_reachable: bool = True
    staff_count: int = 1
    extra: tuple[tuple[str, str], ...] = ()
    attempt_limit: AttemptLimit | None = None

    def __post_init__(self) -> None:
        for zone in self.person_time_zones:
            if not is_time_zone(zone):
                raise ValueError("unknown time zone for the person")


@dataclass(frozen=True)
class AttemptLimit:
    """A lower daily attempt limit for the person reached (a protecting flag, ``rule``): the
    profile's ``DAILY_ATTEMPTS`` counts against the lower of both, and no consent lifts it; a
    profile without that rule gets it with this limit."""

    limit: int
    rule: str

    def __post_init__(self) -> None:
        if self.limit < 0:
            raise ValueError("an attempt limit cannot be negative")


# How long an attempt reserved by startContact, still without an outcome, may yet turn out to be a
# conversation: long enough for any call. After that it counts as an unanswered attempt only, so
# an attempt nobody completes cannot hold the connected-call limits for days.
RESERVATION = timedelta(hours=1)


@dataclass(frozen=True)
class PastContact:
    """A contact already made or reserved (``outcome`` None: still in progress).

    ``agency_id``: the agency whose staff made it (None: the lender's own); the rules count every
    contact alike, whoever made it. ``point_key``: the normalised value of its point
    (``domain.contacts.model.value_key``), so that duplicate points of a number share counts."""

    at: datetime
    case_id: int
    channel: ContactChannel
    party: ContactParty
    direction: ContactDirection
    contact_point_id: int | None
    outcome: ContactOutcome | None
    blocked: bool = False
    consented: bool = False
    agency_id: int | None = None
    point_key: str | None = None

    def possibly_connected(self, now: datetime) -> bool:
        """Whether it is, or may yet turn out to be, a telephone conversation at ``now``: one
        with a conversation outcome, or an outbound call reserved less than RESERVATION ago and
        still in progress (counted as connected until its outcome is recorded, so that
        concurrent grants cannot exceed a limit)."""
        if self.blocked or self.channel not in VOICE_CHANNELS:
            return False
        if self.outcome is None:
            return self.direction is ContactDirection.OUTBOUND and now - self.at < RESERVATION
        return self.outcome in CONVERSATION_OUTCOMES


@dataclass(frozen=True)
class RuleCheck:
    """One rule's answer: passed or not, why, and (when refused) when it will pass again."""

    rule: str
    passed: bool
    detail: str
    next_allowed_at: datetime | None = None


@dataclass(frozen=True)
class Allowance:
    """The engine's answer: allowed now or not, the earliest instant at or after the one asked
    about at which every rule passes (None: not by waiting), the call attempts left on the
    point's local day (None: no limit applies), and every rule's check."""

    allowed: bool
    next_allowed_at: datetime | None
    attempts_left_today: int | None
    checks: tuple[RuleCheck, ...]
    profile_version: str

    @property
    def breaches(self) -> tuple[str, ...]:
        """Returns the names of the rules that refuse, in the profile's order."""
        return tuple(c.rule for c in self.checks if not c.passed)

    @property
    def first_failure(self) -> RuleCheck | None:
        """Returns the refusal to report: the first that waiting cannot lift, else the first."""
        failed = [c for c in self.checks if not c.passed]
        final = [c for c in failed if c.next_allowed_at is None]
        chosen = final or failed
        return chosen[0] if chosen else None


@dataclass(frozen=True)
class _Result:
    check: RuleCheck
    attempts_left: int | None = None


def evaluate(
    profile: ConductProfile,
    request: ContactRequest,
    history: Sequence[PastContact],
    at: datetime,
) -> Allowance:
    """Evaluates every rule of the profile (and the request's cease conditions) at an instant."""
    _require_aware(at, "at")
    checks, attempts_left = _check_all(profile, request, history, at)
    allowed = all(c.passed for c in checks)
    next_at = at if allowed else _next_allowed(profile, request, history, checks)
    return Allowance(allowed, next_at, attempts_left, checks, profile.version)


def _check_all(
    profile: ConductProfile,
    request: ContactRequest,
    history: Sequence[PastContact],
    at: datetime,
) -> tuple[tuple[RuleCheck, ...], int | None]:
    context = _Context(profile, request, [c for c in history if c.at <= at], at)
    results = [_check(rule, context) for rule in _rules_for(profile, request)]
    checks = [r.check for r in results]
    checks.extend(RuleCheck(rule, False, detail) for rule, detail in request.extra)
    attempts = [r.attempts_left for r in results if r.attempts_left is not None]
    return tuple(checks), (min(attempts) if attempts else None)


def _rules_for(profile: ConductProfile, request: ContactRequest) -> tuple[ConductRule, ...]:
    """The profile's rules, with a person's lower attempt limit applied to ``DAILY_ATTEMPTS``
    (added with that limit when the profile has no such rule)."""
    lower = request.attempt_limit
    if lower is None:
        return profile.rules
    reason = f"reduced to {lower.limit} by {lower.rule}"
    rules: list[ConductRule] = []
    found = False
    for rule in profile.rules:
        if isinstance(rule, DailyAttempts):
            found = True
            if lower.limit < rule.limit or rule.consent_lifts:
                rule = DailyAttempts(
                    min(rule.limit, lower.limit), False, f"{rule.explanation} ({reason})"
                )
        rules.append(rule)
    if not found:
        rules.append(
            DailyAttempts(
                lower.limit,
                False,
                f"At most {lower.limit} unanswered call attempts per number per local day "
                f"({reason}).",
            )
        )
    return tuple(rules)


def _next_allowed(
    profile: ConductProfile,
    request: ContactRequest,
    history: Sequence[PastContact],
    checks: tuple[RuleCheck, ...],
) -> datetime | None:
    """Moves to the latest of the refusing rules' next instants until every rule passes there."""
    failing = [c for c in checks if not c.passed]
    for _ in range(_MAX_STEPS):
        instants = [c.next_allowed_at for c in failing]
        if any(t is None for t in instants):
            return None
        candidate = max(t for t in instants if t is not None)
        checks, _ = _check_all(profile, request, history, candidate)
        failing = [c for c in checks if not c.passed]
        if not failing:
            return candidate
        if any(c.next_allowed_at is not None and c.next_allowed_at <= candidate for c in failing):
            return None  # a rule that does not move forward: no next time can be promised
    return None


@dataclass(frozen=True)
class _Context:
    profile: ConductProfile
    request: ContactRequest
    history: list[PastContact]  # the contacts at or before ``at``
    at: datetime

    @property
    def inbound(self) -> bool:
        return self.request.direction is ContactDirection.INBOUND

    def same_person(self, contact: PastContact) -> bool:
        """Whether a past contact reached the person this request reaches: the borrower through
        any of their points; anyone else through the same point."""
        request = self.request
        if request.party is ContactParty.BORROWER:
            return contact.party is ContactParty.BORROWER
        point = request.point
        return (
            contact.party is request.party
            and point is not None
            and point.id is not None
            and contact.contact_point_id == point.id
        )

    def consent_within(self, window: timedelta) -> bool:
        point = self.request.point
        consented = point.consented_at if point else None
        return consented is not None and self.at - window < consented <= self.at

    def period_zones(self) -> list[str]:
        """The zones whose calendars a period of days is counted in: every zone known for the
        person (the profile's default when none is)."""
        return _zones_of(self.request) or [self.profile.default_time_zone]

    def day_zone(self, person_first: bool) -> str:
        """The zone whose calendar day a daily count uses."""
        point_zone = self.request.point.time_zone if self.request.point else None
        person_zone = self.request.person_time_zones[0] if self.request.person_time_zones else None
        ordered = (person_zone, point_zone) if person_first else (point_zone, person_zone)
        return next((z for z in ordered if z), self.profile.default_time_zone)


def _check(rule: ConductRule, c: _Context) -> _Result:
    if isinstance(rule, QuietHours):
        return _quiet_hours(rule, c)
    if isinstance(rule, DailyAttempts):
        return _daily_attempts(rule, c)
    if isinstance(rule, ConnectedCallsPerDay):
        return _connected_calls(rule, c)
    if isinstance(rule, WeeklyCalls):
        return _weekly_calls(rule, c)
    if isinstance(rule, AfterConversation):
        return _after_conversation(rule, c)
    if isinstance(rule, ThirdParty):
        return _third_party(rule, c)
    if isinstance(rule, FieldVisitTwoStaff):
        return _field_visit(rule, c)
    if isinstance(rule, ContactPointInvalid):
        return _point_invalid(rule, c)
    if isinstance(rule, OptedOut):
        return _opted_out(rule, c)
    assert_never(rule)


def _pass(rule: ConductRule, detail: str, attempts_left: int | None = None) -> _Result:
    return _Result(RuleCheck(rule.name, True, detail), attempts_left)


def _fail(
    rule: ConductRule, detail: str, next_at: datetime | None, attempts_left: int | None = None
) -> _Result:
    return _Result(RuleCheck(rule.name, False, detail, next_at), attempts_left)


# --- time of day -------------------------------------------------------------------------------


def _quiet_hours(rule: QuietHours, c: _Context) -> _Result:
    request = c.request
    if c.inbound:
        return _pass(rule, "inbound: the quiet hours apply to outbound contact")
    if request.channel not in rule.channels:
        return _pass(rule, f"the quiet hours do not apply to {request.channel.value}")
    start, end, label = rule.allowed_from, rule.allowed_until, "allowed hours"
    point = request.point
    if (
        point is not None
        and point.consent_start is not None
        and point.consent_end is not None
        and point.consented_by(c.at)
    ):
        start, end, label = point.consent_start, point.consent_end, "consented hours"
    zones = _zones_of(request)
    assumed = not zones
    if assumed:
        zones = list(rule.fallback_time_zones)
    window = f"{label} {hhmm(start)}-{hhmm(end)}"
    intervals = _common_intervals(zones, start, end, c.at)
    here = [(s, e) for s, e in intervals if s <= c.at < e]
    assumption = f" (no time zone known: assumed {', '.join(zones)})" if assumed else ""
    if here:
        return _pass(rule, f"inside the {window} in {', '.join(zones)}{assumption}")
    outside = [
        f"{hhmm(c.at.astimezone(ZoneInfo(z)).time())} local time in {z}"
        for z in zones
        if not any(s <= c.at < e for s, e in _intervals(ZoneInfo(z), start, end, c.at))
    ]
    later = [s for s, _ in intervals if s > c.at]
    if not later:
        return _fail(
            rule, f"no moment is inside the {window} in every zone of the person{assumption}", None
        )
    where = "; ".join(outside) if outside else ", ".join(zones)
    return _fail(rule, f"outside the {window}: {where}{assumption}", min(later))


def _period_end(start: datetime, length: timedelta, zones: Sequence[str]) -> datetime:
    """The end of a period of whole days that began at ``start`` (Reg F's "seven consecutive
    days", the day of the call or conversation being the first): the later of ``length`` after
    ``start`` and the local midnight that ends its last calendar day in every zone given. The
    two readings differ only when a clock change makes the local day 23 or 25 hours long: a
    conversation at 00:30 before the autumn change is 168 hours before 23:30 on its seventh
    calendar day, still inside the period."""
    end = start + length
    for name in zones:
        zone = ZoneInfo(name)
        last_day = start.astimezone(zone).date() + timedelta(days=length.days)
        midnight = datetime.combine(last_day, time(0), zone).astimezone(UTC)
        end = max(end, midnight)
    return end


def _zones_of(request: ContactRequest) -> list[str]:
    zones: list[str] = []
    if request.point is not None and request.point.time_zone:
        zones.append(request.point.time_zone)
    zones.extend(z for z in request.person_time_zones if z not in zones)
    return zones


def _intervals(
    zone: ZoneInfo, start: time, end: time, at: datetime
) -> list[tuple[datetime, datetime]]:
    """The UTC intervals of a local daily window around ``at`` (a day before to 8 days after).

    An ``end`` at or before ``start`` ends on the next day (a window over midnight)."""
    today = at.astimezone(zone).date()
    result = []
    for offset in range(-1, 9):
        day = today + timedelta(days=offset)
        end_day = day if end > start else day + timedelta(days=1)
        result.append((local_instant(day, start, zone), local_instant(end_day, end, zone)))
    return result


def _common_intervals(
    zones: Sequence[str], start: time, end: time, at: datetime
) -> list[tuple[datetime, datetime]]:
    """The intervals in which the local time is inside the window in every zone."""
    common: list[tuple[datetime, datetime]] | None = None
    for name in zones:
        own = _intervals(ZoneInfo(name), start, end, at)
        common = own if common is None else _intersect(common, own)
    return common or []


def _intersect(
    a: list[tuple[datetime, datetime]], b: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    result = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if start < end:
            result.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return result


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """Returns the UTC instant at which a zone's clock first shows ``at`` on ``day``.

    A time that the clock skips (a DST gap) maps to the first instant after the gap; a time
    shown twice (DST ends) to its first showing."""
    naive = datetime.combine(day, at)
    after = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if after.astimezone(zone).replace(tzinfo=None) == naive:
        return after
    before = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if before > after:
        before, after = after, before
    offset_after = after.astimezone(zone).utcoffset()
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        if middle.astimezone(zone).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return after.replace(microsecond=0) if after.microsecond else after


def _day_bounds(zone_name: str, at: datetime) -> tuple[datetime, datetime]:
    zone = ZoneInfo(zone_name)
    day = at.astimezone(zone).date()
    return local_instant(day, time(0), zone), local_instant(day + timedelta(days=1), time(0), zone)


# --- counts ------------------------------------------------------------------------------------


def _daily_attempts(rule: DailyAttempts, c: _Context) -> _Result:
    request, point = c.request, c.request.point
    if c.inbound:
        return _pass(rule, "inbound: the limit counts outbound calls")
    if request.channel not in VOICE_CHANNELS:
        return _pass(rule, f"the limit counts calls, not {request.channel.value}")
    if point is None:
        return _pass(rule, "no contact point to count attempts on")
    if rule.consent_lifts and point.consented_by(c.at):
        return _pass(rule, "the person consented to calls on this number: no daily limit")
    zone = c.day_zone(person_first=False)
    day_start, day_end = _day_bounds(zone, c.at)
    used = sum(
        1
        for p in c.history
        if point.same_point(p)
        and p.direction is ContactDirection.OUTBOUND
        and p.channel in VOICE_CHANNELS
        and not p.blocked
        and p.outcome not in CONVERSATION_OUTCOMES
        and p.at >= day_start
    )
    left = max(0, rule.limit - used)
    lower = request.attempt_limit
    # A limit a protection reduced is that protection's rule: its check (and refusal) names it.
    name = lower.rule if lower is not None and lower.limit == rule.limit else rule.name
    reduced = f", limit reduced by {name}" if name != rule.name else ""
    detail = (
        f"{used} of {rule.limit} unanswered call attempts on this number today ({zone}{reduced})"
    )
    if used < rule.limit:
        return _Result(RuleCheck(name, True, detail), left)
    return _Result(RuleCheck(name, False, f"{detail}: the limit is reached", day_end), left)


def _connected_calls(rule: ConnectedCallsPerDay, c: _Context) -> _Result:
    request = c.request
    if c.inbound:
        return _pass(rule, "inbound: the limit counts outbound calls")
    if request.channel not in VOICE_CHANNELS:
        return _pass(rule, f"the limit counts calls, not {request.channel.value}")
    zone = c.day_zone(person_first=request.party is ContactParty.BORROWER)
    day_start, day_end = _day_bounds(zone, c.at)
    calls = [
        p
        for p in c.history
        if c.same_person(p)
        and p.direction is ContactDirection.OUTBOUND
        and p.possibly_connected(c.at)
        and p.at >= day_start
    ]
    connected = len(calls)
    pending = sum(1 for p in calls if p.outcome is None)
    counted = f" ({pending} in progress, counted as connected)" if pending else ""
    detail = f"{connected} of {rule.limit} connected calls to this person today{counted} ({zone})"
    if connected < rule.limit:
        return _pass(rule, detail)
    return _fail(rule, f"{detail}: the limit is reached", day_end)


def _weekly_calls(rule: WeeklyCalls, c: _Context) -> _Result:
    request = c.request
    days = rule.window.days
    if c.inbound:
        return _pass(rule, "inbound: the limit counts outbound calls")
    if request.channel not in VOICE_CHANNELS:
        return _pass(rule, f"the limit counts calls, not {request.channel.value}")
    if c.consent_within(rule.window):
        return _pass(rule, f"the person consented to calls within the last {days} days")
    zones = c.period_zones()
    counted = sorted(
        p.at
        for p in c.history
        if p.case_id == request.case_id
        and c.same_person(p)
        and p.direction is ContactDirection.OUTBOUND
        and p.channel in VOICE_CHANNELS
        and not p.blocked
        and not p.consented
        and p.outcome not in NOT_CONNECTED_OUTCOMES
        and _period_end(p.at, rule.window, zones) > c.at
    )
    detail = f"{len(counted)} of {rule.limit} calls about this case in the last {days} days"
    if len(counted) < rule.limit:
        return _pass(rule, detail)
    # Allowed again once enough of the oldest calls have left the window.
    return _fail(
        rule,
        f"{detail}: the limit is reached",
        _period_end(counted[-rule.limit], rule.window, zones),
    )


def _after_conversation(rule: AfterConversation, c: _Context) -> _Result:
    request = c.request
    days = rule.wait.days
    if c.inbound:
        return _pass(rule, "inbound: the wait applies to outbound calls")
    if request.channel not in VOICE_CHANNELS:
        return _pass(rule, f"the wait applies to calls, not {request.channel.value}")
    if c.consent_within(rule.wait):
        return _pass(rule, f"the person consented to calls within the last {days} days")
    zones = c.period_zones()
    conversations = [
        p
        for p in c.history
        if p.case_id == request.case_id
        and c.same_person(p)
        and p.possibly_connected(c.at)
        and _period_end(p.at, rule.wait, zones) > c.at
    ]
    if not conversations:
        return _pass(rule, f"no telephone conversation about this case in the last {days} days")
    last = max(conversations, key=lambda p: p.at)
    if last.outcome is None:
        detail = (
            "a call about this case is in progress (counted as a conversation until its "
            "outcome is recorded, or until its reservation lapses)"
        )
        # Earliest: the reservation lapses without a conversation being recorded.
        return _fail(rule, detail, last.at + RESERVATION)
    detail = f"a telephone conversation about this case took place within the last {days} days"
    return _fail(rule, detail, _period_end(last.at, rule.wait, zones))


# --- who and how -------------------------------------------------------------------------------


def _third_party(rule: ThirdParty, c: _Context) -> _Result:
    request = c.request
    if request.party is not ContactParty.UNRELATED_THIRD_PARTY:
        return _pass(rule, "not an unrelated third party")
    if c.inbound:
        return _pass(rule, "inbound: the condition applies to outbound contact")
    point = request.point
    if point is not None and any(
        point.same_point(p) and p.outcome is ContactOutcome.REFUSED_TO_PAY for p in c.history
    ):
        return _fail(rule, "this third party refused further contact", None)
    if not request.borrower_reachable:
        return _pass(rule, "the borrower has no usable number")
    attempts = sorted(
        (
            p
            for p in c.history
            if p.party is ContactParty.BORROWER
            and p.direction is ContactDirection.OUTBOUND
            and p.channel in REACH_CHANNELS
            and not p.blocked
            and p.outcome is not None
        ),
        key=lambda p: p.at,
    )[-rule.failed_attempts :]
    failed = [p for p in attempts if p.outcome not in CONVERSATION_OUTCOMES]
    if len(attempts) == rule.failed_attempts and len(failed) == len(attempts):
        return _pass(rule, f"the last {rule.failed_attempts} attempts to reach the borrower failed")
    return _fail(
        rule,
        f"the borrower can still be reached: fewer than {rule.failed_attempts} failed attempts "
        "in a row",
        None,
    )


def _field_visit(rule: FieldVisitTwoStaff, c: _Context) -> _Result:
    request = c.request
    if request.channel is not ContactChannel.FIELD_VISIT:
        return _pass(rule, "not a field visit")
    if c.inbound:
        return _pass(rule, "inbound: not a visit by staff")
    if request.staff_count >= rule.min_staff:
        return _pass(rule, f"{request.staff_count} staff on the visit")
    return _fail(
        rule,
        f"a field visit needs at least {rule.min_staff} staff; {request.staff_count} named",
        None,
    )


def _point_invalid(rule: ContactPointInvalid, c: _Context) -> _Result:
    request, point = c.request, c.request.point
    if c.inbound:
        return _pass(rule, "inbound: no contact point needed")
    channel = request.channel
    if point is None:
        return _fail(rule, f"no contact point for a {channel.value} contact", None)
    needed = CHANNEL_KIND[channel]
    if point.kind is not needed:
        return _fail(rule, f"{channel.value} needs a {needed.value} point, not {point.kind}", None)
    if point.owner is not request.party:
        return _fail(rule, f"the contact point belongs to the {point.owner.value} party", None)
    if point.status is ContactPointStatus.INVALID:
        return _fail(rule, "the contact point is marked invalid", None)
    return _pass(rule, f"the contact point is usable ({point.status.value})")


def _opted_out(rule: OptedOut, c: _Context) -> _Result:
    point = c.request.point
    if c.inbound:
        return _pass(rule, "inbound: the person made contact")
    if point is None:
        return _pass(rule, "no contact point")
    if point.status is ContactPointStatus.OPTED_OUT:
        return _fail(rule, "the owner opted out of contact through this point", None)
    return _pass(rule, "not opted out")


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
