"""The worklist's groups and reasons, from plain facts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.money import Money
from domain.worklist.priority import OTHER, RANKS, Reason, WorkFacts, reasons

AT = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
DUE = date(2026, 11, 29)
BROKEN = date(2026, 11, 20)


def facts(
    callback: datetime | None = None,
    due: date | None = None,
    broken: date | None = None,
    dpd: int = 45,
    amount: str = "1234.5",
) -> WorkFacts:
    return WorkFacts(callback, due, broken, dpd, Money(Decimal(amount), "CNY"))


def test_the_groups_rank_callbacks_then_promises_due_then_broken_promises() -> None:
    assert RANKS == {
        Reason.CALLBACK_REQUESTED: 1,
        Reason.PROMISE_DUE_TODAY: 2,
        Reason.PROMISE_BROKEN: 3,
    }
    assert OTHER == 4
    # The rank itself is computed in SQL (store.worklist_queries, tested end to end); the
    # reasons name the group that ranks the case first.
    assert reasons(facts(AT, DUE, BROKEN))[0].startswith(f"{Reason.CALLBACK_REQUESTED} ")
    assert reasons(facts(None, DUE, BROKEN))[0].startswith(f"{Reason.PROMISE_DUE_TODAY} ")
    assert reasons(facts(None, None, BROKEN))[0].startswith(f"{Reason.PROMISE_BROKEN} ")
    assert reasons(facts())[0].startswith(f"{Reason.DPD} ")


@pytest.mark.parametrize(
    ("work", "expected"),
    [
        (facts(), ["DPD 45", "OUTSTANDING 1234.50 CNY"]),
        (
            facts(AT + timedelta(hours=2, microseconds=5)),
            ["CALLBACK_REQUESTED 2026-11-29T08:00:00.000005Z", "DPD 45", "OUTSTANDING 1234.50 CNY"],
        ),
        (
            facts(None, DUE, BROKEN, dpd=0, amount="0"),
            [
                "PROMISE_DUE_TODAY 2026-11-29",
                "PROMISE_BROKEN 2026-11-20",
                "DPD 0",
                "OUTSTANDING 0.00 CNY",
            ],
        ),
    ],
)
def test_reasons_name_every_fact_with_its_detail(work: WorkFacts, expected: list[str]) -> None:
    assert reasons(work) == expected


def test_a_callback_in_another_zone_is_written_in_utc() -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2026, 11, 29, 14, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert reasons(facts(local))[0] == "CALLBACK_REQUESTED 2026-11-29T06:00:00Z"
