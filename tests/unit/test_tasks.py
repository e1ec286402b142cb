"""Tasks: completing one (its rules at their boundaries, a closed case), the worklist's TASK_DUE
reasons, the order a case lists them in, the timeline's summary, and the completion service with
fakes. Step names and reasons are STANDARD's (domain/strategies/definition.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import TracebackType

import pytest

from domain.cases.errors import CaseClosed
from domain.cases.model import Case, CaseStage, CaseStatus
from domain.clock import FixedClock
from domain.contacts.model import ContactParty
from domain.errors import ConcurrencyConflict, ErrorCode, TextTooLong
from domain.lifecycle.table import Standing
from domain.strategies.model import TaskKind, TaskStatus
from domain.tasks import services
from domain.tasks.errors import TaskAlreadyClosed, TaskNotFound
from domain.tasks.events import TaskCompleted
from domain.tasks.model import MAX_NOTE, Task, case_order, check_case_open, due_reasons
from domain.tasks.ports import TasksUnitOfWork
from domain.timeline.entries import EVENT_KINDS, EntryKind, event_summary
from tests.unit.fakes import FakeUnitOfWork

AT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
DUE = date(2026, 12, 1)


def task(pk: int = 1, **overrides: object) -> Task:
    made = Task(
        case_id=10,
        kind=TaskKind.CALL,
        reason="3 days past due: reminder call",
        party=ContactParty.BORROWER,
        due_on=DUE,
        created_at=AT - timedelta(days=1),
        strategy="STANDARD",
        step="MILD_CALL_1",
        id=pk,
    )
    for name, value in overrides.items():
        setattr(made, name, value)
    return made


# ---- complete ----------------------------------------------------------------------------------


def test_completing_an_open_task_records_who_when_and_the_note_stripped() -> None:
    t = task()
    t.complete("  promised to pay Friday  ", 7, AT)
    assert (t.status, t.completed_by, t.completed_at, t.note) == (
        TaskStatus.DONE, 7, AT, "promised to pay Friday",
    )  # fmt: skip
    assert t.version == 1  # the repository moves the version when it writes


@pytest.mark.parametrize("note", [None, "", "   "])
def test_an_empty_note_is_none(note: str | None) -> None:
    t = task()
    t.complete(note, 7, AT)
    assert (t.status, t.note) == (TaskStatus.DONE, None)


def test_the_note_may_be_exactly_the_limit_and_not_one_more() -> None:
    t = task()
    t.complete("x" * MAX_NOTE, 7, AT)
    assert t.note == "x" * MAX_NOTE
    longer = task()
    with pytest.raises(TextTooLong) as refused:
        longer.complete("x" * (MAX_NOTE + 1), 7, AT)
    assert (refused.value.code, refused.value.field) == (ErrorCode.TEXT_TOO_LONG, "note")
    assert longer.status is TaskStatus.OPEN and longer.completed_at is None


@pytest.mark.parametrize("status", [TaskStatus.DONE, TaskStatus.CANCELLED])
def test_a_closed_task_cannot_be_completed(status: TaskStatus) -> None:
    t = task(status=status)
    with pytest.raises(TaskAlreadyClosed) as refused:
        t.complete("again", 7, AT)
    assert refused.value.code == ErrorCode.TASK_ALREADY_CLOSED
    assert refused.value.field == "taskId"
    assert (t.status, t.note, t.completed_by) == (status, None, None)


def test_closed_is_checked_before_the_note() -> None:
    with pytest.raises(TaskAlreadyClosed):
        task(status=TaskStatus.DONE).complete("x" * (MAX_NOTE + 1), 7, AT)


@pytest.mark.parametrize(
    ("status", "refused"),
    [(CaseStatus.OPEN, False), (CaseStatus.ON_HOLD, False), (CaseStatus.CLOSED, True)],
)
@pytest.mark.parametrize("stage", [CaseStage.COLLECTION, CaseStage.LEGAL, CaseStage.WRITTEN_OFF])
def test_only_a_closed_case_refuses_its_tasks(
    status: CaseStatus, refused: bool, stage: CaseStage
) -> None:
    standing = Standing(status, stage, placed=False, assigned=True)
    if not refused:
        check_case_open(standing, "AR-10")  # on hold or written off: the task may be completed
        return
    with pytest.raises(CaseClosed) as closed:
        check_case_open(standing, "AR-10")
    assert (closed.value.code, closed.value.field, str(closed.value)) == (
        ErrorCode.CASE_CLOSED, "taskId", "case AR-10 is closed",
    )  # fmt: skip


# ---- reasons and order -------------------------------------------------------------------------


def test_due_reasons_are_the_open_tasks_due_by_today_earliest_first() -> None:
    tasks = [
        task(1, due_on=DUE + timedelta(days=1)),  # tomorrow: not due
        task(2, due_on=DUE, kind=TaskKind.LEGAL_REVIEW, step="SERIOUS_LEGAL_REVIEW"),  # today
        task(3, due_on=DUE - timedelta(days=2)),  # overdue
        task(4, due_on=DUE - timedelta(days=5), status=TaskStatus.DONE),
        task(5, due_on=DUE - timedelta(days=5), status=TaskStatus.CANCELLED),
        task(6, due_on=DUE, kind=TaskKind.SETTLEMENT_OFFER, step=None),
    ]
    assert due_reasons(tasks, DUE) == [
        "TASK_DUE CALL MILD_CALL_1",
        "TASK_DUE LEGAL_REVIEW SERIOUS_LEGAL_REVIEW",
        "TASK_DUE SETTLEMENT_OFFER",
    ]
    assert due_reasons(tasks, DUE - timedelta(days=3)) == []


def test_a_case_lists_open_tasks_by_due_date_then_the_rest_newest_first() -> None:
    tasks = [
        task(1, status=TaskStatus.DONE, created_at=AT - timedelta(days=9)),
        task(2, due_on=DUE + timedelta(days=2)),
        task(3, status=TaskStatus.CANCELLED, created_at=AT - timedelta(days=3)),
        task(4, due_on=DUE),
        task(5, due_on=DUE),
    ]
    assert [t.id for t in case_order(tasks)] == [4, 5, 2, 3, 1]


def test_the_timeline_summary_names_kind_and_step_never_the_note() -> None:
    completed = TaskCompleted(10, AT, 7, 1, "CALL", "MILD_CALL_1")
    assert completed.data() == {"task_id": 1, "kind": "CALL", "step": "MILD_CALL_1"}
    assert EVENT_KINDS[completed.name] is EntryKind.TASK
    assert (
        event_summary(EntryKind.TASK, completed.data()) == "Task CALL completed (step MILD_CALL_1)"
    )
    no_step = TaskCompleted(10, AT, 7, 1, "SETTLEMENT_OFFER", None).data()
    assert event_summary(EntryKind.TASK, no_step) == "Task SETTLEMENT_OFFER completed"


# ---- the service -------------------------------------------------------------------------------


class FakeTaskRepository:
    """Tasks by id, only those of cases the unit of work's case repository holds (its scope)."""

    def __init__(self, uow: FakeTaskUnitOfWork, tasks: list[Task]) -> None:
        self.uow = uow
        self.by_id = {t.id: t for t in tasks}
        self.saved: list[tuple[int | None, TaskStatus, int]] = []
        self.moved_meanwhile = False

    async def get(self, task_id: int, *, lock: bool = False) -> Task | None:
        found = self.by_id.get(task_id)
        if found is None or found.case_id not in self.uow.cases.by_id:
            return None
        return found

    async def save(self, task: Task) -> None:
        if self.moved_meanwhile:
            raise ConcurrencyConflict("the task was changed by someone else")
        self.saved.append((task.id, task.status, task.version))
        task.version += 1


