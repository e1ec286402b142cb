"""Contact use cases (points, start, complete, log) against in-memory fakes, with a fixed clock:
every refusal, what a refused attempt leaves behind, and the events the audit trail records."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.borrowers.errors import BorrowerNotFound
from domain.borrowers.model import Borrower
from domain.cases.errors import CaseClosed, CaseNotFound, StaffNotFound
from domain.cases.model import Case, CaseStatus
from domain.clock import FixedClock
from domain.contacts import errors, services
from domain.contacts.events import (
    ContactCompleted,
    ContactLogged,
    ContactPointAdded,
    ContactPointUpdated,
    ContactRefused,
    ContactStarted,
)
from domain.contacts.model import (
    Contact,
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    ContactParty,
    ContactPoint,
    ContactPointKind,
    ContactPointStatus,
)
from domain.errors import ConcurrencyConflict, ErrorCode, InvalidInput
from domain.staff.model import Staff
from tests.unit.contacts_fakes import FakeContactsUnitOfWork

NOW = datetime(2026, 5, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
CLOCK = FixedClock(NOW)
NIGHT = FixedClock(datetime(2026, 5, 1, 15, 0, tzinfo=UTC))  # 23:00 in Shanghai
ACTOR = services.Actor(1)
AGENT = services.Actor(3, agency_id=7)
Ch, O = ContactChannel, ContactOutcome  # noqa: E741


def borrower(pk: int) -> Borrower:
    return Borrower(
        "测试", f"31011519800101{pk:04d}", "13800000000", "a@example.org", "上海", "上海市",
        "浦东新区", "公司", Decimal("1000.00"), time_zone="Asia/Shanghai", id=pk,
    )  # fmt: skip


def case(pk: int, borrower_id: int, **overrides: object) -> Case:
    made = Case(f"AR-{pk}", borrower_id, "retail", "CNY", date(2026, 1, 5), id=pk)
    for name, value in overrides.items():
        setattr(made, name, value)
    return made


def phone(pk: int, borrower_id: int = 100, **overrides: object) -> ContactPoint:
    point = ContactPoint(
        borrower_id, ContactPointKind.PHONE, f"1390000{pk:04d}", ContactParty.BORROWER,
        ContactPointStatus.VERIFIED, "Asia/Shanghai", id=pk,
    )  # fmt: skip
    for name, value in overrides.items():
        setattr(point, name, value)
    return point


@pytest.fixture
def uow() -> FakeContactsUnitOfWork:
    staff = [
        Staff("c1", "C One", ["collector"], id=1),
        Staff("c2", "C Two", ["collector"], id=2),
        Staff("agent", "Agent", ["agency_agent"], agency_id=7, id=3),
        Staff("gone", "Gone", ["collector"], active=False, id=4),
    ]
    cases = [
        case(10, 100),
        case(11, 101, status=CaseStatus.CLOSED),
        case(12, 102, status=CaseStatus.ON_HOLD),
    ]
    points = [
        phone(1),
        phone(2, status=ContactPointStatus.OPTED_OUT),
        ContactPoint(100, ContactPointKind.EMAIL, "x@example.org", ContactParty.BORROWER, id=3),
        phone(4, owner=ContactParty.UNRELATED_THIRD_PARTY),
    ]
    return FakeContactsUnitOfWork(
        cases, staff, [borrower(100), borrower(101), borrower(102)], points
    )


def attempts(uow: FakeContactsUnitOfWork, n: int, outcome: ContactOutcome = O.NO_ANSWER) -> None:
    for i in range(n):
        uow.contacts.contacts.append(
            Contact(10, 100, NOW - timedelta(minutes=10 + i), Ch.PHONE, ContactDirection.OUTBOUND,
                    ContactParty.BORROWER, contact_point_id=1, outcome=outcome, id=500 + i)
        )  # fmt: skip


# ---- contact points ---------------------------------------------------------------------------


async def test_add_contact_point_normalises_and_records_no_value(
    uow: FakeContactsUnitOfWork,
) -> None:
    new = services.NewContactPoint(
        100, ContactPointKind.PHONE, " +86 (139) 1234-5678 ", ContactParty.GUARANTOR,
        time_zone="Asia/Shanghai", consent_hours=(time(9), time(18)), consented=True,
        consent_evidence=" rec-2026-0501 ",
    )  # fmt: skip
    point = await services.add_contact_point(uow.factory, CLOCK, ACTOR, new, may_consent=True)
    assert (point.value, point.owner, point.status, point.consented_at) == (
        "+8613912345678",
        ContactParty.GUARANTOR,
        ContactPointStatus.UNVERIFIED,
        NOW,
    )
    assert (point.consent_start, point.consent_end) == (time(9), time(18))
    assert uow.recorded == [
        ContactPointAdded(
            100, point.id or 0, NOW, 1, "PHONE", "GUARANTOR", "UNVERIFIED", "Asia/Shanghai",
            "09:00-18:00", NOW, "rec-2026-0501",
        )
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("new", "error", "field"),
    [
        (services.NewContactPoint(999, ContactPointKind.PHONE, "13900001111"), BorrowerNotFound,
         "borrowerId"),
        (services.NewContactPoint(100, ContactPointKind.PHONE, "12a"), errors.ContactValueInvalid,
         "value"),
        (services.NewContactPoint(100, ContactPointKind.PHONE, "1390000 0001"),
         errors.ContactPointExists, "value"),
        (services.NewContactPoint(100, ContactPointKind.PHONE, "13900001111", time_zone="Pacific"),
         errors.InvalidTimeZone, "timeZone"),
        (services.NewContactPoint(100, ContactPointKind.PHONE, "13900001111",
                                  consent_hours=(time(9), time(9))),
         errors.ContactValueInvalid, "consentedHours"),
    ],
)  # fmt: skip
async def test_add_contact_point_refusals(
    uow: FakeContactsUnitOfWork, new: services.NewContactPoint, error: type, field: str
) -> None:
    with pytest.raises(error) as caught:
        await services.add_contact_point(uow.factory, CLOCK, ACTOR, new, sees_value=True)
    assert caught.value.field == field
    assert "13900001111" not in caught.value.message
    assert uow.recorded == []
    assert len(uow.contact_points.points) == 4


async def test_update_contact_point_records_what_changed(uow: FakeContactsUnitOfWork) -> None:
    point = await services.update_contact_point(
        uow.factory, CLOCK, ACTOR, 1, status=ContactPointStatus.INVALID, time_zone=None,
        consented=True, may_consent=True, consent_evidence="doc-77",
    )  # fmt: skip
    assert (point.status, point.time_zone, point.consented_at) == (
        ContactPointStatus.INVALID,
        None,
        NOW,
    )
    assert uow.recorded == [
        ContactPointUpdated(
            100,
            1,
            NOW,
            1,
            {
                "status": {"before": "VERIFIED", "after": "INVALID"},
                "timeZone": {"before": "Asia/Shanghai", "after": None},
                "consentedAt": {"before": None, "after": NOW.isoformat()},
            },
            "doc-77",
        )
    ]
    # Nothing to change: nothing recorded, nothing committed.
    count = uow.commit_count
    await services.update_contact_point(
        uow.factory, CLOCK, ACTOR, 1, status=ContactPointStatus.INVALID
    )
    assert uow.commit_count == count


async def test_update_contact_point_refusals(uow: FakeContactsUnitOfWork) -> None:
    with pytest.raises(errors.ContactPointNotFound):
        await services.update_contact_point(uow.factory, CLOCK, ACTOR, 99)
    with pytest.raises(ConcurrencyConflict):
        await services.update_contact_point(uow.factory, CLOCK, ACTOR, 1, expected_version=5)
    with pytest.raises(errors.InvalidTimeZone):
        await services.update_contact_point(uow.factory, CLOCK, ACTOR, 1, time_zone="Nowhere")
    assert uow.recorded == []


# ---- startContact -----------------------------------------------------------------------------


async def test_start_grants_the_primary_point(uow: FakeContactsUnitOfWork) -> None:
    contact = await services.start_contact(
        uow.factory, CLOCK, AGENT, services.StartRequest(10, Ch.PHONE)
    )
    assert (contact.contact_point_id, contact.in_progress, contact.agency_id) == (1, True, 7)
    assert contact.profile_version == "CN-2026.1"
    assert uow.contacts.locked == [100]
    assert uow.recorded == [
        ContactStarted(10, 100, contact.id or 0, NOW, 3, "PHONE", "BORROWER", 1, "CN-2026.1")
    ]


async def test_a_refused_start_is_committed_then_raised(uow: FakeContactsUnitOfWork) -> None:
    attempts(uow, 6)
    with pytest.raises(errors.ComplianceViolation) as caught:
        await services.start_contact(uow.factory, CLOCK, ACTOR, services.StartRequest(10, Ch.PHONE))
    violation = caught.value
    midnight = datetime(2026, 5, 1, 16, 0, tzinfo=UTC)  # 00:00 on 2 May in Shanghai
    morning = datetime(2026, 5, 2, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert (violation.code, violation.rule, violation.next_allowed_at) == (
        ErrorCode.COMPLIANCE_VIOLATION,
        "DAILY_ATTEMPTS",
        morning,
    )
    assert violation.message.startswith("DAILY_ATTEMPTS: 6 of 6")
    blocked = uow.contacts.contacts[-1]
    assert (blocked.id, blocked.blocked, blocked.rule, blocked.breaches) == (
        violation.contact_id,
        True,
        "DAILY_ATTEMPTS",
        ["DAILY_ATTEMPTS"],
    )
    assert blocked.next_allowed_at == morning != midnight
    assert uow.committed
    assert uow.recorded == [
        ContactRefused(
            10, 100, blocked.id or 0, NOW, 1, "PHONE", "BORROWER", 1, "CN-2026.1",
            "DAILY_ATTEMPTS", ("DAILY_ATTEMPTS",), morning,
        )
    ]  # fmt: skip


async def test_start_at_night_names_the_quiet_hours(uow: FakeContactsUnitOfWork) -> None:
    with pytest.raises(errors.ComplianceViolation) as caught:
        await services.start_contact(uow.factory, NIGHT, ACTOR, services.StartRequest(10, Ch.PHONE))
    assert (caught.value.rule, caught.value.field) == ("QUIET_HOURS", None)
    assert caught.value.next_allowed_at == datetime(2026, 5, 2, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("request_", "rule", "field"),
    [
        (services.StartRequest(10, Ch.PHONE, contact_point_id=2), "OPTED_OUT", "contactPointId"),
        (services.StartRequest(10, Ch.PHONE, ContactParty.UNRELATED_THIRD_PARTY, 4),
         "THIRD_PARTY", "party"),
        (services.StartRequest(10, Ch.SMS, ContactParty.GUARANTOR), "CONTACT_POINT_INVALID",
         "contactPointId"),
    ],
)  # fmt: skip
async def test_refusals_waiting_does_not_lift(
    uow: FakeContactsUnitOfWork, request_: services.StartRequest, rule: str, field: str
) -> None:
    with pytest.raises(errors.ComplianceViolation) as caught:
        await services.start_contact(uow.factory, CLOCK, ACTOR, request_)
    assert (caught.value.rule, caught.value.field, caught.value.next_allowed_at) == (
        rule,
        field,
        None,
    )


@pytest.mark.parametrize(
    ("request_", "error", "field"),
    [
        (services.StartRequest(99, Ch.PHONE), CaseNotFound, "caseId"),
        (services.StartRequest(11, Ch.PHONE), CaseClosed, "caseId"),
        (services.StartRequest(10, Ch.PHONE, contact_point_id=3), errors.ContactPointMismatch,
         "contactPointId"),
        (services.StartRequest(10, Ch.PHONE, contact_point_id=4), errors.ContactPointMismatch,
         "contactPointId"),
        (services.StartRequest(10, Ch.PHONE, contact_point_id=77), errors.ContactPointNotFound,
         "contactPointId"),
        (services.StartRequest(10, Ch.PHONE, second_agent_login="c2"), InvalidInput,
         "secondAgentLogin"),
        (services.StartRequest(10, Ch.FIELD_VISIT, second_agent_login="gone"),
         StaffNotFound, "secondAgentLogin"),
        (services.StartRequest(10, Ch.FIELD_VISIT, second_agent_login="agent"),
         StaffNotFound, "secondAgentLogin"),
        (services.StartRequest(10, Ch.FIELD_VISIT, second_agent_login="c1"), InvalidInput,
         "secondAgentLogin"),
    ],
)  # fmt: skip
async def test_start_errors_leave_nothing(
    uow: FakeContactsUnitOfWork, request_: services.StartRequest, error: type, field: str
) -> None:
    with pytest.raises(error) as caught:
        await services.start_contact(uow.factory, CLOCK, ACTOR, request_)
    assert caught.value.field == field
    assert uow.contacts.contacts == []
    assert uow.recorded == []
    assert not uow.committed


# ---- completeContact --------------------------------------------------------------------------


async def test_complete_once(uow: FakeContactsUnitOfWork) -> None:
    started = await services.start_contact(
        uow.factory, CLOCK, ACTOR, services.StartRequest(10, Ch.PHONE)
    )
    assert started.id is not None
    later = FixedClock(NOW + timedelta(minutes=3))
    callback = NOW + timedelta(days=1)
    done = await services.complete_contact(
        uow.factory, later, ACTOR, started.id, O.CALLBACK_REQUESTED, notes=" after payday ",
        recording_ref="rec-1", callback_at=callback,
    )  # fmt: skip
    assert (done.outcome, done.notes, done.recording_ref, done.callback_at, done.completed_at) == (
        O.CALLBACK_REQUESTED,
        "after payday",
        "rec-1",
        callback,
        NOW + timedelta(minutes=3),
    )
    assert uow.recorded[-1] == ContactCompleted(
        10, 100, started.id, NOW + timedelta(minutes=3), 1, "CALLBACK_REQUESTED", callback, True
    )
    with pytest.raises(errors.ContactAlreadyCompleted):
        await services.complete_contact(uow.factory, later, ACTOR, started.id, O.NO_ANSWER)


@pytest.mark.parametrize(
    ("outcome", "callback", "notes", "error", "field"),
    [
        (O.CALLBACK_REQUESTED, None, None, errors.CallbackTimeRequired, "callbackAt"),
        (O.CALLBACK_REQUESTED, NOW, None, errors.ContactValueInvalid, "callbackAt"),
        (O.NO_ANSWER, NOW + timedelta(hours=1), None, errors.ContactValueInvalid, "callbackAt"),
        (O.NO_ANSWER, None, "x" * 4001, errors.ContactValueInvalid, "notes"),
    ],
)
async def test_complete_refusals(
    uow: FakeContactsUnitOfWork,
    outcome: ContactOutcome,
    callback: datetime | None,
    notes: str | None,
    error: type,
    field: str,
) -> None:
    started = await services.start_contact(
        uow.factory, CLOCK, ACTOR, services.StartRequest(10, Ch.PHONE)
    )
    assert started.id is not None
    with pytest.raises(error) as caught:
        await services.complete_contact(
            uow.factory, CLOCK, ACTOR, started.id, outcome, notes=notes, callback_at=callback
        )
    assert caught.value.field == field
    assert started.outcome is None


async def test_a_blocked_attempt_cannot_be_completed(uow: FakeContactsUnitOfWork) -> None:
    with pytest.raises(errors.ComplianceViolation) as caught:
        await services.start_contact(uow.factory, NIGHT, ACTOR, services.StartRequest(10, Ch.PHONE))
    assert caught.value.contact_id is not None
    with pytest.raises(errors.ContactBlocked):
        await services.complete_contact(
            uow.factory, NIGHT, ACTOR, caught.value.contact_id, O.NO_ANSWER
        )
    with pytest.raises(errors.ContactNotFound):
        await services.complete_contact(uow.factory, NIGHT, ACTOR, 999, O.NO_ANSWER)


# ---- logContact -------------------------------------------------------------------------------


def log(**overrides: object) -> services.LogRequest:
    request = services.LogRequest(10, Ch.PHONE, ContactDirection.OUTBOUND, O.NO_ANSWER)
    for name, value in overrides.items():
        object.__setattr__(request, name, value)
    return request


async def test_log_keeps_breaches_never_refuses_for_them(uow: FakeContactsUnitOfWork) -> None:
    attempts(uow, 6)
    night = datetime(2026, 5, 1, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai, seventh attempt
    logged_at = FixedClock(datetime(2026, 5, 1, 16, 0, tzinfo=UTC))
    contact = await services.log_contact(uow.factory, logged_at, ACTOR, log(occurred_at=night))
    # 23:30 the same local day as six unanswered attempts (11:45-11:50): two rules broken.
    assert (contact.at, contact.breaches, contact.blocked, contact.completed_at) == (
        night,
        ["QUIET_HOURS", "DAILY_ATTEMPTS"],
        False,
        logged_at.now(),
    )
    assert isinstance(uow.recorded[-1], ContactLogged)
    assert uow.recorded[-1].breaches == tuple(contact.breaches)


async def test_log_inbound_needs_no_point_and_breaks_nothing(uow: FakeContactsUnitOfWork) -> None:
    contact = await services.log_contact(
        uow.factory, NIGHT, ACTOR, log(direction=ContactDirection.INBOUND, outcome=O.PROMISE_TO_PAY)
    )
    assert (contact.contact_point_id, contact.breaches) == (None, [])


async def test_log_outbound_on_a_closed_case_is_a_breach(uow: FakeContactsUnitOfWork) -> None:
    uow.contact_points.points.append(phone(9, borrower_id=101))
    contact = await services.log_contact(uow.factory, CLOCK, ACTOR, log(case_id=11))
    assert contact.breaches == ["CASE_CLOSED"]


async def test_log_field_visit_with_and_without_a_colleague(uow: FakeContactsUnitOfWork) -> None:
    address = ContactPoint(100, ContactPointKind.ADDRESS, "上海市", ContactParty.BORROWER, id=8)
    uow.contact_points.points.append(address)
    visit = log(channel=Ch.FIELD_VISIT, contact_point_id=8, outcome=O.RIGHT_PARTY_CONTACT)
    alone = await services.log_contact(uow.factory, CLOCK, ACTOR, visit)
    assert alone.breaches == ["FIELD_VISIT_TWO_STAFF"]
    object.__setattr__(visit, "second_agent_login", "c2")
    paired = await services.log_contact(uow.factory, CLOCK, ACTOR, visit)
    assert (paired.breaches, paired.second_staff_id) == ([], 2)


async def test_log_refusals(uow: FakeContactsUnitOfWork) -> None:
    with pytest.raises(errors.OccurredInFuture):
        await services.log_contact(
            uow.factory, CLOCK, ACTOR, log(occurred_at=NOW + timedelta(minutes=6))
        )
    skewed = await services.log_contact(
        uow.factory, CLOCK, ACTOR, log(occurred_at=NOW + timedelta(minutes=5))
    )
    assert skewed.at == NOW + timedelta(minutes=5)
    with pytest.raises(CaseNotFound):
        await services.log_contact(uow.factory, CLOCK, ACTOR, log(case_id=99))


# ---- review fixes: consent rights, duplicates, holds, whose contact, reachability ------------


def consented_phone(pk: int) -> ContactPoint:
    """A phone whose owner consented (an hour before NOW) to be called 07:00-09:00."""
    return phone(
        pk, consent_start=time(7), consent_end=time(9), consented_at=NOW - timedelta(hours=1)
    )


@pytest.mark.parametrize(
    ("point_id", "change", "field"),
    [
        (2, {"status": ContactPointStatus.VERIFIED}, "status"),  # lift an opt-out
        (2, {"status": ContactPointStatus.UNVERIFIED}, "status"),
        (2, {"status": ContactPointStatus.INVALID}, "status"),  # any move away from it
        (5, {"status": ContactPointStatus.VERIFIED}, "status"),  # lift an invalid mark
        (5, {"status": ContactPointStatus.OPTED_OUT}, "status"),
        (1, {"consented": True}, "consented"),
        (6, {"consented": False}, "consented"),  # withdrawing is a consent change too
        (1, {"consent_hours": (time(7), time(23))}, "consentedHours"),
        (6, {"consent_hours": None}, "consentedHours"),
        (1, {"time_zone": "Asia/Urumqi"}, "timeZone"),  # a known zone is not replaced
        (1, {"time_zone": None}, "timeZone"),
    ],
)
async def test_agents_cannot_loosen_what_protects_the_person(
    uow: FakeContactsUnitOfWork, point_id: int, change: dict[str, object], field: str
) -> None:
    uow.contact_points.points += [phone(5, status=ContactPointStatus.INVALID), consented_phone(6)]
    before = [
        (p.status, p.time_zone, p.consented_at, p.consent_start) for p in uow.contact_points.points
    ]
    with pytest.raises(errors.ConsentChangeNotAllowed) as caught:
        await services.update_contact_point(
            uow.factory,
            CLOCK,
            AGENT,
            point_id,
            consent_evidence="rec-1",
            **change,  # type: ignore[arg-type]
        )
    assert (caught.value.code, caught.value.field) == (ErrorCode.CONSENT_CHANGE_NOT_ALLOWED, field)
    after = [
        (p.status, p.time_zone, p.consented_at, p.consent_start) for p in uow.contact_points.points
    ]
    assert after == before
    assert uow.recorded == []


@pytest.mark.parametrize(
    ("point_id", "change", "expected"),
    [
        (7, {"status": ContactPointStatus.VERIFIED}, ("VERIFIED", None)),  # verified, once
        (1, {"status": ContactPointStatus.OPTED_OUT}, ("OPTED_OUT", "Asia/Shanghai")),
        (1, {"status": ContactPointStatus.INVALID}, ("INVALID", "Asia/Shanghai")),
        (7, {"time_zone": "Asia/Urumqi"}, ("UNVERIFIED", "Asia/Urumqi")),  # none was known
        (1, {"consented": False}, ("VERIFIED", "Asia/Shanghai")),  # nothing to withdraw
    ],
)
async def test_agents_may_tighten_verify_and_give_a_first_zone(
    uow: FakeContactsUnitOfWork,
    point_id: int,
    change: dict[str, object],
    expected: tuple[str, str | None],
) -> None:
    uow.contact_points.points.append(phone(7, status=ContactPointStatus.UNVERIFIED, time_zone=None))
    point = await services.update_contact_point(uow.factory, CLOCK, AGENT, point_id, **change)  # type: ignore[arg-type]
    assert (point.status, point.time_zone) == expected


async def test_lifting_an_opt_out_needs_consent_rights_and_evidence(
    uow: FakeContactsUnitOfWork,
) -> None:
    lift = {"status": ContactPointStatus.VERIFIED, "may_consent": True}
    for evidence in (None, "  "):
        with pytest.raises(errors.ConsentEvidenceRequired) as caught:
            await services.update_contact_point(
                uow.factory,
                CLOCK,
                ACTOR,
                2,
                consent_evidence=evidence,
                **lift,  # type: ignore[arg-type]
            )
        assert (caught.value.code, caught.value.field) == (
            ErrorCode.CONSENT_EVIDENCE_REQUIRED,
            "consentEvidence",
        )
    with pytest.raises(errors.ContactValueInvalid) as too_long:
        await services.update_contact_point(
            uow.factory,
            CLOCK,
            ACTOR,
            2,
            consent_evidence="r" * 201,
            **lift,  # type: ignore[arg-type]
        )
    assert too_long.value.field == "consentEvidence"
    assert uow.recorded == []
    point = await services.update_contact_point(
        uow.factory,
        CLOCK,
        ACTOR,
        2,
        consent_evidence=" call-rec-42 ",
        **lift,  # type: ignore[arg-type]
    )
    assert point.status == ContactPointStatus.VERIFIED
    assert uow.recorded == [
        ContactPointUpdated(
            100, 2, NOW, 1, {"status": {"before": "OPTED_OUT", "after": "VERIFIED"}}, "call-rec-42"
        )
    ]


async def test_lifting_an_invalid_mark_needs_consent_rights_but_no_evidence(
    uow: FakeContactsUnitOfWork,
) -> None:
    uow.contact_points.points.append(phone(5, status=ContactPointStatus.INVALID))
    point = await services.update_contact_point(
        uow.factory, CLOCK, ACTOR, 5, status=ContactPointStatus.VERIFIED, may_consent=True
    )
    assert point.status == ContactPointStatus.VERIFIED
    assert isinstance(uow.recorded[-1], ContactPointUpdated)
    assert uow.recorded[-1].consent_evidence is None


async def test_withdrawing_consent_clears_the_consented_hours(uow: FakeContactsUnitOfWork) -> None:
    uow.contact_points.points.append(consented_phone(6))
    with pytest.raises(errors.ConsentEvidenceRequired):
        await services.update_contact_point(
            uow.factory, CLOCK, ACTOR, 6, consented=False, may_consent=True
        )
    point = await services.update_contact_point(
        uow.factory, CLOCK, ACTOR, 6, consented=False, may_consent=True, consent_evidence="rec-9"
    )
    assert (point.consented_at, point.consent_start, point.consent_end) == (None, None, None)
    event = uow.recorded[-1]
    assert isinstance(event, ContactPointUpdated)
    assert event.changes == {
        "consentedAt": {"before": (NOW - timedelta(hours=1)).isoformat(), "after": None},
        "consentedHours": {"before": "07:00-09:00", "after": None},
    }
    assert event.consent_evidence == "rec-9"


async def test_consented_hours_go_with_consent(uow: FakeContactsUnitOfWork) -> None:
    hours = (time(7), time(9))
    changes: list[dict[str, Any]] = [
        {"consent_hours": hours},  # no consent recorded
        {"consent_hours": hours, "consented": False},
    ]
    for change in changes:
        with pytest.raises(errors.ContactValueInvalid) as caught:
            await services.update_contact_point(
                uow.factory,
                CLOCK,
                ACTOR,
                1,
                may_consent=True,
                consent_evidence="rec",
                **change,
            )
        assert caught.value.field == "consentedHours"
    point = await services.update_contact_point(
        uow.factory, CLOCK, ACTOR, 1, consent_hours=hours, consented=True, may_consent=True,
        consent_evidence="rec",
    )  # fmt: skip
    assert (point.consent_start, point.consented_at) == (time(7), NOW)


async def test_hours_kept_without_consent_do_not_apply(uow: FakeContactsUnitOfWork) -> None:
    """Data from before the fix: hours 07:00-09:00 but no consent. At 12:00 the profile's
    08:00-22:00 apply (the hours would refuse), at 07:30 they refuse (the hours would allow)."""
    uow.contact_points.points[0] = phone(1, consent_start=time(7), consent_end=time(9))
    contact = await services.start_contact(
        uow.factory, CLOCK, ACTOR, services.StartRequest(10, Ch.PHONE)
    )
    assert contact.in_progress
    early = FixedClock(datetime(2026, 5, 1, 23, 30, tzinfo=UTC))  # 07:30 on 2 May in Shanghai
    with pytest.raises(errors.ComplianceViolation) as caught:
        await services.start_contact(uow.factory, early, ACTOR, services.StartRequest(10, Ch.PHONE))
    assert caught.value.rule == "QUIET_HOURS"


@pytest.mark.parametrize(
    ("new", "may_consent", "error", "field"),
    [
        (services.NewContactPoint(100, ContactPointKind.PHONE, "13900001111", consented=True,
                                  consent_evidence="rec"), False, errors.ConsentChangeNotAllowed,
         "consented"),
        (services.NewContactPoint(100, ContactPointKind.PHONE, "13900001111", consented=True,
                                  consent_hours=(time(9), time(18)), consent_evidence="rec"),
         False, errors.ConsentChangeNotAllowed, "consented"),
        (services.NewContactPoint(100, ContactPointKind.PHONE, "13900001111", consented=True),
         True, errors.ConsentEvidenceRequired, "consentEvidence"),
        (services.NewContactPoint(100, ContactPointKind.PHONE, "13900001111",
                                  consent_hours=(time(9), time(18)), consent_evidence="rec"),
         True, errors.ContactValueInvalid, "consentedHours"),
    ],
)  # fmt: skip
async def test_adding_a_point_with_consent(
    uow: FakeContactsUnitOfWork,
    new: services.NewContactPoint,
    may_consent: bool,
    error: type,
    field: str,
) -> None:
    with pytest.raises(error) as caught:
        await services.add_contact_point(uow.factory, CLOCK, AGENT, new, may_consent=may_consent)
    assert caught.value.field == field
    assert len(uow.contact_points.points) == 4
    assert uow.recorded == []


async def test_a_duplicate_is_added_for_callers_who_see_masks_and_shares_the_rules(
    uow: FakeContactsUnitOfWork,
) -> None:
    """Point 2 (opted out) is 139 0000 0002: an agent who sees it masked adds it again. No
    refusal reveals the value; the copy is opted out for the rules all the same."""
    new = services.NewContactPoint(100, ContactPointKind.PHONE, "139-0000-0002")
    copy = await services.add_contact_point(uow.factory, CLOCK, AGENT, new)
    assert (copy.status, copy.key) == (ContactPointStatus.UNVERIFIED, "PHONE:13900000002")
    assert copy.id is not None
    with pytest.raises(errors.ComplianceViolation) as caught:
        await services.start_contact(
            uow.factory, CLOCK, AGENT, services.StartRequest(10, Ch.PHONE, contact_point_id=copy.id)
        )
    assert (caught.value.rule, caught.value.next_allowed_at) == ("OPTED_OUT", None)
    # The copy is not the primary point either: the primary stays point 1.
    granted = await services.start_contact(
        uow.factory, CLOCK, AGENT, services.StartRequest(10, Ch.PHONE)
    )
    assert granted.contact_point_id == 1


async def test_attempts_on_a_duplicate_count_for_the_number(uow: FakeContactsUnitOfWork) -> None:
    attempts(uow, 6)  # six unanswered attempts on point 1 (139 0000 0001)
    new = services.NewContactPoint(100, ContactPointKind.PHONE, "+86 139 0000 0001")
    other = services.NewContactPoint(100, ContactPointKind.PHONE, "13900000001")
    with_prefix = await services.add_contact_point(uow.factory, CLOCK, AGENT, new)
    copy = await services.add_contact_point(uow.factory, CLOCK, AGENT, other)
    assert copy.id is not None and with_prefix.id is not None
    with pytest.raises(errors.ComplianceViolation) as caught:
        await services.start_contact(
            uow.factory, CLOCK, AGENT, services.StartRequest(10, Ch.PHONE, contact_point_id=copy.id)
        )
    assert caught.value.rule == "DAILY_ATTEMPTS"
    # +86 139… has other digits: another number as far as the rules can tell.
    granted = await services.start_contact(
        uow.factory, CLOCK, AGENT,
        services.StartRequest(10, Ch.PHONE, contact_point_id=with_prefix.id),
    )  # fmt: skip
    assert granted.in_progress


async def test_a_case_on_hold_records_the_refused_attempt(uow: FakeContactsUnitOfWork) -> None:
    uow.contact_points.points.append(phone(9, borrower_id=102))
    with pytest.raises(errors.ComplianceViolation) as caught:
        await services.start_contact(uow.factory, CLOCK, AGENT, services.StartRequest(12, Ch.PHONE))
    violation = caught.value
    assert (violation.code, violation.rule, violation.field, violation.next_allowed_at) == (
        ErrorCode.COMPLIANCE_VIOLATION,
        "CASE_ON_HOLD",
        "caseId",
        None,
    )
    blocked = uow.contacts.contacts[-1]
    assert (blocked.id, blocked.case_id, blocked.blocked, blocked.rule, blocked.breaches) == (
        violation.contact_id,
        12,
        True,
        "CASE_ON_HOLD",
        ["CASE_ON_HOLD"],
    )
    assert uow.committed
    assert uow.recorded == [
        ContactRefused(
            12, 102, blocked.id or 0, NOW, 3, "PHONE", "BORROWER", 9, "CN-2026.1",
            "CASE_ON_HOLD", ("CASE_ON_HOLD",), None,
        )
    ]  # fmt: skip


async def test_a_closed_case_is_refused_without_a_record(uow: FakeContactsUnitOfWork) -> None:
    uow.contact_points.points.append(phone(9, borrower_id=101))
    with pytest.raises(CaseClosed):
        await services.start_contact(uow.factory, CLOCK, AGENT, services.StartRequest(11, Ch.PHONE))
    assert uow.contacts.contacts == []


async def test_only_the_agent_or_a_supervisor_completes_an_attempt(
    uow: FakeContactsUnitOfWork,
) -> None:
    started = await services.start_contact(
        uow.factory, CLOCK, AGENT, services.StartRequest(10, Ch.PHONE)
    )
    assert started.id is not None
    colleague = services.Actor(2)
    with pytest.raises(errors.NotYourContact) as caught:
        await services.complete_contact(uow.factory, CLOCK, colleague, started.id, O.NO_ANSWER)
    assert (caught.value.code, caught.value.field) == (ErrorCode.NOT_YOUR_CONTACT, "contactId")
    assert started.outcome is None
    done = await services.complete_contact(
        uow.factory, CLOCK, colleague, started.id, O.NO_ANSWER, may_complete_others=True
    )
    assert done.outcome == O.NO_ANSWER
    own = await services.start_contact(
        uow.factory, CLOCK, AGENT, services.StartRequest(10, Ch.PHONE)
    )
    assert own.id is not None
    mine = await services.complete_contact(uow.factory, CLOCK, AGENT, own.id, O.NO_ANSWER)
    assert mine.outcome == O.NO_ANSWER


@pytest.mark.parametrize(
    ("status", "granted"),
    [(ContactPointStatus.OPTED_OUT, False), (ContactPointStatus.INVALID, True)],
)
async def test_an_opt_out_does_not_make_the_borrower_unreachable(
    uow: FakeContactsUnitOfWork, status: ContactPointStatus, granted: bool
) -> None:
    """The borrower's phones all opted out: they can still be reached (by other means), so an
    unrelated third party stays out. All invalid: the third party may be asked."""
    for point in uow.contact_points.points:
        if point.owner == ContactParty.BORROWER and point.kind == ContactPointKind.PHONE:
            point.status = status
    request = services.StartRequest(10, Ch.PHONE, ContactParty.UNRELATED_THIRD_PARTY, 4)
    if granted:
        contact = await services.start_contact(uow.factory, CLOCK, ACTOR, request)
        assert contact.in_progress
        return
    with pytest.raises(errors.ComplianceViolation) as caught:
        await services.start_contact(uow.factory, CLOCK, ACTOR, request)
    assert (caught.value.rule, caught.value.field) == ("THIRD_PARTY", "party")


async def test_log_keeps_the_digest_of_a_keyed_request(uow: FakeContactsUnitOfWork) -> None:
    keyed = log(idempotency_key="k-1", notes="first")
    contact = await services.log_contact(uow.factory, CLOCK, ACTOR, keyed)
    assert contact.request_digest == keyed.digest()
    assert log(idempotency_key="k-2", notes="first").digest() == keyed.digest()  # key aside
    for other in (
        log(idempotency_key="k-1", notes="second"),
        log(idempotency_key="k-1", notes="first", contact_point_id=1),  # named, not defaulted
        log(idempotency_key="k-1", notes="first", occurred_at=NOW),  # given, not defaulted
        log(idempotency_key="k-1", notes="first", second_agent_login="c2"),
    ):
        assert other.digest() != keyed.digest()
    unkeyed = await services.log_contact(uow.factory, CLOCK, ACTOR, log())
    assert unkeyed.request_digest is None


async def test_a_keyed_start_keeps_its_digest_granted_or_refused(
    uow: FakeContactsUnitOfWork,
) -> None:
    keyed = services.StartRequest(10, Ch.PHONE, idempotency_key="s-1")
    granted = await services.start_contact(uow.factory, CLOCK, ACTOR, keyed)
    assert (granted.idempotency_key, granted.request_digest) == ("s-1", keyed.digest())
    assert services.StartRequest(10, Ch.PHONE, idempotency_key="s-2").digest() == keyed.digest()
    for other in (
        services.StartRequest(11, Ch.PHONE, idempotency_key="s-1"),
        services.StartRequest(10, Ch.SMS, idempotency_key="s-1"),
        services.StartRequest(10, Ch.PHONE, ContactParty.GUARANTOR, idempotency_key="s-1"),
        services.StartRequest(10, Ch.PHONE, contact_point_id=1, idempotency_key="s-1"),
        services.StartRequest(10, Ch.PHONE, second_agent_login="c2", idempotency_key="s-1"),
    ):
        assert other.digest() != keyed.digest()
    unkeyed = await services.start_contact(
        uow.factory, CLOCK, ACTOR, services.StartRequest(10, Ch.PHONE)
    )
    assert (unkeyed.idempotency_key, unkeyed.request_digest) == (None, None)
    night = services.StartRequest(10, Ch.PHONE, idempotency_key="s-3")
    with pytest.raises(errors.ComplianceViolation) as caught:
        await services.start_contact(uow.factory, NIGHT, ACTOR, night)
    blocked = uow.contacts.contacts[-1]
    assert (blocked.blocked, blocked.idempotency_key, blocked.request_digest) == (
        True,
        "s-3",
        night.digest(),
    )
    again = services.refusal_of(blocked)  # what a retry answers
    raised = caught.value
    assert (again.code, again.rule, again.breaches, again.next_allowed_at, again.field) == (
        raised.code,
        raised.rule,
        raised.breaches,
        raised.next_allowed_at,
        raised.field,
    )
    assert again.contact_id == raised.contact_id == blocked.id


@pytest.mark.parametrize(
    ("request_", "rule", "field"),
    [
        (services.StartRequest(10, Ch.PHONE, contact_point_id=2), "OPTED_OUT", "contactPointId"),
        (services.StartRequest(10, Ch.PHONE, ContactParty.UNRELATED_THIRD_PARTY, 4),
         "THIRD_PARTY", "party"),
        (services.StartRequest(12, Ch.PHONE), "CASE_ON_HOLD", "caseId"),
    ],
)  # fmt: skip
async def test_a_recorded_refusal_names_the_field_the_first_did(
    uow: FakeContactsUnitOfWork, request_: services.StartRequest, rule: str, field: str
) -> None:
    uow.contact_points.points.append(phone(9, borrower_id=102))
    with pytest.raises(errors.ComplianceViolation) as caught:
        await services.start_contact(uow.factory, CLOCK, ACTOR, request_)
    again = services.refusal_of(uow.contacts.contacts[-1])
    assert (caught.value.rule, caught.value.field) == (again.rule, again.field) == (rule, field)


def test_recorded_rule_fields() -> None:
    from domain.contacts.conduct import recorded_rule_field

    expected = {
        "QUIET_HOURS": None,
        "DAILY_ATTEMPTS": None,
        "CONNECTED_CALLS_PER_DAY": None,
        "WEEKLY_CALLS": None,
        "AFTER_CONVERSATION": None,
        "THIRD_PARTY": "party",
        "FIELD_VISIT_TWO_STAFF": "secondAgentLogin",
        "CONTACT_POINT_INVALID": "contactPointId",
        "OPTED_OUT": "contactPointId",
        "OPEN_COMPLAINT": "caseId",
        "OPEN_DISPUTE": "caseId",
        "CEASE_COMMUNICATION": "caseId",
        "FLAG_DECEASED": "caseId",
        "CASE_ON_HOLD": "caseId",
    }
    assert {rule: recorded_rule_field(rule) for rule in expected} == expected
