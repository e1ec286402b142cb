"""What anonymised personal data becomes: placeholders that keep every constraint.

Every placeholder starts with ``[anon`` (no real name, number, address or note does), so masking
can tell a placeholder from a value and show it as it is."""

from __future__ import annotations

PLACEHOLDER = "[anonymised]"
PREFIX = "[anon"
# The national id is unique and at most 18 characters: "[anon]" and the borrower's id (so up to
# twelve digits of id).
NATIONAL_ID_PREFIX = "[anon]"


def national_id_placeholder(borrower_id: int) -> str:
    """The unique placeholder of an anonymised borrower's national id."""
    return f"{NATIONAL_ID_PREFIX}{borrower_id}"


def is_placeholder(value: str) -> bool:
    """Whether a value is exactly a placeholder left by the purge (not personal data): the
    placeholder, or a national id's (``[anon]`` and digits). Anything else that merely starts
    alike is a value like any other, and masked."""
    if value == PLACEHOLDER:
        return True
    rest = value.removeprefix(NATIONAL_ID_PREFIX)
    return rest != value and rest.isascii() and rest.isdigit()
