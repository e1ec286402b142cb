"""The one enforcement point: Casbin decides whether a role may do (resource, action)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import casbin
from casbin_async_sqlalchemy_adapter import Adapter, create_casbin_rule_model
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase

from domain.borrowers.model import ConfidentialField
from store import tables

MODEL_PATH = str(Path(__file__).with_name("model.conf"))


class _Base(DeclarativeBase):
    metadata = tables.metadata


# The adapter's model of the ``casbin_rule`` table that ``store.tables`` defines (and migrates).
CasbinRule = create_casbin_rule_model(_Base)


def parse_permission(permission: str) -> tuple[str, str]:
    """Splits ``case:assign`` or ``borrower:reveal:phone`` into (resource, action)."""
    resource, _, action = permission.partition(":")
    if not resource or not action:
        raise ValueError(f"not a permission: {permission!r}")
    return resource, action


def reveal_permission(field: ConfidentialField) -> str:
    """Returns the permission to see one confidential field in clear: ``borrower:reveal:phone``."""
    return f"borrower:reveal:{field.value}"


class Authorizer:
    """Holds the Casbin enforcer with the policy loaded from the database."""

    def __init__(self, enforcer: casbin.AsyncEnforcer) -> None:
        self.enforcer = enforcer

    @classmethod
    async def load(cls, engine: AsyncEngine) -> Authorizer:
        """Returns an authorizer with the stored policy loaded."""
        adapter = Adapter(engine, db_class=CasbinRule)
        enforcer = casbin.AsyncEnforcer(MODEL_PATH, adapter)
        await enforcer.load_policy()
        return cls(enforcer)

    def allows(self, roles: Iterable[str], permission: str) -> bool:
        """Returns whether any of the roles is granted the permission (deny by default)."""
        resource, action = parse_permission(permission)
        return any(self.enforcer.enforce(role, resource, action) for role in roles)

    def permissions_of(self, roles: Iterable[str]) -> list[str]:
        """Returns every permission the roles hold, sorted (read from the policy, no enforce)."""
        held: set[str] = set()
        for role in roles:
            for _role, resource, action, *_ in self.enforcer.get_filtered_policy(0, role):
                held.add(f"{resource}:{action}")
        return sorted(held)
