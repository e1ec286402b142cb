"""The payload form of the rule sets maker–checker changes: the checked-in defaults round-trip
exactly, and a bad payload is refused naming the field at fault."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from domain.changes import registry, rules
from domain.changes.errors import ChangeInvalid
from domain.conduct.profiles import CN, PROFILES, US_REG_F
from domain.errors import ErrorCode
from domain.payments.waterfall import DEFAULT_WATERFALL, DebtComponent
from domain.rulesets import RuleSetKind
from domain.warnings.rules import DEFAULT_RULES, RuleName


def through_json(payload: dict[str, Any]) -> Any:
    """What the database gives back."""
    return json.loads(json.dumps(payload))


def test_the_default_waterfall_round_trips_exactly() -> None:
    payload = rules.waterfall_to_payload(DEFAULT_WATERFALL)
    assert payload == {"version": "2026.1", "order": ["PENALTY", "FEE", "INTEREST", "PRINCIPAL"]}
    assert rules.waterfall_from_payload(through_json(payload)) == DEFAULT_WATERFALL


@pytest.mark.parametrize("profile", [CN, US_REG_F], ids=lambda p: p.name)
def test_every_checked_in_conduct_profile_round_trips_exactly(profile: Any) -> None:
    payload = through_json(rules.conduct_profile_to_payload(profile))
    assert rules.conduct_profile_from_payload(profile.name, payload) == profile
    assert [r["rule"] for r in payload["rules"]] == list(profile.rule_names)


def test_the_default_warning_rules_round_trip_exactly() -> None:
    payload = through_json(rules.warning_rules_to_payload(DEFAULT_RULES))
    large = next(r for r in payload["rules"] if r["name"] == "LARGE_OUTSTANDING")
    assert large["amounts"] == {"CNY": "100000.00", "USD": "15000.00"}
    assert rules.warning_rules_from_payload(payload) == DEFAULT_RULES


def test_a_changed_waterfall_reads_as_its_new_order() -> None:
    read = rules.waterfall_from_payload(
        {"version": "2026.2", "order": ["PRINCIPAL", "INTEREST", "FEE", "PENALTY"]}
    )
    assert read.version == "2026.2"
    assert read.order[0] == DebtComponent.PRINCIPAL


def _refused(read: Any, payload: Any) -> str | None:
    with pytest.raises(ChangeInvalid) as refused:
        read(payload)
    assert refused.value.code == ErrorCode.CHANGE_INVALID
    return refused.value.field


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "payload"),
        ({"order": ["PENALTY", "FEE", "INTEREST", "PRINCIPAL"]}, "payload.version"),
        ({"version": "", "order": ["PENALTY"]}, "payload.version"),
        ({"version": "x y", "order": ["PENALTY"]}, "payload.version"),
        ({"version": "2", "order": ["PENALTY", "FEE", "INTEREST"]}, "payload.order"),
        ({"version": "2", "order": ["PENALTY", "FEE", "INTEREST", "FEE"]}, "payload.order"),
        ({"version": "2", "order": ["PENALTY", "FEE", "TAX", "PRINCIPAL"]}, "payload.order[2]"),
        ({"version": "2", "order": "PENALTY"}, "payload.order"),
        (
            {"version": "2", "order": ["PENALTY", "FEE", "INTEREST", "PRINCIPAL"], "x": 1},
            "payload.x",
        ),
    ],
)
def test_a_bad_waterfall_is_refused_naming_the_field(payload: Any, field: str) -> None:
    assert _refused(rules.waterfall_from_payload, payload) == field


def _cn() -> dict[str, Any]:
    return through_json(rules.conduct_profile_to_payload(CN))


def _quiet(payload: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in payload["rules"] if r["rule"] == "QUIET_HOURS")


def _daily(payload: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in payload["rules"] if r["rule"] == "DAILY_ATTEMPTS")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: _daily(p).update(limit=0), "payload.rules[5].limit"),
        (lambda p: _daily(p).update(limit=True), "payload.rules[5].limit"),
        (lambda p: _daily(p).update(limit=101), "payload.rules[5].limit"),
        (lambda p: _daily(p).pop("consentLifts"), "payload.rules[5].consentLifts"),
        (lambda p: _quiet(p).update(allowedFrom="8:00"), "payload.rules[4].allowedFrom"),
        (lambda p: _quiet(p).update(allowedUntil="07:00"), "payload.rules[4].allowedUntil"),
        (lambda p: _quiet(p).update(channels=["PIGEON"]), "payload.rules[4].channels[0]"),
        (
            lambda p: _quiet(p).update(fallbackTimeZones=["Mars/Olympus"]),
            "payload.rules[4].fallbackTimeZones[0]",
        ),
        (lambda p: p.update(defaultTimeZone="Nowhere"), "payload.defaultTimeZone"),
        (lambda p: p["rules"].append(p["rules"][0]), "payload.rules[7].rule"),
        (lambda p: p["rules"][0].update(rule="OPEN_COMPLAINT"), "payload.rules[0].rule"),
        (lambda p: p["rules"][0].update(explanation=" "), "payload.rules[0].explanation"),
        (lambda p: p["rules"][0].update(explanation="a\x00b"), "payload.rules[0].explanation"),
        (lambda p: p.update(rules=[]), "payload.rules"),
    ],
)
def test_a_bad_conduct_profile_is_refused_naming_the_field(change: Any, field: str) -> None:
    payload = _cn()
    change(payload)
    assert _refused(lambda p: rules.conduct_profile_from_payload("CN", p), payload) == field


def test_a_profile_no_portfolio_uses_is_refused() -> None:
    assert _refused(lambda p: rules.conduct_profile_from_payload("XX", p), _cn()) == "name"


@pytest.mark.parametrize("rule", ["OPTED_OUT", "CONTACT_POINT_INVALID", "QUIET_HOURS"])
def test_a_conduct_profile_keeps_every_rule_of_its_checked_in_profile(rule: str) -> None:
    payload = _cn()
    payload["rules"] = [r for r in payload["rules"] if r["rule"] != rule]
    with pytest.raises(ChangeInvalid) as raised:
        rules.conduct_profile_from_payload("CN", payload)
    assert raised.value.field == "payload.rules" and rule in raised.value.message


def test_a_conduct_profile_takes_no_rule_its_checked_in_profile_lacks() -> None:
    payload = _cn()
    us = rules.conduct_profile_to_payload(US_REG_F)
    payload["rules"].append(next(r for r in us["rules"] if r["rule"] == "WEEKLY_CALLS"))
    assert _refused(lambda p: rules.conduct_profile_from_payload("CN", p), payload) == (
        "payload.rules"
    )


def _us_rule(payload: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in payload["rules"] if r["rule"] == name)


@pytest.mark.parametrize(
    ("rule", "key", "looser", "tighter"),
    [
        ("WEEKLY_CALLS", "limit", 8, 6),
        ("WEEKLY_CALLS", "windowDays", 6, 7),
        ("AFTER_CONVERSATION", "waitDays", 6, 7),
        ("QUIET_HOURS", "allowedUntil", "21:30", "20:00"),
        ("QUIET_HOURS", "allowedFrom", "07:59", "09:00"),
        ("THIRD_PARTY", "failedAttempts", 2, 5),
    ],
)
def test_a_us_reg_f_version_may_tighten_its_numbers_never_loosen_them(
    rule: str, key: str, looser: Any, tighter: Any
) -> None:
    payload = through_json(rules.conduct_profile_to_payload(US_REG_F))
    _us_rule(payload, rule)[key] = tighter
    read = rules.conduct_profile_from_payload("US_REG_F", payload)
    assert rules.conduct_profile_to_payload(read)["rules"] == payload["rules"]
    _us_rule(payload, rule)[key] = looser
    index = [r["rule"] for r in payload["rules"]].index(rule)
    refused = _refused(lambda p: rules.conduct_profile_from_payload("US_REG_F", p), payload)
    assert refused == f"payload.rules[{index}].{key}"


def test_a_cn_version_may_not_raise_its_daily_limits() -> None:
    payload = _cn()
    _daily(payload)["limit"] = 7
    assert _refused(lambda p: rules.conduct_profile_from_payload("CN", p), payload) == (
        "payload.rules[5].limit"
    )


def test_a_payload_is_stored_as_its_reader_understood_it() -> None:
    found = registry.entry(RuleSetKind.WARNING_RULES)
    assert found is not None
    payload = through_json(rules.warning_rules_to_payload(DEFAULT_RULES))
    payload["rules"][0]["windowDays"] = None  # an optional key given as null
    large = next(r for r in payload["rules"] if r["name"] == "LARGE_OUTSTANDING")
    large["amounts"] = {"USD": "15000.00", "CNY": "100000.00"}
    normal = found.normalise("default", payload)
    assert normal == rules.warning_rules_to_payload(DEFAULT_RULES)
    assert "windowDays" not in normal["rules"][0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r[0].update(threshold=0), "payload.rules[0].threshold"),
        (lambda r: r[0].update(severity="CRITICAL"), "payload.rules[0].severity"),
        (lambda r: r[3].update(windowDays=0), "payload.rules[3].windowDays"),
        (lambda r: r[6].update(amounts={"CNY": "0"}), "payload.rules[6].amounts.CNY"),
        (lambda r: r[6].update(amounts={"CNY": 100}), "payload.rules[6].amounts.CNY"),
        (lambda r: r[6].update(amounts={"CNY": "1.005"}), "payload.rules[6].amounts.CNY"),
        (lambda r: r[6].update(amounts={"cny": "1"}), "payload.rules[6].amounts"),
        (lambda r: r.append(copy.deepcopy(r[0])), "payload.rules[9].name"),
        (lambda r: r[0].update(name="NO_SUCH_RULE"), "payload.rules[0].name"),
    ],
)
def test_bad_warning_rules_are_refused_naming_the_field(change: Any, field: str) -> None:
    payload = through_json(rules.warning_rules_to_payload(DEFAULT_RULES))
    change(payload["rules"])
    assert _refused(rules.warning_rules_from_payload, payload) == field


def test_warning_rules_may_leave_a_rule_out() -> None:
    payload = through_json(rules.warning_rules_to_payload(DEFAULT_RULES))
    payload["rules"] = [r for r in payload["rules"] if r["name"] != "RISING_DPD"]
    read = rules.warning_rules_from_payload(payload)
    assert read.get(RuleName.RISING_DPD) is None


def test_the_registry_names_the_rule_sets_and_their_defaults() -> None:
    waterfall = registry.changeable(RuleSetKind.WATERFALL)
    assert waterfall.names == ("default",)
    assert waterfall.default("default") == rules.waterfall_to_payload(DEFAULT_WATERFALL)
    assert registry.changeable(RuleSetKind.CONDUCT_PROFILE).names == tuple(PROFILES)
    with pytest.raises(ChangeInvalid) as refused:
        registry.validate(
            RuleSetKind.WATERFALL, "CN", rules.waterfall_to_payload(DEFAULT_WATERFALL)
        )
    assert refused.value.field == "name"


@pytest.mark.parametrize("kind", list(RuleSetKind), ids=str)
def test_every_changeable_rule_set_reads_its_own_defaults(kind: RuleSetKind) -> None:
    found = registry.entry(kind)
    if found is None:
        with pytest.raises(ChangeInvalid) as refused:
            registry.changeable(kind)
        assert refused.value.field == "kind"
        return
    for name in found.names:
        default = found.default(name)
        assert default is not None, (kind, name)
        registry.validate(kind, name, through_json(default))
        with pytest.raises(ChangeInvalid) as refused:
            registry.validate(kind, name, {**default, "bogus": 1})
        assert (refused.value.field or "").startswith("payload")


def _keys(value: Any) -> list[str]:
    """Every object key of a payload, however deep."""
    if isinstance(value, dict):
        return [k for key, item in value.items() for k in [str(key), *_keys(item)]]
    if isinstance(value, list):
        return [k for item in value for k in _keys(item)]
    return []


@pytest.mark.parametrize("kind", list(RuleSetKind), ids=str)
def test_every_rule_set_payload_spells_its_keys_in_camel_case(kind: RuleSetKind) -> None:
    found = registry.entry(kind)
    if found is None:
        return
    for name in found.names:
        keys = _keys(found.default(name))
        assert keys, (kind, name)
        assert [k for k in keys if not re.fullmatch(r"[a-z][a-zA-Z0-9]*|[A-Z]{3}", k)] == []
