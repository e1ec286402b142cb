"""Case use cases (assign, place, recall) against in-memory fakes, with a fixed clock."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.agencies.model import Agency
from domain.cases import errors, services
from domain.cases.events import CaseAssigned, CasePlaced, CaseRecalled
from domain.cases.model import Case, CaseStatus
from domain.clock import FixedClock
from domain.errors import ConcurrencyConflict, DomainError, NotFound, RuleViolation
from domain.staff.model import Staff
from tests.unit.fakes import FakeUnitOfWork

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
CLOCK = FixedClock(NOW)
ACTOR = 9
ACME_ENDS = date(2027, 2, 26)  # 28 Nov 2026 + 90 days
CANNOT_CARRY = "STAFF_CANNOT_CARRY_CASES"


def make_case(pk: int, **overrides: object) -> Case:
    case = Case(
        f"AR-{pk}", borrower_id=100 + pk, portfolio="retail", currency="CNY",
        opened_on=date(2026, 1, 5), id=pk,
    )  # fmt: skip
    for name, value in overrides.items():
        setattr(case, name, value)
    return case


@pytest.fixture
def uow() -> FakeUnitOfWork:
    staff = [
        Staff("c1", "C One", ["collector"], team="East", capacity=2, id=1),
        Staff("c2", "C Two", ["collector"], team="East", capacity=5, active=False, id=2),
        Staff("agent", "Agent", ["agency_agent"], agency_id=1, capacity=5, id=3),
        Staff("auditor", "Aud", ["auditor"], capacity=5, id=4),
        Staff("lead", "Lead", ["team_lead"], team="East", capacity=3, id=5),
        Staff("manager", "Mgr", ["manager"], capacity=5, id=6),
        Staff("full", "Full", ["collector"], capacity=1, id=7),
        Staff("unsaved", "No Id", ["collector"], capacity=5),
    ]
    agencies = [
        Agency("Acme", Decimal("0.18"), 90, id=1),
        Agency("Dormant", Decimal("0.20"), 30, active=False, id=2),
        Agency("Swift", Decimal("0.15"), 30, id=3),
    ]
    placed = {"agency_id": 1, "placed_at": NOW - timedelta(days=10), "placement_ends_on": ACME_ENDS}
    cases = [
        make_case(1),
        make_case(2, **placed),
        make_case(3, status=CaseStatus.CLOSED),
        make_case(4, assignee_id=1),
        make_case(5),
        make_case(6, status=CaseStatus.CLOSED, **placed),
        make_case(7, version=3),
        make_case(8, assignee_id=7),
    ]
    return FakeUnitOfWork(cases, staff, agencies)


def snapshot(uow: FakeUnitOfWork) -> dict[int, dict[str, object]]:
    return {pk: dataclasses.asdict(case) for pk, case in uow.cases.by_id.items()}


async def assert_refused(
    uow: FakeUnitOfWork, call: Awaitable[Case], error: type[DomainError], code: str, field: str
) -> None:
    before = snapshot(uow)
    with pytest.raises(error) as raised:
        await call
    assert type(raised.value) is error
    assert (raised.value.code, raised.value.field) == (code, field)
    assert (uow.committed, uow.commit_count, uow.rolled_back) == (False, 0, True)
    assert uow.events == []
    assert snapshot(uow) == before


# --- assign -------------------------------------------------------------------------------


async def test_assign_sets_assignee_records_the_event_and_commits_once(
    uow: FakeUnitOfWork,
) -> None:
    case = await services.assign_case(uow.factory, CLOCK, 1, "c1", ACTOR, expected_version=1)
    assert case is uow.cases.by_id[1]
    assert (case.assignee_id, case.agency_id, case.status) == (1, None, CaseStatus.OPEN)
    assert (uow.committed, uow.commit_count, uow.rolled_back) == (True, 1, False)
    assert uow.events == [CaseAssigned(1, NOW, ACTOR, 1, None)]
    assert uow.events[0].name == "CaseAssigned"
    assert uow.events[0].data() == {"assignee_id": 1, "previous_assignee_id": None}
    assert case.events == []


async def test_reassign_records_the_previous_assignee(uow: FakeUnitOfWork) -> None:
    case = await services.assign_case(uow.factory, CLOCK, 4, "lead", ACTOR)
    assert case.assignee_id == 5
    assert uow.events == [CaseAssigned(4, NOW, ACTOR, 5, 1)]


async def test_assign_with_the_current_version_succeeds(uow: FakeUnitOfWork) -> None:
    case = await services.assign_case(uow.factory, CLOCK, 7, "c1", None, expected_version=3)
    assert case.assignee_id == 1
    assert uow.events == [CaseAssigned(7, NOW, None, 1, None)]


@pytest.mark.parametrize(
    ("case_id", "login", "version", "error", "code", "field"),
    [
        (99, "c1", None, errors.CaseNotFound, "CASE_NOT_FOUND", "caseId"),
        (1, "ghost", None, errors.StaffNotFound, "STAFF_NOT_FOUND", "assigneeLogin"),
        (1, "unsaved", None, errors.StaffNotFound, "STAFF_NOT_FOUND", "assigneeLogin"),
        (1, "c2", None, errors.StaffInactive, "STAFF_INACTIVE", "assigneeLogin"),
        (1, "agent", None, errors.StaffCannotCarryCases, CANNOT_CARRY, "assigneeLogin"),
        (1, "auditor", None, errors.StaffCannotCarryCases, CANNOT_CARRY, "assigneeLogin"),
        (1, "manager", None, errors.StaffCannotCarryCases, CANNOT_CARRY, "assigneeLogin"),
        (1, "full", None, errors.CapacityExceeded, "CAPACITY_EXCEEDED", "assigneeLogin"),
        (2, "c1", None, errors.CasePlacedWithAgency, "CASE_PLACED_WITH_AGENCY", "caseId"),
        (3, "c1", None, errors.CaseClosed, "CASE_CLOSED", "caseId"),
        (1, "c1", 2, ConcurrencyConflict, "CONFLICT", "expectedVersion"),
        (7, "c1", 1, ConcurrencyConflict, "CONFLICT", "expectedVersion"),
    ],
)  # fmt: skip
async def test_assign_refusals_change_nothing(
    uow: FakeUnitOfWork,
    case_id: int,
    login: str,
    version: int | None,
    error: type[DomainError],
    code: str,
    field: str,
) -> None:
    call = services.assign_case(uow.factory, CLOCK, case_id, login, ACTOR, version)
    await assert_refused(uow, call, error, code, field)


def test_error_families_let_the_api_map_them() -> None:
    assert issubclass(errors.CaseNotFound, NotFound)
    assert issubclass(errors.StaffNotFound, NotFound)
    assert issubclass(errors.AgencyNotFound, NotFound)
    assert issubclass(errors.CapacityExceeded, RuleViolation)
    assert issubclass(errors.CasePlacedWithAgency, RuleViolation)
    assert not issubclass(ConcurrencyConflict, RuleViolation)


@pytest.mark.parametrize(("open_cases", "allowed"), [(0, True), (2, True), (3, False), (4, False)])
def test_capacity_is_a_strict_maximum(open_cases: int, allowed: bool) -> None:
    case, collector = make_case(1), Staff("c", "C", ["collector"], capacity=3, id=1)
    if allowed:
        case.assign(collector, open_cases, NOW, ACTOR)
        assert case.assignee_id == 1 and len(case.events) == 1
    else:
        with pytest.raises(errors.CapacityExceeded, match=f"{open_cases} of 3 cases"):
            case.assign(collector, open_cases, NOW, ACTOR)
        assert case.assignee_id is None and case.events == []


async def test_capacity_is_reached_at_exactly_capacity(uow: FakeUnitOfWork) -> None:
    await services.assign_case(uow.factory, CLOCK, 1, "c1", None)  # c1 now carries 2 of 2
    with pytest.raises(errors.CapacityExceeded, match="2 of 2") as raised:
        await services.assign_case(uow.factory, CLOCK, 5, "c1", None)
    assert raised.value.field == "assigneeLogin"
    assert uow.cases.by_id[5].assignee_id is None
    assert uow.commit_count == 1 and len(uow.events) == 1


@pytest.mark.parametrize(("case_id", "login"), [(4, "c1"), (8, "full")])
async def test_assigning_to_the_current_assignee_is_a_no_op(
    uow: FakeUnitOfWork, case_id: int, login: str
) -> None:
    before = snapshot(uow)
    case = await services.assign_case(uow.factory, CLOCK, case_id, login, ACTOR)
    assert case.assignee_id == uow.staff.by_login[login].id
    assert uow.events == [] and case.events == []
    assert snapshot(uow) == before  # "full" is at capacity, yet nothing is refused


# --- place with an agency -----------------------------------------------------------------


async def test_place_moves_the_case_from_its_collector_to_the_agency(uow: FakeUnitOfWork) -> None:
    case = await services.place_with_agency(uow.factory, CLOCK, 4, "Acme", ACTOR, 1)
    assert (case.agency_id, case.assignee_id) == (1, None)
    assert (case.placed_at, case.placement_ends_on) == (NOW, ACME_ENDS)
    assert (uow.committed, uow.commit_count) == (True, 1)
    assert uow.events == [CasePlaced(4, NOW, ACTOR, 1, ACME_ENDS, 1)]
    assert uow.events[0].data() == {
        "agency_id": 1,
        "placement_ends_on": "2027-02-26",
        "previous_assignee_id": 1,
    }


async def test_place_an_unassigned_case(uow: FakeUnitOfWork) -> None:
    await services.place_with_agency(uow.factory, CLOCK, 1, "Swift", None)
    assert uow.events == [CasePlaced(1, NOW, None, 3, date(2026, 12, 28), None)]


@pytest.mark.parametrize(
    ("at", "agency", "ends_on"),
    [
        (NOW, "Acme", date(2027, 2, 26)),
        # 23:59 UTC is already 1 January in Shanghai, the retail portfolio's calendar.
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), "Swift", date(2027, 1, 31)),
        (datetime(2026, 12, 31, 15, 59, tzinfo=UTC), "Swift", date(2027, 1, 30)),
        (datetime(2028, 2, 1, 0, 0, tzinfo=UTC), "Swift", date(2028, 3, 2)),
    ],
)
async def test_placement_ends_placement_days_after_the_placement_date(
    uow: FakeUnitOfWork, at: datetime, agency: str, ends_on: date
) -> None:
    case = await services.place_with_agency(uow.factory, FixedClock(at), 5, agency, None)
    assert case.placement_ends_on == ends_on
    assert case.placed_at == at


@pytest.mark.parametrize(
    ("until", "accepted"),
    [
        (date(2026, 11, 27), False),  # the day before the placement starts
        (date(2026, 11, 28), True),  # the placement's first (local) day
        (date(2026, 12, 28), True),  # the last day of Swift's 30-day period
        (date(2026, 12, 29), False),  # beyond the contract's period
    ],
)
async def test_an_end_date_is_taken_between_today_and_the_end_of_the_contract_period(
    uow: FakeUnitOfWork, until: date, accepted: bool
) -> None:
    at = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)  # 28 November, 00:30 in Shanghai
    call = services.place_with_agency(uow.factory, FixedClock(at), 1, "Swift", None, None, until)
    if accepted:
        case = await call
        assert case.placement_ends_on == until
        assert uow.events == [CasePlaced(1, at, None, 3, until, None)]
    else:
        with pytest.raises(errors.PlacementEndInvalid) as refused:
            await call
        assert (refused.value.code, refused.value.field) == ("PLACEMENT_END_INVALID", "until")
        assert uow.events == [] and uow.commit_count == 0


@pytest.mark.parametrize(
    ("case_id", "agency", "version", "error", "code", "field"),
    [
        (99, "Acme", None, errors.CaseNotFound, "CASE_NOT_FOUND", "caseId"),
        (1, "Nope", None, errors.AgencyNotFound, "AGENCY_NOT_FOUND", "agencyName"),
        (1, "Dormant", None, errors.AgencyInactive, "AGENCY_INACTIVE", "agencyName"),
        (2, "Acme", None, errors.CasePlacedWithAgency, "CASE_PLACED_WITH_AGENCY", "caseId"),
        (2, "Swift", None, errors.CasePlacedWithAgency, "CASE_PLACED_WITH_AGENCY", "caseId"),
        (3, "Acme", None, errors.CaseClosed, "CASE_CLOSED", "caseId"),
        (7, "Acme", 1, ConcurrencyConflict, "CONFLICT", "expectedVersion"),
    ],
)
async def test_place_refusals_change_nothing(
    uow: FakeUnitOfWork,
    case_id: int,
    agency: str,
    version: int | None,
    error: type[DomainError],
    code: str,
    field: str,
) -> None:
    call = services.place_with_agency(uow.factory, CLOCK, case_id, agency, ACTOR, version)
    await assert_refused(uow, call, error, code, field)


# --- recall -------------------------------------------------------------------------------


async def test_recall_clears_the_agency_and_the_placement_dates(uow: FakeUnitOfWork) -> None:
    case = await services.recall_from_agency(uow.factory, CLOCK, 2, ACTOR, expected_version=1)
    assert (case.agency_id, case.placed_at, case.placement_ends_on) == (None, None, None)
    assert case.assignee_id is None and case.status == CaseStatus.OPEN
    assert (uow.committed, uow.commit_count) == (True, 1)
    assert uow.events == [CaseRecalled(2, NOW, ACTOR, 1)]
    assert uow.events[0].data() == {"agency_id": 1}


@pytest.mark.parametrize(
    ("case_id", "version", "error", "code", "field"),
    [
        (99, None, errors.CaseNotFound, "CASE_NOT_FOUND", "caseId"),
        (1, None, errors.CaseNotPlaced, "CASE_NOT_PLACED", "caseId"),
        (4, None, errors.CaseNotPlaced, "CASE_NOT_PLACED", "caseId"),
        (3, None, errors.CaseNotPlaced, "CASE_NOT_PLACED", "caseId"),  # closed, not placed
        (2, 5, ConcurrencyConflict, "CONFLICT", "expectedVersion"),
    ],
)
async def test_recall_refusals_change_nothing(
    uow: FakeUnitOfWork,
    case_id: int,
    version: int | None,
    error: type[DomainError],
    code: str,
    field: str,
) -> None:
    call = services.recall_from_agency(uow.factory, CLOCK, case_id, ACTOR, version)
    await assert_refused(uow, call, error, code, field)


async def test_a_closed_case_is_recalled_from_its_agency_and_stays_closed(
    uow: FakeUnitOfWork,
) -> None:
    case = await services.recall_from_agency(uow.factory, CLOCK, 6, ACTOR, expected_version=1)
    assert (case.agency_id, case.placed_at, case.placement_ends_on) == (None, None, None)
    assert case.status == CaseStatus.CLOSED
    assert uow.events == [CaseRecalled(6, NOW, ACTOR, 1)]


async def test_place_recall_then_assign_again(uow: FakeUnitOfWork) -> None:
    await services.place_with_agency(uow.factory, CLOCK, 4, "Swift", ACTOR)
    await services.recall_from_agency(uow.factory, CLOCK, 4, ACTOR)
    case = await services.assign_case(uow.factory, CLOCK, 4, "lead", ACTOR)
    assert (case.assignee_id, case.agency_id) == (5, None)
    assert uow.commit_count == 3
    assert uow.events == [
        CasePlaced(4, NOW, ACTOR, 3, date(2026, 12, 28), 1),
        CaseRecalled(4, NOW, ACTOR, 3),
        CaseAssigned(4, NOW, ACTOR, 5, None),
    ]


# --- clock --------------------------------------------------------------------------------


def test_fixed_clock_is_fixed_and_aware() -> None:
    assert (CLOCK.now(), CLOCK.today()) == (NOW, date(2026, 11, 28))
    with pytest.raises(ValueError, match="aware"):
        FixedClock(datetime(2026, 11, 28, 9, 30))
