"""Differential execution (``ARREARS_EXECUTION=compare``, the test suite's mode): every compiled
query also runs on the standard executor, and the two must agree byte for byte.

The compiled run is the request's real one. The standard run follows on a twin of the request's
context — the same viewer, clock, settings and request, its own loaders, read session and
audit notes — inside a transaction that is rolled back, so that nothing is recorded twice. Then
the two are compared: ``data`` and ``errors`` (messages, locations, paths, extensions, and their
order) as JSON bytes, and what each run noted for the request's audit entry (the entry itself,
the fields of which borrowers were read, denials, stand-alone entries). A difference is kept in
``DIFFERENCES`` for the suite to fail on (``tests/conftest.py``), with both answers.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from graphql import ExecutionResult, FieldNode
from graphql.execution.executor import CollectedErrors

from api.audit import RequestAudit
from api.context import Context
from domain.clock import FixedClock
from store.audit import Outcome
from store.db import commits_so_far, rolled_back

if TYPE_CHECKING:
    from api.plans.compile import Plan
    from api.plans.executor import PlannedExecutor

# Differences found since the suite last looked; how many queries were compared, and how many
# were not because their second run wrote (a query that records something answers anew).
DIFFERENCES: list[str] = []
COMPARED: list[int] = [0]
WROTE: Counter[str] = Counter()  # by root fields
# ... and how many were not because something else was committed between the two runs (a
# concurrent request: the second run would read other data).
MOVED: list[int] = [0]


async def compared(executor: PlannedExecutor, plan: Plan) -> ExecutionResult:
    """Runs the query on its plan, then on the standard executor, and notes any difference."""
    context = executor.context_value
    if not isinstance(context, Context):
        return await executor.run_plan(plan)
    # Both runs of the query see one instant. Only a query's: a mutation reads the clock after
    # taking its locks, and a racing one must see the winner's work as already done.
    context.clock = FixedClock(context.clock.now())
    commits = commits_so_far()
    primary = await executor.run_plan(plan)
    # The first run's read connection goes back first: a request never holds two.
    await context.release()
    async with rolled_back(context.sessions) as rehearsal:
        twin = _twin(context, rehearsal.sessions)
        shadow = copy.copy(executor)
        shadow.context_value = twin
        shadow.collected_errors = CollectedErrors()
        try:
            standard = shadow.run_standard()
            if asyncio.iscoroutine(standard) or isinstance(standard, asyncio.Future):
                standard = await standard
        finally:
            await twin.close()
    assert isinstance(standard, ExecutionResult)
    if rehearsal.wrote:
        WROTE[_root_fields(executor)] += 1
        return primary
    if commits_so_far() != commits:
        MOVED[0] += 1
        return primary
    COMPARED[0] += 1
    difference = _difference(primary, standard, context.audit, twin.audit)
    if difference:
        operation = executor.operation
        source = operation.loc.source.body if operation.loc else "?"
        DIFFERENCES.append(f"{difference}\n--- query ---\n{source}")
    return primary


def _root_fields(executor: PlannedExecutor) -> str:
    names = {
        selection.name.value if isinstance(selection, FieldNode) else "…"
        for selection in executor.operation.selection_set.selections
    }
    return ",".join(sorted(names))


def _twin(context: Context, sessions: Any) -> Context:
    audit = context.audit
    twin_audit = RequestAudit(audit.key, sessions, audit.clock, copy.copy(audit.info), audit.actor)
    twin_audit.enabled = audit.enabled
    return context.twin(sessions, twin_audit)


def _answer(result: ExecutionResult) -> str:
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    return json.dumps(body, default=str)


def _audit_notes(audit: RequestAudit) -> str:
    entry = audit.request_entry(Outcome.ALLOWED)
    records = [entry, *audit.pending] if entry is not None else list(audit.pending)
    # Not in the order noted: a level-by-level run notes denials of a page in another order than a
    # depth-first one, and the entries hold them as a set.
    notes = sorted(
        json.dumps({k: v for k, v in dataclasses.asdict(r).items() if k != "at"}, default=str)
        for r in records
    )
    return json.dumps(
        {"records": notes, "written": audit.entries_written}, default=str, sort_keys=True
    )


def _difference(
    primary: ExecutionResult,
    standard: ExecutionResult,
    primary_audit: RequestAudit,
    standard_audit: RequestAudit,
) -> str | None:
    compiled_answer, standard_answer = _answer(primary), _answer(standard)
    if compiled_answer != standard_answer:
        return f"answers differ\ncompiled: {compiled_answer}\nstandard: {standard_answer}"
    compiled_notes, standard_notes = _audit_notes(primary_audit), _audit_notes(standard_audit)
    if compiled_notes != standard_notes:
        return f"audit notes differ\ncompiled: {compiled_notes}\nstandard: {standard_notes}"
    return None
