"""Restructuring events: the stated reason rides on the event for the audit entry and never
reaches its data (timeline, decisions feed); the timeline's summaries by status."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.restructuring.events import (
    RestructuringApproved,
    RestructuringProposed,
    RestructuringRejected,
    summary,
)
from domain.timeline.entries import EntryKind, event_summary

AT = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def proposed(**terms: object) -> RestructuringProposed:
    values: dict[str, object] = {
        "settlement_amount": None,
        "settle_by": None,
        "waiver_amount": None,
        "instalment_count": 0,
        "instalment_total": None,
        **terms,
    }
    return RestructuringProposed(
        1, AT, 2, 3, str(values.pop("kind")), "PROPOSED", "CNY", "20970.50",
        str(values.pop("concession")), "2970.50", required_authority="manager",
        limits_version="default@builtin", reason_text="the borrower's mother is ill",
        **values,  # type: ignore[arg-type]
    )  # fmt: skip


def test_the_reason_is_the_audits_never_the_datas() -> None:
    event = proposed(
        kind="SETTLEMENT",
        concession="2970.50",
        settlement_amount="18000.00",
        settle_by="2026-12-31",
    )
    assert event.reason_text == "the borrower's mother is ill"
    data = event.data()
    assert "reason_text" not in data
    assert "ill" not in str(data)
    rejected = RestructuringRejected(
        1, AT, 4, 3, "SETTLEMENT", "REJECTED", 2, "team_lead", "default@builtin", "too generous"
    )
    assert rejected.data() == {
        "restructuring_id": 3, "kind": "SETTLEMENT", "status": "REJECTED", "proposed_by": 2,
        "authority": "team_lead", "limits_version": "default@builtin",
    }  # fmt: skip
    assert "reason_text" in RestructuringApproved.__slots__


def test_summaries_by_status() -> None:
    settlement = proposed(
        kind="SETTLEMENT",
        concession="2970.50",
        settlement_amount="18000.00",
        settle_by="2026-12-31",
    )
    assert event_summary(EntryKind.RESTRUCTURING, settlement.data()) == (
        "SETTLEMENT proposed: 18000.00 CNY by 2026-12-31, discount 2970.50 CNY (needs manager)"
    )
    plan = proposed(
        kind="INSTALMENT_PLAN", concession="120.50", waiver_amount="120.50",
        instalment_count=3, instalment_total="20850.00",
    )  # fmt: skip
    assert summary(plan.data()) == (
        "INSTALMENT_PLAN proposed: 3 instalments, 20850.00 CNY, penalty of 120.50 CNY waived "
        "(needs manager)"
    )
    approved = {**plan.data(), "status": "ACTIVE", "authority": "team_lead"}
    assert summary(approved) == (
        "INSTALMENT_PLAN approved: 3 instalments, 20850.00 CNY, penalty of 120.50 CNY waived "
        "(by team_lead)"
    )
    assert summary({"kind": "PENALTY_WAIVER", "status": "REJECTED"}) == "PENALTY_WAIVER rejected"
    # Another slice's restructuring events (broken, completed) are not these summaries'.
    assert summary({"kind": "INSTALMENT_PLAN", "status": "BROKEN"}) is None
