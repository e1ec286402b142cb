"""Role permissions (the Casbin policy replaces this table in the authorisation issue)."""

from __future__ import annotations

from collections.abc import Iterable

# permission → roles granted it. Deny by default: a permission not listed is refused to all.
GRANTS: dict[str, frozenset[str]] = {
    "case:read": frozenset(
        {
            "admin",
            "manager",
            "team_lead",
            "collector",
            "legal",
            "auditor",
            "agency_manager",
            "agency_agent",
        }
    ),
    "staff:read": frozenset(
        {
            "admin",
            "manager",
            "team_lead",
            "collector",
            "legal",
            "auditor",
            "agency_manager",
            "agency_agent",
        }
    ),
    "case:assign": frozenset({"admin", "manager", "team_lead"}),
    "case:place": frozenset({"admin", "manager"}),
    "case:recall": frozenset({"admin", "manager"}),
}


def allowed(roles: Iterable[str], permission: str) -> bool:
    """Returns whether any of the roles holds the permission."""
    granted = GRANTS.get(permission, frozenset())
    return any(role in granted for role in roles)


def permissions_of(roles: Iterable[str]) -> list[str]:
    """Returns every permission the roles hold, sorted."""
    held = list(roles)
    return sorted(p for p in GRANTS if allowed(held, p))
