"""Contact mutations: parse input → call the domain service → map the result or typed error.

A refusal rolls back and is audited on its own (``ctx.audit.refused``), except a
``ComplianceViolation`` of ``startContact``: that refused attempt is recorded and audited in its
own committed transaction, and the typed error is its result.

``startContact`` and ``logContact`` take an idempotency key: the claim commits with the contact
made (granted, refused and blocked, or logged), and a retry answers with that contact again
(``api.common.idempotency.exactly_once``); a refusal that writes nothing records no key."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated

import strawberry

from api.common.idempotency import MAX_KEY, exactly_once, idempotency_key
from api.common.ids import pk_of
from api.common.inputs import check_text, utc_instant
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    UserError,
    ValidationError,
    refused,
)
from api.contacts.types import Contact, ContactPoint, contact_point_view
from api.context import Context, Info
from api.permissions import needs
from authz.masking import CONTACT_POINT_FIELDS, rule_for
from domain.borrowers.errors import BorrowerNotFound
from domain.cases.errors import CaseNotFound
from domain.contacts import errors, services
from domain.contacts.model import (
    KEEP,
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    ContactParty,
    ContactPointKind,
    ContactPointStatus,
    Keep,
)
from domain.contacts.model import Contact as DomainContact
from domain.errors import DomainError, ErrorCode, IdempotencyKeyReused
from domain.staff.model import Role
from store import contacts_queries
from store.audit import AuditAction

IDEMPOTENCY = (
    f"Any unique string (e.g. a UUID, at most {MAX_KEY} characters): a retry with the same key "
    "and the same input returns the contact first logged instead of logging it again; the same "
    "key with any other input is refused (IDEMPOTENCY_KEY_REUSED)."
)
START_IDEMPOTENCY = (
    f"Any unique string (e.g. a UUID, at most {MAX_KEY} characters): a retry with the same key "
    "and the same input answers as the first request did (the attempt it reserved, or the same "
    "ComplianceViolation with the attempt it recorded) instead of asking again; the same key "
    "with any other input is refused (IDEMPOTENCY_KEY_REUSED). A refusal that records no "
    "attempt (CASE_NOT_FOUND, CASE_CLOSED, …) keeps no key."
)
# Who may loosen what protects a person: lift an opt-out or an invalid mark, record consent or
# consented hours, replace a known time zone (managers, and the borrower's own self-service
# channel through the integration account).
CONSENT_PERMISSION = "contact_point:consent"
EVIDENCE = (
    "A reference to the evidence of the consent (a recording reference, a document id); "
    "required with `consented`, `consentedHours` and when lifting OPTED_OUT."
)

UserErrors = ValidationError | NotFoundError | RuleViolationError | ConflictError


@strawberry.input(
    description="Local hours (start inclusive, end exclusive; over midnight when "
    "the end is before the start)."
)
class ConsentedHoursInput:
    start: time
    end: time


@strawberry.input
class StartContactInput:
    case_id: strawberry.ID
    channel: ContactChannel
    party: ContactParty = ContactParty.BORROWER
    contact_point_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: the party's primary point for the channel."
    )
    second_agent_login: str | None = strawberry.field(
        default=None, description="The colleague on a field visit (CN: visits need two)."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=START_IDEMPOTENCY)


@strawberry.input
class CompleteContactInput:
    contact_id: strawberry.ID
    outcome: ContactOutcome
    notes: str | None = None
    recording_ref: str | None = None
    callback_at: datetime | None = strawberry.field(
        default=None, description="Required with CALLBACK_REQUESTED (and only with it)."
    )


@strawberry.input
class LogContactInput:
    case_id: strawberry.ID
    channel: ContactChannel
    direction: ContactDirection
    outcome: ContactOutcome
    party: ContactParty = ContactParty.BORROWER
    contact_point_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Default for outbound contact: the party's primary point for the channel.",
    )
    occurred_at: datetime | None = strawberry.field(default=None, description="Default: now.")
    notes: str | None = None
    recording_ref: str | None = None
    callback_at: datetime | None = strawberry.field(
        default=None, description="With CALLBACK_REQUESTED: when to call back."
    )
    second_agent_login: str | None = strawberry.field(
        default=None, description="The colleague on a field visit."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input
class AddContactPointInput:
    borrower_id: strawberry.ID
    kind: ContactPointKind
    value: str
    owner: ContactParty = ContactParty.BORROWER
    status: ContactPointStatus = ContactPointStatus.UNVERIFIED
    time_zone: str | None = strawberry.field(default=None, description="IANA time zone.")
    consented_hours: ConsentedHoursInput | None = None
    consented: bool = strawberry.field(
        default=False,
        description="The person consents to contact through this point now "
        "(contact_point:consent).",
    )
    consent_evidence: str | None = strawberry.field(default=None, description=EVIDENCE)


@strawberry.input
class UpdateContactPointInput:
    contact_point_id: strawberry.ID
    status: ContactPointStatus | None = None
    time_zone: str | None = strawberry.field(
        default=strawberry.UNSET, description="IANA time zone; null: unknown; absent: as is."
    )
    consented_hours: ConsentedHoursInput | None = strawberry.field(
        default=strawberry.UNSET, description="Null: none (the profile's hours); absent: as is."
    )
    consented: bool | None = strawberry.field(
        default=None,
        description="true: the person consents now; false: they withdrew consent (the "
        "consented hours go with it); absent: as is.",
    )
    consent_evidence: str | None = strawberry.field(default=None, description=EVIDENCE)
    expected_version: int | None = None


@strawberry.type
class StartContactSuccess:
    contact: Contact


@strawberry.type
class CompleteContactSuccess:
    contact: Contact


@strawberry.type
class LogContactSuccess:
    contact: Contact


@strawberry.type
class AddContactPointSuccess:
    contact_point: ContactPoint


@strawberry.type
class UpdateContactPointSuccess:
    contact_point: ContactPoint


@strawberry.type(
    description="A conduct rule refused the contact. The refused attempt is recorded (a blocked "
    "contact) and audited; `rule` names the deciding rule, `nextAllowedAt` when every rule "
    "passes again (null: waiting does not help)."
)
class ComplianceViolation(UserError):
    rule: str
    next_allowed_at: datetime | None
    breaches: list[str] = strawberry.field(description="Every rule that refused.")
    _contact_id: strawberry.Private[int]

    @strawberry.field(description="The refused attempt, as recorded (blocked).")
    async def contact(self, info: Info) -> Contact:
        contact = await info.context.contacts.load(self._contact_id)
        assert contact is not None  # recorded on the case the caller just reached
        return Contact.from_domain(contact)


StartContactPayload = Annotated[
    StartContactSuccess | ComplianceViolation | UserErrors, strawberry.union("StartContactPayload")
]
CompleteContactPayload = Annotated[
    CompleteContactSuccess | UserErrors, strawberry.union("CompleteContactPayload")
]
LogContactPayload = Annotated[LogContactSuccess | UserErrors, strawberry.union("LogContactPayload")]
AddContactPointPayload = Annotated[
    AddContactPointSuccess | UserErrors, strawberry.union("AddContactPointPayload")
]
UpdateContactPointPayload = Annotated[
    UpdateContactPointSuccess | UserErrors, strawberry.union("UpdateContactPointPayload")
]


def _actor(ctx: Context) -> services.Actor:
    assert ctx.viewer.id is not None
    return services.Actor(ctx.viewer.id, ctx.viewer.agency_id)


def _case_pk(case_id: strawberry.ID) -> int:
    pk = pk_of(case_id, "Case")
    if pk is None:
        raise CaseNotFound("no such case", field="caseId")
    return pk


def _point_pk(point_id: strawberry.ID | None) -> int | None:
    if point_id is None:
        return None
    pk = pk_of(point_id, "ContactPoint")
    if pk is None:
        raise errors.ContactPointNotFound("no such contact point", field="contactPointId")
    return pk


def _hours(hours: ConsentedHoursInput | None) -> tuple[time, time] | None:
    return (hours.start, hours.end) if hours is not None else None


def _supervises(ctx: Context) -> bool:
    """Whether the caller may record the outcome of someone else's attempt: by role (a manager,
    a team lead), not by a permission that every agent also holds."""
    roles = ctx.viewer.roles
    return Role.MANAGER in roles or Role.TEAM_LEAD in roles


async def _sees_in_clear(ctx: Context, borrower_id: int, kind: ContactPointKind) -> bool:
    """Whether the caller sees the borrower's values of this kind in clear (only then may a
    refusal say that the borrower already has a value)."""
    roles = ctx.viewer.roles
    legal = await ctx.legal_stage(borrower_id)
    return rule_for(roles, CONTACT_POINT_FIELDS[kind], legal).clear


def _violation(error: errors.ComplianceViolation) -> ComplianceViolation:
    assert error.contact_id is not None
    return ComplianceViolation(
        code=ErrorCode(error.code),
        message=error.message,
        field=error.field,
        rule=error.rule,
        next_allowed_at=error.next_allowed_at,
        breaches=list(error.breaches),
        _contact_id=error.contact_id,
    )


KeyedRequest = services.StartRequest | services.LogRequest


async def _replay(
    ctx: Context, key: str, operation: AuditAction, request: KeyedRequest
) -> DomainContact | None:
    """Returns the contact a previous request of ``operation`` with this key made, or None if
    none did; refuses the key if it was used for anything else: another operation, or one whose
    input differed in any field (compared through the digest kept with the contact)."""
    assert ctx.viewer.id is not None
    viewer_id = ctx.viewer.id
    prior = await ctx.read(lambda s: contacts_queries.contact_for_key(s, viewer_id, key))
    if prior is None:
        return None
    used_for, case_id, contact = prior
    same = (
        used_for == operation
        and case_id == request.case_id
        and contact is not None
        and contact.case_id == request.case_id
        and contact.request_digest == request.digest()
    )
    if not same or contact is None:
        raise IdempotencyKeyReused(
            "this idempotency key was already used for another request", field="idempotencyKey"
        )
    if await ctx.cases.load(request.case_id) is None:
        raise CaseNotFound("no such case", field="caseId")
    return contact


@strawberry.type
class ContactMutation:
    @strawberry.mutation(
        description="Asks for one outbound attempt now and reserves it: granted (a contact in "
        "progress), or refused with ComplianceViolation, the refused attempt recorded too.",
        extensions=needs("contact:make"),
    )
    async def start_contact(self, info: Info, input: StartContactInput) -> StartContactPayload:
        ctx = info.context
        check_text("input.secondAgentLogin", input.second_agent_login)
        check_text("input.idempotencyKey", input.idempotency_key)
        case_pk = pk_of(input.case_id, "Case")
        try:
            key = idempotency_key(input.idempotency_key)
            request = services.StartRequest(
                case_id=_case_pk(input.case_id),
                channel=input.channel,
                party=input.party,
                contact_point_id=_point_pk(input.contact_point_id),
                second_agent_login=input.second_agent_login,
                idempotency_key=key,
            )
            contact = await exactly_once(
                ctx,
                key,
                AuditAction.CONTACT_START,
                lambda k: _replay(ctx, k, AuditAction.CONTACT_START, request),
                lambda uow: services.start_contact(uow, ctx.clock, _actor(ctx), request),
            )
        except errors.ComplianceViolation as violation:
            return _violation(violation)  # recorded and audited in its own transaction
        except DomainError as error:
            return await refused(ctx, AuditAction.CONTACT_START, error, "Case", case_pk)
        if contact.blocked:  # a retry of a refused request: the same refusal
            return _violation(services.refusal_of(contact))
        return StartContactSuccess(contact=Contact.from_domain(contact))

    @strawberry.mutation(
        description="Records the outcome of an attempt in progress (once): your own attempt, "
        "or (team leads and managers) anyone's.",
        extensions=needs("contact:make"),
    )
    async def complete_contact(
        self, info: Info, input: CompleteContactInput
    ) -> CompleteContactPayload:
        ctx = info.context
        check_text("input.notes", input.notes)
        check_text("input.recordingRef", input.recording_ref)
        callback_at = utc_instant("input.callbackAt", input.callback_at)
        pk = pk_of(input.contact_id, "Contact")
        await ctx.release()
        try:
            if pk is None:
                raise errors.ContactNotFound("no such contact", field="contactId")
            contact = await services.complete_contact(
                ctx.unit_of_work,
                ctx.clock,
                _actor(ctx),
                pk,
                input.outcome,
                notes=input.notes,
                recording_ref=input.recording_ref,
                callback_at=callback_at,
                may_complete_others=_supervises(ctx),
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.CONTACT_COMPLETE, error, "Contact", pk)
        return CompleteContactSuccess(contact=Contact.from_domain(contact))

    @strawberry.mutation(
        description="Records a contact after the fact (an inbound call, a letter, a visit, a "
        "dialler's batch). Never refused for a conduct rule: the rules it broke are kept on "
        "it (`breaches`).",
        extensions=needs("contact:log"),
    )
    async def log_contact(self, info: Info, input: LogContactInput) -> LogContactPayload:
        ctx = info.context
        for name, text in (
            ("input.notes", input.notes),
            ("input.recordingRef", input.recording_ref),
            ("input.secondAgentLogin", input.second_agent_login),
            ("input.idempotencyKey", input.idempotency_key),
        ):
            check_text(name, text)
        occurred_at = utc_instant("input.occurredAt", input.occurred_at)
        callback_at = utc_instant("input.callbackAt", input.callback_at)
        case_pk = pk_of(input.case_id, "Case")
        try:
            key = idempotency_key(input.idempotency_key)
            request = services.LogRequest(
                case_id=_case_pk(input.case_id),
                channel=input.channel,
                direction=input.direction,
                outcome=input.outcome,
                party=input.party,
                contact_point_id=_point_pk(input.contact_point_id),
                occurred_at=occurred_at,
                notes=input.notes,
                recording_ref=input.recording_ref,
                callback_at=callback_at,
                second_agent_login=input.second_agent_login,
                idempotency_key=key,
            )
            contact = await exactly_once(
                ctx,
                key,
                AuditAction.CONTACT_LOG,
                lambda k: _replay(ctx, k, AuditAction.CONTACT_LOG, request),
                lambda uow: services.log_contact(uow, ctx.clock, _actor(ctx), request),
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.CONTACT_LOG, error, "Case", case_pk)
        return LogContactSuccess(contact=Contact.from_domain(contact))

    @strawberry.mutation(
        description="Adds a number, e-mail or address to a borrower you may see.",
        extensions=needs("contact_point:manage"),
    )
    async def add_contact_point(
        self, info: Info, input: AddContactPointInput
    ) -> AddContactPointPayload:
        ctx = info.context
        check_text("input.value", input.value)
        check_text("input.timeZone", input.time_zone)
        check_text("input.consentEvidence", input.consent_evidence)
        pk = pk_of(input.borrower_id, "Borrower")
        sees_value = pk is not None and await _sees_in_clear(ctx, pk, input.kind)
        await ctx.release()
        try:
            if pk is None:
                raise BorrowerNotFound("no such borrower", field="borrowerId")
            point = await services.add_contact_point(
                ctx.unit_of_work,
                ctx.clock,
                _actor(ctx),
                services.NewContactPoint(
                    borrower_id=pk,
                    kind=input.kind,
                    value=input.value,
                    owner=input.owner,
                    status=input.status,
                    time_zone=input.time_zone,
                    consent_hours=_hours(input.consented_hours),
                    consented=input.consented,
                    consent_evidence=input.consent_evidence,
                ),
                may_consent=ctx.allows(CONSENT_PERMISSION),
                sees_value=sees_value,
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.CONTACT_POINT_ADD, error, "Borrower", pk)
        return AddContactPointSuccess(contact_point=await contact_point_view(ctx, point))

    @strawberry.mutation(
        description="Changes a contact point's status, time zone, consented hours or consent.",
        extensions=needs("contact_point:manage"),
    )
    async def update_contact_point(
        self, info: Info, input: UpdateContactPointInput
    ) -> UpdateContactPointPayload:
        ctx = info.context
        zone = KEEP if input.time_zone is strawberry.UNSET else input.time_zone
        if not isinstance(zone, Keep):
            check_text("input.timeZone", zone)
        hours = KEEP if input.consented_hours is strawberry.UNSET else _hours(input.consented_hours)
        check_text("input.consentEvidence", input.consent_evidence)
        pk = pk_of(input.contact_point_id, "ContactPoint")
        await ctx.release()
        try:
            if pk is None:
                raise errors.ContactPointNotFound("no such contact point", field="contactPointId")
            point = await services.update_contact_point(
                ctx.unit_of_work,
                ctx.clock,
                _actor(ctx),
                pk,
                status=input.status,
                time_zone=zone,
                consent_hours=hours,
                consented=input.consented,
                expected_version=input.expected_version,
                may_consent=ctx.allows(CONSENT_PERMISSION),
                consent_evidence=input.consent_evidence,
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.CONTACT_POINT_UPDATE, error, "ContactPoint", pk)
        return UpdateContactPointSuccess(contact_point=await contact_point_view(ctx, point))
