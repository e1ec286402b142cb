"""Rule sets as payloads: the JSON form of the waterfall, the conduct profiles and the warning
rules, read back with every field checked (``ChangeInvalid`` names the field at fault).

``to_payload`` of a checked-in default read back by ``from_payload`` gives the default again,
exactly (tests/unit/test_changes_rules.py). Keys are camelCase, as in the API.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import time, timedelta
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.changes.errors import ChangeInvalid
from domain.conduct.profiles import (
    PROFILES,
    AfterConversation,
    ConductProfile,
    ConductRule,
    ConnectedCallsPerDay,
    ContactPointInvalid,
    DailyAttempts,
    FieldVisitTwoStaff,
    OptedOut,
    QuietHours,
    RuleName,
    ThirdParty,
    WeeklyCalls,
    hhmm,
)
from domain.contacts.model import ContactChannel
from domain.payments.waterfall import DebtComponent, Waterfall
from domain.rulesets import DEFAULT_NAME
from domain.warnings.rules import Rule, Severity, WarningRules
from domain.warnings.rules import RuleName as WarningRuleName

E = TypeVar("E", bound=enum.Enum)

MAX_LABEL = 32
MAX_TEXT = 500
MAX_ITEMS = 50
MAX_COUNT = 10_000
MAX_AMOUNT = Decimal(10) ** 15


def _encodable(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


class Reader:
    """Reads one JSON object, naming the path of whatever is wrong (``payload.rules[2].limit``)."""

    def __init__(self, data: object, path: str = "payload") -> None:
        if not isinstance(data, dict):
            raise ChangeInvalid(f"{path} must be an object", field=path)
        self.data: dict[str, Any] = data
        self.path = path
        self.read: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def raw(self, key: str, required: bool = True) -> Any:
        self.read.add(key)
        if key not in self.data or self.data[key] is None:
            if required:
                raise ChangeInvalid(f"{self.at(key)} is required", field=self.at(key))
            return None
        return self.data[key]

    def text(self, key: str, limit: int = MAX_TEXT, required: bool = True) -> str:
        value = self.raw(key, required)
        if value is None:
            return ""
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise ChangeInvalid(
                f"{self.at(key)} must be text of 1 to {limit} characters", field=self.at(key)
            )
        if "\x00" in value or (not value.isprintable() and not _encodable(value)):
            raise ChangeInvalid(f"{self.at(key)} is not valid text", field=self.at(key))
        return value

    def integer(self, key: str, low: int = 1, high: int = MAX_COUNT, required: bool = True) -> Any:
        value = self.raw(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ChangeInvalid(
                f"{self.at(key)} must be a whole number from {low} to {high}", field=self.at(key)
            )
        return value

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise ChangeInvalid(f"{self.at(key)} must be true or false", field=self.at(key))
        return value

    def items(self, key: str) -> list[Any]:
        value = self.raw(key)
        if not isinstance(value, list) or not value or len(value) > MAX_ITEMS:
            raise ChangeInvalid(
                f"{self.at(key)} must be a list of 1 to {MAX_ITEMS} items", field=self.at(key)
            )
        return value

    def member(self, key: str, kind: type[E], value: Any = None, path: str | None = None) -> E:
        where = path or self.at(key)
        value = self.raw(key) if value is None else value
        try:
            return kind(value)
        except ValueError:
            names = ", ".join(str(m.value) for m in kind)
            raise ChangeInvalid(f"{where} must be one of {names}", field=where) from None

    def done(self) -> None:
        """Refuses keys nobody reads (a misspelt key would otherwise be silently ignored)."""
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            where = self.at(unknown[0])
            raise ChangeInvalid(f"{where} is not a field of this rule set", field=where)


def version_label(reader: Reader) -> str:
    """The rule set's version label (``2026.2``), recorded by what it decides: every kind's one
    reader of its payload's ``version``."""
    label = reader.text("version", MAX_LABEL)
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", label):
        where = reader.at("version")
        raise ChangeInvalid(f"{where} may hold letters, digits, '.', '_' and '-'", field=where)
    return label


