"""Case.reclassify: worst DPD of the case's debts, bucket, class and outstanding, as of a date."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.cases.classification import (
    DEFAULT_POLICY,
    Classification,
    ClassificationPolicy,
    assess,
)
from domain.cases.events import CaseReclassified
from domain.cases.model import Case
from domain.debts.model import Debt, DebtStatus, Instalment, ProductType
from domain.money import Money

AT = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
AS_OF = date(2026, 6, 30)
POLICY_2 = ClassificationPolicy("2027.1", DEFAULT_POLICY.bands)


def debt_due(due: date, outstanding: str = "100.00", **overrides: object) -> Debt:
    """A debt whose only instalment, due on ``due``, is unpaid."""
    debt = Debt(
        account_number=f"ACC-{due.isoformat()}",
        product_type=ProductType.CREDIT_CARD,
        currency="CNY",
        principal=Decimal(outstanding),
        interest=Decimal("0.00"),
        penalty=Decimal("0.00"),
        fee=Decimal("0.00"),
        opened_on=date(2025, 1, 1),
        instalments=[Instalment(1, due, Decimal("10.00"))],
    )
    for name, value in overrides.items():
        setattr(debt, name, value)
    return debt


def make_case(*debts: Debt) -> Case:
    return Case("AR-1", 1, "retail", "CNY", date(2026, 1, 5), id=1, debts=list(debts))


def test_reclassify_takes_the_worst_debt_and_sums_the_outstanding() -> None:
    case = make_case(
        debt_due(date(2026, 6, 20), "1065.35"),  # 10 DPD
        debt_due(date(2026, 2, 28), "1065.35"),  # 122 DPD
    )
    case.reclassify(DEFAULT_POLICY, AS_OF, AT)
    assert (case.days_past_due, case.bucket, case.classification) == (
        122,
        "M5",
        Classification.SERIOUS,
    )
    assert (case.policy_version, case.dpd_as_of) == ("2026.1", AS_OF)
    assert case.outstanding_amount == Decimal("2130.70")
    assert case.total_outstanding == Money(Decimal("2130.70"), "CNY")
    assert case.events == [
        CaseReclassified(1, AT, None, 122, "M5", "SERIOUS", None, None, "2026.1")
    ]


def test_settled_debts_do_not_count_towards_dpd() -> None:
    case = make_case(
        debt_due(date(2026, 6, 20)),
        debt_due(date(2025, 1, 31), "0.00", status=DebtStatus.SETTLED),
    )
    case.reclassify(DEFAULT_POLICY, AS_OF, AT)
    assert (case.days_past_due, case.bucket, case.classification) == (10, "M1", "MILD")
    assert case.outstanding_amount == Decimal("100.00")


def test_a_case_without_debts_is_current_and_its_first_verdict_is_recorded() -> None:
    case = make_case()
    case.reclassify(DEFAULT_POLICY, AS_OF, AT)
    assert (case.days_past_due, case.bucket, case.classification) == (0, "M0", "CURRENT")
    assert case.outstanding_amount == Decimal(0)
    assert case.events == [CaseReclassified(1, AT, None, 0, "M0", "CURRENT", None, None, "2026.1")]
    case.reclassify(DEFAULT_POLICY, AS_OF, AT)
    assert len(case.events) == 1


@pytest.mark.parametrize(
    ("first", "second", "now", "before"),
    [
        pytest.param(date(2026, 1, 1), date(2026, 1, 2), ("M1", "MILD"), ("M0", "CURRENT"),
                     id="0-to-1"),
        pytest.param(date(2026, 1, 31), date(2026, 2, 1), ("M2", "MODERATE"), ("M1", "MILD"),
                     id="30-to-31"),
        pytest.param(date(2026, 3, 2), date(2026, 3, 3), ("M3", "MODERATE"),
                     ("M2", "MODERATE"), id="60-to-61-same-class"),
        pytest.param(date(2026, 5, 31), date(2026, 6, 1), ("M6", "SERIOUS"), ("M5", "SERIOUS"),
                     id="150-to-151-same-class"),
        pytest.param(date(2026, 6, 30), date(2026, 7, 1), ("M7", "SEVERE"), ("M6", "SERIOUS"),
                     id="180-to-181"),
    ],
)  # fmt: skip
def test_crossing_a_boundary_records_a_reclassification(
    first: date, second: date, now: tuple[str, str], before: tuple[str, str]
) -> None:
    case = make_case(debt_due(date(2026, 1, 1)))
    case.reclassify(DEFAULT_POLICY, first, AT)
    case.events.clear()
    case.reclassify(DEFAULT_POLICY, second, AT)
    dpd = (second - date(2026, 1, 1)).days
    assert (case.days_past_due, case.bucket, case.classification) == (dpd, *now)
    assert case.events == [CaseReclassified(1, AT, None, dpd, *now, *before, "2026.1")]


@pytest.mark.parametrize(
    ("first", "second"),
    [(date(2026, 1, 2), date(2026, 1, 31)), (date(2026, 3, 3), date(2026, 4, 1))],
)
def test_moving_within_a_bucket_updates_dpd_without_an_event(first: date, second: date) -> None:
    case = make_case(debt_due(date(2026, 1, 1)))
    case.reclassify(DEFAULT_POLICY, first, AT)
    recorded = list(case.events)
    case.reclassify(DEFAULT_POLICY, second, AT)
    assert case.events == recorded
    assert (case.days_past_due, case.dpd_as_of) == ((second - date(2026, 1, 1)).days, second)


def test_a_payment_that_cures_the_oldest_instalment_is_recorded() -> None:
    old, recent = debt_due(date(2026, 2, 28)), debt_due(date(2026, 6, 20))
    case = make_case(old, recent)
    case.reclassify(DEFAULT_POLICY, AS_OF, AT)
    old.instalments[0].amount_paid = Decimal("10.00")
    case.reclassify(DEFAULT_POLICY, AS_OF, AT)
    assert (case.days_past_due, case.bucket, case.classification) == (10, "M1", "MILD")
    assert case.events[-1] == CaseReclassified(
        1, AT, None, 10, "M1", "MILD", "M5", "SERIOUS", "2026.1"
    )
    assert len(case.events) == 2


def test_a_new_policy_version_is_recorded_even_with_the_same_verdict() -> None:
    case = make_case(debt_due(date(2026, 6, 20)))
    case.reclassify(DEFAULT_POLICY, AS_OF, AT)
    case.reclassify(POLICY_2, AS_OF, AT)
    assert case.policy_version == "2027.1"
    assert case.events[-1] == CaseReclassified(
        1, AT, None, 10, "M1", "MILD", "M1", "MILD", "2027.1"
    )
    assert len(case.events) == 2


def test_outstanding_is_refreshed_without_an_event() -> None:
    debt = debt_due(date(2026, 6, 20), "500.00")
    case = make_case(debt)
    case.reclassify(DEFAULT_POLICY, AS_OF, AT)
    debt.principal = Decimal("450.00")
    case.reclassify(DEFAULT_POLICY, AS_OF, AT)
    assert case.outstanding_amount == Decimal("450.00")
    assert len(case.events) == 1


def test_a_debt_in_another_currency_is_refused_and_nothing_changes() -> None:
    case = make_case(debt_due(date(2026, 6, 20)), debt_due(date(2026, 2, 28), currency="USD"))
    before = dataclasses.asdict(case)
    with pytest.raises(ValueError, match="not in CNY"):
        case.reclassify(DEFAULT_POLICY, AS_OF, AT)
    assert dataclasses.asdict(case) == before
    assert case.events == []


def test_reclassify_stores_what_the_domains_assessment_gives() -> None:
    case = make_case(debt_due(date(2026, 4, 1), "300.10"), debt_due(date(2026, 6, 29), "0.90"))
    case.reclassify(DEFAULT_POLICY, AS_OF, AT)
    standing = assess(DEFAULT_POLICY, [(90, Decimal("300.10")), (1, Decimal("0.90"))])
    verdict = standing.verdict
    assert (case.days_past_due, case.outstanding_amount) == (90, Decimal("301.00"))
    assert (case.bucket, case.classification, case.policy_version) == ("M3", "MODERATE", "2026.1")
    assert (case.days_past_due, case.outstanding_amount) == (
        standing.days_past_due,
        standing.outstanding_amount,
    )
    assert (case.bucket, case.classification, case.policy_version) == (
        verdict.bucket,
        verdict.classification,
        verdict.policy_version,
    )
