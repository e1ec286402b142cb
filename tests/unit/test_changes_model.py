"""The four-eyes rules of a change: never decided by its maker, decided once, effective from a
stated start that is not in the past and never before its approval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.changes.errors import AlreadyDecided, EffectiveTimeInvalid, MakerCannotApprove
from domain.changes.model import ChangeKind, ChangeStatus, RuleChange, effective_start
from domain.errors import ErrorCode, ReasonRequired

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MAKER, CHECKER = 1, 2


def change(kind: ChangeKind = ChangeKind.WATERFALL, start: datetime = NOW) -> RuleChange:
    return RuleChange(kind, "default", {}, "why", start, MAKER, NOW, id=7)


def test_the_maker_cannot_approve_or_reject_their_own_change() -> None:
    with pytest.raises(MakerCannotApprove) as refused:
        change().approve(MAKER, NOW)
    assert refused.value.code == ErrorCode.MAKER_CANNOT_APPROVE
    with pytest.raises(MakerCannotApprove):
        change().reject(MAKER, NOW, "no")


def test_a_second_person_approves_once() -> None:
    made = change(start=NOW + timedelta(days=3))
    made.approve(CHECKER, NOW + timedelta(hours=1))
    assert (made.status, made.decided_by) == (ChangeStatus.APPROVED, CHECKER)
    assert made.effective_from == NOW + timedelta(days=3)  # the stated start stands
    with pytest.raises(AlreadyDecided):
        made.approve(3, NOW)
    with pytest.raises(AlreadyDecided):
        made.reject(3, NOW, "late")


def test_an_approval_after_the_stated_start_takes_effect_at_the_approval() -> None:
    made = change(start=NOW)
    made.approve(CHECKER, NOW + timedelta(hours=2))
    assert made.effective_from == NOW + timedelta(hours=2)


def test_a_role_change_takes_effect_at_its_approval() -> None:
    made = change(ChangeKind.ROLE_GRANT, start=NOW - timedelta(days=1))
    made.approve(CHECKER, NOW)
    assert made.effective_from == NOW


def test_a_rejection_states_its_reason() -> None:
    with pytest.raises(ReasonRequired):
        change().reject(CHECKER, NOW, "  ")
    made = change()
    made.reject(CHECKER, NOW, " too risky ")
    assert (made.status, made.decision_reason) == (ChangeStatus.REJECTED, "too risky")


def test_the_start_may_lag_our_clock_by_a_minute_and_no_more() -> None:
    assert effective_start(NOW - timedelta(minutes=1), NOW) == NOW - timedelta(minutes=1)
    with pytest.raises(EffectiveTimeInvalid) as refused:
        effective_start(NOW - timedelta(minutes=1, microseconds=1), NOW)
    assert refused.value.field == "effectiveFrom"
    with pytest.raises(EffectiveTimeInvalid):
        effective_start(datetime(2026, 3, 3, 9, 0), NOW)
