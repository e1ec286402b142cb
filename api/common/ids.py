"""Relay global IDs: base64 of ``Type:id``, opaque to clients. This is the one place they are
decoded: an ID whose number no row can have (not a positive 32-bit integer) decodes to nothing,
so it never reaches the database."""

from __future__ import annotations

import base64
import binascii

from store.keys import is_row_id

NODE_TYPES = (
    "Case",
    "Borrower",
    "Debt",
    "Staff",
    "Agency",
    "Payment",
    "PromiseToPay",
    "ContactPoint",
    "Contact",
    "Warning",
    "Complaint",
    "Restructuring",
    "LegalReferral",
    "RuleChange",  # node(id:) answers it to rule_change:read only
    "Notice",
    "Task",
    "ApiClient",  # node(id:) answers it to api_client:read only
    "LegalHold",  # node(id:) answers it to legal_hold:read only
)


class InvalidGlobalId(ValueError):
    """The string is not a global ID of a known type."""


def to_global_id(type_name: str, pk: int) -> str:
    """Returns the global ID of an object."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def from_global_id(global_id: str) -> tuple[str, int]:
    """Returns (type name, primary key) of a global ID, or raises InvalidGlobalId."""
    try:
        decoded = base64.b64decode(global_id.encode(), validate=True).decode()
        type_name, _, raw = decoded.partition(":")
        pk = int(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidGlobalId("not a valid ID") from None
    if type_name not in NODE_TYPES or raw != str(pk) or not is_row_id(pk):
        raise InvalidGlobalId("not a valid ID")
    return type_name, pk


def pk_of(global_id: str, expected_type: str) -> int | None:
    """Returns the primary key if the ID is a valid ID of the expected type, else None."""
    try:
        type_name, pk = from_global_id(global_id)
    except InvalidGlobalId:
        return None
    return pk if type_name == expected_type else None