class FakeTaskUnitOfWork(FakeUnitOfWork):
    def __init__(self, cases: list[Case], tasks: list[Task]) -> None:
        super().__init__(cases, [], [])
        self.tasks = FakeTaskRepository(self, tasks)

    async def __aenter__(self) -> FakeTaskUnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await super().__aexit__(exc_type, exc, tb)

    def factory(self) -> FakeTaskUnitOfWork:
        return self


def _conforms(uow: FakeTaskUnitOfWork) -> TasksUnitOfWork:
    return uow  # checked by mypy: the fake is a TasksUnitOfWork


@pytest.fixture
def uow() -> FakeTaskUnitOfWork:
    case = Case("AR-10", 100, "retail", "CNY", date(2026, 1, 5), id=10)
    return FakeTaskUnitOfWork([case], [task(1), task(2, case_id=99)])


async def test_the_service_completes_records_the_case_event_and_commits_once(
    uow: FakeTaskUnitOfWork,
) -> None:
    done = await services.complete_task(uow.factory, FixedClock(AT), 7, 1, "called")
    assert (done.status, done.completed_at, done.completed_by, done.note, done.version) == (
        TaskStatus.DONE, AT, 7, "called", 2,
    )  # fmt: skip
    assert uow.tasks.saved == [(1, TaskStatus.DONE, 1)]
    assert uow.events == [TaskCompleted(10, AT, 7, 1, "CALL", "MILD_CALL_1")]
    assert uow.commit_count == 1


