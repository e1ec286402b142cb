"""The collection policy (rule-set kind COLLECTION_POLICY): its payload read at every bound, written
back to the same, and the promise and life-cycle policies it makes."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from domain.arrangements.promises import DEFAULT_PROMISE_POLICY, PromisePolicy
from domain.changes import registry
from domain.changes.errors import ChangeInvalid
from domain.collection_policy import (
    BOUNDS,
    DEFAULT,
    CollectionPolicy,
    InvalidCollectionPolicy,
    from_payload,
    in_effect,
    to_payload,
    version_name,
)
from domain.errors import ErrorCode
from domain.lifecycle.table import DEFAULT_POLICY, LifecyclePolicy
from domain.rulesets import RuleSetKind

BUILTIN = {
    "promiseGraceDays": 3,
    "promiseMaxHorizonDays": 30,
    "watchDays": 60,
    "escalateAfterDays": 30,
}


def test_the_default_is_the_checked_in_promise_and_life_cycle_policies() -> None:
    assert DEFAULT.promises == DEFAULT_PROMISE_POLICY
    assert DEFAULT.lifecycle == DEFAULT_POLICY
    assert DEFAULT.version == "default@builtin"
    assert to_payload(DEFAULT) == BUILTIN
    assert from_payload(BUILTIN) == DEFAULT


def test_a_payload_makes_a_promise_policy_and_a_life_cycle_policy() -> None:
    payload = {
        "promiseGraceDays": 0,
        "promiseMaxHorizonDays": 7,
        "watchDays": 15,
        "escalateAfterDays": 10,
    }
    policy = from_payload(payload, version_name(4))
    assert policy == CollectionPolicy(PromisePolicy(0, 7), LifecyclePolicy(15, 10), "default@4")
    assert policy.lifecycle.watch_until(date(2027, 1, 30)) == date(2027, 2, 14)
    assert to_payload(policy) == payload
    # Through JSON and back, the same policy.
    assert from_payload(json.loads(json.dumps(to_payload(policy))), "default@4") == policy


def test_in_effect_falls_back_to_the_default_and_names_a_stored_version() -> None:
    assert in_effect(None) is DEFAULT
    stored = in_effect((3, {**BUILTIN, "watchDays": 90}))
    assert (stored.version, stored.lifecycle.watch_days) == ("default@3", 90)


@pytest.mark.parametrize(("key", "bounds"), list(BOUNDS.items()))
def test_each_key_is_taken_at_its_bounds_and_refused_beyond_them(
    key: str, bounds: tuple[int, int]
) -> None:
    low, high = bounds
    for value in (low, high):
        assert to_payload(from_payload({**BUILTIN, key: value}))[key] == value
    for value in (low - 1, high + 1):
        with pytest.raises(InvalidCollectionPolicy) as refused:
            from_payload({**BUILTIN, key: value})
        assert refused.value.field == f"payload.{key}"
        assert refused.value.code is ErrorCode.CHANGE_INVALID
        assert f"from {low} to {high}" in refused.value.message


@pytest.mark.parametrize("value", [3.0, 2.5, "3", None, True, False, [3], {"days": 3}])
def test_a_value_that_is_not_a_whole_number_is_refused(value: Any) -> None:
    with pytest.raises(InvalidCollectionPolicy) as refused:
        from_payload({**BUILTIN, "watchDays": value})
    assert refused.value.field == "payload.watchDays"


def test_unknown_and_missing_keys_are_refused() -> None:
    with pytest.raises(InvalidCollectionPolicy) as unknown:
        from_payload({**BUILTIN, "graceDays": 3})
    assert (unknown.value.field, unknown.value.message) == (
        "payload",
        "unknown keys in the collection policy: graceDays",
    )
    partial = dict(BUILTIN)
    del partial["escalateAfterDays"]
    with pytest.raises(InvalidCollectionPolicy) as missing:
        from_payload(partial)
    assert missing.value.field == "payload.escalateAfterDays"
    with pytest.raises(InvalidCollectionPolicy) as not_an_object:
        from_payload([1, 2])  # type: ignore[arg-type]
    assert not_an_object.value.field == "payload"


def test_the_registry_changes_it_through_maker_checker() -> None:
    found = registry.changeable(RuleSetKind.COLLECTION_POLICY)
    assert found.names == ("default",)
    assert found.default("default") == BUILTIN
    assert registry.validate(RuleSetKind.COLLECTION_POLICY, "default", BUILTIN) == DEFAULT
    with pytest.raises(ChangeInvalid) as refused:
        registry.validate(RuleSetKind.COLLECTION_POLICY, "default", {**BUILTIN, "watchDays": -1})
    assert (refused.value.code, refused.value.field) == (
        ErrorCode.CHANGE_INVALID,
        "payload.watchDays",
    )
    with pytest.raises(ChangeInvalid) as named:
        registry.validate(RuleSetKind.COLLECTION_POLICY, "CN", BUILTIN)
    assert named.value.field == "name"
    # What is stored is the payload as its reader understood it.
    assert found.normalise("default", dict(reversed(list(BUILTIN.items())))) == BUILTIN
