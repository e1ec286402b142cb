"""The audit trail: append-only entries in HMAC chains, written in the caller's transaction.

Entries are spread over ``AUDIT_CHAINS`` independent chains (picked per request), so concurrent
writers only queue when they land on the same chain head, and each chain is verified on its own.
Each entry's hash is HMAC-SHA256(key, previous hash + canonical JSON of its content): editing,
deleting or inserting a row without the key breaks the chain at that row.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import time
import zlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from store import tables
from store.metrics import AUDIT_APPEND_SECONDS

AUDIT_CHAINS = 8


class AuditAction(enum.StrEnum):
    """What an entry records: the one list of actions (the API documents it from here)."""

    API_READ = "api.read"
    API_WRITE = "api.write"
    CASE_READ = "case.read"
    CASE_ASSIGN = "case.assign"
    CASE_PLACE = "case.place"
    CASE_RECALL = "case.recall"
    CASE_ALLOCATE = "case.allocate"
    CASE_TRANSITION = "case.transition"
    CONTACT_START = "contact.start"
    CONTACT_COMPLETE = "contact.complete"
    CONTACT_LOG = "contact.log"
    CONTACT_POINT_ADD = "contact_point.add"
    CONTACT_POINT_UPDATE = "contact_point.update"
    PROMISE_RECORD = "promise.record"
    PAYMENT_POST = "payment.post"
    PAYMENT_REVERSE = "payment.reverse"
    WARNING_ACKNOWLEDGE = "warning.acknowledge"
    WARNING_HANDLE = "warning.handle"
    SIGNAL_POST = "signal.post"
    COMPLAINT_FILE = "complaint.file"
    COMPLAINT_RESOLVE = "complaint.resolve"
    BORROWER_FLAG = "borrower.flag"
    BORROWER_UNFLAG = "borrower.unflag"
    BORROWER_REVEAL = "borrower.reveal"
    AUTHZ_DENIED = "authz.denied"
    AUTH_FAILED = "auth.failed"
    REQUEST_REFUSED = "request.refused"
    POLICY_CHANGE = "policy.change"
    AUDIT_READ = "audit.read"
    DECISION_READ = "decision.read"
    # Write-off (debt handling): a manager's write-off, with its reason code and text.
    CASE_WRITE_OFF = "case.write_off"
    # Evidence packs (debt handling): generated with a stated reason, and downloaded.
    EVIDENCE_GENERATE = "evidence.generate"
    EVIDENCE_DOWNLOAD = "evidence.download"
    # Legal escalation (debt handling): referral made, approved or rejected; an action recorded.
    LEGAL_REFER = "legal.refer"
    LEGAL_APPROVE = "legal.approve"
    LEGAL_REJECT = "legal.reject"
    LEGAL_ACT = "legal.act"
    # Restructurings (debt handling): proposed, approved or rejected (maker and checker named).
    RESTRUCTURING_PROPOSE = "restructuring.propose"
    RESTRUCTURING_APPROVE = "restructuring.approve"
    RESTRUCTURING_REJECT = "restructuring.reject"
    # Batch jobs (actor_login ``system:<job>``, no actor id): the daily run's own entry, and
    # the promises it judged when their window passed.
    DAILY_RUN = "job.daily"
    # A core banking feed imported (``arrears import``): counts only, never a row's values.
    FEED_IMPORTED = "job.import"
    PROMISE_EVALUATE = "promise.evaluate"
    # The plans and settlements the daily run found broken (not paid within their grace days).
    RESTRUCTURING_BREAK = "restructuring.break"
    # Strategies and notices: the steps the daily run took (cases named per action and status),
    # the notices ``arrears outbox`` handed to the gateway (one entry per batch, case ids and
    # notice ids, never a body or an address), a delivery receipt recorded, a task completed,
    # the open tasks the daily run cancelled (the cases named).
    TREATMENT_STEP = "treatment.step"
    NOTICE_SEND = "notice.send"
    NOTICE_DELIVERY = "notice.delivery"
    TASK_COMPLETE = "task.complete"
    TASK_CANCEL = "task.cancel"
    # The data life cycle: a legal hold placed or released on a case (the reason as
    # ``reason_text``), and each purge (``arrears purge``, the daily run): counts per record kind
    # and the as-of date in ``changes``, never an id or a value of a person.
    LEGAL_HOLD_PLACE = "legal_hold.place"
    LEGAL_HOLD_RELEASE = "legal_hold.release"
    DATA_PURGE = "job.purge"
    # API clients of partner agencies: created, a secret rotated, its allow-list of operations
    # set or cleared (the digests: not secrets), revoked (the client id and its agency, never a
    # secret), and each token issued to a client at POST /oauth/token.
    API_CLIENT_CREATE = "api_client.create"
    API_CLIENT_ROTATE = "api_client.rotate"
    API_CLIENT_OPERATIONS = "api_client.operations"
    API_CLIENT_REVOKE = "api_client.revoke"
    AUTH_TOKEN_ISSUED = "auth.token_issued"
    # The operator adds a staff member or an agency (``arrears staff add``, ``arrears agency add``).
    STAFF_CREATE = "staff.create"
    AGENCY_CREATE = "agency.create"


class Outcome(enum.StrEnum):
    """How an audited action ended."""

    ALLOWED = "ALLOWED"
    DENIED = "DENIED"
    ERROR = "ERROR"


REVEAL_ACTION = AuditAction.BORROWER_REVEAL
GENESIS = "0" * 64
_HASHED = (
    "at",
    "actor_id",
    "actor_login",
    "actor_roles",
    "actor_agency_id",
    "request_id",
    "client_ip",
    "user_agent",
    "operation_name",
    "operation_type",
    "document_hash",
    "action",
    "outcome",
    "resource_type",
    "resource_ids",
    "borrower_ids",
    "case_ids",
    "fields",
    "reason_code",
    "reason_text",
    "changes",
    "chain",
    "seq",
)


_JSON = ("actor_roles", "resource_ids", "borrower_ids", "case_ids", "fields", "changes")


def audit_key(secret: str) -> bytes:
    """Returns the HMAC key of the audit chain, derived from the service secret."""
    return hashlib.sha256(b"arrears-audit-chain:" + secret.encode()).digest()


@dataclass
class AuditRecord:
    """One entry to append; never holds a confidential value (field names only)."""

    at: datetime
    action: str
    outcome: str
    actor_id: int | None = None
    actor_login: str | None = None
    actor_roles: list[str] = field(default_factory=list)
    actor_agency_id: int | None = None
    request_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    operation_name: str | None = None
    operation_type: str | None = None
    document_hash: str | None = None
    resource_type: str | None = None
    resource_ids: list[str] = field(default_factory=list)
    borrower_ids: list[int] = field(default_factory=list)
    case_ids: list[int] = field(default_factory=list)
    fields: list[dict[str, Any]] = field(default_factory=list)
    reason_code: str | None = None
    reason_text: str | None = None
    changes: dict[str, Any] | None = None

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def canonical(row: Mapping[str, Any]) -> bytes:
    """Returns the bytes an entry's hash covers (its content, chain and sequence number)."""
    content = {name: row[name] for name in _HASHED}
    content["at"] = row["at"].isoformat(timespec="microseconds")
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()


