"""The legal policy as versioned data: one per conduct profile (``CN``, ``US_REG_F``), stored as
rule-set versions of kind ``LEGAL_POLICY`` (``store.rule_sets.in_effect``) and falling back to
the checked-in ``DEFAULTS`` below.

Defaults (policy, not law — a lender changes them through maker–checker):

- at least 90 days past due;
- outstanding at least 5,000 in the case's currency (CNY 5,000; USD 5,000; any other currency
  the ``defaultThreshold``, also 5,000);
- collection effort exhausted: no right-party contact for 60 days, or the latest right-party
  conversation ended in a refusal to pay, or at least 3 broken promises;
- the limitation period: CN 3 years (PRC Civil Code art. 188), US_REG_F 6 years (state statutes
  range from 3 to 10 years; 6 is the common written-contract period — configure per state as
  policy). It runs from the due date of the oldest unpaid instalment and restarts on the local
  date of the latest part-payment (a payment not reversed) and, under CN only, of the latest
  delivered demand (a LEGAL_NOTICE contact with outcome DELIVERED, or a DEMAND letter notice
  the outbox sent and a receipt said was DELIVERED; in most US states only a payment or a
  written acknowledgment restarts it); the last day of the period is the same calendar date
  ``limitationYears`` later (29 February → 28 February), and the claim is within it through
  that day inclusive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from domain.legal.errors import LegalPolicyInvalid

BUILTIN = "builtin"
PROFILES = ("CN", "US_REG_F")


def _thresholds(values: Mapping[str, Decimal]) -> Mapping[str, Decimal]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class LegalPolicy:
    """The numbers the legal conditions use (``domain.legal.conditions``)."""

    min_days_past_due: int = 90
    thresholds: Mapping[str, Decimal] = field(
        default_factory=lambda: _thresholds({"CNY": Decimal("5000"), "USD": Decimal("5000")})
    )
    default_threshold: Decimal = Decimal("5000")
    no_contact_days: int = 60
    broken_promises: int = 3
    limitation_years: int = 3

    def threshold(self, currency: str) -> Decimal:
        """The outstanding amount a referral needs in ``currency``."""
        return self.thresholds.get(currency, self.default_threshold)

    def limitation_ends(self, start: date) -> date:
        """The last day of a limitation period that runs from ``start``."""
        return add_years(start, self.limitation_years)


def add_years(day: date, years: int) -> date:
    """The same calendar date ``years`` later (29 February → 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


DEFAULTS: Mapping[str, LegalPolicy] = MappingProxyType(
    {"CN": LegalPolicy(limitation_years=3), "US_REG_F": LegalPolicy(limitation_years=6)}
)


def default_for(profile: str) -> LegalPolicy:
    """The checked-in policy of a conduct profile (an unknown profile: CN's)."""
    return DEFAULTS.get(profile, DEFAULTS["CN"])


_KEYS = {
    "minDaysPastDue",
    "outstandingThresholds",
    "defaultThreshold",
    "noRightPartyContactDays",
    "brokenPromises",
    "limitationYears",
}


def _count(payload: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise LegalPolicyInvalid(f"{key} must be a whole number from {low} to {high}", field=key)
    return value


def _amount(value: Any, key: str) -> Decimal:
    if isinstance(value, (bool, float)) or not isinstance(value, (str, int)):
        raise LegalPolicyInvalid(f'{key} must be a decimal string such as "5000.00"', field=key)
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise LegalPolicyInvalid(f"{key} is not an amount: {value!r}", field=key) from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise LegalPolicyInvalid(f"{key} must be above zero, with at most 2 decimals", field=key)
    return amount


def from_payload(payload: Mapping[str, Any]) -> LegalPolicy:
    """Returns the policy a stored (or proposed) payload describes, or refuses it
    (CHANGE_INVALID naming the field): every key is required, none other is allowed."""
    if not isinstance(payload, Mapping):
        raise LegalPolicyInvalid("a legal policy is a JSON object", field="payload")
    unknown = sorted(set(payload) - _KEYS)
    missing = sorted(_KEYS - set(payload))
    if unknown or missing:
        raise LegalPolicyInvalid(
            f"a legal policy has exactly {', '.join(sorted(_KEYS))}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            + (f"; missing: {', '.join(missing)}" if missing else ""),
            field="payload",
        )
    raw = payload["outstandingThresholds"]
    if not isinstance(raw, Mapping):
        raise LegalPolicyInvalid(
            "outstandingThresholds maps a currency to an amount", field="outstandingThresholds"
        )
    thresholds: dict[str, Decimal] = {}
    for currency, value in raw.items():
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isupper()):
            raise LegalPolicyInvalid(
                f"not an ISO 4217 currency code: {currency!r}", field="outstandingThresholds"
            )
        thresholds[currency] = _amount(value, "outstandingThresholds")
    return LegalPolicy(
        min_days_past_due=_count(payload, "minDaysPastDue", 1, 3650),
        thresholds=_thresholds(thresholds),
        default_threshold=_amount(payload["defaultThreshold"], "defaultThreshold"),
        no_contact_days=_count(payload, "noRightPartyContactDays", 1, 3650),
        broken_promises=_count(payload, "brokenPromises", 1, 100),
        limitation_years=_count(payload, "limitationYears", 1, 30),
    )


def to_payload(policy: LegalPolicy) -> dict[str, Any]:
    """The stored form of a policy (amounts as decimal strings)."""
    return {
        "minDaysPastDue": policy.min_days_past_due,
        "outstandingThresholds": {k: str(v) for k, v in sorted(policy.thresholds.items())},
        "defaultThreshold": str(policy.default_threshold),
        "noRightPartyContactDays": policy.no_contact_days,
        "brokenPromises": policy.broken_promises,
        "limitationYears": policy.limitation_years,
    }
