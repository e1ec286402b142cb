"""Pure masking functions for confidential values, and the one place that applies them."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from domain.borrowers.model import Borrower

FULL_MASK = "****"


def mask_partial(value: str, prefix: int, suffix: int) -> str:
    """Keeps ``prefix`` leading and ``suffix`` trailing characters: 18612344530 → 186****4530."""
    if len(value) <= prefix + suffix:
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
    return f"{city}{district}****"


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


DEFAULT_RULES: dict[str, Rule] = {
    "national_id": Rule(Mask.PARTIAL, 3, 4),
    "phone": Rule(Mask.PARTIAL, 3, 4),
    "email": Rule(Mask.EMAIL),
    "address": Rule(Mask.AREA),
    "employer": Rule(Mask.FULL),
    "income": Rule(Mask.FULL),
}

# Per-role exceptions to the defaults. Auditors and admins have none: they always see masks.
ROLE_RULES: dict[str, dict[str, Rule]] = {
    "legal": {name: Rule(Mask.NONE, legal_stage_only=True) for name in DEFAULT_RULES},
}


def depends_on_legal_stage(roles: Iterable[str]) -> bool:
    """Returns whether any of the roles sees some field differently in legal proceedings."""
    return any(
        rule.legal_stage_only for role in roles for rule in ROLE_RULES.get(role, {}).values()
    )


def rule_for(roles: Iterable[str], field_name: str, legal_stage: bool) -> Rule:
    """Returns the most revealing rule any of the roles holds for the field in this context."""
    for role in roles:
        rule = ROLE_RULES.get(role, {}).get(field_name)
        if rule is not None and rule.clear and (legal_stage or not rule.legal_stage_only):
            return rule
    return DEFAULT_RULES[field_name]


def apply(rule: Rule, value: str, city: str = "", district: str = "") -> str:
    """Applies a rule to a clear value."""
    if rule.mask is Mask.NONE:
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

    values: dict[str, str]
    clear_fields: frozenset[str]


def mask_borrower(borrower: Borrower, roles: Iterable[str], legal_stage: bool) -> MaskedBorrower:
    """Returns every confidential field of a borrower, masked as the roles' rules say
    (``legal_stage``: the borrower is in legal proceedings, as ``Rule`` says)."""
    held = list(roles)
    values: dict[str, str] = {}
    clear: set[str] = set()
    for name in DEFAULT_RULES:
        rule = rule_for(held, name, legal_stage)
        values[name] = apply(rule, clear_value(borrower, name), borrower.city, borrower.district)
        if rule.clear:
            clear.add(name)
    return MaskedBorrower(values, frozenset(clear))


def clear_value(borrower: Borrower, field_name: str) -> str:
    """Returns a confidential field's clear value as text (only for masking or a reveal)."""
    if field_name == "income":
        return f"{borrower.income} {borrower.income_currency}"
    value: str = getattr(borrower, field_name)
    return value
