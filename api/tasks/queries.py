"""The ``tasks`` connection: the tasks of the cases the viewer can see, earliest due first, so
that whoever works cases — and managers triaging the pool — finds every task a strategy gave."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import strawberry

from api.common.ids import pk_of
from api.common.pagination import Connection, connection, page_size
from api.context import Info
from api.errors import BadUserInput
from api.permissions import needs
from api.tasks.types import Task, TaskKind, TaskStatus
from store import tasks_queries
from store.keyset import InvalidCursor
from store.tasks_queries import TaskFilterSpec


@strawberry.input(description="Every condition given must hold (AND); lists match any value (OR).")
class TaskFilter:
    status: list[TaskStatus] | None = strawberry.field(
        default=None, description="Tasks in any of these statuses (e.g. [OPEN] to triage)."
    )
    kind: list[TaskKind] | None = strawberry.field(
        default=None, description="Tasks of any of these kinds."
    )
    case_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this case's tasks."
    )
    unowned: bool | None = strawberry.field(
        default=None,
        description="true: only tasks of cases that have neither a collector nor an agency now "
        "(the pool: no worklist shows them, e.g. after a strategy's recall); false: only tasks "
        "of cases someone works now.",
    )
    due_by: date | None = strawberry.field(
        default=None,
        description="Only tasks due on or before this date (the portfolio's calendar, as dueOn).",
    )

    def to_spec(self) -> TaskFilterSpec:
        """Returns the store's filter; refuses a malformed case ID."""
        case_pk = None
        if self.case_id is not None:
            case_pk = pk_of(self.case_id, "Case")
            if case_pk is None:
                raise BadUserInput("filter.caseId is not a case ID")
        return TaskFilterSpec(
            statuses=[s.value for s in self.status or ()],
            kinds=[k.value for k in self.kind or ()],
            case_id=case_pk,
            unowned=self.unowned,
            due_by=self.due_by,
        )


@strawberry.type
class TaskQuery:
    @strawberry.field(
        description="The tasks of the cases you can see — your own as a collector, your team's "
        "as a team lead, your agency's current placements, legal's cases as legal, every case "
        "as a manager, administrator or auditor — earliest due first (dueOn, then ID); "
        "totalCount counts those you can see. Whoever works a task's case now is the case's "
        "`assignee` or `agency`; `filter: {unowned: true}` finds the tasks no worklist shows.",
        extensions=needs("case:read"),
    )
    async def tasks(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: TaskFilter | None = None,
    ) -> Connection[Task]:
        ctx = info.context
        limit = page_size(first)
        spec = filter.to_spec() if filter else TaskFilterSpec()
        spec = replace(spec, case_scope=ctx.scope.case)
        try:
            position = tasks_queries.decode_cursor(after) if after else None
        except InvalidCursor as exc:
            raise BadUserInput(f"after: {exc}") from None
        rows, more = await ctx.read(
            lambda session: tasks_queries.fetch_page(session, spec, position, limit)
        )
        ctx.audit.saw_cases(sorted({task.case_id for task in rows}))
        return connection(
            rows,
            more,
            after=after,
            cursor=tasks_queries.encode_cursor,
            node=Task.from_domain,
            count=lambda: ctx.read(lambda session: tasks_queries.count(session, spec)),
        )
