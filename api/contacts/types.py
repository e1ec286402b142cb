"""GraphQL types of contact work: ContactPoint, Contact, ContactAllowance and the enums of the
contract ("Collection work"), and the reads behind ``Borrower.contactPoints`` and
``Case.contacts``."""

from __future__ import annotations

from datetime import datetime, time
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.common.ids import to_global_id
from api.common.pagination import Connection, connection, page_size
from api.common.types import Node
from api.context import Context, Info
from api.errors import BadUserInput
from api.staff.types import load_staff
from authz.masking import CONTACT_POINT_FIELDS, mask_contact_point
from domain.conduct.engine import Allowance
from domain.conduct.engine import RuleCheck as DomainRuleCheck
from domain.contacts.model import Contact as DomainContact
from domain.contacts.model import (
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    ContactParty,
    ContactPointKind,
    ContactPointStatus,
    ContactSource,
)
from domain.contacts.model import ContactPoint as DomainContactPoint
from store import contacts_queries
from store.keyset import InvalidCursor
from store.nested_pages import PageKey

if TYPE_CHECKING:
    from api.cases.types import Case
    from api.staff.types import Staff

strawberry.enum(ContactChannel, name="ContactChannel", description="How a contact is made.")
strawberry.enum(
    ContactParty,
    name="ContactParty",
    description="Whom a contact reaches, and whose a contact point is. SPOUSE: a spouse whose "
    "debt paid household costs (debt-related); UNRELATED_THIRD_PARTY: contacted only to locate "
    "the borrower, when the borrower cannot be reached.",
)
strawberry.enum(ContactDirection, name="ContactDirection")
strawberry.enum(
    ContactOutcome,
    name="ContactOutcome",
    description="What became of a contact. A conversation: RIGHT_PARTY_CONTACT, "
    "THIRD_PARTY_CONTACT, PROMISE_TO_PAY, REFUSED_TO_PAY, DISPUTE_RAISED, CALLBACK_REQUESTED; "
    "never connected: BUSY_OR_NOT_CONNECTED, WRONG_NUMBER, FAILED.",
)
strawberry.enum(ContactPointKind, name="ContactPointKind")
strawberry.enum(
    ContactPointStatus,
    name="ContactPointStatus",
    description="INVALID and OPTED_OUT points are never contacted (rules CONTACT_POINT_INVALID, "
    "OPTED_OUT).",
)
strawberry.enum(
    ContactSource,
    name="ContactSource",
    description="STARTED: reserved through startContact (granted, or refused: blocked); LOGGED: "
    "recorded after the fact through logContact.",
)


@strawberry.type(
    description="Local hours the person agreed to be contacted in (start "
    "inclusive, end exclusive; an end before the start runs over midnight)."
)
class ConsentedHours:
    start: time
    end: time


@strawberry.type(
    description="A number, e-mail or address at which someone can be reached about a "
    "borrower's debts. `value` is masked per your role like the borrower's own phone, e-mail "
    "and address (an address entirely)."
)
class ContactPoint(Node):
    kind: str = strawberry.field(description="PHONE, EMAIL or ADDRESS.")
    owner: ContactParty
    status: str = strawberry.field(description="VERIFIED, UNVERIFIED, INVALID or OPTED_OUT.")
    time_zone: str | None = strawberry.field(description="IANA time zone, where known.")
    consented_hours: ConsentedHours | None = strawberry.field(
        description="Replace the profile's allowed hours for this point."
    )
    consented_at: datetime | None = strawberry.field(
        description="When the person last consented to contact through this point (lifts the "
        "daily attempt limit; exempts calls from Regulation F's counts for 7 days)."
    )
    version: int
    _pk: strawberry.Private[int]
    _borrower_id: strawberry.Private[int]
    _kind: strawberry.Private[ContactPointKind]
    _value: strawberry.Private[str]
    _clear: strawberry.Private[bool]

    @strawberry.field(description="The number, e-mail or address; masked per your role.")
    def value(self, info: Info) -> str:
        field = CONTACT_POINT_FIELDS[self._kind]
        info.context.audit.saw_borrower_field(
            self._borrower_id, f"contact_point.{field.value}", self._clear
        )
        return self._value

    @classmethod
    def from_domain(cls, point: DomainContactPoint, value: str, clear: bool) -> ContactPoint:
        """Only through ``contact_point_view`` (which masks the value)."""
        assert point.id is not None
        hours = None
        if point.consent_start is not None and point.consent_end is not None:
            hours = ConsentedHours(start=point.consent_start, end=point.consent_end)
        return cls(
            id=strawberry.ID(to_global_id("ContactPoint", point.id)),
            kind=str(point.kind),
            owner=ContactParty(point.owner),
            status=str(point.status),
            time_zone=point.time_zone,
            consented_hours=hours,
            consented_at=point.consented_at,
            version=point.version,
            _pk=point.id,
            _borrower_id=point.borrower_id,
            _kind=ContactPointKind(point.kind),
            _value=value,
            _clear=clear,
        )