def entry_hash(key: bytes, prev_hash: str, row: Mapping[str, Any]) -> str:
    """Returns the chained HMAC of an entry."""
    return hmac.new(key, prev_hash.encode() + canonical(row), hashlib.sha256).hexdigest()


def chain_for(request_id: str | None) -> int:
    """Returns the chain a request appends to (stable per request)."""
    return zlib.crc32((request_id or "").encode()) % AUDIT_CHAINS


async def append(
    session: AsyncSession | AsyncConnection,
    key: bytes,
    records: Sequence[AuditRecord],
    chain: int | None = None,
) -> None:
    """Appends records to one chain inside the caller's transaction (locking that chain's head)."""
    if not records:
        return
    started = time.perf_counter()
    chain = chain_for(records[0].request_id) if chain is None else chain
    heads = tables.audit_heads.c
    head = (
        await session.execute(
            select(heads.seq, heads.hash).where(heads.chain == chain).with_for_update()
        )
    ).one()
    seq, prev = head.seq, head.hash
    rows = []
    for record in records:
        seq += 1
        row = {**record.row(), "chain": chain, "seq": seq, "prev_hash": prev}
        # Hash exactly what the database will give back: UTC time, JSON-native values.
        row["at"] = row["at"].astimezone(UTC)
        for name in _JSON:
            row[name] = json.loads(json.dumps(row[name], default=str))
        row["hash"] = prev = entry_hash(key, prev, row)
        rows.append(row)
    await session.execute(tables.audit_entries.insert(), rows)
    await session.execute(
        update(tables.audit_heads).where(heads.chain == chain).values(seq=seq, hash=prev)
    )
    AUDIT_APPEND_SECONDS.observe(time.perf_counter() - started)


