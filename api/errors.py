"""GraphQL errors with a stable ``extensions.code``; anything else is masked."""

from __future__ import annotations

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import MaskErrors

from store.errors import is_unavailable

# The answer to a request that lost the database (HTTP 503 with Retry-After, see api.app).
DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
DATABASE_UNAVAILABLE_MESSAGE = "the database is unavailable; try again shortly"


class ApiError(GraphQLError):
    """An error whose message is safe to show, with a machine-readable code."""

    code = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": self.code})


class BadUserInput(ApiError):
    code = "BAD_USER_INPUT"


class MaskedField(ApiError):
    """A filter or ordering on a field the caller sees masked."""

    code = "MASKED_FIELD"


class Forbidden(ApiError):
    code = "FORBIDDEN"


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:
        return False  # syntax and validation errors from graphql-core itself
    return not isinstance(original, GraphQLError)


# graphql-core's own refusals of a value (an Int over 32 bits, a variable of the wrong type).
_VALUE_ERRORS = ("cannot represent", "got invalid value", "Expected value of type")


def code_of(error: GraphQLError) -> str:
    """Returns the code of an error graphql-core raised without one."""
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    if any(marker in error.message for marker in _VALUE_ERRORS):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


class MaskInternalErrors(MaskErrors):
    """Masks every unexpected error as ``Internal server error`` with code INTERNAL, and gives
    graphql-core's parse, validation and value errors a code too (every error has one)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_should_mask, error_message="Internal server error.")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        for error in processed:
            if not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": code_of(error)}
        return processed

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        # A lost database is not a fault of the request: said as such (the HTTP layer answers
        # 503), still without the driver's message.
        unavailable = error.original_error is not None and is_unavailable(error.original_error)
        return GraphQLError(
            message=DATABASE_UNAVAILABLE_MESSAGE if unavailable else self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": DATABASE_UNAVAILABLE if unavailable else "INTERNAL"},
        )
