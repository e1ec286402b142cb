"""Events of legal escalation: case events (the timeline, the audit trail, the decisions feed).

Their data hold ids, codes, dates and amounts only. A referral's reason is free text: it travels
with the event for the audit entry (``reason_text``) and is left out of ``data()``, so it never
reaches the timeline or the decisions feed."""

from __future__ import annotations

from dataclasses import dataclass, fields

from domain.cases.events import CaseEvent


@dataclass(frozen=True, slots=True)
class _Referral(CaseEvent):
    referral_id: int
    status: str  # PENDING, APPROVED or REJECTED: the referral after the event
    referred_by: int
    policy_version: str  # the legal policy the conditions were checked by (e.g. "CN@builtin")
    reason_text: str  # audit only (see the module's docstring)

    def data(self) -> dict[str, object]:
        # Every field of the subclass too (``CaseEvent.data`` reads one class's slots).
        skip = {"case_id", "at", "actor_id", "reason_text"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


@dataclass(frozen=True, slots=True)
class LegalReferralMade(_Referral):
    pass


@dataclass(frozen=True, slots=True)
class LegalReferralApproved(_Referral):
    from_stage: str
    previous_assignee_id: int | None
    recalled_agency_id: int | None


@dataclass(frozen=True, slots=True)
class LegalReferralRejected(_Referral):
    pass


@dataclass(frozen=True, slots=True)
class LegalActionRecorded(CaseEvent):
    action_id: int
    kind: str
    step: str
    occurred_on: str
    amount: str | None
    currency: str | None
