"""The store of contact work on a real database: the history the conduct rules count (every
case of the borrower, eight days back, third parties' refusals whatever their age, each with its
point's normalised value), the contact points' enums and versions, and a contact's round
trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.conduct.engine import PastContact
from domain.contacts.model import (
    Contact,
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    ContactParty,
    ContactPointKind,
    ContactPointStatus,
    ContactSource,
)
from store import contacts_queries
from store.db import session_factory
from store.uow import SqlUnitOfWork
from tests.e2e.contacts_support import past_contact, point
from tests.factories import Factory

AT = datetime(2026, 5, 10, 4, 0, tzinfo=UTC)


async def test_history_counts_every_case_of_the_borrower_for_eight_days(
    migrated: AsyncEngine,
) -> None:
    factory = Factory(migrated)
    borrower = await factory.borrower()
    retail = await factory.case(borrower=borrower)
    cards = await factory.case(borrower=borrower, portfolio="us-cards")
    stranger = await factory.case()
    phone = await point(factory, borrower.id)
    third = await point(factory, borrower.id, owner="UNRELATED_THIRD_PARTY", value="13911112222")
    inside = [
        await past_contact(factory, retail.case, AT, point_id=phone.id),
        await past_contact(factory, cards.case, AT - timedelta(days=8, seconds=-1), point_id=None,
                           outcome=None, agency_id=None),
    ]  # fmt: skip
    await past_contact(factory, retail.case, AT - timedelta(days=8), point_id=phone.id)  # too old
    await past_contact(factory, retail.case, AT + timedelta(seconds=1), point_id=phone.id)  # later
    await past_contact(factory, stranger.case, AT, point_id=None)  # someone else's
    refusal_at = AT - timedelta(days=400)
    await past_contact(
        factory, retail.case, refusal_at, point_id=third.id, outcome="REFUSED_TO_PAY",
        party="UNRELATED_THIRD_PARTY",
    )  # fmt: skip
    # A borrower's refusal long ago is not kept: only a third party's stays refused.
    await past_contact(
        factory, retail.case, refusal_at, point_id=phone.id, outcome="REFUSED_TO_PAY"
    )
    sessions = session_factory(migrated)
    async with sessions() as session:
        history = await contacts_queries.history(session, borrower.id, AT)
    recent = [p for p in history if p.at != refusal_at]
    assert sorted(p.at for p in recent) == sorted(row.at for row in inside)
    assert all(isinstance(p.channel, ContactChannel) for p in history)
    assert {p.case_id for p in recent} == {retail.case.id, cards.case.id}
    assert {p.point_key for p in recent} == {f"PHONE:{phone.value}", None}
    refusal = PastContact(
        refusal_at, retail.case.id, ContactChannel.PHONE, ContactParty.UNRELATED_THIRD_PARTY,
        ContactDirection.OUTBOUND, third.id, ContactOutcome.REFUSED_TO_PAY,
        point_key="PHONE:13911112222",
    )  # fmt: skip
    assert refusal in history
    assert len(history) == 3


async def test_points_and_contacts_round_trip_with_their_enums(migrated: AsyncEngine) -> None:
    factory = Factory(migrated)
    made = await factory.case()
    phone = await point(factory, made.borrower.id, zone="Asia/Shanghai")
    sessions = session_factory(migrated)
    async with SqlUnitOfWork(sessions) as uow:
        loaded = await uow.contact_points.get(phone.id)
        assert loaded is not None
        assert loaded.kind is ContactPointKind.PHONE
        assert loaded.status is ContactPointStatus.VERIFIED
        loaded.change(AT, status=ContactPointStatus.OPTED_OUT)
        contact = Contact(
            made.case.id, made.borrower.id, AT, ContactChannel.SMS, ContactDirection.OUTBOUND,
            ContactParty.BORROWER, contact_point_id=phone.id, source=ContactSource.STARTED,
            breaches=["QUIET_HOURS"],
        )  # fmt: skip
        await uow.contacts.add(contact)
        await uow.commit()
    async with SqlUnitOfWork(sessions) as uow:
        again = await uow.contact_points.get(phone.id)
        assert again is not None
        assert (again.status, again.version) == (ContactPointStatus.OPTED_OUT, 2)
        assert contact.id is not None
        stored = await uow.contacts.get(contact.id)
        assert stored is not None
        assert (stored.channel, stored.source, stored.breaches, stored.outcome) == (
            ContactChannel.SMS,
            ContactSource.STARTED,
            ["QUIET_HOURS"],
            None,
        )
        # Loading changed nothing: no new version, nothing to write.
        await uow.commit()
    async with SqlUnitOfWork(sessions) as uow:
        unchanged = await uow.contact_points.get(phone.id)
        assert unchanged is not None and unchanged.version == 2
