"""Declared permissions: resolvers say what they need, ``authz`` decides (one enforcement point)."""

from __future__ import annotations

from typing import Any

from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from api.errors import Forbidden


class Needs(BasePermission):
    """Grants the field only to viewers whose roles hold ``permission``."""

    message = "You are not allowed to do this."
    error_class = Forbidden

    def __init__(self, permission: str) -> None:
        self.permission = permission
        self.error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        allowed: bool = info.context.allows(self.permission)
        if not allowed:
            info.context.audit.denied(self.permission, info.field_name)
        return allowed


def needs(permission: str) -> list[FieldExtension]:
    """Returns the field extensions that enforce a permission: ``extensions=needs("case:read")``."""
    return [PermissionExtension(permissions=[Needs(permission)], use_directives=False)]