@dataclass(frozen=True)
class Break:
    """Where a chain stops verifying."""

    chain: int
    entry_id: int | None
    seq: int
    problem: str

    after_id: int | None = None

    def __str__(self) -> str:
        if self.entry_id is not None:
            where = f"entry {self.entry_id}"
        elif self.after_id is not None:
            where = f"after entry {self.after_id}"
        else:
            where = "the start"
        return f"{where} (chain {self.chain}, seq {self.seq}): {self.problem}"


def _position(broken: Break) -> float:
    """Orders breaks by where they are in insertion order (unknown places last)."""
    if broken.entry_id is not None:
        return broken.entry_id
    return broken.after_id + 0.5 if broken.after_id is not None else float("inf")


async def _entries(conn: AsyncConnection, chain: int) -> AsyncIterator[Any]:
    stmt = (
        select(tables.audit_entries)
        .where(tables.audit_entries.c.chain == chain)
        .order_by(tables.audit_entries.c.seq)
        .execution_options(yield_per=1000)
    )
    result = await conn.stream(stmt)
    async for row in result:
        yield row


async def verify(conn: AsyncConnection, key: bytes) -> tuple[int, list[Break]]:
    """Recomputes every chain; returns the number of entries checked and the first break of each
    broken chain (modified, deleted or inserted entries, or a head that does not match)."""
    if conn.dialect.name == "postgresql" and not conn.in_transaction():
        # One snapshot for the heads and every chain: entries appended while verify runs are
        # then simply not seen, instead of looking like entries inserted behind a head.
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
    checked = 0
    breaks: list[Break] = []
    heads = {r.chain: r for r in (await conn.execute(select(tables.audit_heads))).all()}
    used = (await conn.execute(select(tables.audit_entries.c.chain).distinct())).scalars().all()
    for chain in sorted(set(used) | set(heads)):
        if not 0 <= chain < AUDIT_CHAINS:
            first = (
                await conn.execute(
                    select(func.min(tables.audit_entries.c.id)).where(
                        tables.audit_entries.c.chain == chain
                    )
                )
            ).scalar()
            breaks.append(Break(chain, first, 0, "entry outside every chain (inserted)"))
    for chain in range(AUDIT_CHAINS):
        if chain not in heads:
            breaks.append(Break(chain, None, 0, "the chain's head is missing (deleted)"))
    for chain in range(AUDIT_CHAINS):
        expected_seq, prev, last_id = 0, GENESIS, None
        broken: Break | None = None
        async for row in _entries(conn, chain):
            checked += 1
            expected_seq += 1
            data = row._mapping
            if row.seq != expected_seq:
                problem = (
                    "entry missing before this one (deleted)"
                    if row.seq > expected_seq
                    else "duplicate sequence number (inserted)"
                )
                broken = Break(chain, row.id, row.seq, problem)
            elif row.prev_hash != prev:
                broken = Break(chain, row.id, row.seq, "previous hash does not match (inserted)")
            elif entry_hash(key, prev, data) != row.hash:
                broken = Break(chain, row.id, row.seq, "content does not match its hash (modified)")
            if broken:
                break
            prev, last_id = row.hash, row.id
        head = heads.get(chain)
        if broken is None and head is not None and (head.seq, head.hash) != (expected_seq, prev):
            problem = (
                "entries after this point are missing (deleted)"
                if head.seq > expected_seq
                else "entries were appended without updating the head (inserted)"
            )
            broken = Break(chain, None, expected_seq + 1, problem, after_id=last_id)
        if broken:
            breaks.append(broken)
    breaks.sort(key=_position)
    return checked, breaks
