"""Pure masking functions for confidential values, and the one place that applies them."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from domain.borrowers.model import Borrower, ConfidentialField
from domain.contacts.model import ContactPointKind
from domain.retention.placeholders import is_placeholder
from domain.staff.model import Role

FULL_MASK = "****"
# A partial mask always hides at least this many characters.
MIN_HIDDEN = 4


def mask_partial(value: str, prefix: int, suffix: int) -> str:
    """Keeps ``prefix`` leading and ``suffix`` trailing characters: 18612344530 → 186****4530.

    At least ``MIN_HIDDEN`` characters stay hidden: a shorter value shows fewer, the prefix
    giving way first, then the suffix (12345678 → ****5678, 1234567 → ****567, 1234 → ****)."""
    shown = max(0, len(value) - MIN_HIDDEN)
    suffix = min(suffix, shown)
    prefix = min(prefix, shown - suffix)
    if prefix + suffix == 0:
        return FULL_MASK
    return f"{value[:prefix]}****{value[len(value) - suffix :] if suffix else ''}"


def mask_email(value: str) -> str:
    """Keeps the first letter of the local part and the domain: z***@example.com."""
    local, at, domain = value.partition("@")
    if not at or not local:
        return FULL_MASK
    return f"{local[0]}***@{domain}"


def mask_area(city: str, district: str) -> str:
    """Reduces an address to its city and district."""
    # Chinese place names run together (上海市浦东新区); Latin ones need a space (Chicago IL).
    latin = city[-1:].isascii() and district[:1].isascii()
    return f"{city}{' ' if latin and city and district else ''}{district}****"


# ---- Rules as data: how each role sees each confidential field -------------------------------


class Mask(enum.StrEnum):
    FULL = "FULL"
    PARTIAL = "PARTIAL"
    EMAIL = "EMAIL"
    AREA = "AREA"
    NONE = "NONE"


@dataclass(frozen=True, slots=True)
class Rule:
    """How a field is shown; ``legal_stage_only`` grants the rule only while the borrower is in
    legal proceedings (one of their cases the viewer sees is in stage LEGAL)."""

    mask: Mask
    prefix: int = 0
    suffix: int = 0
    legal_stage_only: bool = False

    @property
    def clear(self) -> bool:
        return self.mask is Mask.NONE


F = ConfidentialField

# How everyone sees each confidential field unless a role's rule below says otherwise. Both
# tables are read-only: the rules of a role set are looked up once and kept (``_compiled``).
DEFAULT_RULES: Mapping[ConfidentialField, Rule] = MappingProxyType(
    {
        F.NATIONAL_ID: Rule(Mask.PARTIAL, 3, 4),
        F.PHONE: Rule(Mask.PARTIAL, 3, 4),
        F.EMAIL: Rule(Mask.EMAIL),
        F.ADDRESS: Rule(Mask.AREA),
        F.EMPLOYER: Rule(Mask.FULL),
        F.INCOME: Rule(Mask.FULL),
    }
)
# Every confidential field has a default rule: a new field cannot leave unmasked by omission.
assert set(DEFAULT_RULES) == set(ConfidentialField), "a confidential field has no masking rule"

# Per-role exceptions to the defaults. Auditors and admins have none: they always see masks.
# Keyed by role name (a Role is its name), so roles from a token look up directly.
ROLE_RULES: Mapping[str, Mapping[ConfidentialField, Rule]] = MappingProxyType(
    {
        Role.LEGAL: MappingProxyType(
            {name: Rule(Mask.NONE, legal_stage_only=True) for name in ConfidentialField}
        ),
    }
)

_LABELS = {
    F.NATIONAL_ID: "National ID",
    F.PHONE: "Mobile number",
    F.EMAIL: "E-mail address",
    F.ADDRESS: "Address",
    F.EMPLOYER: "Employer",
    F.INCOME: "Monthly income and its currency",
}
_SHOWN = {
    Mask.PARTIAL: "masked to its first and last digits (e.g. `186****4530`)",
    Mask.EMAIL: "masked to its first letter and domain (e.g. `z***@example.com`)",
    Mask.AREA: "masked down to city and district",
    Mask.FULL: "masked entirely (`****`)",
    Mask.NONE: "in clear",
}


def describe(field: ConfidentialField) -> str:
    """Returns the API description of a confidential field, from its default rule."""
    label = _LABELS.get(field, field.value.replace("_", " ").capitalize())
    return f"{label}; {_SHOWN[DEFAULT_RULES[field].mask]} unless your role may see it."


def depends_on_legal_stage(roles: Iterable[str]) -> bool:
    """Returns whether any of the roles sees some field differently in legal proceedings."""
    return _depends_on_legal_stage(tuple(roles))


@lru_cache(maxsize=256)
def _depends_on_legal_stage(roles: tuple[str, ...]) -> bool:
    return any(
        rule.legal_stage_only for role in roles for rule in ROLE_RULES.get(role, {}).values()
    )


def rule_for(roles: Iterable[str], field: ConfidentialField, legal_stage: bool) -> Rule:
    """Returns the most revealing rule any of the roles holds for the field in this context."""
    return _compiled(tuple(roles), legal_stage).by_field[field]


def _lookup(roles: tuple[str, ...], field: ConfidentialField, legal_stage: bool) -> Rule:
    for role in roles:
        rule = ROLE_RULES.get(role, {}).get(field)
        if rule is not None and rule.clear and (legal_stage or not rule.legal_stage_only):
            return rule
    return DEFAULT_RULES[field]


@dataclass(frozen=True, slots=True)
class _Compiled:
    """The rules of one role set in one context, looked up once: every field with its rule (in
    the fields' order) and the fields shown in clear."""

    rules: tuple[tuple[ConfidentialField, Rule], ...]
    by_field: Mapping[ConfidentialField, Rule]
    clear: frozenset[ConfidentialField]


# Keyed by the roles in their order (the first clear rule wins, as ``_lookup`` reads them). The
# rules are constants of this module, so an entry never goes stale; role sets are few (the
# staff's combinations), and the bound keeps odd ones from growing it.
@lru_cache(maxsize=256)
def _compiled(roles: tuple[str, ...], legal_stage: bool) -> _Compiled:
    rules = tuple((field, _lookup(roles, field, legal_stage)) for field in ConfidentialField)
    return _Compiled(
        rules=rules,
        by_field=MappingProxyType(dict(rules)),
        clear=frozenset(field for field, rule in rules if rule.clear),
    )


def apply(rule: Rule, value: str, city: str = "", district: str = "") -> str:
    """Applies a rule to a clear value; a placeholder left by the purge is shown as it is (it is
    no one's data)."""
    if rule.mask is Mask.NONE or is_placeholder(value):
        return value
    if rule.mask is Mask.PARTIAL:
        return mask_partial(value, rule.prefix, rule.suffix)
    if rule.mask is Mask.EMAIL:
        return mask_email(value)
    if rule.mask is Mask.AREA:
        return mask_area(city, district)
    return FULL_MASK


@dataclass(frozen=True, slots=True)
class MaskedBorrower:
    """A borrower's confidential values as one viewer may see them; the only way they leave."""

    values: dict[ConfidentialField, str]
    clear_fields: frozenset[ConfidentialField]


def mask_borrower(borrower: Borrower, roles: Iterable[str], legal_stage: bool) -> MaskedBorrower:
    """Returns every confidential field of a borrower, masked as the roles' rules say
    (``legal_stage``: the borrower is in legal proceedings, as ``Rule`` says).

    Runs for every borrower a request shows, so the rules of the role set are looked up once
    (``_compiled``) and only applied here."""
    compiled = _compiled(tuple(roles), legal_stage)
    city, district = borrower.city, borrower.district
    values = {
        field: apply(rule, borrower.value_of(field), city, district)
        for field, rule in compiled.rules
    }
    return MaskedBorrower(values, compiled.clear)


# A contact point's value is the borrower's personal data of the field of its kind, and is shown
# by that field's rules (an address point has no separate city and district: masked entirely).
CONTACT_POINT_FIELDS: dict[ContactPointKind, ConfidentialField] = {
    ContactPointKind.PHONE: F.PHONE,
    ContactPointKind.EMAIL: F.EMAIL,
    ContactPointKind.ADDRESS: F.ADDRESS,
}


def mask_contact_point(
    kind: ContactPointKind, value: str, roles: Iterable[str], legal_stage: bool
) -> tuple[str, bool]:
    """Returns a contact point's value as the roles may see it, and whether it is in clear."""
    rule = rule_for(roles, CONTACT_POINT_FIELDS[kind], legal_stage)
    return apply(rule, value), rule.clear
