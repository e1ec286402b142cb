"""The default policy: which role may do what. Seeded into the database by a migration."""

from __future__ import annotations

from domain.borrowers.model import CONFIDENTIAL_FIELDS

_READ = [("case", "read"), ("staff", "read"), ("agency", "read")]
_MANAGE = [("case", "assign"), ("case", "place"), ("case", "recall")]


def _reveal(*fields: str) -> list[tuple[str, str]]:
    return [("borrower", f"reveal:{field}") for field in fields]


DEFAULT_POLICY: dict[str, list[tuple[str, str]]] = {
    "admin": [*_READ, *_MANAGE, ("role", "grant"), ("audit", "read")],
    "manager": [*_READ, *_MANAGE, *_reveal("phone", "email", "address", "national_id")],
    "team_lead": [*_READ, ("case", "assign"), *_reveal("phone", "email")],
    "collector": [*_READ, *_reveal("phone", "email")],
    "legal": [*_READ, *_reveal(*CONFIDENTIAL_FIELDS)],
    "auditor": [*_READ, ("audit", "read")],
    "agency_manager": [*_READ, *_reveal("phone")],
    "agency_agent": [*_READ, *_reveal("phone")],
}

ROLES = tuple(DEFAULT_POLICY)


def policy_lines() -> list[tuple[str, str, str]]:
    """Returns the default policy as Casbin ``p`` lines (role, resource, action)."""
    return [(role, obj, act) for role, grants in DEFAULT_POLICY.items() for obj, act in grants]
