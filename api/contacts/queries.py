"""Root query of contact work: ``contactAllowance``, which diallers and front ends ask before
they dial."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.common.ids import pk_of
from api.common.inputs import utc_instant
from api.contacts.types import ContactAllowance, contact_point_view
from api.context import Info
from api.errors import BadUserInput
from api.permissions import needs
from domain.contacts.conduct import assess, chosen_point, situation_of
from domain.contacts.errors import ContactPointMismatch, ContactPointNotFound
from domain.contacts.model import ContactChannel, ContactDirection, ContactParty
from store import changes_queries, contacts_queries

MAX_STAFF = 10


@strawberry.type
class ContactQuery:
    @strawberry.field(
        description="Whether an outbound contact on a case is allowed at an instant (default: "
        "now) under the case's conduct profile: the earliest next allowed instant, the call "
        "attempts left in the point's local day, and every rule checked. Without "
        "`contactPointId`, the party's primary point for the channel (verified first). "
        "`staffCount`: the collectors on a field visit.",
        extensions=needs("case:read"),
    )
    async def contact_allowance(
        self,
        info: Info,
        case_id: strawberry.ID,
        channel: ContactChannel,
        party: ContactParty | None = ContactParty.BORROWER,
        contact_point_id: strawberry.ID | None = None,
        at: datetime | None = None,
        staff_count: int = 1,
    ) -> ContactAllowance:
        ctx = info.context
        party = party or ContactParty.BORROWER
        pk = pk_of(case_id, "Case")
        case = await ctx.cases.load(pk) if pk is not None else None
        if case is None or case.id is None:
            raise BadUserInput("caseId: no such case")
        if not 1 <= staff_count <= MAX_STAFF:
            raise BadUserInput(f"staffCount must be between 1 and {MAX_STAFF}")
        instant = utc_instant("at", at) or ctx.clock.now()
        ctx.audit.saw_cases([case.id])
        borrower = await ctx.borrowers.load(case.borrower_id)
        assert borrower is not None  # the borrower of a case in scope is in scope
        points = await ctx.contact_points_of_borrower.load(case.borrower_id)
        protection = await ctx.protections.load(case.id)
        situation = situation_of(case, borrower, points, protection)
        # The point startContact would take, refused as startContact refuses it (0: an id of
        # no contact point, such as another type's, names none of the borrower's).
        point_pk = (
            None if contact_point_id is None else pk_of(contact_point_id, "ContactPoint") or 0
        )
        try:
            point = chosen_point(situation, channel, party, point_pk)
        except (ContactPointNotFound, ContactPointMismatch) as refused:
            raise BadUserInput(f"{refused.field}: {refused.message}") from refused
        history = await ctx.read(
            lambda session: contacts_queries.history(session, case.borrower_id, instant)
        )
        conduct = await ctx.read(
            lambda session: changes_queries.conduct_profile_in_effect(
                session, situation.profile_name, instant
            )
        )
        allowance = assess(
            situation,
            channel=channel,
            party=party,
            direction=ContactDirection.OUTBOUND,
            point=point,
            history=history,
            at=instant,
            staff_count=staff_count,
            conduct=conduct,
        )
        shown = await contact_point_view(ctx, point) if point else None
        return ContactAllowance.from_domain(allowance, situation.profile_name, shown)
