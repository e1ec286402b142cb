"""Timeline entries: which case events are shown, and summaries without personal data."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from api.timeline.types import TimelineEntry
from domain.cases import events
from domain.complaints import events as complaint_events
from domain.evidence import events as evidence_events
from domain.flags import events as flag_events
from domain.legal import events as legal_events
from domain.notices import events as notice_events
from domain.payments import events as payment_events
from domain.restructuring import events as restructuring_events
from domain.restructuring import plan_events
from domain.strategies import events as strategy_events
from domain.tasks import events as task_events
from domain.timeline.entries import (
    EVENT_KINDS,
    EntryKind,
    contact_summary,
    event_summary,
    payment_summary,
    promise_summary,
    reversal_summary,
)
from domain.writeoff import events as writeoff_events

AT = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def test_the_shown_case_events_are_a_whitelist_of_the_case_s_own_events() -> None:
    assert EVENT_KINDS == {
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
        "EvidencePackGenerated": EntryKind.EVIDENCE_PACK,
        "LegalReferralMade": EntryKind.LEGAL,
        "LegalReferralApproved": EntryKind.LEGAL,
        "LegalReferralRejected": EntryKind.LEGAL,
        "LegalActionRecorded": EntryKind.LEGAL,
        "RestructuringProposed": EntryKind.RESTRUCTURING,
        "RestructuringApproved": EntryKind.RESTRUCTURING,
        "RestructuringRejected": EntryKind.RESTRUCTURING,
        "PlanPaymentCounted": EntryKind.RESTRUCTURING,
        "RestructuringCompleted": EntryKind.RESTRUCTURING,
        "RestructuringBroken": EntryKind.RESTRUCTURING,
        "CaseWrittenOff": EntryKind.WRITTEN_OFF,
        "TaskCompleted": EntryKind.TASK,
        "TaskCancelled": EntryKind.TASK,
        "NoticeSent": EntryKind.NOTICE,
        "NoticeDelivered": EntryKind.NOTICE,
        "NoticeFailed": EntryKind.NOTICE,
        "TreatmentSegmentEntered": EntryKind.TREATMENT,
        "TreatmentStepTaken": EntryKind.TREATMENT,
    }
    modules = (
        events,
        payment_events,
        complaint_events,
        flag_events,
        evidence_events,
        legal_events,
        restructuring_events,
        plan_events,
        writeoff_events,
        task_events,
        notice_events,
        strategy_events,
    )
    for name in EVENT_KINDS:
        kind = next(getattr(m, name) for m in modules if hasattr(m, name))
        assert issubclass(kind, events.CaseEvent)


@pytest.mark.parametrize(
    ("args", "more", "expected"),
    [
        (
            ("PHONE", "OUTBOUND", "BORROWER", "NO_ANSWER"),
            {},
            "PHONE OUTBOUND to BORROWER: NO_ANSWER",
        ),
        (("SMS", "INBOUND", "GUARANTOR", None), {}, "SMS INBOUND from GUARANTOR: in progress"),
        (
            ("PHONE", "OUTBOUND", "BORROWER", "RIGHT_PARTY_CONTACT"),
            {"breaches": ["QUIET_HOURS", "WEEKLY_CALLS"]},
            "PHONE OUTBOUND to BORROWER: RIGHT_PARTY_CONTACT (breached QUIET_HOURS, WEEKLY_CALLS)",
        ),
        (
            ("PHONE", "OUTBOUND", "BORROWER", None),
            {"blocked": True, "rule": "DAILY_ATTEMPTS", "next_allowed_at": AT},
            "PHONE OUTBOUND to BORROWER refused by DAILY_ATTEMPTS; "
            "next allowed 2026-11-29T06:00:00Z",
        ),
        (
            ("FIELD_VISIT", "OUTBOUND", "BORROWER", None),
            {"blocked": True, "rule": "OPTED_OUT"},
            "FIELD_VISIT OUTBOUND to BORROWER refused by OPTED_OUT",
        ),
    ],
)
def test_contact_summaries(
    args: tuple[str, str, str, str | None], more: dict[str, object], expected: str
) -> None:
    assert contact_summary(*args, **more) == expected  # type: ignore[arg-type]


def test_money_summaries_are_exact_to_the_cent() -> None:
    assert promise_summary(Decimal("500"), "CNY", date(2026, 12, 5), "OPEN") == (
        "Promise to pay 500.00 CNY by 2026-12-05: OPEN"
    )
    assert payment_summary(Decimal("0.1"), "USD", "FEED") == "Payment of 0.10 USD received (FEED)"
    assert payment_summary(Decimal("1900"), "CNY", "API", recovery=True) == (
        "Payment of 1900.00 CNY received (API), a recovery after write-off"
    )
    assert reversal_summary(Decimal("99.99"), "CNY") == "Payment of 99.99 CNY reversed"


def test_event_summaries_from_the_events_own_data() -> None:
    assigned = events.CaseAssigned(1, AT, 2, 3, None)
    reassigned = events.CaseAssigned(1, AT, 2, 3, 4)
    placed = events.CasePlaced(1, AT, 2, 5, date(2027, 1, 31), None)
    recalled = events.CaseRecalled(1, AT, 2, 5)
    first = events.CaseReclassified(1, AT, None, 31, "M2", "MODERATE", None, None, "2026.1")
    moved = events.CaseReclassified(1, AT, None, 61, "M3", "MODERATE", "M2", "MODERATE", "2026.1")
    cured = events.CaseTransitioned(
        1, AT, None, "CURE", "OPEN", "CLOSED", "LEGAL", "LEGAL", "CURED"
    )
    escalated = events.CaseTransitioned(
        1, AT, 7, "ESCALATE", "OPEN", "OPEN", "EARLY", "COLLECTION", None
    )
    summaries = [
        event_summary(EVENT_KINDS[e.name], e.data())
        for e in (assigned, reassigned, placed, recalled, first, moved, cured, escalated)
    ]
    assert summaries == [
        "Assigned",
        "Reassigned",
        "Placed with an agency until 2027-01-31",
        "Recalled from the agency",
        "Reclassified unclassified → M2/MODERATE (DPD 31, policy 2026.1)",
        "Reclassified M2/MODERATE → M3/MODERATE (DPD 61, policy 2026.1)",
        "CURE: OPEN/LEGAL → CLOSED/LEGAL (CURED)",
        "ESCALATE: OPEN/EARLY → OPEN/COLLECTION",
    ]


def test_notice_summaries_name_no_text_or_address() -> None:
    sent = notice_events.NoticeSent(1, AT, None, 12, "SMS", "PAYMENT_REMINDER", "2026.1")
    delivered = notice_events.NoticeDelivered(1, AT, 3, 12, "gw-991")
    failed = notice_events.NoticeFailed(1, AT, None, 13, "GATEWAY_REJECTED")
    assert [event_summary(EVENT_KINDS[e.name], e.data()) for e in (sent, delivered, failed)] == [
        "Notice 12 sent by SMS (PAYMENT_REMINDER 2026.1)",
        "Notice 12 delivered",
        "Notice 13 failed (GATEWAY_REJECTED)",
    ]


def test_treatment_summaries_name_the_segment_the_step_and_the_rule() -> None:
    entered = strategy_events.TreatmentSegmentEntered(
        1, AT, None, "STANDARD", "2026.1", "CHAMPION", "MODERATE", "MILD"
    )
    left = strategy_events.TreatmentSegmentEntered(
        1, AT, None, "STANDARD", "2026.2", "CHALLENGER", None, "MILD"
    )
    done = strategy_events.TreatmentStepTaken(
        1, AT, None, "STANDARD", "2026.1", "CHAMPION", "MILD", "MILD_SMS_1", "SMS", "DONE", None
    )
    suppressed = strategy_events.TreatmentStepTaken(
        1, AT, None, "STANDARD", "2026.1", "CHAMPION", "MILD", "MILD_SMS_1", "SMS",
        "SUPPRESSED", "FLAG_DECEASED",
    )  # fmt: skip
    summaries = [
        event_summary(EVENT_KINDS[e.name], e.data()) for e in (entered, left, done, suppressed)
    ]
    assert summaries == [
        "Entered treatment segment MODERATE (STANDARD 2026.1)",
        "Left treatment segment MILD (STANDARD 2026.2 (challenger))",
        "Strategy step MILD_SMS_1 (SMS): DONE",
        "Strategy step MILD_SMS_1 (SMS): SUPPRESSED by FLAG_DECEASED",
    ]


def test_task_summaries_name_the_step_and_why_a_task_was_cancelled() -> None:
    completed = task_events.TaskCompleted(1, AT, 3, 41, "CALL", "MILD_CALL_1")
    cancelled = strategy_events.TaskCancelled(1, AT, None, 41, "CALL", "MILD_CALL_1", "CASE_CLOSED")
    left = strategy_events.TaskCancelled(1, AT, None, 42, "LEGAL_REVIEW", None, "SEGMENT_LEFT")
    assert [event_summary(EVENT_KINDS[e.name], e.data()) for e in (completed, cancelled, left)] == [
        "Task CALL completed (step MILD_CALL_1)",
        "Task CALL cancelled (step MILD_CALL_1): CASE_CLOSED",
        "Task LEGAL_REVIEW cancelled: SEGMENT_LEFT",
    ]


def test_the_api_names_every_entry_kind_front_ends_switch_on() -> None:
    description = TimelineEntry.__strawberry_definition__.description or ""
    named = set(re.findall(r"\b[A-Z][A-Z_]+\b", description))
    assert {kind.value for kind in EntryKind} <= named
