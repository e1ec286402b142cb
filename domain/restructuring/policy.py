"""Approval limits and the restructuring policy: versioned data (``domain.rulesets``).

Approval limits (kind APPROVAL_LIMITS, name ``default``) say, per role that may approve, the
largest concession it may approve on a case: as a share of the case's balance at proposal and
as an absolute amount per currency. A concession is judged cumulatively: this one plus the
APPROVED, ACTIVE and COMPLETED restructurings of the case decided within the policy's period,
so a discount cannot be split into proposals that each stay under a limit. A proposal needs the
lowest authority whose limits cover it; above the highest, nobody may approve it.

The restructuring policy (kind RESTRUCTURING_POLICY, name ``default``) holds the cumulative
period, the plan payments in a row before a cure, a plan's grace days and the longest schedule.

Stored versions are read with ``store.rule_sets.in_effect``; ``limits_in_effect`` and
``policy_in_effect`` fall back to the checked-in defaults. ``from_payload``/``to_payload``
validate and write the stored form (the maker–checker of rule changes calls them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from types import MappingProxyType
from typing import Any

from domain.money import minor_units
from domain.restructuring.errors import PolicyInvalid
from domain.rulesets import DEFAULT_NAME, RuleSetKind
from domain.staff.model import Role

BUILTIN = "builtin"


def version_label(name: str, version: int | None) -> str:
    """``default@3`` for a stored version, ``default@builtin`` for the checked-in default."""
    return f"{name}@{BUILTIN if version is None else version}"


@dataclass(frozen=True)
class RoleLimit:
    """What one role may approve: a cumulative concession up to ``share`` of the balance and
    up to ``amounts[currency]`` (a currency not listed: nothing)."""

    role: str
    share: Decimal
    amounts: Mapping[str, Decimal]

    def covers(self, concession: Decimal, balance: Decimal, currency: str) -> bool:
        """Whether a (cumulative) concession on a balance is within both limits; a zero
        concession is within every limit."""
        if concession <= 0:
            return True
        amount = self.amounts.get(currency)
        if amount is None or balance <= 0:
            return False
        return concession <= amount and concession <= self.share * balance


@dataclass(frozen=True)
class ApprovalLimits:
    """The roles that may approve, lowest authority first."""

    limits: tuple[RoleLimit, ...]
    version: str = version_label(DEFAULT_NAME, None)

    def required_authority(
        self, concession: Decimal, balance: Decimal, currency: str
    ) -> str | None:
        """Returns the lowest role whose limits cover the concession, or None (nobody's do)."""
        return next((x.role for x in self.limits if x.covers(concession, balance, currency)), None)

    def covered_by(
        self, roles: Iterable[str], concession: Decimal, balance: Decimal, currency: str
    ) -> bool:
        """Whether any of these roles' limits cover the concession."""
        held = set(roles)
        return any(x.covers(concession, balance, currency) for x in self.limits if x.role in held)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ApprovalLimits:
        """``limits_from_payload`` (the maker–checker of rule changes validates with it)."""
        return limits_from_payload(payload)

    def to_payload(self) -> dict[str, Any]:
        return limits_to_payload(self)


@dataclass(frozen=True)
class RestructuringPolicy:
    cumulative_period_days: int = 365
    # Plan payments made on time in a row before a case under a plan may be cured.
    payments_in_row_to_cure: int = 3
    # Days after a plan instalment's (or a settlement's) due date before it counts as missed.
    grace_days: int = 5
    max_instalments: int = 60
    version: str = version_label(DEFAULT_NAME, None)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> RestructuringPolicy:
        """``policy_from_payload`` (the maker–checker of rule changes validates with it)."""
        return policy_from_payload(payload)

    def to_payload(self) -> dict[str, Any]:
        return policy_to_payload(self)


# The checked-in defaults (docs/API.md "Restructuring and settlement"): a team lead up to 10%
# of the balance and 5,000 CNY (700 USD); a manager up to 40% and 100,000 CNY (14,000 USD);
# above that nobody. USD amounts are the CNY ones at about 7 CNY to the dollar, rounded.
DEFAULT_LIMITS = ApprovalLimits(
    (
        RoleLimit(
            Role.TEAM_LEAD.value,
            Decimal("0.10"),
            MappingProxyType({"CNY": Decimal("5000.00"), "USD": Decimal("700.00")}),
        ),
        RoleLimit(
            Role.MANAGER.value,
            Decimal("0.40"),
            MappingProxyType({"CNY": Decimal("100000.00"), "USD": Decimal("14000.00")}),
        ),
    )
)
DEFAULT_POLICY = RestructuringPolicy()
# The module's default as ``domain.changes.registry`` looks it up (one per module: the limits).
DEFAULT = DEFAULT_LIMITS


# ---- the stored form ------------------------------------------------------------------------


def _decimal(value: object, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PolicyInvalid(f"{where}: give a decimal string, not {value!r}", field="payload")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise PolicyInvalid(f"{where}: {value!r} is not a decimal", field="payload") from None
    if not number.is_finite():
        raise PolicyInvalid(f"{where}: {value!r} is not a decimal", field="payload")
    return number


def _whole(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PolicyInvalid(f"{where}: a whole number from {low} to {high}", field="payload")
    return value


def _mapping(value: object, where: str, keys: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PolicyInvalid(f"{where}: an object is expected", field="payload")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise PolicyInvalid(f"{where}: unknown keys {', '.join(unknown)}", field="payload")
    missing = sorted(keys - set(value))
    if missing:
        raise PolicyInvalid(f"{where}: missing {', '.join(missing)}", field="payload")
    return value


def _role_limit(item: object, index: int) -> RoleLimit:
    where = f"authorities[{index}]"
    entry = _mapping(item, where, {"role", "share", "amounts"})
    role = entry["role"]
    if role not in {r.value for r in Role}:
        raise PolicyInvalid(f"{where}: unknown role {role!r}", field="payload")
    share = _decimal(entry["share"], f"{where}.share")
    if not Decimal(0) < share <= Decimal(1):
        raise PolicyInvalid(f"{where}.share: above 0 and at most 1, not {share}", field="payload")
    amounts = entry["amounts"]
    if not isinstance(amounts, Mapping) or not amounts:
        raise PolicyInvalid(f"{where}.amounts: one amount per currency", field="payload")
    parsed: dict[str, Decimal] = {}
    for currency, raw in amounts.items():
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper():
            raise PolicyInvalid(f"{where}.amounts: {currency!r} is no currency", field="payload")
        amount = _decimal(raw, f"{where}.amounts.{currency}")
        places = minor_units(currency)
        if amount <= 0 or amount != amount.quantize(Decimal(1).scaleb(-places)):
            raise PolicyInvalid(
                f"{where}.amounts.{currency}: a positive amount with at most {places} decimals",
                field="payload",
            )
        parsed[currency] = amount
    return RoleLimit(str(role), share, MappingProxyType(parsed))


def limits_from_payload(
    payload: Mapping[str, Any], version: str = version_label(DEFAULT_NAME, None)
) -> ApprovalLimits:
    """Returns the approval limits of a stored payload, or refuses it (CHANGE_INVALID): one
    entry per role, lowest authority first, each covering at least what the one before it
    covers (a share and an amount per currency no smaller), so that "the lowest authority that
    covers it" is well defined."""
    body = _mapping(payload, "approval limits", {"authorities"})
    items = body["authorities"]
    if not isinstance(items, list) or not items:
        raise PolicyInvalid("authorities: a non-empty list", field="payload")
    limits = tuple(_role_limit(item, i) for i, item in enumerate(items))
    roles = [x.role for x in limits]
    if len(set(roles)) != len(roles):
        raise PolicyInvalid("authorities: each role at most once", field="payload")
    for lower, higher in pairwise(limits):
        smaller = higher.share < lower.share or any(
            higher.amounts.get(c, Decimal(0)) < amount for c, amount in lower.amounts.items()
        )
        if smaller:
            raise PolicyInvalid(
                f"authorities: {higher.role} must cover at least what {lower.role} covers",
                field="payload",
            )
    return ApprovalLimits(limits, version)


def limits_to_payload(limits: ApprovalLimits) -> dict[str, Any]:
    """The stored form of approval limits (decimal strings)."""
    return {
        "authorities": [
            {
                "role": x.role,
                "share": str(x.share),
                "amounts": {c: str(a) for c, a in sorted(x.amounts.items())},
            }
            for x in limits.limits
        ]
    }


_POLICY_KEYS = {"cumulativePeriodDays", "paymentsInRowToCure", "graceDays", "maxInstalments"}


def policy_from_payload(
    payload: Mapping[str, Any], version: str = version_label(DEFAULT_NAME, None)
) -> RestructuringPolicy:
    """Returns the restructuring policy of a stored payload, or refuses it (CHANGE_INVALID).
    Keys are camelCase, as in every rule set's payload."""
    body = _mapping(payload, "restructuring policy", _POLICY_KEYS)
    return RestructuringPolicy(
        cumulative_period_days=_whole(
            body["cumulativePeriodDays"], "cumulativePeriodDays", 1, 3660
        ),
        payments_in_row_to_cure=_whole(body["paymentsInRowToCure"], "paymentsInRowToCure", 1, 120),
        grace_days=_whole(body["graceDays"], "graceDays", 0, 90),
        max_instalments=_whole(body["maxInstalments"], "maxInstalments", 1, 360),
        version=version,
    )


def policy_to_payload(policy: RestructuringPolicy) -> dict[str, Any]:
    """The stored form of the restructuring policy."""
    return {
        "cumulativePeriodDays": policy.cumulative_period_days,
        "paymentsInRowToCure": policy.payments_in_row_to_cure,
        "graceDays": policy.grace_days,
        "maxInstalments": policy.max_instalments,
    }


# A stored version as the loader gives it: (version number, payload), or None.
Stored = tuple[int, Mapping[str, Any]] | None


def limits_in_effect(stored: Stored) -> ApprovalLimits:
    """The stored version in effect (``default@N``), else the checked-in default."""
    if stored is None:
        return DEFAULT_LIMITS
    number, payload = stored
    return limits_from_payload(payload, version_label(DEFAULT_NAME, number))


def policy_in_effect(stored: Stored) -> RestructuringPolicy:
    """The stored version in effect (``default@N``), else the checked-in default."""
    if stored is None:
        return DEFAULT_POLICY
    number, payload = stored
    return policy_from_payload(payload, version_label(DEFAULT_NAME, number))


# For the maker–checker of rule changes: how to validate and write each kind held here.
PAYLOADS: Mapping[RuleSetKind, tuple[Callable[..., Any], Callable[[Any], dict[str, Any]]]] = (
    MappingProxyType(
        {
            RuleSetKind.APPROVAL_LIMITS: (limits_from_payload, limits_to_payload),
            RuleSetKind.RESTRUCTURING_POLICY: (policy_from_payload, policy_to_payload),
        }
    )
)
