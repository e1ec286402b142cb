"""Which rule sets may be changed through maker–checker, and the reader that checks each proposal.

A kind is changeable only when its reader exists *and* something reads its stored versions (a
change with no effect is refused, not stored). Each entry validates a payload with its owner's
``from_payload`` (``ChangeInvalid`` naming the field), names the rule sets of its kind, and
gives the checked-in default's payload where it knows it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from domain.changes import rules
from domain.changes.errors import ChangeInvalid, ContentRuleBroken
from domain.conduct.profiles import PROFILES
from domain.errors import DomainError
from domain.payments.waterfall import DEFAULT_WATERFALL
from domain.rulesets import DEFAULT_NAME, RuleSetKind
from domain.warnings.rules import DEFAULT_RULES

Payload = dict[str, Any]


@dataclass(frozen=True)
class Entry:
    """A changeable kind: its rule sets' names, its reader and writer, and its defaults'
    payloads."""

    kind: RuleSetKind
    names: tuple[str, ...]
    read: Callable[[str, Payload], object]
    default: Callable[[str], Payload | None]
    write: Callable[[object], Payload]
    # An open kind takes any well-formed name (``OPEN_NAME``): a new strategy or template;
    # ``names`` then lists its checked-in defaults only.
    open: bool = False

    def validate(self, name: str, payload: Payload) -> object:
        """Returns the rule set a payload describes, or refuses it (CHANGE_INVALID; a rule the
        content breaks keeps its own code, e.g. TEMPLATE_CONTENT_MISSING)."""
        if self.open:
            if not OPEN_NAME.fullmatch(name):
                raise ChangeInvalid(
                    f"{self.kind} names are 2–64 capitals, digits and underscores, starting "
                    f"with a capital (e.g. MILD_REMINDER), not {name!r}",
                    "name",
                )
        elif name not in self.names:
            known = ", ".join(self.names)
            raise ChangeInvalid(f"{self.kind} has no rule set named {name!r} ({known})", "name")
        try:
            return self.read(name, payload)
        except ChangeInvalid:
            raise
        except ContentRuleBroken as error:
            field = error.field or ""
            if not field.startswith("payload"):
                error.field = f"payload.{field}" if field else "payload"
            raise
        except DomainError as error:
            field = error.field or ""
            if not field.startswith("payload"):
                field = f"payload.{field}" if field else "payload"
            raise ChangeInvalid(error.message, field=field) from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ChangeInvalid(f"payload: {exc}", field="payload") from None

    def normalise(self, name: str, payload: Payload) -> Payload:
        """The payload as its reader understood it, written back (``to_payload(from_payload)``):
        what is stored, so that every version reads the same way whatever its input spelt."""
        return dict(self.write(self.validate(name, payload)))


# The names of the open kinds' rule sets.
OPEN_NAME = re.compile(r"[A-Z][A-Z0-9_]{1,63}")


def _default_only(read: Callable[[Payload], object]) -> Callable[[str, Payload], object]:
    def by_name(name: str, payload: Payload) -> object:
        rules.check_default_name(name)
        return read(payload)

    return by_name


def _writer(write: Callable[[Any], Payload]) -> Callable[[object], Payload]:
    return write


# The rule sets whose readers this slice wrote, each read by its consumer at the request instant
# (store.changes_queries): postPayment and reversePayment, contacts, the daily run's warnings.
_BUILT_IN: dict[RuleSetKind, Entry] = {
    RuleSetKind.WATERFALL: Entry(
        RuleSetKind.WATERFALL,
        (DEFAULT_NAME,),
        _default_only(rules.waterfall_from_payload),
        lambda name: rules.waterfall_to_payload(DEFAULT_WATERFALL),
        _writer(rules.waterfall_to_payload),
    ),
    RuleSetKind.CONDUCT_PROFILE: Entry(
        RuleSetKind.CONDUCT_PROFILE,
        tuple(PROFILES),
        rules.conduct_profile_from_payload,
        lambda name: rules.conduct_profile_to_payload(PROFILES[name]),
        _writer(rules.conduct_profile_to_payload),
    ),
    RuleSetKind.WARNING_RULES: Entry(
        RuleSetKind.WARNING_RULES,
        (DEFAULT_NAME,),
        _default_only(rules.warning_rules_from_payload),
        lambda name: rules.warning_rules_to_payload(DEFAULT_RULES),
        _writer(rules.warning_rules_to_payload),
    ),
}

# The rule sets of the debt-handling features, each read by its feature through
# ``store.rule_sets.in_effect``: (module, its reader, its writer, its default or defaults by
# name, the names). Looked up when asked, so that a feature without its reader yet is refused.
_FEATURES: dict[RuleSetKind, tuple[str, str, str, str, tuple[str, ...]]] = {
    RuleSetKind.APPROVAL_LIMITS: (
        "domain.restructuring.policy",
        "limits_from_payload",
        "limits_to_payload",
        "DEFAULT_LIMITS",
        (DEFAULT_NAME,),
    ),
    RuleSetKind.RESTRUCTURING_POLICY: (
        "domain.restructuring.policy",
        "policy_from_payload",
        "policy_to_payload",
        "DEFAULT_POLICY",
        (DEFAULT_NAME,),
    ),
    RuleSetKind.LEGAL_POLICY: (
        "domain.legal.policy",
        "from_payload",
        "to_payload",
        "DEFAULTS",
        tuple(PROFILES),
    ),
    RuleSetKind.WRITE_OFF_POLICY: (
        "domain.writeoff.policy",
        "from_payload",
        "to_payload",
        "DEFAULT",
        (DEFAULT_NAME,),
    ),
    RuleSetKind.COLLECTION_POLICY: (
        "domain.collection_policy",
        "from_payload",
        "to_payload",
        "DEFAULT",
        (DEFAULT_NAME,),
    ),
}


# The open kinds (strategies, templates): (module, its reader ``(name, payload)``, its writer, its
# defaults by name). Looked up when asked, like the features above.
_OPEN: dict[RuleSetKind, tuple[str, str, str, str]] = {
    RuleSetKind.STRATEGY: (
        "domain.strategies.definition",
        "strategy_from_payload",
        "strategy_to_payload",
        "DEFAULT_STRATEGIES",
    ),
    RuleSetKind.STRATEGY_CHALLENGER: (
        "domain.strategies.definition",
        "challenger_from_payload",
        "challenger_to_payload",
        "DEFAULT_CHALLENGERS",
    ),
    RuleSetKind.NOTICE_TEMPLATE: (
        "domain.notices.templates",
        "template_from_payload",
        "template_to_payload",
        "DEFAULT_TEMPLATES",
    ),
}


def _open(kind: RuleSetKind) -> Entry | None:
    """The entry of an open kind, if its module and reader exist."""
    module_name, reader, writer, defaults_name = _OPEN[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return None
    read = getattr(module, reader, None)
    write = getattr(module, writer, None)
    defaults: Mapping[str, object] = getattr(module, defaults_name, None) or {}
    if read is None or write is None:
        return None

    def default_payload(name: str) -> Payload | None:
        value = defaults.get(name)
        return None if value is None else dict(write(value))

    return Entry(kind, tuple(defaults), read, default_payload, write, open=True)


def _feature(kind: RuleSetKind) -> Entry | None:
    """The entry of a feature's rule set, if its policy module and reader exist."""
    module_name, reader, writer, defaults, names = _FEATURES[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return None
    read = getattr(module, reader, None)
    if read is None:
        return None
    write = getattr(module, writer, None)
    default = getattr(module, defaults, None)
    if write is None:  # a version it could not write back is not stored
        return None

    def default_payload(name: str) -> Payload | None:
        value = default.get(name) if isinstance(default, Mapping) else default
        if value is None:
            return None
        return dict(write(value))

    return Entry(
        kind, names, lambda name, payload: read(payload), default_payload, lambda p: write(p)
    )


def entry(kind: RuleSetKind) -> Entry | None:
    """Returns the entry of a kind, or None when it cannot be changed through maker–checker."""
    if kind in _OPEN:
        return _open(kind)
    return _BUILT_IN.get(kind) or _feature(kind)


def changeable(kind: RuleSetKind) -> Entry:
    """Returns the entry of a kind, or refuses a kind that nothing reads from the database yet."""
    found = entry(kind)
    if found is None:
        raise ChangeInvalid(
            f"{kind} is not yet changeable through maker–checker (no reader of stored versions)",
            field="kind",
        )
    return found


def validate(kind: RuleSetKind, name: str, payload: Payload) -> object:
    """Returns the rule set a proposed payload describes, or refuses it (CHANGE_INVALID)."""
    return changeable(kind).validate(name, payload)
