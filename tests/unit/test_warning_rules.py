"""The early-warning rules as data, the warning's life cycle, and the checks on a signal, with
plain values (the raising itself is SQL: tests/e2e/test_warnings_raising.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from domain.clock import FixedClock
from domain.errors import DomainError, ErrorCode, TextTooLong
from domain.warnings import errors, services
from domain.warnings.model import MAX_NOTE, EarlyWarning, WarningStatus, handling_note
from domain.warnings.ports import WarningUnitOfWork
from domain.warnings.rules import (
    DEFAULT_RULES,
    FAILED_OUTCOMES,
    RuleName,
    Severity,
    SignalKind,
    WarningRules,
)

AT = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def raised() -> EarlyWarning:
    return EarlyWarning(
        id=1,
        case_id=2,
        borrower_id=3,
        rule="RISING_DPD",
        rule_version="2026.1",
        cause="bucket:M3",
        severity="MEDIUM",
        status=WarningStatus.RAISED,
        reason="…",
        raised_at=AT,
    )


def test_default_rules_name_every_rule_once_with_its_threshold_and_severity() -> None:
    assert [rule.name for rule in DEFAULT_RULES.rules] == list(RuleName)
    table = {
        rule.name.value: (rule.threshold_text(), rule.severity.value)
        for rule in DEFAULT_RULES.rules
    }
    assert table == {
        "MISSED_FIRST_PAYMENT": ("1", "HIGH"),
        "CONSECUTIVE_LATE_INSTALMENTS": ("2", "MEDIUM"),
        "PARTIAL_PAYMENTS": ("2", "LOW"),
        "BROKEN_PROMISES": ("2 in 90 days", "HIGH"),
        "REPEATED_FAILED_CONTACT": ("5", "MEDIUM"),
        "RISING_DPD": ("1", "MEDIUM"),
        "LARGE_OUTSTANDING": ("CNY 100,000.00, USD 15,000.00", "HIGH"),
        "EXTERNAL_SIGNAL": ("30", "MEDIUM"),
        "FLAG_REVIEW_DUE": ("1", "LOW"),
    }
    assert all(rule.explanation.endswith(".") for rule in DEFAULT_RULES.rules)
    assert FAILED_OUTCOMES == (
        "BUSY_OR_NOT_CONNECTED",
        "FAILED",
        "LEFT_MESSAGE",
        "NO_ANSWER",
        "WRONG_NUMBER",
    )


def test_a_rule_set_refuses_nonsense() -> None:
    rule = DEFAULT_RULES.rules[0]
    with pytest.raises(ValueError, match="one rule per name"):
        WarningRules("x", (rule, rule))
    with pytest.raises(ValueError, match="at least 1"):
        WarningRules("x", (replace(rule, threshold=0),))
    with pytest.raises(ValueError, match="window"):
        WarningRules("x", (replace(rule, window_days=0),))
    with pytest.raises(ValueError, match="above zero"):
        WarningRules("x", (replace(rule, amounts={"CNY": Decimal("0")}),))
    partial = WarningRules("x", (rule,))
    assert partial.get(RuleName.MISSED_FIRST_PAYMENT) is rule
    assert partial.get(RuleName.RISING_DPD) is None


def test_acknowledge_then_handle_records_each_step() -> None:
    warning = raised()
    warning.acknowledge(7, AT)
    assert (warning.status, warning.acknowledged_by, warning.acknowledged_at) == (
        WarningStatus.ACKNOWLEDGED,
        7,
        AT,
    )
    with pytest.raises(errors.WarningAlreadyAcknowledged):
        warning.acknowledge(8, AT)
    later = AT + timedelta(hours=1)
    warning.handle(8, later, "called")
    assert (warning.status, warning.handled_by, warning.handled_at, warning.note) == (
        WarningStatus.HANDLED,
        8,
        later,
        "called",
    )
    assert warning.acknowledged_by == 7  # the first step stays recorded
    for step in (lambda: warning.acknowledge(9, later), lambda: warning.handle(9, later, None)):
        with pytest.raises(errors.WarningAlreadyHandled) as refused:
            step()
        assert refused.value.code == ErrorCode.WARNING_ALREADY_HANDLED


def test_handle_may_skip_the_acknowledgement() -> None:
    warning = raised()
    warning.handle(7, AT, None)
    assert (warning.status, warning.acknowledged_by, warning.note) == (
        WarningStatus.HANDLED,
        None,
        None,
    )


def test_a_note_is_trimmed_and_at_most_the_limit() -> None:
    assert handling_note("  done \n") == "done"
    assert handling_note("   ") is None
    assert handling_note(None) is None
    assert handling_note("x" * MAX_NOTE) == "x" * MAX_NOTE
    with pytest.raises(TextTooLong) as refused:
        handling_note("x" * (MAX_NOTE + 1))
    assert (refused.value.code, refused.value.field) == (ErrorCode.TEXT_TOO_LONG, "note")


def request(**changes: object) -> services.SignalRequest:
    base = services.SignalRequest(
        borrower_id=1,
        borrower_external_id=None,
        kind=SignalKind.JOB_LOSS,
        severity=Severity.HIGH.value,
        details="laid off",
        actor_id=5,
        idempotency_key="k",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def never() -> WarningUnitOfWork:
    raise AssertionError("a refused signal opens no unit of work")


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"borrower_id": None}, ErrorCode.INVALID_INPUT, "borrowerId"),
        ({"borrower_external_id": "B-1"}, ErrorCode.INVALID_INPUT, "borrowerId"),
        ({"details": "d" * (services.MAX_DETAILS + 1)}, ErrorCode.TEXT_TOO_LONG, "details"),
    ],
)
async def test_a_signal_is_checked_before_anything_is_done(
    changes: dict[str, object], code: ErrorCode, field: str
) -> None:
    with pytest.raises(DomainError) as refused:
        await services.post_external_signal(never, FixedClock(AT), request(**changes))
    assert (refused.value.code, refused.value.field) == (code, field)


def test_a_retry_is_the_same_request_whatever_its_key() -> None:
    assert request().digest() == request(idempotency_key="other").digest()
    assert request().digest() != request(severity="LOW").digest()
    assert request().digest() != request(details="laid off.").digest()
    assert request().digest() != request(kind=SignalKind.INCOME_DROP).digest()


def test_the_api_guide_tabulates_the_default_rules() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "API.md").read_text()
    section = guide.split("## Early warning", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| `")]
    documented = {
        row[0].strip("| `"): (row[1], row[2], row[3])
        for row in rows
        if row[0].strip("| `") in RuleName.__members__
    }
    assert documented == {
        rule.name.value: (
            rule.explanation,
            rule.threshold_text(),
            "the signal's" if rule.name == RuleName.EXTERNAL_SIGNAL else rule.severity.value,
        )
        for rule in DEFAULT_RULES.rules
    }