async def test_the_service_records_the_instant_it_is_given(uow: FakeTaskUnitOfWork) -> None:
    at = AT + timedelta(minutes=5)
    done = await services.complete_task(uow.factory, FixedClock(AT), 7, 1, None, at=at)
    assert done.completed_at == at and uow.events[0].at == at


@pytest.mark.parametrize("task_id", [2, 404])  # out of the caller's scope; none at all
async def test_a_task_out_of_scope_is_not_found_like_one_that_does_not_exist(
    uow: FakeTaskUnitOfWork, task_id: int
) -> None:
    with pytest.raises(TaskNotFound) as refused:
        await services.complete_task(uow.factory, FixedClock(AT), 7, task_id, None)
    assert (refused.value.code, refused.value.field) == (ErrorCode.TASK_NOT_FOUND, "taskId")
    assert uow.commit_count == 0 and uow.events == []


async def test_a_second_completion_is_refused_and_changes_nothing(uow: FakeTaskUnitOfWork) -> None:
    await services.complete_task(uow.factory, FixedClock(AT), 7, 1, "called")
    with pytest.raises(TaskAlreadyClosed):
        await services.complete_task(uow.factory, FixedClock(AT), 8, 1, "again")
    assert uow.tasks.by_id[1].completed_by == 7 and uow.tasks.by_id[1].note == "called"
    assert uow.commit_count == 1 and len(uow.events) == 1


async def test_a_task_changed_meanwhile_is_a_conflict(uow: FakeTaskUnitOfWork) -> None:
    uow.tasks.moved_meanwhile = True
    with pytest.raises(ConcurrencyConflict):
        await services.complete_task(uow.factory, FixedClock(AT), 7, 1, None)
    assert uow.commit_count == 0 and uow.rolled_back


async def test_a_task_of_a_closed_case_is_refused_with_its_closure(
    uow: FakeTaskUnitOfWork,
) -> None:
    uow.cases.by_id[10].status = CaseStatus.CLOSED
    with pytest.raises(CaseClosed) as refused:
        await services.complete_task(uow.factory, FixedClock(AT), 7, 1, "called")
    assert (refused.value.code, refused.value.field) == (ErrorCode.CASE_CLOSED, "taskId")
    assert uow.tasks.by_id[1].status is TaskStatus.OPEN
    assert uow.commit_count == 0 and uow.events == [] and uow.tasks.saved == []


async def test_a_closed_task_of_a_closed_case_says_the_task_is_closed(
    uow: FakeTaskUnitOfWork,
) -> None:
    uow.cases.by_id[10].status = CaseStatus.CLOSED
    uow.tasks.by_id[1].status = TaskStatus.CANCELLED
    with pytest.raises(TaskAlreadyClosed):
        await services.complete_task(uow.factory, FixedClock(AT), 7, 1, None)
