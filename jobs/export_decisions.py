"""The decisions feed out: every decision after a cursor as JSON Lines, oldest first, for core
banking and the credit bureau (``arrears export decisions``).

The export reads in keyset batches up to the newest decision at its start (constant memory; a
decision added meanwhile goes to the next export) and returns the cursor to pass next time: the
cursor of its last line, or the one it was given when nothing was new. Every line also carries
its own cursor, so a consumer that stopped halfway resumes after the last line it booked. Each
batch is audited before it is written (``decision.read``: the cases and how many decisions).
Reading takes no lock: exports may run side by side, and writers never wait for them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy.ext.asyncio import AsyncEngine

from store import audit, decisions
from store.audit import AuditAction, AuditRecord, Outcome
from store.decisions import Decision

BATCH = 1000
JOB = "system:export-decisions"  # the audit trail's actor of the export


@dataclass(frozen=True)
class ExportSummary:
    """How many decisions were written, and the cursor to pass next time ("" when the feed has
    nothing yet and none was given)."""

    written: int
    cursor: str


def record(decision: Decision, case_global_id: Callable[[int], str]) -> dict[str, Any]:
    """One line of the feed (the same fields as GraphQL's ``Decision``, and its cursor)."""
    return {
        "sequence": decision.id,
        "cursor": decisions.encode_cursor(decision.id),
        "at": decision.at.isoformat(),
        "kind": decision.kind,
        "caseId": case_global_id(decision.case_id) if decision.case_id is not None else None,
        "caseReference": decision.case_reference,
        "accountNumbers": list(decision.account_numbers),
        "borrowerExternalId": decision.borrower_external_id,
        "actor": decision.actor_login or "system",
        "data": dict(decision.data),
    }


async def export_decisions(
    engine: AsyncEngine,
    sink: TextIO,
    *,
    after: str | None,
    audit_key: bytes,
    case_global_id: Callable[[int], str],
    now: Callable[[], datetime],
    progress: Callable[[int, int], None] | None = None,
    batch: int = BATCH,
) -> ExportSummary:
    """Writes every decision after ``after`` (a cursor; None or "" from the start) to ``sink``
    as JSON Lines; raises store.keyset.InvalidCursor for a cursor the feed did not issue.
    ``progress(done, total)`` is called after each batch."""
    after_id = decisions.decode_cursor(after) if after else 0
    request_id = f"export-{uuid.uuid4()}"
    async with engine.connect() as conn:
        through = await decisions.last_id(conn)
        total = await decisions.count_between(conn, after_id, through)
    written, position = 0, after_id
    while position < through:
        async with engine.connect() as conn:
            page, _more = await decisions.fetch_page(conn, position, batch, through)
        if not page:
            break
        await _audit(engine, audit_key, request_id, now(), page, case_global_id)
        for decision in page:
            sink.write(json.dumps(record(decision, case_global_id), ensure_ascii=False) + "\n")
        sink.flush()
        written += len(page)
        position = page[-1].id
        if progress is not None:
            progress(written, total)
    cursor = decisions.encode_cursor(position) if position else (after or "")
    return ExportSummary(written, cursor)


async def _audit(
    engine: AsyncEngine,
    key: bytes,
    request_id: str,
    at: datetime,
    page: list[Decision],
    case_global_id: Callable[[int], str],
) -> None:
    """The batch's audit entry, in a transaction of its own, before the batch is written."""
    case_ids = sorted({d.case_id for d in page if d.case_id is not None})
    entry = AuditRecord(
        at=at,
        action=AuditAction.DECISION_READ,
        outcome=Outcome.ALLOWED,
        actor_login=JOB,
        request_id=request_id,
        operation_name="export decisions",
        operation_type="cli",
        resource_type="Case" if case_ids else None,
        resource_ids=[case_global_id(pk) for pk in case_ids],
        case_ids=case_ids,
        changes={
            "decisions": len(page),
            "firstSequence": page[0].id,
            "lastSequence": page[-1].id,
        },
    )
    async with engine.connect() as conn:
        # SQLite: take the write lock first (see store.db); PostgreSQL ignores the option.
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            await audit.append(conn, key, [entry])
