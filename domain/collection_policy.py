"""The collection policy as versioned data (rule-set kind COLLECTION_POLICY, name "default"): the
numbers a lender configures for promises to pay and for the case life cycle.

- ``promiseGraceDays``: payments up to the due date plus these days count toward a promise
  (``domain.arrangements.promises.PromisePolicy.grace_days``; each promise stores its own, so a
  change applies to promises recorded from its start on);
- ``promiseMaxHorizonDays``: how far ahead of today a promise may fall due
  (``PromisePolicy.max_horizon_days``);
- ``watchDays``: how long a case closed by a cure is watched for a new default
  (``domain.lifecycle.table.LifecyclePolicy.watch_days``: ``watch_until`` is the cure's date
  plus these days);
- ``escalateAfterDays``: the days past due above which an open case in EARLY escalates to
  COLLECTION (``LifecyclePolicy.escalate_after_days``: the daily run, the feed import).

It spans two features, so it lives beside them rather than in either (``domain.arrangements``
already imports ``domain.lifecycle``; the life cycle importing the arrangements would be a cycle):
the defaults stay checked in beside the code that reads them (``DEFAULT_PROMISE_POLICY``,
``domain.lifecycle.table.DEFAULT_POLICY``) and ``DEFAULT`` is made of them. The stored version in
effect is read with ``store.rule_sets.in_effect``
(``store.collection_policy_queries.policy_in_effect``); without one, ``DEFAULT`` applies,
recorded as version ``default@builtin``, else ``default@N``.

Payload (JSON, the maker–checker slice validates proposals with ``from_payload``; every key
required, none unknown, each a whole number within its bounds)::

    {"promiseGraceDays": 3, "promiseMaxHorizonDays": 30, "watchDays": 60, "escalateAfterDays": 30}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from domain.arrangements.promises import DEFAULT_PROMISE_POLICY, PromisePolicy
from domain.errors import ErrorCode, InvalidInput
from domain.lifecycle.table import DEFAULT_POLICY as DEFAULT_LIFECYCLE
from domain.lifecycle.table import LifecyclePolicy
from domain.rulesets import DEFAULT_NAME, RuleSetKind

KIND = RuleSetKind.COLLECTION_POLICY
NAME = DEFAULT_NAME
BUILTIN = "builtin"

# Each key's bounds, both inclusive.
BOUNDS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "promiseGraceDays": (0, 30),
        "promiseMaxHorizonDays": (1, 365),
        "watchDays": (0, 365),
        "escalateAfterDays": (1, 365),
    }
)


class InvalidCollectionPolicy(InvalidInput):
    """A proposed collection policy's payload is not valid (the message says what)."""

    code = ErrorCode.CHANGE_INVALID


@dataclass(frozen=True)
class CollectionPolicy:
    """The promise policy and the life-cycle policy in effect; ``version`` names the version."""

    promises: PromisePolicy = DEFAULT_PROMISE_POLICY
    lifecycle: LifecyclePolicy = DEFAULT_LIFECYCLE
    version: str = f"{NAME}@{BUILTIN}"


DEFAULT = CollectionPolicy()


def from_payload(
    payload: Mapping[str, Any], version: str = f"{NAME}@{BUILTIN}"
) -> CollectionPolicy:
    """Returns the policy a payload describes, or raises InvalidCollectionPolicy naming the key
    (not an object, unknown or missing keys, a value that is not a whole number within its
    bounds)."""
    if not isinstance(payload, Mapping):
        raise InvalidCollectionPolicy(
            "the collection policy must be a JSON object", field="payload"
        )
    unknown = sorted(set(payload) - set(BOUNDS))
    if unknown:
        raise InvalidCollectionPolicy(
            f"unknown keys in the collection policy: {', '.join(unknown)}", field="payload"
        )
    missing = [key for key in BOUNDS if key not in payload]
    if missing:
        raise InvalidCollectionPolicy(
            f"the collection policy needs {', '.join(missing)}", field=f"payload.{missing[0]}"
        )
    days: dict[str, int] = {}
    for key, (low, high) in BOUNDS.items():
        value = payload[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidCollectionPolicy(
                f"{key} must be a whole number from {low} to {high}, not {value!r}",
                field=f"payload.{key}",
            )
        days[key] = value
    return CollectionPolicy(
        PromisePolicy(days["promiseGraceDays"], days["promiseMaxHorizonDays"]),
        LifecyclePolicy(days["watchDays"], days["escalateAfterDays"]),
        version,
    )


def to_payload(policy: CollectionPolicy) -> dict[str, Any]:
    """Returns the payload of a policy (``from_payload`` reads it back to an equal policy)."""
    return {
        "promiseGraceDays": policy.promises.grace_days,
        "promiseMaxHorizonDays": policy.promises.max_horizon_days,
        "watchDays": policy.lifecycle.watch_days,
        "escalateAfterDays": policy.lifecycle.escalate_after_days,
    }


def version_name(version: int) -> str:
    """The recorded name of a stored version (``default@3``)."""
    return f"{NAME}@{version}"


def in_effect(stored: tuple[int, Mapping[str, Any]] | None) -> CollectionPolicy:
    """The stored version in effect, as ``(number, payload)`` (``default@N``), else ``DEFAULT``
    (for a unit of work's repository that hands over raw versions)."""
    if stored is None:
        return DEFAULT
    number, payload = stored
    return from_payload(payload, version_name(number))
