"""What each entry of a case's timeline is called and how it is summarised.

Summaries are short, ordinary text built from codes, amounts, dates and rule names only: never
a contact's notes, a contact point's value, a reversal's free-text reason or anything else
personal. Who acted, and whom a case was given to, are links (``actor``, ``assignee``,
``agency``) that each viewer sees as their scopes allow.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from domain.money import Money
from domain.restructuring.events import summary as restructuring_summary
from domain.restructuring.plan_events import summary as plan_summary


class EntryKind(enum.StrEnum):
    CONTACT = "CONTACT"  # a contact made, in progress, or logged (with any breaches)
    CONTACT_BLOCKED = "CONTACT_BLOCKED"  # an attempt a conduct rule refused
    PROMISE = "PROMISE"
    PAYMENT = "PAYMENT"
    PAYMENT_REVERSED = "PAYMENT_REVERSED"
    PAYMENT_REAPPLIED = "PAYMENT_REAPPLIED"  # applied again after an earlier one was reversed
    ASSIGNED = "ASSIGNED"
    PLACED = "PLACED"
    RECALLED = "RECALLED"
    RECLASSIFIED = "RECLASSIFIED"
    TRANSITION = "TRANSITION"
    COMPLAINT_FILED = "COMPLAINT_FILED"
    COMPLAINT_RESOLVED = "COMPLAINT_RESOLVED"
    BORROWER_FLAGGED = "BORROWER_FLAGGED"
    BORROWER_UNFLAGGED = "BORROWER_UNFLAGGED"
    # Debt handling (issue 11).
    RESTRUCTURING = "RESTRUCTURING"  # proposed, approved, rejected, broken, completed
    LEGAL = "LEGAL"  # referred, referral approved, a legal action's step
    WRITTEN_OFF = "WRITTEN_OFF"
    EVIDENCE_PACK = "EVIDENCE_PACK"  # an evidence pack generated (who, clear or masked)
    # Strategies and notices (issue 12).
    TREATMENT = "TREATMENT"  # a segment entered, a strategy step taken (done, suppressed…)
    NOTICE = "NOTICE"  # a notice sent, delivered or failed
    TASK = "TASK"  # a task completed, or cancelled by the daily run


# The case events the timeline shows, by name (domain.cases.events): a whitelist, so that events
# of other kinds (or of work shown from its own table) never appear twice or unannounced.
EVENT_KINDS: Mapping[str, EntryKind] = {
    "CaseAssigned": EntryKind.ASSIGNED,
    "CasePlaced": EntryKind.PLACED,
    "CaseRecalled": EntryKind.RECALLED,
    "CaseReclassified": EntryKind.RECLASSIFIED,
    "CaseTransitioned": EntryKind.TRANSITION,
    "PaymentReapplied": EntryKind.PAYMENT_REAPPLIED,
    "ComplaintFiled": EntryKind.COMPLAINT_FILED,
    "ComplaintResolved": EntryKind.COMPLAINT_RESOLVED,
    "BorrowerFlagged": EntryKind.BORROWER_FLAGGED,
    "BorrowerUnflagged": EntryKind.BORROWER_UNFLAGGED,
    # Restructuring.
    "PlanPaymentCounted": EntryKind.RESTRUCTURING,
    "RestructuringCompleted": EntryKind.RESTRUCTURING,
    "RestructuringBroken": EntryKind.RESTRUCTURING,
    "RestructuringProposed": EntryKind.RESTRUCTURING,
    "RestructuringApproved": EntryKind.RESTRUCTURING,
    "RestructuringRejected": EntryKind.RESTRUCTURING,
    # Legal escalation.
    "LegalReferralMade": EntryKind.LEGAL,
    "LegalReferralApproved": EntryKind.LEGAL,
    "LegalReferralRejected": EntryKind.LEGAL,
    "LegalActionRecorded": EntryKind.LEGAL,
    # Write-off.
    "CaseWrittenOff": EntryKind.WRITTEN_OFF,
    # Evidence pack.
    "EvidencePackGenerated": EntryKind.EVIDENCE_PACK,
    # Notices: sent by the outbox, delivered or failed (receipts, the gateway).
    "NoticeSent": EntryKind.NOTICE,
    "NoticeDelivered": EntryKind.NOTICE,
    "NoticeFailed": EntryKind.NOTICE,
    # Tasks a strategy gave to people.
    "TaskCompleted": EntryKind.TASK,
    "TaskCancelled": EntryKind.TASK,
    # Treatment: the daily run's segment entries and the steps it took.
    "TreatmentSegmentEntered": EntryKind.TREATMENT,
    "TreatmentStepTaken": EntryKind.TREATMENT,
}


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _money(amount: Decimal, currency: str) -> str:
    return str(Money(amount, currency))  # rounded to the currency's minor unit


def contact_summary(
    channel: str,
    direction: str,
    party: str,
    outcome: str | None,
    *,
    blocked: bool = False,
    rule: str | None = None,
    next_allowed_at: datetime | None = None,
    breaches: Sequence[str] = (),
) -> str:
    """``PHONE OUTBOUND to BORROWER: NO_ANSWER``; a refused attempt names its rule and the next
    allowed instant; a contact that broke rules names them."""
    toward = "to" if direction == "OUTBOUND" else "from"
    head = f"{channel} {direction} {toward} {party}"
    if blocked:
        text = f"{head} refused by {rule or 'a conduct rule'}"
        if next_allowed_at is not None:
            text += f"; next allowed {_instant(next_allowed_at)}"
        return text
    text = f"{head}: {outcome or 'in progress'}"
    if breaches:
        text += f" (breached {', '.join(breaches)})"
    return text


def promise_summary(amount: Decimal, currency: str, due: date, status: str) -> str:
    return f"Promise to pay {_money(amount, currency)} by {due.isoformat()}: {status}"


def payment_summary(amount: Decimal, currency: str, source: str, recovery: bool = False) -> str:
    """A payment received; a recovery (paid on a written-off debt) says so."""
    recovered = ", a recovery after write-off" if recovery else ""
    return f"Payment of {_money(amount, currency)} received ({source}){recovered}"


def reversal_summary(amount: Decimal, currency: str) -> str:
    return f"Payment of {_money(amount, currency)} reversed"


def event_summary(kind: EntryKind, data: Mapping[str, object]) -> str:
    """The summary of a case event from its data (ordinary values only, see CaseEvent.data)."""
    if kind is EntryKind.ASSIGNED:
        return "Reassigned" if data.get("previous_assignee_id") else "Assigned"
    if kind is EntryKind.PLACED:
        return f"Placed with an agency until {data.get('placement_ends_on')}"
    if kind is EntryKind.RECALLED:
        return "Recalled from the agency"
    if kind is EntryKind.PAYMENT_REAPPLIED:
        return "Payment re-applied after an earlier payment was reversed"
    if kind is EntryKind.COMPLAINT_FILED:
        written = "written" if data.get("written") else "oral"
        return f"{data.get('kind')} filed ({written}, by {data.get('channel')})"
    if kind is EntryKind.COMPLAINT_RESOLVED:
        return f"{data.get('kind')} resolved after {data.get('days_to_resolve')} days"
    if kind is EntryKind.BORROWER_FLAGGED:
        review = data.get("review_on")
        return f"Borrower flagged {data.get('flag')}" + (f", review on {review}" if review else "")
    if kind is EntryKind.BORROWER_UNFLAGGED:
        return f"Borrower's flag {data.get('flag')} lifted"
    # Debt handling's entries.
    # Proposed, approved, rejected (by the data's status); None: another slice's event.
    if kind is EntryKind.RESTRUCTURING and (text := restructuring_summary(data)) is not None:
        return text
    # A plan's payments counted, a plan or settlement completed or broken (their own keys).
    if kind is EntryKind.RESTRUCTURING and (text := plan_summary(data)) is not None:
        return text
    if kind is EntryKind.LEGAL:
        return _legal_summary(data)
    if kind is EntryKind.WRITTEN_OFF:
        by = "the core's charge-off" if data.get("source") == "CHARGE_OFF" else "a manager"
        amount = _money(Decimal(str(data.get("amount"))), str(data.get("currency")))
        return f"Written off by {by}: {amount} ({data.get('reason_code')}); recovery continues"
    if kind is EntryKind.TASK:
        step = f" (step {data.get('step')})" if data.get("step") else ""
        if "reason" in data:  # TaskCancelled: the reason is a code (CASE_CLOSED, SEGMENT_LEFT)
            return f"Task {data.get('kind')} cancelled{step}: {data.get('reason')}"
        return f"Task {data.get('kind')} completed{step}"
    if kind is EntryKind.NOTICE:
        return _notice_summary(data)
    if kind is EntryKind.TREATMENT:
        return _treatment_summary(data)
    if kind is EntryKind.EVIDENCE_PACK:
        shown = "personal data in clear" if data.get("clear") else "personal data masked"
        return f"Evidence pack generated ({shown}), SHA-256 {str(data.get('sha256'))[:12]}…"
    if kind is EntryKind.RECLASSIFIED:
        before = (
            f"{data.get('previous_bucket')}/{data.get('previous_classification')}"
            if data.get("previous_bucket")
            else "unclassified"
        )
        return (
            f"Reclassified {before} → {data.get('bucket')}/{data.get('classification')} "
            f"(DPD {data.get('days_past_due')}, policy {data.get('policy_version')})"
        )
    text = (
        f"{data.get('trigger')}: {data.get('from_status')}/{data.get('from_stage')} → "
        f"{data.get('to_status')}/{data.get('to_stage')}"
    )
    reason = data.get("close_reason") or data.get("hold_reason")
    return f"{text} ({reason})" if reason else text


def _notice_summary(data: Mapping[str, object]) -> str:
    """A notice sent (channel, template and version), delivered or failed (the reason): never
    its text or address."""
    notice = f"Notice {data.get('notice_id')}"
    if "template" in data:
        return (
            f"{notice} sent by {data.get('channel')} "
            f"({data.get('template')} {data.get('template_version')})"
        )
    if "reason" in data:
        return f"{notice} failed ({data.get('reason')})"
    return f"{notice} delivered"


def _treatment_summary(data: Mapping[str, object]) -> str:
    """A segment entered (or left for none), or a strategy step taken and what became of it."""
    strategy = f"{data.get('strategy')} {data.get('version')}"
    if data.get("variant") == "CHALLENGER":
        strategy += " (challenger)"
    if "step" not in data:
        if data.get("segment") is None:
            return f"Left treatment segment {data.get('previous_segment')} ({strategy})"
        return f"Entered treatment segment {data.get('segment')} ({strategy})"
    text = f"Strategy step {data.get('step')} ({data.get('action')}): {data.get('status')}"
    return f"{text} by {data.get('rule')}" if data.get("rule") else text


def _legal_summary(data: Mapping[str, object]) -> str:
    """A legal referral (by its status after the event) or a legal action's step."""
    if "step" in data:
        text = f"Legal action {data.get('kind')}: {data.get('step')} on {data.get('occurred_on')}"
        if data.get("amount") is not None:
            text += f", {_money(Decimal(str(data.get('amount'))), str(data.get('currency')))}"
        return text
    status = data.get("status")
    if status == "APPROVED":
        return f"Legal referral approved: {data.get('from_stage')} → LEGAL"
    if status == "REJECTED":
        return "Legal referral rejected"
    return f"Referred to legal (policy {data.get('policy_version')}); awaiting approval"
