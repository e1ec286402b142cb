"""Shared pieces of the contact tests: documents, rows made with the factories, and a time zone
in which it is midday now (so that a contact made *now* is inside every profile's hours,
whenever the suite runs)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.factories import Factory, global_id, writing

ct, cp, a = tables.contacts.c, tables.contact_points.c, tables.audit_entries.c
PAYLOAD = "__typename ... on UserError { code message field }"
CONTACT_FIELDS = """
  id channel party direction outcome occurredAt blocked breaches rule nextAllowedAt callbackAt
  recordingRef source profileVersion notes agent { login } contactPoint { id }
"""
START = f"""
mutation($input: StartContactInput!) {{
  r: startContact(input: $input) {{
    {PAYLOAD}
    ... on StartContactSuccess {{ contact {{ {CONTACT_FIELDS} }} }}
    ... on ComplianceViolation {{ rule nextAllowedAt breaches contact {{ id blocked rule }} }}
  }}
}}
"""
COMPLETE = f"""
mutation($input: CompleteContactInput!) {{
  r: completeContact(input: $input) {{
    {PAYLOAD} ... on CompleteContactSuccess {{ contact {{ {CONTACT_FIELDS} }} }}
  }}
}}
"""
LOG = f"""
mutation($input: LogContactInput!) {{
  r: logContact(input: $input) {{
    {PAYLOAD} ... on LogContactSuccess {{ contact {{ {CONTACT_FIELDS} }} }}
  }}
}}
"""
POINT_FIELDS = (
    "id kind value owner status timeZone consentedHours { start end } consentedAt version"
)
ADD_POINT = f"""
mutation($input: AddContactPointInput!) {{
  r: addContactPoint(input: $input) {{
    {PAYLOAD} ... on AddContactPointSuccess {{ contactPoint {{ {POINT_FIELDS} }} }}
  }}
}}
"""
UPDATE_POINT = f"""
mutation($input: UpdateContactPointInput!) {{
  r: updateContactPoint(input: $input) {{
    {PAYLOAD} ... on UpdateContactPointSuccess {{ contactPoint {{ {POINT_FIELDS} }} }}
  }}
}}
"""
ALLOWANCE = """
query($case: ID!, $channel: ContactChannel!, $party: ContactParty, $point: ID, $at: DateTime,
      $staff: Int! = 1) {
  r: contactAllowance(caseId: $case, channel: $channel, party: $party, contactPointId: $point,
                      at: $at, staffCount: $staff) {
    allowed nextAllowedAt attemptsLeftToday profile profileVersion
    checks { rule passed detail nextAllowedAt }
    contactPoint { id }
  }
}
"""
CASE_CONTACTS = """
query($id: ID!, $first: Int, $after: String) {
  r: case(id: $id) {
    conductProfile
    contacts(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { cursor node { id occurredAt blocked outcome rule breaches } }
    }
  }
}
"""


def midday_zone(now: datetime | None = None) -> str:
    """A fixed-offset IANA zone (no DST) in which the local time now is 12:xx."""
    hour = (now or datetime.now(UTC)).astimezone(UTC).hour
    offset = 12 - hour  # -11 … +12
    if offset == 0:
        return "Etc/GMT"
    # The Etc zones' signs are POSIX's: Etc/GMT-8 is UTC+8.
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def next_morning(zone: str, now: datetime, at: time = time(8, 0)) -> datetime:
    """08:00 (or ``at``) on the local day after ``now`` in ``zone``, in UTC."""
    local = now.astimezone(ZoneInfo(zone))
    day = local.date() + timedelta(days=1)
    return datetime.combine(day, at, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def iso(value: datetime) -> str:
    """How the API writes an instant (UTC, ISO-8601)."""
    return value.astimezone(UTC).isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def point(
    factory: Factory,
    borrower_id: int,
    *,
    kind: str = "PHONE",
    value: str | None = None,
    owner: str = "BORROWER",
    status: str = "VERIFIED",
    zone: str | None = None,
    consented_at: datetime | None = None,
) -> Any:
    """A contact point of a borrower (a unique number unless ``value`` is given)."""
    values = {
        "borrower_id": borrower_id,
        "kind": kind,
        "value": value or f"1380{borrower_id:07d}"[-11:],
        "owner": owner,
        "status": status,
        "time_zone": zone,
        "consent_start": None,
        "consent_end": None,
        "consented_at": consented_at,
        "created_at": datetime.now(UTC),
        "version": 1,
    }
    return await factory._insert(tables.contact_points, values)


async def past_contact(
    factory: Factory,
    case: Any,
    at: datetime,
    *,
    point_id: int | None,
    outcome: str | None = "NO_ANSWER",
    channel: str = "PHONE",
    party: str = "BORROWER",
    direction: str = "OUTBOUND",
    agency_id: int | None = None,
    staff_id: int | None = None,
) -> Any:
    """A contact made earlier (as the demo or a dialler's log would have it)."""
    values = {
        "case_id": case.id,
        "borrower_id": case.borrower_id,
        "contact_point_id": point_id,
        "staff_id": staff_id,
        "agency_id": agency_id,
        "at": at,
        "channel": channel,
        "direction": direction,
        "party": party,
        "outcome": outcome,
        "notes": "",
        "source": "LOGGED",
        "blocked": False,
        "breaches": [],
        "consented": False,
        "completed_at": at,
    }
    return await factory._insert(tables.contacts, values)


async def contact_row(engine: AsyncEngine, contact_gid: str) -> Any:
    from api.common.ids import pk_of

    pk = pk_of(contact_gid, "Contact")
    async with engine.connect() as conn:
        return (await conn.execute(select(tables.contacts).where(ct.id == pk))).one()


async def audit_of(engine: AsyncEngine, request_id: str) -> list[Any]:
    """The audit entries a request wrote, in order."""
    stmt = select(tables.audit_entries).where(a.request_id == request_id).order_by(a.id)
    async with engine.connect() as conn:
        return list((await conn.execute(stmt)).all())


def gid(type_name: str, pk: int) -> str:
    return global_id(type_name, pk)


async def send(gql: Any, login: str, document: str, variables: dict[str, Any]) -> tuple[Any, str]:
    """Posts a document; returns its ``r`` (the response must have no errors) and request id."""
    response = await gql.raw(login, document, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["r"], response.headers["x-request-id"]


async def placed_since(engine: AsyncEngine, case_id: int, at: datetime) -> None:
    """Dates the case's current placement back to ``at``: an agency logs contacts only from
    the instant the case was placed with it (``OCCURRED_BEFORE_PLACEMENT``), so a history an
    agency logs after the fact needs a placement that began before it."""
    c = tables.cases.c
    async with writing(engine) as conn:
        changed = await conn.execute(
            update(tables.cases)
            .where(c.id == case_id, c.agency_id.is_not(None))
            .values(placed_at=at)
        )
        assert changed.rowcount == 1, "the case is not placed"
