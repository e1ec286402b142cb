"""myWorklist: the caller's own OPEN cases in priority order, with reasons and whether the
borrower may be called now."""

from __future__ import annotations

import strawberry

from api.cases.types import Case
from api.common.pagination import Connection, connection, page_size
from api.context import Info
from api.errors import BadUserInput
from api.permissions import needs
from api.tasks.types import Task
from api.worklist.types import WorklistItem
from domain.contacts.conduct import situation_of
from domain.portfolios import conduct_profile_of, local_today
from domain.staff.model import AGENCY_ROLES, Role
from domain.tasks.model import due_reasons
from domain.worklist.priority import call_allowance, reasons
from store import changes_queries, contacts_queries, worklist_queries
from store.keyset import InvalidCursor
from store.worklist_queries import WorklistOwner, WorkRow


def owner_of(roles: list[str], staff_id: int | None, agency_id: int | None) -> WorklistOwner:
    """Whose cases the caller works: a collector's or team lead's own assigned cases, an agency
    user's agency's cases (the scope keeps those to current placements of an active agency)."""
    held = set(roles)
    assignee = staff_id if held & {Role.COLLECTOR, Role.TEAM_LEAD} else None
    agency = agency_id if held & AGENCY_ROLES else None
    return WorklistOwner(assignee_id=assignee, agency_id=agency)


@strawberry.type
class WorklistQuery:
    @strawberry.field(
        description="Your own OPEN cases in priority order: callbacks the borrower asked for, "
        "promises due today, broken promises, then by days past due, outstanding and ID. A "
        "collector's or team lead's assigned cases; an agency user's agency's placed cases. "
        "Each with its OPEN tasks (step and reason) and a TASK_DUE reason for each one due; the "
        "tasks of cases no one works (the pool) are in `tasks(filter: {unowned: true})`.",
        extensions=needs("worklist:read"),
    )
    async def my_worklist(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[WorklistItem]:
        ctx = info.context
        limit = page_size(first)
        try:
            position = worklist_queries.decode_cursor(after) if after else None
        except InvalidCursor as exc:
            raise BadUserInput(f"after: {exc}") from None
        viewer, now, scope = ctx.viewer, ctx.clock.now(), ctx.scope.case
        owner = owner_of(viewer.roles, viewer.id, viewer.agency_id)
        rows, more = await ctx.read(
            lambda session: worklist_queries.fetch_page(session, owner, scope, now, position, limit)
        )
        # The borrowers and every point of their records through the loaders contactAllowance
        # reads them with, and their recent contacts: one statement each for the whole page.
        borrower_ids = sorted({row.case.borrower_id for row in rows})
        borrowers = dict(
            zip(borrower_ids, await ctx.borrowers.load_many(borrower_ids), strict=True)
        )
        points = dict(
            zip(
                borrower_ids,
                await ctx.contact_points_of_borrower.load_many(borrower_ids),
                strict=True,
            )
        )
        history = await ctx.read(
            lambda session: contacts_queries.histories(session, borrower_ids, now)
        )
        # Open complaints and flags: what stops or limits contact (one batch for the page).
        case_ids = [row.case.id for row in rows if row.case.id is not None]
        protections = dict(zip(case_ids, await ctx.protections.load_many(case_ids), strict=True))
        # The OPEN tasks a strategy gave on each case (one statement for the page).
        tasks = dict(zip(case_ids, await ctx.open_tasks_of_case.load_many(case_ids), strict=True))
        # The conduct profiles in effect now, each read once for the page (one statement).
        names = [conduct_profile_of(row.case.portfolio) for row in rows]
        conduct = await ctx.read(
            lambda session: changes_queries.conduct_profiles_in_effect(session, names, now)
        )
        for row in rows:
            assert row.case.id is not None
            ctx.cases.prime(row.case.id, row.case)
        ctx.audit.saw_cases([row.case.id for row in rows if row.case.id is not None])

        def item(row: WorkRow) -> WorklistItem:
            case = row.case
            borrower = borrowers[case.borrower_id]
            assert borrower is not None  # the borrower of a case in scope is in scope
            assert case.id is not None
            situation = situation_of(case, borrower, points[case.borrower_id], protections[case.id])
            allowance = call_allowance(
                situation, history[case.borrower_id], now, conduct[situation.profile_name]
            )
            open_tasks = tasks[case.id]
            due = due_reasons(open_tasks, local_today(case.portfolio, now))
            return WorklistItem(
                case=Case.from_domain(case),
                reasons=[*reasons(row.facts), *due],
                tasks=[Task.from_domain(t) for t in open_tasks],
                contact_allowed_now=allowance.allowed,
                next_contact_at=allowance.next_allowed_at,
            )

        return connection(
            rows,
            more,
            after=after,
            cursor=worklist_queries.encode_cursor,
            node=item,
            count=lambda: ctx.read(lambda session: worklist_queries.count(session, owner, scope)),
        )