def check_default_name(name: str) -> None:
    """A rule set that has one version for everybody is named ``default``."""
    if name != DEFAULT_NAME:
        raise ChangeInvalid(f"this rule set is named {DEFAULT_NAME!r}", field="name")


# ---- Waterfall ----------------------------------------------------------------------------------


def waterfall_to_payload(waterfall: Waterfall) -> dict[str, Any]:
    return {"version": waterfall.version, "order": [str(c) for c in waterfall.order]}


def waterfall_from_payload(payload: object) -> Waterfall:
    """The order in which a payment reduces the components: each of PENALTY, FEE, INTEREST and
    PRINCIPAL exactly once."""
    reader = Reader(payload)
    version = version_label(reader)
    raw = reader.items("order")
    order = tuple(
        reader.member("order", DebtComponent, value=v, path=f"payload.order[{i}]")
        for i, v in enumerate(raw)
    )
    reader.done()
    try:
        return Waterfall(version=version, order=order)
    except ValueError as exc:
        raise ChangeInvalid(str(exc), field="payload.order") from None


# ---- Conduct profiles ---------------------------------------------------------------------------


def _days(value: timedelta) -> int:
    return value.days


def _rule_to_payload(rule: ConductRule) -> dict[str, Any]:
    data: dict[str, Any] = {"rule": str(rule.name)}
    if isinstance(rule, QuietHours):
        data |= {
            "allowedFrom": hhmm(rule.allowed_from),
            "allowedUntil": hhmm(rule.allowed_until),
            "channels": sorted(str(c) for c in rule.channels),
            "fallbackTimeZones": list(rule.fallback_time_zones),
        }
    elif isinstance(rule, DailyAttempts):
        data |= {"limit": rule.limit, "consentLifts": rule.consent_lifts}
    elif isinstance(rule, ConnectedCallsPerDay):
        data |= {"limit": rule.limit}
    elif isinstance(rule, WeeklyCalls):
        data |= {"limit": rule.limit, "windowDays": _days(rule.window)}
    elif isinstance(rule, AfterConversation):
        data |= {"waitDays": _days(rule.wait)}
    elif isinstance(rule, ThirdParty):
        data |= {"failedAttempts": rule.failed_attempts}
    elif isinstance(rule, FieldVisitTwoStaff):
        data |= {"minStaff": rule.min_staff}
    data["explanation"] = rule.explanation
    return data


def conduct_profile_to_payload(profile: ConductProfile) -> dict[str, Any]:
    return {
        "version": profile.version,
        "description": profile.description,
        "defaultTimeZone": profile.default_time_zone,
        "rules": [_rule_to_payload(rule) for rule in profile.rules],
    }


def _time_of_day(reader: Reader, key: str) -> time:
    value = reader.raw(key)
    if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ChangeInvalid(f"{reader.at(key)} must be a time HH:MM", field=reader.at(key))
    return time(int(value[:2]), int(value[3:]))


