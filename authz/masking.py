"""Pure masking functions for confidential values, and the one place that applies them."""

from __future__ import annotations

FULL_MASK = "****"


def mask_full(_value: str) -> str:
    """Hides the whole value."""
    return FULL_MASK


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


def mask_national_id(value: str) -> str:
    """Keeps the region prefix and the check digits: 110105********123X → 110***********123X."""
    return mask_partial(value, 3, 4)


def mask_phone(value: str) -> str:
    return mask_partial(value, 3, 4)
