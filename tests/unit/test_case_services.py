"""Case rules and use cases, run against in-memory fakes of the repositories."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import TracebackType

import pytest

from domain.agencies.model import Agency
from domain.cases import errors, services
from domain.cases.classification import DEFAULT_POLICY, Classification
from domain.cases.events import CaseAssigned, CasePlaced, CaseRecalled, CaseReclassified
from domain.cases.model import Case, CaseStatus
from domain.clock import FixedClock
from domain.debts.model import Debt, DebtStatus, Instalment, ProductType
from domain.errors import ConcurrencyConflict
from domain.staff.model import Staff

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
CLOCK = FixedClock(NOW)


class FakeCases:
    def __init__(self, cases: list[Case]) -> None:
        self.by_id = {c.id: c for c in cases}

    async def get(self, case_id: int) -> Case | None:
        return self.by_id.get(case_id)

    def add(self, case: Case) -> None:
        self.by_id[case.id] = case

    async def count_open_assigned_to(self, staff_id: int) -> int:
        return sum(
            1
            for c in self.by_id.values()
            if c.assignee_id == staff_id and c.status != CaseStatus.CLOSED
        )


class FakeStaff:
    def __init__(self, staff: list[Staff]) -> None:
        self.by_login = {s.login: s for s in staff}

    async def get_by_login(self, login: str) -> Staff | None:
        return self.by_login.get(login)

    async def get(self, staff_id: int) -> Staff | None:
        return next((s for s in self.by_login.values() if s.id == staff_id), None)


class FakeAgencies:
    def __init__(self, agencies: list[Agency]) -> None:
        self.by_name = {a.name: a for a in agencies}

    async def get_by_name(self, name: str) -> Agency | None:
        return self.by_name.get(name)


class FakeUnitOfWork:
    def __init__(self, cases: list[Case], staff: list[Staff], agencies: list[Agency]) -> None:
        self.cases = FakeCases(cases)
        self.staff = FakeStaff(staff)
        self.agencies = FakeAgencies(agencies)
        self.commits = 0
        self.events: list[object] = []

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def commit(self) -> None:
        self.commits += 1
        for case in self.cases.by_id.values():
            self.events += case.events
            case.events.clear()

    async def rollback(self) -> None:
        return None


def make_case(pk: int, **overrides: object) -> Case:
    case = Case(
        reference=f"AR-{pk}",
        borrower_id=pk,
        portfolio="retail",
        currency="CNY",
        opened_on=date(2026, 1, 1),
        id=pk,
    )
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
    ]
    agencies = [
        Agency("Acme", Decimal("0.18"), 90, id=1),
        Agency("Dormant", Decimal("0.2"), 30, active=False, id=2),
    ]
    cases = [
        make_case(1),
        make_case(2, agency_id=1),
        make_case(3, status=CaseStatus.CLOSED),
        make_case(4, assignee_id=1),
        make_case(5),
    ]
    return FakeUnitOfWork(cases, staff, agencies)


async def test_assign_sets_assignee_and_records_the_event(uow: FakeUnitOfWork) -> None:
    case = await services.assign_case(lambda: uow, CLOCK, 1, "c1", actor_id=9)
    assert case.assignee_id == 1
    assert uow.commits == 1
    assert uow.events == [CaseAssigned(1, NOW, 9, 1, None)]


@pytest.mark.parametrize(
    ("case_id", "login", "version", "error", "field"),
    [
        (99, "c1", None, errors.CaseNotFound, "caseId"),
        (1, "ghost", None, errors.StaffNotFound, "assigneeLogin"),
        (1, "c2", None, errors.StaffInactive, "assigneeLogin"),
        (1, "agent", None, errors.StaffCannotCarryCases, "assigneeLogin"),
        (1, "auditor", None, errors.StaffCannotCarryCases, "assigneeLogin"),
        (2, "c1", None, errors.CasePlacedWithAgency, "caseId"),
        (3, "c1", None, errors.CaseClosed, "caseId"),
        (1, "c1", 5, ConcurrencyConflict, "expectedVersion"),
    ],
)
async def test_assign_refusals_change_nothing(
    uow: FakeUnitOfWork,
    case_id: int,
    login: str,
    version: int | None,
    error: type[Exception],
    field: str,
) -> None:
    before = {pk: (c.assignee_id, c.agency_id) for pk, c in uow.cases.by_id.items()}
    with pytest.raises(error) as raised:
        await services.assign_case(lambda: uow, CLOCK, case_id, login, None, version)
    assert raised.value.field == field  # type: ignore[attr-defined]
    assert uow.commits == 0 and uow.events == []
    assert before == {pk: (c.assignee_id, c.agency_id) for pk, c in uow.cases.by_id.items()}


async def test_capacity_is_exact(uow: FakeUnitOfWork) -> None:
    await services.assign_case(lambda: uow, CLOCK, 1, "c1", None)  # c1 now carries 2 of 2
    with pytest.raises(errors.CapacityExceeded) as raised:
        await services.assign_case(lambda: uow, CLOCK, 5, "c1", None)
    assert raised.value.code == "CAPACITY_EXCEEDED"
    assert "2 of 2" in raised.value.message


async def test_reassigning_to_the_current_assignee_is_a_no_op(uow: FakeUnitOfWork) -> None:
    await services.assign_case(lambda: uow, CLOCK, 4, "c1", None)
    assert uow.events == [] and uow.cases.by_id[4].assignee_id == 1


async def test_place_and_recall(uow: FakeUnitOfWork) -> None:
    case = await services.place_with_agency(lambda: uow, CLOCK, 4, "Acme", actor_id=7)
    assert (case.agency_id, case.assignee_id) == (1, None)
    assert case.placement_ends_on == NOW.date() + timedelta(days=90)
    assert uow.events == [CasePlaced(4, NOW, 7, 1, case.placement_ends_on, 1)]
    with pytest.raises(errors.CasePlacedWithAgency):
        await services.place_with_agency(lambda: uow, CLOCK, 4, "Acme", None)
    case = await services.recall_from_agency(lambda: uow, CLOCK, 4, actor_id=7)
    assert (case.agency_id, case.placed_at, case.placement_ends_on) == (None, None, None)
    assert uow.events[-1] == CaseRecalled(4, NOW, 7, 1)
    with pytest.raises(errors.CaseNotPlaced):
        await services.recall_from_agency(lambda: uow, CLOCK, 4, None)
    assert uow.commits == 2


@pytest.mark.parametrize(
    ("name", "error"), [("Nope", errors.AgencyNotFound), ("Dormant", errors.AgencyInactive)]
)
async def test_place_with_unusable_agency(
    uow: FakeUnitOfWork, name: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await services.place_with_agency(lambda: uow, CLOCK, 1, name, None)
    assert uow.cases.by_id[1].agency_id is None and uow.commits == 0


def debt(dues: list[tuple[date, str, str]], **overrides: object) -> Debt:
    d = Debt(
        "ACC",
        ProductType.CONSUMER_LOAN,
        "CNY",
        Decimal("1000.00"),
        Decimal("50.00"),
        Decimal("10.00"),
        Decimal("5.00"),
        date(2025, 1, 1),
        instalments=[
            Instalment(n, due, Decimal(a), Decimal(p)) for n, (due, a, p) in enumerate(dues, 1)
        ],
    )
    for name, value in overrides.items():
        setattr(d, name, value)
    return d


AS_OF = date(2026, 6, 30)


def test_dpd_counts_from_the_oldest_unpaid_due_date() -> None:
    schedule = [
        (date(2026, 3, 31), "100", "100"),
        (date(2026, 4, 30), "100", "40"),
        (date(2026, 5, 31), "100", "0"),
        (date(2026, 7, 31), "100", "0"),
    ]
    assert debt(schedule).days_past_due(AS_OF) == 61
    assert debt(schedule, paused_days=10).days_past_due(AS_OF) == 51
    assert debt(schedule, paused_days=500).days_past_due(AS_OF) == 0
    assert debt(schedule, status=DebtStatus.SETTLED).days_past_due(AS_OF) == 0
    assert debt([(date(2026, 7, 31), "100", "0")]).days_past_due(AS_OF) == 0
    assert debt(schedule).outstanding.amount == Decimal("1065.00")


def test_reclassify_takes_the_worst_debt_and_records_changes_only() -> None:
    case = make_case(1)
    case.debts = [debt([(date(2026, 6, 20), "1", "0")]), debt([(date(2026, 2, 28), "1", "0")])]
    case.reclassify(DEFAULT_POLICY, AS_OF, NOW)
    assert (case.days_past_due, case.bucket, case.classification) == (
        122,
        "M5",
        Classification.SERIOUS,
    )
    assert case.outstanding_amount == Decimal("2130.00")
    assert [type(e) for e in case.events] == [CaseReclassified]
    case.reclassify(DEFAULT_POLICY, AS_OF + timedelta(days=1), NOW)
    assert len(case.events) == 1 and case.days_past_due == 123
