"""The audit trail: append-only entries in HMAC chains, written in the caller's transaction.

Entries are spread over ``AUDIT_CHAINS`` independent chains (picked per request), so concurrent
writers only queue when they land on the same chain head, and each chain is verified on its own.
Each entry's hash is HMAC-SHA256(key, previous hash + canonical JSON of its content): editing,
deleting or inserting a row without the key breaks the chain at that row.

An append locks its chain's head for as little as it can: the entries are made ready (their JSON,
the bytes their hash covers) before, so that only the HMAC itself waits for the head (see
``append_prepared``).
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

from sqlalchemy import bindparam, func, insert, select, text, update
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
    CASE_HOLD = "case.hold"
    CASE_RESUME = "case.resume"
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
    return _canonical_json(content).encode()


def _canonical_json(content: Mapping[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(key: bytes, prev_hash: str, row: Mapping[str, Any]) -> str:
    """Returns the chained HMAC of an entry."""
    return hmac.new(key, prev_hash.encode() + canonical(row), hashlib.sha256).hexdigest()


def chain_for(request_id: str | None) -> int:
    """Returns the chain a request appends to (stable per request)."""
    return zlib.crc32((request_id or "").encode()) % AUDIT_CHAINS


# The hashed names on either side of "seq" in the canonical JSON (its keys are sorted), so that
# an entry's bytes can be made ready before its sequence number is known.
_BEFORE_SEQ = tuple(name for name in _HASHED if name < "seq")
_AFTER_SEQ = tuple(name for name in _HASHED if name > "seq")
assert set(_HASHED) == {*_BEFORE_SEQ, "seq", *_AFTER_SEQ} and _BEFORE_SEQ and _AFTER_SEQ


@dataclass(frozen=True)
class Prepared:
    """Records made ready to append to one chain before its head is locked: each row as the
    database will give it back, and the canonical bytes of its hash before and after its
    sequence number (``canonical`` is exactly ``before + str(seq) + after``)."""

    chain: int
    rows: tuple[dict[str, Any], ...]
    around_seq: tuple[tuple[str, str], ...]


def prepare(records: Sequence[AuditRecord], chain: int | None = None) -> Prepared:
    """Makes records ready to append (to the request's chain unless one is given): all the work
    that does not need the chain's head, done before the head is locked."""
    chain = chain_for(records[0].request_id if records else None) if chain is None else chain
    rows = []
    around = []
    for record in records:
        row = {**record.row(), "chain": chain}
        # Hash exactly what the database will give back: UTC time, JSON-native values.
        row["at"] = row["at"].astimezone(UTC)
        for name in _JSON:
            row[name] = json.loads(json.dumps(row[name], default=str))
        content = {**row, "at": row["at"].isoformat(timespec="microseconds")}
        before = _canonical_json({name: content[name] for name in _BEFORE_SEQ})
        after = _canonical_json({name: content[name] for name in _AFTER_SEQ})
        # {…before…} and {…after…} joined around "seq": the one sorted object of ``canonical``.
        around.append((f'{before[:-1]},"seq":', f",{after[1:]}"))
        rows.append(row)
    return Prepared(chain, tuple(rows), tuple(around))


def _chained_hash(key: bytes, prev_hash: str, before: str, seq: int, after: str) -> str:
    """Returns ``entry_hash`` of a prepared entry, from the bytes around its sequence number."""
    message = f"{prev_hash}{before}{seq}{after}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


async def append(
    session: AsyncSession | AsyncConnection,
    key: bytes,
    records: Sequence[AuditRecord],
    chain: int | None = None,
) -> None:
    """Appends records to one chain inside the caller's transaction (locking that chain's head)."""
    if records:
        await append_prepared(session, key, prepare(records, chain))


async def append_prepared(
    session: AsyncSession | AsyncConnection, key: bytes, prepared: Prepared
) -> None:
    """Appends prepared records to their chain inside the caller's transaction, under the lock
    of the chain's head (the caller's transaction ends it).

    PostgreSQL: the head is read and locked (``FOR UPDATE``, so concurrent appends to the chain
    queue and it never forks), then one statement advances the head and inserts the entries.
    The key never goes to the server, so the HMAC is computed here, between the two.

    SQLite: the head is read under the write lock the caller took (``BEGIN IMMEDIATE``), the
    entries go in one ``INSERT`` and the head follows. The key stays in this process's Python
    on either database: no SQL function or statement can compute a chain hash."""
    if not prepared.rows:
        return
    started = time.perf_counter()
    connection = session if isinstance(session, AsyncConnection) else await session.connection()
    dialect = connection.dialect.name
    chain = prepared.chain
    head = (await session.execute(_LOCK_HEAD, {"head_chain": chain})).one()
    rows = _chain(key, prepared, head.seq, head.hash)
    moved = _head(chain, rows[-1]["seq"], rows[-1]["hash"])
    if dialect == "postgresql" and len(rows) == 1:
        values = {f"v_{name}": value for name, value in rows[0].items()}
        await session.execute(_INSERT_ONE_ADVANCING_HEAD, {**values, **moved})
    elif dialect == "postgresql" and len(rows) <= _ONE_STATEMENT_ROWS:
        statement = tables.audit_entries.insert().values(rows).add_cte(_ADVANCING_HEAD)
        await session.execute(statement, moved)
    else:
        await session.execute(tables.audit_entries.insert(), rows)
        await session.execute(_ADVANCE, moved)
    AUDIT_APPEND_SECONDS.observe(time.perf_counter() - started)


# PostgreSQL takes at most 32,767 parameters a statement: larger batches (a daily run's, never a
# request's) go in as many rows, then the head.
_ONE_STATEMENT_ROWS = 500


def _chain(key: bytes, prepared: Prepared, seq: int, prev_hash: str) -> list[dict[str, Any]]:
    """Returns the prepared rows chained after a head: sequence numbers, links and hashes."""
    rows = []
    for row, (before, after) in zip(prepared.rows, prepared.around_seq, strict=True):
        seq += 1
        hashed = _chained_hash(key, prev_hash, before, seq, after)
        rows.append({**row, "seq": seq, "prev_hash": prev_hash, "hash": hashed})
        prev_hash = hashed
    return rows


def _head(chain: int, seq: int, last_hash: str) -> dict[str, Any]:
    return {"head_chain": chain, "head_seq": seq, "head_hash": last_hash}


# The statements of an append, built once (an append runs on every request): parameters by name,
# ``head_*`` for the chain's head and ``v_<column>`` for an entry's values.
_HEADS, _ENTRIES = tables.audit_heads, tables.audit_entries
_LOCK_HEAD = (
    select(_HEADS.c.seq, _HEADS.c.hash)
    .where(_HEADS.c.chain == bindparam("head_chain"))
    .with_for_update()
)
_ADVANCE = (
    update(_HEADS)
    .where(_HEADS.c.chain == bindparam("head_chain"))
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
)
# A data-modifying WITH runs whether or not the INSERT refers to it.
_ADVANCING_HEAD = _ADVANCE.returning(_HEADS.c.chain).cte("advanced_head")
_COLUMNS = (*AuditRecord.__dataclass_fields__, "chain", "seq", "prev_hash", "hash")
_INSERT_ONE_ADVANCING_HEAD = (
    insert(_ENTRIES)
    .values({name: bindparam(f"v_{name}", type_=_ENTRIES.c[name].type) for name in _COLUMNS})
    .add_cte(_ADVANCING_HEAD)
)


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
