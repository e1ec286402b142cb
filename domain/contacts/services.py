"""Use cases of contact work: contact points, and contacts started, completed or logged.

Each runs in one unit of work and commits once. Whether a contact is allowed is the conduct
engine's answer (``domain.contacts.conduct.assess``), taken with the borrower's contact work
serialised (``ContactRepository.lock_borrower``): two agents racing for the last attempt the
rules allow get one grant between them. A refused ``start_contact`` still commits: the blocked
attempt and its audit entry are kept, and ``ComplianceViolation`` is raised after the commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, time, timedelta

from domain.borrowers.errors import BorrowerNotFound
from domain.cases.errors import CaseNotFound, StaffNotFound
from domain.cases.model import Case, CaseStatus
from domain.clock import Clock
from domain.conduct.engine import Allowance
from domain.contacts import errors
from domain.contacts.conduct import (
    Situation,
    assess,
    chosen_point,
    consented_call,
    recorded_rule_field,
    situation_of,
)
from domain.contacts.events import (
    ContactCompleted,
    ContactLogged,
    ContactPointAdded,
    ContactPointUpdated,
    ContactRefused,
    ContactStarted,
)
from domain.contacts.model import (
    KEEP,
    Contact,
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    ContactParty,
    ContactPoint,
    ContactPointKind,
    ContactPointStatus,
    ContactSource,
    Keep,
    check_consent_hours,
    check_outcome,
    check_time_zone,
    check_value,
)
from domain.contacts.ports import ContactsUnitOfWork
from domain.errors import ConcurrencyConflict, InvalidInput
from domain.lifecycle.moves import standing_of
from domain.lifecycle.table import Action, ensure_allowed
from domain.portfolios import local_date, time_zone_of
from domain.staff.model import Staff

# How far ahead of the server's clock a logged contact may say it took place (clock skew).
MAX_CLOCK_SKEW = timedelta(minutes=5)

UowFactory = Callable[[], ContactsUnitOfWork]


@dataclass(frozen=True)
class Actor:
    """Who does the work: their staff id and agency (None: the lender's own staff)."""

    id: int
    agency_id: int | None = None


# ---- contact points ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewContactPoint:
    borrower_id: int
    kind: ContactPointKind
    value: str
    owner: ContactParty = ContactParty.BORROWER
    status: ContactPointStatus = ContactPointStatus.UNVERIFIED
    time_zone: str | None = None
    consent_hours: tuple[time, time] | None = None
    consented: bool = False
    consent_evidence: str | None = None  # required with consent or consented hours


async def add_contact_point(
    uow_factory: UowFactory,
    clock: Clock,
    actor: Actor,
    new: NewContactPoint,
    *,
    may_consent: bool = False,
    sees_value: bool = False,
) -> ContactPoint:
    """Adds a number, e-mail or address to a borrower the caller may see; refuses a value that
    cannot be one of its kind, an unknown time zone, an empty consent window, consent or
    consented hours from a caller without consent rights (``may_consent``) or without evidence.

    A value the borrower already has for the same kind and owner is refused only to a caller
    who sees such values in clear (``sees_value``): to anyone else the refusal would reveal a
    masked value. For them the duplicate is added: the rules treat points of one value as one
    (shared attempts, and an opt-out or invalid mark on either holds for both)."""
    async with uow_factory() as uow:
        borrower = await uow.borrowers.get(new.borrower_id)
        if borrower is None or borrower.id is None:
            raise BorrowerNotFound("no such borrower", field="borrowerId")
        value = check_value(new.kind, new.value)
        zone = check_time_zone(new.time_zone)
        start, end = check_consent_hours(new.consent_hours)
        blank = ContactPoint(borrower.id, new.kind, value, new.owner, new.status)
        evidence = blank.check_rights(
            may_consent=may_consent,
            consent_hours=new.consent_hours,
            consented=new.consented or None,
            evidence=new.consent_evidence,
        )
        if sees_value and any(
            p.kind == new.kind and p.owner == new.owner and p.value == value
            for p in await uow.contact_points.of_borrower(borrower.id)
        ):
            raise errors.ContactPointExists(
                f"the borrower already has this {new.kind.value.lower()} for {new.owner.value}",
                field="value",
            )
        now = clock.now()
        point = ContactPoint(
            borrower_id=borrower.id,
            kind=new.kind,
            value=value,
            owner=new.owner,
            status=new.status,
            time_zone=zone,
            consent_start=start,
            consent_end=end,
            consented_at=now if new.consented else None,
            created_at=now,
        )
        await uow.contact_points.add(point)
        assert point.id is not None
        uow.record(
            ContactPointAdded(
                borrower.id,
                point.id,
                now,
                actor.id,
                new.kind.value,
                new.owner.value,
                new.status.value,
                zone,
                point.consented_hours,
                point.consented_at,
                evidence,
            )
        )
        await uow.commit()
        return point


async def update_contact_point(
    uow_factory: UowFactory,
    clock: Clock,
    actor: Actor,
    point_id: int,
    *,
    status: ContactPointStatus | None = None,
    time_zone: str | Keep | None = KEEP,
    consent_hours: tuple[time, time] | Keep | None = KEEP,
    consented: bool | None = None,
    expected_version: int | None = None,
    may_consent: bool = False,
    consent_evidence: str | None = None,
) -> ContactPoint:
    """Changes a point's status, time zone, consented hours or consent (``KEEP``/None: as is).

    Without consent rights (``may_consent``) a caller may mark a point verified, invalid or
    opted out, and give it a time zone where none is known; lifting an opt-out or an invalid
    mark, giving, withdrawing or changing consent or consented hours and replacing a time zone
    are refused (``ConsentChangeNotAllowed``). A consent change, and lifting an opt-out, need
    ``consent_evidence``. Withdrawing consent clears the consented hours."""
    async with uow_factory() as uow:
        point = await uow.contact_points.get(point_id)
        if point is None or point.id is None:
            raise errors.ContactPointNotFound("no such contact point", field="contactPointId")
        if expected_version is not None and point.version != expected_version:
            raise ConcurrencyConflict(
                f"the contact point is at version {point.version}, not {expected_version}",
                field="expectedVersion",
            )
        evidence = point.check_rights(
            may_consent=may_consent,
            status=status,
            time_zone=time_zone,
            consent_hours=consent_hours,
            consented=consented,
            evidence=consent_evidence,
        )
        now = clock.now()
        changes = point.change(
            now,
            status=status,
            time_zone=time_zone,
            consent_hours=consent_hours,
            consented=consented,
        )
        if changes:
            uow.record(
                ContactPointUpdated(point.borrower_id, point.id, now, actor.id, changes, evidence)
            )
            await uow.commit()
        return point


# ---- contacts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyedRequest:
    """A request that may carry an idempotency key (its last field, ``idempotency_key``)."""

    def digest(self) -> str:
        """Returns a digest of every field but the key, as given (an omitted point or time is
        not the one a default would pick): a retry with the key must be the same request."""
        fields = {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in asdict(self).items()
            if name != "idempotency_key"
        }
        text = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class StartRequest(KeyedRequest):
    case_id: int
    channel: ContactChannel
    party: ContactParty = ContactParty.BORROWER
    contact_point_id: int | None = None  # None: the party's primary point for the channel
    second_agent_login: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class LogRequest(KeyedRequest):
    case_id: int
    channel: ContactChannel
    direction: ContactDirection
    outcome: ContactOutcome
    party: ContactParty = ContactParty.BORROWER
    contact_point_id: int | None = None
    occurred_at: datetime | None = None  # None: now
    notes: str | None = None
    recording_ref: str | None = None
    callback_at: datetime | None = None
    second_agent_login: str | None = None
    idempotency_key: str | None = None


async def start_contact(
    uow_factory: UowFactory, clock: Clock, actor: Actor, request: StartRequest
) -> Contact:
    """Asks for one outbound attempt now and reserves it: returns the contact in progress, or
    records the refused attempt (blocked, with the rule and the next allowed instant), commits,
    and raises ``ComplianceViolation``. A case on hold, or under a cease condition, is refused
    the same way (the rule named by its code, no next time); only a closed case is refused
    before any attempt. A keyed request's attempt, granted or refused, keeps the key and the
    request's digest (``refusal_of`` gives a retry the refusal again)."""
    async with uow_factory() as uow:
        case = await uow.cases.get(request.case_id)
        if case is None or case.id is None:
            raise CaseNotFound("no such case", field="caseId")
        standing = standing_of(case)
        if standing.status == CaseStatus.CLOSED:
            ensure_allowed(replace(standing, blocks=()), Action.CONTACT, case.reference)
        second = await _second_agent(uow, actor, request.second_agent_login, request.channel)
        situation = await _situation(uow, case)
        point = chosen_point(situation, request.channel, request.party, request.contact_point_id)
        now = clock.now()
        allowance, contact = await _judged(
            uow,
            situation,
            actor,
            _Attempt(request.channel, request.party, ContactDirection.OUTBOUND, point, second),
            now,
            source=ContactSource.STARTED,
            idempotency_key=request.idempotency_key,
            request_digest=request.digest() if request.idempotency_key else None,
        )
        failure = allowance.first_failure
        if failure is not None:
            contact.blocked = True
            contact.rule = failure.rule
            contact.next_allowed_at = allowance.next_allowed_at
        await uow.contacts.add(contact)
        assert contact.id is not None
        if failure is None:
            uow.record(_started(contact, actor, allowance))
            await uow.commit()
            return contact
        uow.record(
            ContactRefused(
                contact.case_id,
                contact.borrower_id,
                contact.id,
                now,
                actor.id,
                contact.channel.value,
                contact.party.value,
                contact.contact_point_id,
                allowance.profile_version,
                failure.rule,
                allowance.breaches,
                allowance.next_allowed_at,
            )
        )
        await uow.commit()
        raise refusal_of(contact, failure.detail)


def refusal_of(contact: Contact, detail: str | None = None) -> errors.ComplianceViolation:
    """Returns the refusal a blocked attempt was recorded with: the rule, breaches, next allowed
    instant and field. ``detail`` explains the rule's refusal as it was made; a retry of the
    request that made it has none (the explanation is not kept: the message names the rule
    only)."""
    assert contact.blocked and contact.rule is not None and contact.id is not None
    if detail is None:
        detail = "the attempt was refused (this request was already answered)"
    return errors.ComplianceViolation(
        f"{contact.rule}: {detail}",
        rule=contact.rule,
        breaches=tuple(contact.breaches),
        next_allowed_at=contact.next_allowed_at,
        contact_id=contact.id,
        field=recorded_rule_field(contact.rule),
    )


def _started(contact: Contact, actor: Actor, allowance: Allowance) -> ContactStarted:
    assert contact.id is not None
    return ContactStarted(
        contact.case_id,
        contact.borrower_id,
        contact.id,
        contact.at,
        actor.id,
        contact.channel.value,
        contact.party.value,
        contact.contact_point_id,
        allowance.profile_version,
    )


async def complete_contact(
    uow_factory: UowFactory,
    clock: Clock,
    actor: Actor,
    contact_id: int,
    outcome: ContactOutcome,
    *,
    notes: str | None = None,
    recording_ref: str | None = None,
    callback_at: datetime | None = None,
    may_complete_others: bool = False,
) -> Contact:
    """Records the outcome of an attempt in progress on a case the caller may see (once): the
    caller's own attempt, or anyone's when ``may_complete_others`` (a manager, a team lead)."""
    async with uow_factory() as uow:
        contact = await uow.contacts.get(contact_id)
        if contact is None or contact.id is None:
            raise errors.ContactNotFound("no such contact", field="contactId")
        if contact.staff_id != actor.id and not may_complete_others:
            raise errors.NotYourContact(
                "only the agent who started the attempt, a team lead or a manager records its "
                "outcome",
                field="contactId",
            )
        now = clock.now()
        result = check_outcome(outcome, notes, recording_ref, callback_at, now)
        contact.complete(result, now)
        uow.record(
            ContactCompleted(
                contact.case_id,
                contact.borrower_id,
                contact.id,
                now,
                actor.id,
                outcome.value,
                result.callback_at,
                result.recording_ref is not None,
            )
        )
        await uow.commit()
        return contact


def check_occurred_within_case(case: Case, actor: Actor, at: datetime) -> None:
    """Refuses a contact dated before its case was opened (in the portfolio's calendar), or, for
    an agency, before the case was placed with it: it was not the agency's case then."""
    if local_date(time_zone_of(case.portfolio), at) < case.opened_on:
        raise errors.OccurredBeforeCase(
            f"occurredAt lies before the case was opened on {case.opened_on.isoformat()}",
            field="occurredAt",
        )
    if actor.agency_id is not None and (case.placed_at is None or at < case.placed_at):
        raise errors.OccurredBeforePlacement(
            "occurredAt lies before the case was placed with your agency", field="occurredAt"
        )


async def log_contact(
    uow_factory: UowFactory, clock: Clock, actor: Actor, request: LogRequest
) -> Contact:
    """Records a contact after the fact. Never refused for a conduct rule: the rules it broke
    at the time it took place are kept on it (``breaches``) for compliance to see. Outbound
    contact on a case the life cycle closes to contact is a breach too (by its code)."""
    async with uow_factory() as uow:
        case = await uow.cases.get(request.case_id)
        if case is None or case.id is None:
            raise CaseNotFound("no such case", field="caseId")
        now = clock.now()
        at = request.occurred_at or now
        if at > now + MAX_CLOCK_SKEW:
            raise errors.OccurredInFuture("occurredAt lies in the future", field="occurredAt")
        check_occurred_within_case(case, actor, at)
        result = check_outcome(
            request.outcome, request.notes, request.recording_ref, request.callback_at, at
        )
        second = await _second_agent(uow, actor, request.second_agent_login, request.channel)
        situation = await _situation(uow, case)
        inbound_unknown = (
            request.direction == ContactDirection.INBOUND and request.contact_point_id is None
        )
        point = (
            None  # an inbound contact need not say where it came from
            if inbound_unknown
            else chosen_point(situation, request.channel, request.party, request.contact_point_id)
        )
        allowance, contact = await _judged(
            uow,
            situation,
            actor,
            _Attempt(request.channel, request.party, request.direction, point, second),
            at,
            source=ContactSource.LOGGED,
            outcome=result.outcome,
            notes=result.notes,
            recording_ref=result.recording_ref,
            callback_at=result.callback_at,
            completed_at=now,
            idempotency_key=request.idempotency_key,
            request_digest=request.digest() if request.idempotency_key else None,
        )
        await uow.contacts.add(contact)
        assert contact.id is not None
        uow.record(
            ContactLogged(
                contact.case_id,
                contact.borrower_id,
                contact.id,
                now,
                actor.id,
                contact.channel.value,
                contact.direction.value,
                contact.party.value,
                result.outcome.value,
                at,
                contact.contact_point_id,
                allowance.profile_version,
                allowance.breaches,
            )
        )
        await uow.commit()
        return contact


@dataclass(frozen=True)
class _Attempt:
    """Who is contacted how: what the conduct engine judges."""

    channel: ContactChannel
    party: ContactParty
    direction: ContactDirection
    point: ContactPoint | None
    second: Staff | None


async def _judged(
    uow: ContactsUnitOfWork,
    situation: Situation,
    actor: Actor,
    attempt: _Attempt,
    at: datetime,
    *,
    source: ContactSource,
    outcome: ContactOutcome | None = None,
    notes: str = "",
    recording_ref: str | None = None,
    callback_at: datetime | None = None,
    completed_at: datetime | None = None,
    idempotency_key: str | None = None,
    request_digest: str | None = None,
) -> tuple[Allowance, Contact]:
    """Judges an attempt at ``at`` against the borrower's recent contacts (the lender's and every
    agency's) and drafts its record, with the rules it breaks (``breaches``; none for a granted
    attempt) and the record's own fields (source, outcome, …)."""
    point, second = attempt.point, attempt.second
    history = await uow.contacts.history(situation.borrower_id, at)
    # The version of the case's conduct profile in effect at the contact's instant.
    conduct = await uow.rule_sets.conduct_profile(situation.profile_name, at)
    allowance = assess(
        situation,
        channel=attempt.channel,
        party=attempt.party,
        direction=attempt.direction,
        point=point,
        history=history,
        at=at,
        staff_count=2 if second else 1,
        conduct=conduct,
    )
    contact = Contact(
        case_id=situation.case_id,
        borrower_id=situation.borrower_id,
        at=at,
        channel=attempt.channel,
        direction=attempt.direction,
        party=attempt.party,
        contact_point_id=point.id if point else None,
        staff_id=actor.id,
        second_staff_id=second.id if second else None,
        agency_id=actor.agency_id,
        consented=consented_call(point, at),
        profile_version=allowance.profile_version,
        breaches=list(allowance.breaches),
        source=source,
        outcome=outcome,
        notes=notes,
        recording_ref=recording_ref,
        callback_at=callback_at,
        completed_at=completed_at,
        idempotency_key=idempotency_key,
        request_digest=request_digest,
    )
    return allowance, contact


async def _situation(uow: ContactsUnitOfWork, case: Case) -> Situation:
    """Loads the borrower with their contact work locked, then their points and the
    protections in force on the case."""
    borrower = await uow.contacts.lock_borrower(case.borrower_id)
    if borrower is None:  # the borrower of a case in scope is in scope
        raise CaseNotFound("no such case", field="caseId")
    points = await uow.contact_points.of_borrower(case.borrower_id)
    assert case.id is not None
    protection = await uow.protections.of_case(case.id, case.borrower_id)
    return situation_of(case, borrower, points, protection)


async def _second_agent(
    uow: ContactsUnitOfWork, actor: Actor, login: str | None, channel: ContactChannel
) -> Staff | None:
    """The colleague on a field visit: active, someone else, of the caller's own agency (or,
    for the lender's staff, the lender's)."""
    if login is None:
        return None
    if channel != ContactChannel.FIELD_VISIT:
        raise InvalidInput("only a field visit names a second agent", field="secondAgentLogin")
    staff = await uow.contacts.staff_by_login(login)
    if staff is None or not staff.active or staff.agency_id != actor.agency_id:
        raise StaffNotFound(f"no colleague {login!r}", field="secondAgentLogin")
    if staff.id == actor.id:
        raise InvalidInput("the second agent must be someone else", field="secondAgentLogin")
    return staff
