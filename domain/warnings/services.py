"""Use cases on warnings: acknowledging and handling one, and taking a partner's signal."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from domain.borrowers.errors import BorrowerNotFound
from domain.cases.model import Case
from domain.clock import Clock
from domain.errors import ConcurrencyConflict, InvalidInput, TextTooLong
from domain.warnings import errors
from domain.warnings.events import ExternalSignalPosted, WarningAcknowledged, WarningHandled
from domain.warnings.model import EarlyWarning, handling_note
from domain.warnings.ports import NewSignal, WarningUnitOfWork
from domain.warnings.rules import DEFAULT_RULES, Severity, SignalKind, WarningRules

# How long a signal's details may be: a partner's summary, not a report.
MAX_DETAILS = 2000

UnitsOfWork = Callable[[], WarningUnitOfWork]


async def _locked(
    uow: WarningUnitOfWork, warning_id: int, expected_version: int | None
) -> tuple[EarlyWarning, Case]:
    """Returns the warning, read again once its case is locked, and the case; refuses one the
    caller cannot see (or that does not exist) and a stale ``expected_version``."""
    warning = await uow.warnings.get(warning_id)
    case = await uow.cases.get(warning.case_id) if warning is not None else None
    if warning is None or case is None:
        raise errors.WarningNotFound("no such warning", field="warningId")
    warning = await uow.warnings.get(warning_id)  # current now that its case is locked
    if warning is None:
        raise errors.WarningNotFound("no such warning", field="warningId")
    if expected_version is not None and warning.version != expected_version:
        raise ConcurrencyConflict(
            f"the warning is at version {warning.version}, not {expected_version}",
            field="expectedVersion",
        )
    return warning, case


async def acknowledge(
    uow_factory: UnitsOfWork,
    clock: Clock,
    warning_id: int,
    actor_id: int | None,
    expected_version: int | None = None,
) -> EarlyWarning:
    """Acknowledges a RAISED warning on a case the caller can see."""
    async with uow_factory() as uow:
        warning, case = await _locked(uow, warning_id, expected_version)
        now = clock.now()
        warning.acknowledge(actor_id, now)
        await uow.warnings.save(warning)
        case.events.append(
            WarningAcknowledged(warning.case_id, now, actor_id, warning.id, warning.rule)
        )
        await uow.commit()
        return warning


async def handle(
    uow_factory: UnitsOfWork,
    clock: Clock,
    warning_id: int,
    actor_id: int | None,
    note: str | None,
    expected_version: int | None = None,
) -> EarlyWarning:
    """Handles a RAISED or ACKNOWLEDGED warning on a case the caller can see, with a note of
    what was done."""
    text = handling_note(note)
    async with uow_factory() as uow:
        warning, case = await _locked(uow, warning_id, expected_version)
        now, previous = clock.now(), warning.status
        warning.handle(actor_id, now, text)
        await uow.warnings.save(warning)
        case.events.append(
            WarningHandled(
                warning.case_id, now, actor_id, warning.id, warning.rule, previous, text is not None
            )
        )
        await uow.commit()
        return warning


@dataclass(frozen=True)
class SignalRequest:
    """A partner's signal as posted: the borrower by id or by the core's external id."""

    borrower_id: int | None
    borrower_external_id: str | None
    kind: SignalKind
    severity: str
    details: str
    actor_id: int | None
    idempotency_key: str | None = None

    def digest(self) -> str:
        """A digest of every field but the key: a retry with the key must be this request."""
        fields = {k: v for k, v in asdict(self).items() if k != "idempotency_key"}
        text = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class SignalResult:
    signal_id: int
    borrower_id: int
    kind: str
    severity: str
    received_at: datetime
    warning_ids: tuple[int, ...]


def _checked(request: SignalRequest) -> SignalRequest:
    if (request.borrower_id is None) == (request.borrower_external_id is None):
        raise InvalidInput("give exactly one of borrowerId and borrowerExternalId", "borrowerId")
    if request.severity not in Severity.__members__:
        raise InvalidInput("unknown severity", field="severity")
    if len(request.details) > MAX_DETAILS:
        raise TextTooLong(f"the details are longer than {MAX_DETAILS} characters", field="details")
    return request


async def post_external_signal(
    uow_factory: UnitsOfWork,
    clock: Clock,
    request: SignalRequest,
    *,
    at: datetime | None = None,
    rules: WarningRules = DEFAULT_RULES,
) -> SignalResult:
    """Stores a partner's signal about a borrower the caller can see and raises its
    EXTERNAL_SIGNAL warning at once on each of the borrower's open cases in the caller's scope."""
    _checked(request)
    now = at or clock.now()
    async with uow_factory() as uow:
        borrower_id = await uow.warnings.borrower_id(
            request.borrower_id, request.borrower_external_id
        )
        if borrower_id is None:
            field = "borrowerId" if request.borrower_id is not None else "borrowerExternalId"
            raise BorrowerNotFound("no such borrower", field=field)
        signal_id = await uow.warnings.add_signal(
            NewSignal(
                borrower_id=borrower_id,
                kind=request.kind,
                severity=request.severity,
                details=request.details,
                received_at=now,
                posted_by=request.actor_id,
                idempotency_key=request.idempotency_key,
                request_digest=request.digest() if request.idempotency_key else None,
            )
        )
        raised = await uow.warnings.raise_for_signal(signal_id, rules, now)
        uow.record(
            ExternalSignalPosted(
                signal_id,
                borrower_id,
                request.kind,
                request.severity,
                now,
                request.actor_id,
                tuple(r.case_id for r in raised),
                tuple(r.warning_id for r in raised),
            )
        )
        await uow.commit()
    return SignalResult(
        signal_id,
        borrower_id,
        request.kind,
        request.severity,
        now,
        tuple(r.warning_id for r in raised),
    )
