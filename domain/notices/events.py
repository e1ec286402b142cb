"""Events of notices: case events (the timeline, the audit trail). Their data never holds a body,
an address or a name: ids, channels, template names and rule names only."""

from __future__ import annotations

from dataclasses import dataclass

from domain.cases.events import CaseEvent


@dataclass(frozen=True, slots=True)
class NoticeSent(CaseEvent):
    """The outbox handed a notice to the gateway (``arrears outbox``)."""

    notice_id: int
    channel: str
    template: str
    template_version: str


@dataclass(frozen=True, slots=True)
class NoticeDelivered(CaseEvent):
    """A delivery receipt said the notice reached its recipient."""

    notice_id: int
    provider_ref: str | None


@dataclass(frozen=True, slots=True)
class NoticeFailed(CaseEvent):
    """The notice will not reach its recipient: the gateway refused it for good or its
    attempts ran out (``GATEWAY_REJECTED``), no approved template has a text for it
    (``NO_APPROVED_TEMPLATE``), its template version failed to render it (``RENDER_FAILED``),
    or a delivery receipt said it failed (``UNDELIVERED``)."""

    notice_id: int
    reason: str
