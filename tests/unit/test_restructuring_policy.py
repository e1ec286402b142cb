"""Approval limits at their boundaries (share and amount, per currency), the cumulative
concession across split proposals, and the stored form of both rule sets (validated, round
trip, the version in effect or the built-in default)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.errors import ErrorCode
from domain.restructuring.errors import PolicyInvalid
from domain.restructuring.model import RestructuringStatus, counted_concession
from domain.restructuring.policy import (
    DEFAULT_LIMITS,
    DEFAULT_POLICY,
    ApprovalLimits,
    RestructuringPolicy,
    limits_from_payload,
    limits_in_effect,
    limits_to_payload,
    policy_from_payload,
    policy_in_effect,
    policy_to_payload,
)

D = Decimal


def needs(concession: str, balance: str, currency: str = "CNY") -> str | None:
    return DEFAULT_LIMITS.required_authority(D(concession), D(balance), currency)


@pytest.mark.parametrize(
    ("concession", "balance", "authority"),
    [
        ("0.00", "20970.50", "team_lead"),  # a plan without a waiver still needs a checker
        ("2097.05", "20970.50", "team_lead"),  # exactly 10%
        ("2097.06", "20970.50", "manager"),  # 10% + 0.01
        ("5000.00", "100000.00", "team_lead"),  # exactly 5,000 (5%)
        ("5000.01", "100000.00", "manager"),  # 5,000.01
        ("8388.20", "20970.50", "manager"),  # exactly 40%
        ("8388.21", "20970.50", None),  # above 40%: nobody
        ("100000.00", "250000.00", "manager"),  # exactly 100,000 (40%)
        ("100000.01", "1000000.00", None),  # 100,000.01 (10%): nobody
    ],
)
def test_cny_limits_at_their_boundaries(concession: str, balance: str, authority: str) -> None:
    assert needs(concession, balance) == authority


@pytest.mark.parametrize(
    ("concession", "authority"),
    [("700.00", "team_lead"), ("700.01", "manager"), ("14000.00", "manager"), ("14000.01", None)],
)
def test_usd_limits_at_their_boundaries(concession: str, authority: str) -> None:
    assert needs(concession, "1000000.00", "USD") == authority


def test_a_currency_no_limit_names_is_approved_by_nobody() -> None:
    assert needs("0.01", "1000.00", "EUR") is None
    assert needs("0.00", "1000.00", "EUR") == "team_lead"


def test_a_split_proposal_crosses_the_cumulative_limit() -> None:
    """Two concessions each under 10% of the balance whose sum is above it: the first alone
    needs a team lead, the second (judged with the first) a manager."""
    balance = D("20000.00")
    first, second = D("1500.00"), D("1000.00")  # 7.5% and 5%
    assert DEFAULT_LIMITS.required_authority(first, balance, "CNY") == "team_lead"
    assert DEFAULT_LIMITS.required_authority(second, balance, "CNY") == "team_lead"
    assert DEFAULT_LIMITS.required_authority(first + second, balance, "CNY") == "manager"
    assert not DEFAULT_LIMITS.covered_by(["team_lead"], first + second, balance, "CNY")
    assert DEFAULT_LIMITS.covered_by(["collector", "manager"], first + second, balance, "CNY")
    assert not DEFAULT_LIMITS.covered_by(["admin", "collector"], D("0.00"), balance, "CNY")


def test_the_stored_forms_round_trip_and_name_their_version() -> None:
    payload = limits_to_payload(DEFAULT_LIMITS)
    assert payload["authorities"][0] == {
        "role": "team_lead",
        "share": "0.10",
        "amounts": {"CNY": "5000.00", "USD": "700.00"},
    }
    assert limits_from_payload(payload) == DEFAULT_LIMITS
    assert ApprovalLimits.from_payload(payload).to_payload() == payload
    stored = limits_in_effect((3, payload))
    assert stored.version == "default@3" and stored.limits == DEFAULT_LIMITS.limits
    assert limits_in_effect(None) is DEFAULT_LIMITS
    assert DEFAULT_LIMITS.version == "default@builtin"
    policy = policy_to_payload(DEFAULT_POLICY)
    assert policy == {
        "cumulativePeriodDays": 365,
        "paymentsInRowToCure": 3,
        "graceDays": 5,
        "maxInstalments": 60,
    }
    assert RestructuringPolicy.from_payload(policy) == DEFAULT_POLICY
    assert policy_in_effect((7, {**policy, "graceDays": 10})).grace_days == 10
    assert policy_in_effect((7, policy)).version == "default@7"
    assert policy_in_effect(None) is DEFAULT_POLICY


def _limits(*authorities: dict[str, Any]) -> dict[str, Any]:
    return {"authorities": list(authorities)}


LEAD = {"role": "team_lead", "share": "0.10", "amounts": {"CNY": "5000.00"}}
MANAGER = {"role": "manager", "share": "0.40", "amounts": {"CNY": "100000.00"}}


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, "missing authorities"),
        (_limits(), "non-empty list"),
        (_limits({**LEAD, "role": "boss"}), "unknown role"),
        (_limits({**LEAD, "share": "0"}), "above 0 and at most 1"),
        (_limits({**LEAD, "share": "1.5"}), "above 0 and at most 1"),
        (_limits({**LEAD, "share": 0.1}), "decimal string"),
        (_limits({**LEAD, "amounts": {"CNY": "5000.001"}}), "at most 2 decimals"),
        (_limits({**LEAD, "amounts": {"cny": "5000"}}), "is no currency"),
        (_limits({**LEAD, "amounts": {}}), "one amount per currency"),
        (_limits(LEAD, LEAD), "each role at most once"),
        (_limits(MANAGER, LEAD), "must cover at least what manager covers"),
        (_limits({**LEAD, "extra": 1}), "unknown keys extra"),
    ],
)
def test_invalid_limits_are_refused_naming_the_fault(payload: Any, fragment: str) -> None:
    with pytest.raises(PolicyInvalid) as refused:
        limits_from_payload(payload)
    assert refused.value.code is ErrorCode.CHANGE_INVALID
    assert fragment in refused.value.message


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"graceDays": -1}, "graceDays"),
        ({"cumulativePeriodDays": 0}, "cumulativePeriodDays"),
        ({"paymentsInRowToCure": "3"}, "paymentsInRowToCure"),
        ({"maxInstalments": True}, "maxInstalments"),
        ({"grace_days": 5}, "unknown keys grace_days"),  # keys are camelCase
    ],
)
def test_an_invalid_policy_is_refused(change: dict[str, Any], fragment: str) -> None:
    payload = {**policy_to_payload(DEFAULT_POLICY), **change}
    with pytest.raises(PolicyInvalid, match=fragment):
        policy_from_payload(payload)


@pytest.mark.parametrize(
    ("status", "waiver", "counted"),
    [
        ("PROPOSED", None, "0"),
        ("REJECTED", "50.00", "0"),
        ("APPROVED", "50.00", "300.00"),  # given (a waiver: its concession is its amount)
        ("ACTIVE", None, "300.00"),  # being given
        ("COMPLETED", None, "300.00"),
        ("BROKEN", "50.00", "50.00"),  # a broken plan's waiver stays applied
        ("BROKEN", None, "0"),  # a broken settlement's discount was never given
    ],
)
def test_what_a_restructuring_adds_to_the_cumulative_concession(
    status: str, waiver: str | None, counted: str
) -> None:
    amount = counted_concession(
        RestructuringStatus(status), D("300.00"), D(waiver) if waiver else None
    )
    assert amount == D(counted)
