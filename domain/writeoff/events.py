"""Events of write-off work.

``CaseWrittenOff`` and ``ChargeOffRequested`` are case events (timeline, decisions feed); their
data holds codes, amounts as decimal strings and ids only. ``WriteOffDecided`` is the audit
trail's record of a manager's decision: it carries the reason's free text, so it is never a case
event (never on the timeline or the feed), only recorded through ``uow.record``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.cases.events import CaseEvent


@dataclass(frozen=True, slots=True)
class CaseWrittenOff(CaseEvent):
    """The case's debts were written off: by a manager (``source`` MANAGER, the policy version
    used) or by the core's charge-off (``source`` CHARGE_OFF, ``charge_off_id``)."""

    source: str
    reason_code: str
    amount: str
    currency: str
    policy_version: str | None
    charge_off_id: int | None


@dataclass(frozen=True, slots=True)
class ChargeOffRequested(CaseEvent):
    """A manager's write-off asks the core to book the charge-off (the decisions feed's
    CHARGE_OFF_REQUESTED; one event per decision, as the feed keys a decision by its event)."""

    reason_code: str
    amount: str
    currency: str


@dataclass(frozen=True)
class WriteOffDecided:
    """For the audit trail only: a manager wrote a case off or marked its debt sold, and why."""

    case_id: int
    at: datetime
    actor_id: int | None
    decision: str  # WRITE_OFF or DEBT_SOLD
    reason_code: str | None
    reason_text: str
    changes: dict[str, object]