async def contact_point_view(ctx: Context, point: DomainContactPoint) -> ContactPoint:
    """Returns a contact point as the viewer may see it: the one decision on its masking."""
    roles = ctx.viewer.roles
    legal = await ctx.legal_stage(point.borrower_id)
    value, clear = mask_contact_point(ContactPointKind(point.kind), point.value, roles, legal)
    return ContactPoint.from_domain(point, value, clear)


async def contact_points_of(ctx: Context, borrower_id: int) -> list[ContactPoint]:
    """Returns a borrower's contact points (the borrower is already in scope), oldest first."""
    points = await ctx.contact_points_of_borrower.load(borrower_id)
    return [await contact_point_view(ctx, p) for p in points]


async def contact_point_node(ctx: Context, pk: int) -> ContactPoint | None:
    """Returns a contact point whose borrower the viewer may see (``node(id:)``), else None."""
    point = await ctx.contact_points.load(pk)
    return await contact_point_view(ctx, point) if point else None


@strawberry.type(
    description="One contact with a person about a case: an attempt reserved by startContact "
    "(in progress until completeContact; `blocked` when a conduct rule refused it) or one "
    "logged after the fact (`breaches`: the rules it broke)."
)
class Contact(Node):
    channel: ContactChannel
    party: ContactParty
    direction: ContactDirection
    outcome: ContactOutcome | None = strawberry.field(
        description="Null while an attempt is in progress, and on a refused attempt."
    )
    occurred_at: datetime = strawberry.field(description="When it took place or was attempted.")
    blocked: bool = strawberry.field(description="A refused attempt (it never took place).")
    breaches: list[str] = strawberry.field(
        description="The rules it broke (a refused attempt: every rule that refused it)."
    )
    rule: str | None = strawberry.field(description="The rule that refused a blocked attempt.")
    next_allowed_at: datetime | None = strawberry.field(
        description="For a blocked attempt: when contact was next allowed, as of the attempt."
    )
    callback_at: datetime | None = strawberry.field(
        description="When the person asked to be called back (CALLBACK_REQUESTED)."
    )
    recording_ref: str | None
    completed_at: datetime | None = strawberry.field(description="When the outcome was recorded.")
    source: ContactSource
    profile_version: str | None = strawberry.field(
        description="The conduct profile version that judged it."
    )
    _pk: strawberry.Private[int]
    _case_id: strawberry.Private[int]
    _staff_id: strawberry.Private[int | None]
    _second_staff_id: strawberry.Private[int | None]
    _point_id: strawberry.Private[int | None]
    _notes: strawberry.Private[str]

    @strawberry.field(description="Notes; null unless your role works cases (contact:make).")
    def notes(self, info: Info) -> str | None:
        return self._notes if info.context.may_read_notes() else None

    @strawberry.field(description="Who made it (null: a system, or staff you cannot see).")
    async def agent(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        return await load_staff(info, self._staff_id)

    @strawberry.field(description="The colleague on a field visit.")
    async def second_agent(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        return await load_staff(info, self._second_staff_id)

    @strawberry.field(description="The point it went to (or came from), where known.")
    async def contact_point(self, info: Info) -> ContactPoint | None:
        if self._point_id is None:
            return None
        return await contact_point_node(info.context, self._point_id)

    @strawberry.field(description="The case it was about.")
    async def case(self, info: Info) -> Annotated[Case, strawberry.lazy("api.cases.types")]:
        from api.cases.types import Case

        case = await info.context.cases.load(self._case_id)
        assert case is not None  # a contact in scope is on a case in scope
        return Case.from_domain(case)

    @classmethod
    def from_domain(cls, contact: DomainContact) -> Contact:
        assert contact.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Contact", contact.id)),
            channel=ContactChannel(contact.channel),
            party=ContactParty(contact.party),
            direction=ContactDirection(contact.direction),
            outcome=ContactOutcome(contact.outcome) if contact.outcome else None,
            occurred_at=contact.at,
            blocked=contact.blocked,
            breaches=list(contact.breaches),
            rule=contact.rule,
            next_allowed_at=contact.next_allowed_at,
            callback_at=contact.callback_at,
            recording_ref=contact.recording_ref,
            completed_at=contact.completed_at,
            source=ContactSource(contact.source),
            profile_version=contact.profile_version,
            _pk=contact.id,
            _case_id=contact.case_id,
            _staff_id=contact.staff_id,
            _second_staff_id=contact.second_staff_id,
            _point_id=contact.contact_point_id,
            _notes=contact.notes,
        )


async def contact_node(ctx: Context, pk: int) -> Contact | None:
    """Returns a contact on a case the viewer may see (``node(id:)``), else None."""
    contact = await ctx.contacts.load(pk)
    if contact is None:
        return None
    ctx.audit.saw_cases([contact.case_id])
    return Contact.from_domain(contact)


async def contacts_of_case(
    info: Info, case_pk: int, first: int | None, after: str | None
) -> Connection[Contact]:
    """Returns a page of a case's contacts, newest first (refused attempts included)."""
    ctx = info.context
    limit = page_size(first)
    try:
        position = contacts_queries.decode_cursor(after) if after else None
    except InvalidCursor as exc:
        raise BadUserInput(f"after: {exc}") from None
    # Batched over every case of the request that asks (one statement per size and position).
    page = await ctx.contact_pages.load(PageKey(case_pk, limit, after or None, position))
    for row in page.rows:
        assert row.id is not None
        ctx.contacts.prime(row.id, row)
    return connection(
        page.rows,
        page.more,
        after=after,
        cursor=contacts_queries.encode_cursor,
        node=Contact.from_domain,
        count=lambda: ctx.contact_counts.load(case_pk),
    )


@strawberry.type(description="One conduct rule's answer.")
class RuleCheck:
    rule: str = strawberry.field(description="QUIET_HOURS, DAILY_ATTEMPTS, … (stable names).")
    passed: bool
    detail: str = strawberry.field(description="Why, in counts, local times and time zones.")
    next_allowed_at: datetime | None = strawberry.field(
        description="When the rule passes again, if it refused and waiting lifts it."
    )

    @classmethod
    def from_domain(cls, check: DomainRuleCheck) -> RuleCheck:
        return cls(
            rule=str(check.rule),
            passed=check.passed,
            detail=check.detail,
            next_allowed_at=check.next_allowed_at,
        )


@strawberry.type(
    description="Whether a contact is allowed at an instant under the case's conduct profile, "
    "with every rule checked."
)
class ContactAllowance:
    allowed: bool
    next_allowed_at: datetime | None = strawberry.field(
        description="The earliest instant, at or after the one asked about, at which every rule "
        "passes; null when waiting does not help (an opted-out point, a cease condition)."
    )
    attempts_left_today: int | None = strawberry.field(
        description="Call attempts left on the point in its local day (null: no daily limit)."
    )
    checks: list[RuleCheck] = strawberry.field(description="Every rule, in the profile's order.")
    profile: str = strawberry.field(description="The conduct profile: CN or US_REG_F.")
    profile_version: str
    contact_point: ContactPoint | None = strawberry.field(
        description="The point evaluated: the one asked about, or the party's primary point."
    )

    @classmethod
    def from_domain(
        cls, allowance: Allowance, profile: str, point: ContactPoint | None
    ) -> ContactAllowance:
        return cls(
            allowed=allowance.allowed,
            next_allowed_at=allowance.next_allowed_at,
            attempts_left_today=allowance.attempts_left_today,
            checks=[RuleCheck.from_domain(c) for c in allowance.checks],
            profile=profile,
            profile_version=allowance.profile_version,
            contact_point=point,
        )
