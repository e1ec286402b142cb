"""Shared GraphQL types: Node, Money and the typed mutation errors (``ErrorCode``)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry

from domain.errors import ConcurrencyConflict, DomainError, ErrorCode, NotFound, RuleViolation
from domain.money import Money as DomainMoney
from domain.money import rounded_amount
from store.audit import AuditAction

if TYPE_CHECKING:
    from api.context import Context

strawberry.enum(
    ErrorCode,
    name="ErrorCode",
    description="Why a mutation was refused: one value per refusal, so clients can switch on it.",
)


@strawberry.interface(description="An object with a global ID, fetchable through `node(id:)`.")
class Node:
    id: strawberry.ID


@strawberry.type(description="An exact amount of money in one currency (never a float).")
class Money:
    amount: Decimal
    currency: str = strawberry.field(description="ISO-4217 currency code, e.g. CNY.")

    @classmethod
    def from_domain(cls, money: DomainMoney) -> Money:
        return cls(amount=money.rounded_amount(), currency=money.currency)

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> Money:
        """An amount read from the database in its row's currency (already a Decimal): shown
        without first building the domain's Money around it."""
        return cls(amount=rounded_amount(amount, currency), currency=currency)


@strawberry.interface(
    description="An expected failure of a mutation, with a machine-readable code."
)
class UserError:
    code: ErrorCode
    message: str
    field: str | None = strawberry.field(description="The input field at fault, if one is.")


@strawberry.type(description="The input is invalid (e.g. an unknown ID).")
class ValidationError(UserError):
    pass


@strawberry.type(description="A referenced object does not exist or is not visible to you.")
class NotFoundError(UserError):
    pass


@strawberry.type(description="A business rule refuses the change; nothing was changed.")
class RuleViolationError(UserError):
    pass


@strawberry.type(description="Someone else changed the object first; reload and retry.")
class ConflictError(UserError):
    pass


def user_error(
    error: DomainError,
) -> ValidationError | NotFoundError | RuleViolationError | ConflictError:
    """Maps a domain error to its GraphQL error type."""
    kind: type[ValidationError | NotFoundError | RuleViolationError | ConflictError]
    if isinstance(error, NotFound):
        kind = NotFoundError
    elif isinstance(error, ConcurrencyConflict):
        kind = ConflictError
    elif isinstance(error, RuleViolation):
        kind = RuleViolationError
    else:
        kind = ValidationError
    return kind(code=ErrorCode(error.code), message=error.message, field=error.field)


async def refused(
    ctx: Context, action: AuditAction, error: DomainError, resource_type: str, pk: int | None
) -> ValidationError | NotFoundError | RuleViolationError | ConflictError:
    """A refused mutation's answer: the request's read session released, the refusal audited
    (naming the object it was about), and the error as its GraphQL type."""
    await ctx.release()
    await ctx.audit.refused(action, error, resource_type=resource_type, resource_id=pk)
    return user_error(error)