def _zone(value: object, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise ChangeInvalid(f"{where} must be an IANA time zone", field=where)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ChangeInvalid(f"{where}: no time zone named {value[:64]!r}", field=where) from None
    return value


def _conduct_rule(reader: Reader) -> ConductRule:
    name = reader.member("rule", RuleName)
    explanation = reader.text("explanation")
    rule: ConductRule
    if name == RuleName.QUIET_HOURS:
        channels = reader.items("channels")
        zones = reader.items("fallbackTimeZones")
        rule = QuietHours(
            allowed_from=_time_of_day(reader, "allowedFrom"),
            allowed_until=_time_of_day(reader, "allowedUntil"),
            channels=frozenset(
                reader.member("channels", ContactChannel, c, f"{reader.at('channels')}[{i}]")
                for i, c in enumerate(channels)
            ),
            fallback_time_zones=tuple(
                _zone(z, f"{reader.at('fallbackTimeZones')}[{i}]") for i, z in enumerate(zones)
            ),
            explanation=explanation,
        )
        if rule.allowed_from >= rule.allowed_until:
            where = reader.at("allowedUntil")
            raise ChangeInvalid(f"{where} must be after allowedFrom", field=where)
    elif name == RuleName.DAILY_ATTEMPTS:
        rule = DailyAttempts(
            limit=reader.integer("limit", high=100),
            consent_lifts=reader.boolean("consentLifts"),
            explanation=explanation,
        )
    elif name == RuleName.CONNECTED_CALLS_PER_DAY:
        rule = ConnectedCallsPerDay(
            limit=reader.integer("limit", high=100), explanation=explanation
        )
    elif name == RuleName.WEEKLY_CALLS:
        rule = WeeklyCalls(
            limit=reader.integer("limit", high=100),
            window=timedelta(days=reader.integer("windowDays", high=7)),
            explanation=explanation,
        )
    elif name == RuleName.AFTER_CONVERSATION:
        rule = AfterConversation(
            wait=timedelta(days=reader.integer("waitDays", high=7)), explanation=explanation
        )
    elif name == RuleName.THIRD_PARTY:
        rule = ThirdParty(
            failed_attempts=reader.integer("failedAttempts", high=100), explanation=explanation
        )
    elif name == RuleName.FIELD_VISIT_TWO_STAFF:
        rule = FieldVisitTwoStaff(
            min_staff=reader.integer("minStaff", high=2), explanation=explanation
        )
    elif name == RuleName.CONTACT_POINT_INVALID:
        rule = ContactPointInvalid(explanation=explanation)
    elif name == RuleName.OPTED_OUT:
        rule = OptedOut(explanation=explanation)
    else:
        where = reader.at("rule")
        raise ChangeInvalid(f"{where}: {name} is not a rule of a profile", field=where)
    reader.done()
    return rule


def conduct_profile_from_payload(name: str, payload: object) -> ConductProfile:
    """A conduct profile named as a portfolio names it (``CN``, ``US_REG_F``). The counting
    windows stay within the 8 days of contact history the engine reads (7 days at most)."""
    if name not in PROFILES:
        known = ", ".join(PROFILES)
        raise ChangeInvalid(f"no portfolio uses a conduct profile {name!r} ({known})", field="name")
    reader = Reader(payload)
    version = version_label(reader)
    description = reader.text("description")
    zone = _zone(reader.raw("defaultTimeZone"), reader.at("defaultTimeZone"))
    rules = tuple(
        _conduct_rule(Reader(item, f"payload.rules[{i}]"))
        for i, item in enumerate(reader.items("rules"))
    )
    reader.done()
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.name in seen:
            where = f"payload.rules[{i}].rule"
            raise ChangeInvalid(f"{where}: {rule.name} is listed twice", field=where)
        seen.add(rule.name)
    checked_in = PROFILES[name]
    missing = sorted(str(r.name) for r in checked_in.rules if r.name not in seen)
    extra = sorted(str(r.name) for r in rules if r.name not in {c.name for c in checked_in.rules})
    if missing or extra:
        detail = f"lacks {', '.join(missing)}" if missing else f"adds {', '.join(extra)}"
        raise ChangeInvalid(
            f"payload.rules {detail}: a version of {name} keeps the rules of its checked-in "
            "profile (the regulation), changing only their numbers",
            field="payload.rules",
        )
    by_name = {r.name: r for r in checked_in.rules}
    for i, rule in enumerate(rules):
        _not_looser(rule, by_name[rule.name], f"payload.rules[{i}]")
    return ConductProfile(
        name=name, version=version, description=description, default_time_zone=zone, rules=rules
    )


def _not_looser(rule: ConductRule, law: ConductRule, where: str) -> None:
    """Refuses a rule looser than the checked-in profile's (which states the regulation): a
    version may tighten a number, never loosen it."""

    def refuse(key: str, bound: object) -> None:
        raise ChangeInvalid(
            f"{where}.{key} may not be looser than the checked-in profile's ({bound})",
            field=f"{where}.{key}",
        )

    if isinstance(rule, QuietHours) and isinstance(law, QuietHours):
        if rule.allowed_from < law.allowed_from:
            refuse("allowedFrom", hhmm(law.allowed_from))
        if rule.allowed_until > law.allowed_until:
            refuse("allowedUntil", hhmm(law.allowed_until))
        if not law.channels <= rule.channels:
            refuse("channels", ", ".join(sorted(law.channels)))
    elif isinstance(rule, DailyAttempts) and isinstance(law, DailyAttempts):
        if rule.limit > law.limit:
            refuse("limit", law.limit)
        if rule.consent_lifts and not law.consent_lifts:
            refuse("consentLifts", law.consent_lifts)
    elif isinstance(rule, ConnectedCallsPerDay) and isinstance(law, ConnectedCallsPerDay):
        if rule.limit > law.limit:
            refuse("limit", law.limit)
    elif isinstance(rule, WeeklyCalls) and isinstance(law, WeeklyCalls):
        if rule.limit > law.limit:
            refuse("limit", law.limit)
        if rule.window < law.window:
            refuse("windowDays", law.window.days)
    elif isinstance(rule, AfterConversation) and isinstance(law, AfterConversation):
        if rule.wait < law.wait:
            refuse("waitDays", law.wait.days)
    elif isinstance(rule, ThirdParty) and isinstance(law, ThirdParty):
        if rule.failed_attempts < law.failed_attempts:
            refuse("failedAttempts", law.failed_attempts)
    elif (
        isinstance(rule, FieldVisitTwoStaff)
        and isinstance(law, FieldVisitTwoStaff)
        and rule.min_staff < law.min_staff
    ):
        refuse("minStaff", law.min_staff)


# ---- Warning rules ------------------------------------------------------------------------------


def warning_rules_to_payload(rules: WarningRules) -> dict[str, Any]:
    items = []
    for rule in rules.rules:
        item: dict[str, Any] = {
            "name": str(rule.name),
            "explanation": rule.explanation,
            "threshold": rule.threshold,
            "severity": str(rule.severity),
        }
        if rule.window_days is not None:
            item["windowDays"] = rule.window_days
        if rule.amounts:
            item["amounts"] = {cur: str(amount) for cur, amount in sorted(rule.amounts.items())}
        items.append(item)
    return {"version": rules.version, "rules": items}


def _amounts(reader: Reader) -> Mapping[str, Decimal]:
    value = reader.raw("amounts", required=False)
    if value is None:
        return MappingProxyType({})
    where = reader.at("amounts")
    if not isinstance(value, dict) or len(value) > MAX_ITEMS:
        raise ChangeInvalid(f"{where} must map currency codes to amounts", field=where)
    amounts: dict[str, Decimal] = {}
    for currency, text in value.items():
        at = f"{where}.{currency}"
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ChangeInvalid(f"{at}: currencies are ISO-4217 codes", field=where)
        try:
            amount = Decimal(text) if isinstance(text, str) else Decimal("NaN")
        except InvalidOperation:
            amount = Decimal("NaN")
        if (
            not amount.is_finite()
            or not 0 < amount < MAX_AMOUNT
            or amount != amount.quantize(Decimal("0.01"))
        ):
            raise ChangeInvalid(f"{at} must be an amount above zero as text, to the cent", field=at)
        amounts[currency] = amount
    return MappingProxyType(amounts)


def warning_rules_from_payload(payload: object) -> WarningRules:
    """The early-warning rules: one per name, thresholds and windows of at least one."""
    reader = Reader(payload)
    version = version_label(reader)
    rules: list[Rule] = []
    for i, item in enumerate(reader.items("rules")):
        r = Reader(item, f"payload.rules[{i}]")
        name = r.member("name", WarningRuleName)
        if any(rule.name == name for rule in rules):
            raise ChangeInvalid(f"{r.at('name')}: {name} is listed twice", field=r.at("name"))
        rules.append(
            Rule(
                name,
                r.text("explanation"),
                threshold=r.integer("threshold", high=1_000_000),
                severity=r.member("severity", Severity),
                window_days=r.integer("windowDays", high=3660, required=False),
                amounts=_amounts(r),
            )
        )
        r.done()
    reader.done()
    return WarningRules(version=version, rules=tuple(rules))
