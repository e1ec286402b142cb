"""The reveal use case, driven to each refusal and to the hourly limit's boundary, with fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.borrowers import errors
from domain.borrowers.events import ConfidentialValueRevealed
from domain.borrowers.model import Borrower, ConfidentialField, RevealReason
from domain.borrowers.services import RevealRequest, reveal_confidential
from domain.clock import FixedClock
from domain.errors import MAX_REASON, ReasonRequired, ReasonTooLong
from tests.unit.fakes import FakeUnitOfWork

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ACTOR = 7


def _borrower() -> Borrower:
    return Borrower(
        full_name="王伟",
        national_id="110101199003077777",
        phone="18612344530",
        email="wang.wei@example.com",
        address="北京市朝阳区建国路1号",
        city="北京市",
        district="朝阳区",
        employer="Acme",
        income=Decimal("12000.00"),
        id=1,
    )


def _request(
    field: ConfidentialField = ConfidentialField.PHONE, reason: str = "call"
) -> RevealRequest:
    return RevealRequest(ACTOR, 1, field, RevealReason.CONTACT_BORROWER, reason)


async def _reveal(uow: FakeUnitOfWork, request: RevealRequest, **kwargs: object) -> str:
    options: dict[str, object] = {"may_reveal": True, "limit_per_hour": 3, **kwargs}
    return await reveal_confidential(uow.factory, FixedClock(NOW), request, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (ConfidentialField.PHONE, "18612344530"),
        (ConfidentialField.NATIONAL_ID, "110101199003077777"),
        (ConfidentialField.INCOME, "12000.00 CNY"),
    ],
)
async def test_a_reveal_returns_the_value_and_records_the_event_once(
    field: ConfidentialField, expected: str
) -> None:
    uow = FakeUnitOfWork([], [], [], [_borrower()])
    assert await _reveal(uow, _request(field, "  to call about the arrears  ")) == expected
    assert uow.commit_count == 1
    assert uow.recorded == [
        ConfidentialValueRevealed(
            1, NOW, ACTOR, field, RevealReason.CONTACT_BORROWER, "to call about the arrears"
        )
    ]


@pytest.mark.parametrize(
    ("borrowers", "may_reveal", "reason", "refusal"),
    [
        ([], True, "call", errors.BorrowerNotFound),
        # An unseen borrower is absent even to a caller who may not reveal: nothing leaks.
        ([], False, "", errors.BorrowerNotFound),
        ([_borrower()], False, "call", errors.RevealNotAllowed),
        ([_borrower()], True, "   ", ReasonRequired),
        ([_borrower()], True, "x" * (MAX_REASON + 1), ReasonTooLong),
    ],
)
async def test_each_refusal_names_its_rule_and_records_nothing(
    borrowers: list[Borrower], may_reveal: bool, reason: str, refusal: type[Exception]
) -> None:
    uow = FakeUnitOfWork([], [], [], borrowers)
    with pytest.raises(refusal):
        await _reveal(uow, _request(reason=reason), may_reveal=may_reveal)
    assert uow.commit_count == 0 and uow.recorded == [] and uow.rolled_back


async def test_a_reason_of_exactly_the_maximum_length_is_accepted() -> None:
    uow = FakeUnitOfWork([], [], [], [_borrower()])
    assert await _reveal(uow, _request(reason="x" * MAX_REASON)) == "18612344530"


async def test_the_hourly_limit_holds_at_its_boundary_and_says_when_to_retry() -> None:
    uow = FakeUnitOfWork([], [], [], [_borrower()])
    # Two reveals inside the hour, one just outside it (it no longer counts).
    uow.reveals.made = [
        (ACTOR, NOW - timedelta(minutes=45)),
        (ACTOR, NOW - timedelta(minutes=10)),
        (ACTOR, NOW - timedelta(hours=1, seconds=1)),
        (ACTOR + 1, NOW - timedelta(minutes=5)),  # another caller's
    ]
    assert await _reveal(uow, _request()) == "18612344530"  # the third of three
    uow.reveals.made.append((ACTOR, NOW))
    with pytest.raises(errors.RevealRateLimited) as refused:
        await _reveal(uow, _request())
    # The oldest reveal in the window (45 minutes ago) leaves it in 15 minutes.
    assert refused.value.retry_after_seconds == 15 * 60
    assert refused.value.code == "RATE_LIMITED"
    assert uow.commit_count == 1
