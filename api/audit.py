"""Building audit records for the current request, and writing the ones that stand alone
(through a unit of work of their own: only the unit of work commits)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from api.changes.audit import change_record
from api.common.ids import to_global_id
from api.contacts.audit import contact_record
from api.flags.audit import flag_record
from api.legal.audit import legal_record
from api.restructuring.audit import restructuring_record
from api.retention.audit import legal_hold_record
from api.tasks.audit import task_record
from api.warnings.audit import warning_record
from api.writeoff.audit import write_off_record
from domain.allocation.events import CasesAllocated
from domain.arrangements.events import PromiseRecorded
from domain.borrowers.events import ConfidentialValueRevealed
from domain.cases.events import (
    CaseAssigned,
    CaseEvent,
    CasePlaced,
    CaseRecalled,
    CaseTransitioned,
)
from domain.clock import Clock
from domain.complaints.events import ComplaintFiled, ComplaintResolved
from domain.errors import DomainError
from domain.notices.events import NoticeDelivered, NoticeFailed
from domain.payments.events import PaymentPosted, PaymentReversed
from domain.staff.events import RolesChanged
from domain.staff.model import Staff
from store.audit import AuditAction, AuditRecord, Outcome
from store.db import Sessions
from store.uow import SqlUnitOfWork

_CASE_ACTIONS: dict[type[CaseEvent], AuditAction] = {
    CaseAssigned: AuditAction.CASE_ASSIGN,
    CasePlaced: AuditAction.CASE_PLACE,
    CaseRecalled: AuditAction.CASE_RECALL,
    PaymentPosted: AuditAction.PAYMENT_POST,
    PaymentReversed: AuditAction.PAYMENT_REVERSE,
    PromiseRecorded: AuditAction.PROMISE_RECORD,
    ComplaintFiled: AuditAction.COMPLAINT_FILE,
    ComplaintResolved: AuditAction.COMPLAINT_RESOLVE,
    # A delivery receipt that moved a notice (recordNoticeDelivery).
    NoticeDelivered: AuditAction.NOTICE_DELIVERY,
    NoticeFailed: AuditAction.NOTICE_DELIVERY,
}

# Life-cycle moves that are a request's own change (holdCase, resumeCase); the others are
# recorded by the entry of the change that made them (a payment's cure, a write-off).
_TRANSITION_ACTIONS: dict[str, AuditAction] = {
    "HOLD": AuditAction.CASE_HOLD,
    "RESUME": AuditAction.CASE_RESUME,
}


@dataclass
class RequestInfo:
    """Who is asking, from where, with what operation (never a confidential value)."""

    request_id: str
    client_ip: str | None
    user_agent: str | None
    operation_name: str | None = None
    operation_type: str | None = None
    document_hash: str | None = None

    def set_document(
        self, key: bytes, query: str | None, operation_name: str | None, kind: str
    ) -> None:
        self.operation_name = (operation_name or "")[:120] or None
        self.operation_type = kind
        # Keyed, so that a document quoting a confidential value cannot be confirmed by
        # hashing guesses (the hash of a known template is otherwise easy to brute-force).
        self.document_hash = hmac.new(key, (query or "").encode(), hashlib.sha256).hexdigest()


class RequestAudit:
    """Makes audit records for one request and writes stand-alone ones in their own transaction."""

    def __init__(
        self,
        key: bytes,
        sessions: Sessions,
        clock: Clock,
        info: RequestInfo,
        actor: Staff | None,
    ) -> None:
        self.key = key
        self.sessions = sessions
        self.clock = clock
        self.info = info
        self.actor = actor
        self.enabled = True
        self.outcome: str = Outcome.ALLOWED
        self.entries_written = 0
        self.pending: list[AuditRecord] = []
        self._borrower_fields: dict[int, dict[str, bool]] = {}
        self._case_ids: set[int] = set()
        self._read_action = AuditAction.API_READ
        self._read_changes: dict[str, Any] | None = None

    def saw_borrower_field(self, borrower_id: int, name: str, clear: bool) -> None:
        """Notes that a confidential field of a borrower was returned (masked or clear)."""
        seen = self._borrower_fields.setdefault(borrower_id, {})
        seen[name] = seen.get(name, False) or clear

    def saw_cases(self, case_ids: Sequence[int]) -> None:
        """Notes cases returned by the request."""
        self._case_ids.update(case_ids)
        if self._read_action == AuditAction.API_READ:
            self._read_action = AuditAction.CASE_READ

    def read_decisions(
        self, case_ids: Sequence[int], count: int, sequences: tuple[int, int] | None
    ) -> None:
        """Notes a page of the decisions feed: its cases, how many, and from which to which."""
        self._case_ids.update(case_ids)
        self._read_action = AuditAction.DECISION_READ
        first, last = sequences or (None, None)
        self._read_changes = {"decisions": count, "firstSequence": first, "lastSequence": last}

    def read_audit_trail(self) -> None:
        """Notes that the request reads the audit trail itself."""
        self._read_action = AuditAction.AUDIT_READ

    def denied(self, permission: str, field_name: str) -> None:
        """Notes an authorisation denial (written with the request's entry)."""
        resource = permission.partition(":")[0]
        self.pending.append(
            self.record(
                AuditAction.AUTHZ_DENIED,
                Outcome.DENIED,
                resource_type=resource,
                changes={"permission": permission, "field": field_name},
            )
        )

    def request_entry(self, outcome: str) -> AuditRecord | None:
        """Returns the entry for the request as a whole: what it read, and how it ended.

        Mutation requests are recorded by their change or failure entries; they get a read
        entry only if their response carried borrower personal data."""
        personal = bool(self._borrower_fields)
        mutation = self.info.operation_type == "mutation"
        if (
            mutation
            and not personal
            and outcome != Outcome.ERROR
            and (self.entries_written or self.pending)
        ):
            return None  # the change or failure entries already record this request
        fields: dict[str, bool] = {}
        for seen in self._borrower_fields.values():
            for name, clear in seen.items():
                fields[name] = fields.get(name, False) or clear
        action = self._read_action
        if personal and action == AuditAction.API_READ:
            action = AuditAction.CASE_READ
        elif mutation and action == AuditAction.API_READ:
            action = AuditAction.API_WRITE  # a mutation that changed nothing (a no-op or a replay)
        return self.record(
            action,
            outcome,
            resource_type="Case" if self._case_ids else None,
            # Every one of them: an access the trail leaves out is an access nobody can find
            # (the cost limit bounds how many a request can read).
            resource_ids=[to_global_id("Case", pk) for pk in sorted(self._case_ids)],
            case_ids=sorted(self._case_ids),
            borrower_ids=sorted(self._borrower_fields),
            fields=[{"name": n, "clear": c} for n, c in sorted(fields.items())],
            changes=self._read_changes,
        )

    def record(self, action: str, outcome: str, **details: Any) -> AuditRecord:
        """Returns a record of an action by the current actor in this request."""
        actor = self.actor
        return AuditRecord(
            at=self.clock.now(),
            action=action,
            outcome=outcome,
            actor_id=actor.id if actor else None,
            actor_login=actor.login if actor else details.pop("actor_login", None),
            actor_roles=list(actor.roles) if actor else [],
            actor_agency_id=actor.agency_id if actor else None,
            request_id=self.info.request_id,
            client_ip=self.info.client_ip,
            user_agent=(self.info.user_agent or "")[:300] or None,
            operation_name=self.info.operation_name,
            operation_type=self.info.operation_type,
            document_hash=self.info.document_hash,
            **details,
        )

    def for_changes(self, events: Sequence[Any]) -> tuple[bytes, list[AuditRecord]]:
        """Returns the records of a unit of work's domain events (its commit hook)."""
        records = []
        for event in events:
            if isinstance(event, RolesChanged):
                assert event.staff_id is not None
                records.append(
                    self.record(
                        AuditAction.POLICY_CHANGE,
                        Outcome.ALLOWED,
                        resource_type="Staff",
                        resource_ids=[to_global_id("Staff", event.staff_id)],
                        changes={
                            "roles": {
                                "before": list(event.roles_before),
                                "after": list(event.roles_after),
                            }
                        },
                    )
                )
            elif type(event) in _CASE_ACTIONS or (
                isinstance(event, CaseTransitioned) and event.trigger in _TRANSITION_ACTIONS
            ):
                assert event.case_id is not None
                data = event.data()
                action = (
                    _TRANSITION_ACTIONS[event.trigger]
                    if isinstance(event, CaseTransitioned)
                    else _CASE_ACTIONS[type(event)]
                )
                records.append(
                    self.record(
                        action,
                        Outcome.ALLOWED,
                        resource_type="Case",
                        resource_ids=[to_global_id("Case", event.case_id)],
                        case_ids=[event.case_id],
                        changes=data,
                    )
                )
            elif isinstance(event, CasesAllocated):
                # One entry for the whole allocation, naming every case it assigned.
                records.append(
                    self.record(
                        AuditAction.CASE_ALLOCATE,
                        Outcome.ALLOWED,
                        resource_type="Case",
                        resource_ids=[to_global_id("Case", pk) for pk in event.case_ids],
                        case_ids=event.case_ids,
                        changes=event.data(),
                    )
                )
            elif isinstance(event, ConfidentialValueRevealed):
                records.append(
                    self.record(
                        AuditAction.BORROWER_REVEAL,
                        Outcome.ALLOWED,
                        resource_type="Borrower",
                        resource_ids=[to_global_id("Borrower", event.borrower_id)],
                        borrower_ids=[event.borrower_id],
                        fields=[{"name": event.field.value, "clear": True}],
                        reason_code=event.reason.value,
                        reason_text=event.reason_text,
                    )
                )
            elif (contact := contact_record(self.record, event)) is not None:
                records.append(contact)
            elif (warning := warning_record(self.record, event)) is not None:
                records.append(warning)
            elif (flag := flag_record(self.record, event)) is not None:
                records.append(flag)
            elif (written_off := write_off_record(self.record, event)) is not None:
                records.append(written_off)
            elif (rule_change := change_record(self.record, event)) is not None:
                records.append(rule_change)
            elif (legal := legal_record(self.record, event)) is not None:
                records.append(legal)
            elif (restructuring := restructuring_record(self.record, event)) is not None:
                records.append(restructuring)
            elif (task := task_record(self.record, event)) is not None:
                records.append(task)
            elif (hold := legal_hold_record(self.record, event)) is not None:
                records.append(hold)
        self.entries_written += len(records)
        return self.key, records

    async def finish(self, outcome: str) -> None:
        """Writes the request's entry and pending denials (before the response is sent)."""
        entry = self.request_entry(outcome) if self.enabled else None
        records = [*self.pending, *([entry] if entry else [])]
        self.pending = []
        await self.write(*records)

    async def refused(
        self,
        action: AuditAction,
        error: DomainError,
        *,
        resource_type: str,
        resource_id: int | None = None,
        **details: Any,
    ) -> None:
        """Writes the entry of a refused change: the change itself rolled back, so this entry
        is all that remains of it. Only an ID that decoded is recorded (the raw input is the
        caller's to choose); ``changes`` carries the refusal code and any ``details``."""
        ids = [to_global_id(resource_type, resource_id)] if resource_id is not None else []
        case_ids = [resource_id] if resource_type == "Case" and resource_id is not None else []
        changes = {**details.pop("changes", {}), "refused": str(error.code)}
        await self.write(
            self.record(
                action,
                Outcome.DENIED,
                resource_type=resource_type,
                resource_ids=ids,
                case_ids=case_ids,
                changes=changes,
                **details,
            )
        )

    async def write(self, *records: AuditRecord) -> None:
        """Appends records in a transaction of their own, all in one batch (one chain, one
        ``INSERT``), under a write lock taken only once they are ready to append."""
        if not records:
            return
        self.entries_written += len(records)
        async with SqlUnitOfWork(self.sessions, records_only=True) as uow:
            uow.append_audit(self.key, *records)
            await uow.commit()
