"""The write-off policy as versioned data (rule-set kind WRITE_OFF_POLICY, name "default"): when
a manager may write a case off, and the reason codes a write-off gives.

A manager's write-off is allowed when the case is in one of ``fromStages`` (LEGAL: the law has
run its course) OR its days past due are at least ``minDaysPastDue`` (default 180, the usual
charge-off point of consumer credit). The stored version in effect is read with
``store.rule_sets.in_effect`` (``store.writeoff_queries.policy_in_effect``); without one, the
checked-in ``DEFAULT`` applies, recorded as version ``default@builtin``.

Payload (JSON, the maker–checker slice validates proposals with ``from_payload``)::

    {"minDaysPastDue": 180, "fromStages": ["LEGAL"]}
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.cases.model import CaseStage
from domain.rulesets import DEFAULT_NAME, RuleSetKind
from domain.writeoff.errors import InvalidWriteOffPolicy

KIND = RuleSetKind.WRITE_OFF_POLICY
NAME = DEFAULT_NAME
BUILTIN = "builtin"


class ReasonCode(enum.StrEnum):
    """Why a manager writes a debt off (the codes a write-off may give)."""

    UNCOLLECTIBLE = "UNCOLLECTIBLE"  # collection effort exhausted, no prospect of payment
    DECEASED_NO_ESTATE = "DECEASED_NO_ESTATE"  # the borrower died and left no estate to claim
    BANKRUPTCY = "BANKRUPTCY"  # discharged or pending personal bankruptcy
    STATUTE_BARRED = "STATUTE_BARRED"  # the limitation period has run out
    COST_EXCEEDS_RECOVERY = "COST_EXCEEDS_RECOVERY"  # pursuing it costs more than it recovers
    FRAUD = "FRAUD"  # identity theft or first-party fraud: not a collectable debt
    UNTRACEABLE = "UNTRACEABLE"  # the borrower cannot be found after tracing


# The reason code of a write-off that the core booked (a charge-off of its feed).
CHARGE_OFF_REASON = "CORE_CHARGE_OFF"


class WriteOffSource(enum.StrEnum):
    """Who wrote the debt off: the core's charge-off, or a manager here."""

    CHARGE_OFF = "CHARGE_OFF"
    MANAGER = "MANAGER"


@dataclass(frozen=True)
class WriteOffPolicy:
    """When a manager's write-off is allowed; ``version`` names the version used."""

    min_days_past_due: int = 180
    from_stages: frozenset[CaseStage] = frozenset({CaseStage.LEGAL})
    version: str = f"{NAME}@{BUILTIN}"


DEFAULT = WriteOffPolicy()
_KEYS = {"minDaysPastDue", "fromStages"}


def from_payload(payload: Mapping[str, Any], version: str = f"{NAME}@{BUILTIN}") -> WriteOffPolicy:
    """Returns the policy a payload describes, or raises InvalidWriteOffPolicy saying what is
    wrong (unknown keys, a DPD that is not a whole number from 1 to 3650, unknown stages)."""
    if not isinstance(payload, Mapping):
        raise InvalidWriteOffPolicy("the write-off policy must be a JSON object", field="payload")
    unknown = sorted(set(payload) - _KEYS)
    if unknown:
        raise InvalidWriteOffPolicy(
            f"unknown keys in the write-off policy: {', '.join(unknown)}", field="payload"
        )
    days = payload.get("minDaysPastDue", DEFAULT.min_days_past_due)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
        raise InvalidWriteOffPolicy(
            "minDaysPastDue must be a whole number from 1 to 3650", field="payload"
        )
    stages = payload.get("fromStages", sorted(DEFAULT.from_stages))
    if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
        raise InvalidWriteOffPolicy("fromStages must be a list of stages", field="payload")
    allowed = {str(s) for s in CaseStage} - {CaseStage.WRITTEN_OFF.value}
    wrong = sorted(set(stages) - allowed)
    if wrong:
        raise InvalidWriteOffPolicy(
            f"fromStages may hold {', '.join(sorted(allowed))}, not {', '.join(wrong)}",
            field="payload",
        )
    return WriteOffPolicy(days, frozenset(CaseStage(s) for s in stages), version)


def to_payload(policy: WriteOffPolicy) -> dict[str, Any]:
    """Returns the payload of a policy (``from_payload`` reads it back to an equal policy)."""
    return {
        "minDaysPastDue": policy.min_days_past_due,
        "fromStages": sorted(str(stage) for stage in policy.from_stages),
    }


def version_name(version: int) -> str:
    """The recorded name of a stored version (``default@3``)."""
    return f"{NAME}@{version}"
