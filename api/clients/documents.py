"""The documents of an API client's allow-list, checked before their digests are kept: each
must parse (within the request limits), hold exactly one operation and validate against the
schema. A refusal names the document (``documents[i]``, from 0) and where it fails, never its
text: what a manager pastes may hold anything."""

from __future__ import annotations

from collections.abc import Sequence

from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    SourceLocation,
    validate,
)

from api.errors import ApiError
from api.limits import Limits, parse_limited
from api.settings import Settings
from domain.clients.model import SERVICE_ROLE, operation_digest
from domain.clients.services import check_operation_count
from domain.errors import InvalidInput


def _where(error: GraphQLError) -> str:
    locations: list[SourceLocation] = list(error.locations or ())
    if not locations:
        return ""
    first = locations[0]
    return f" (line {first.line}, column {first.column})"


def digests_of(schema: GraphQLSchema, settings: Settings, documents: Sequence[str]) -> list[str]:
    """Returns the digests of the documents (``operation_digest``: of their exact text), in
    their order; or refuses (INVALID_INPUT) too many or none, or the first document that is not
    one valid operation of the schema."""
    check_operation_count(len(documents))
    limits = Limits.of(settings, (SERVICE_ROLE,))
    for index, text in enumerate(documents):
        field = f"documents[{index}]"
        try:
            document = parse_limited(text, limits)
        except ApiError as error:  # over a request limit: its message names only numbers
            raise InvalidInput(f"{field}: {error.message}", field=field) from None
        except GraphQLError as error:
            raise InvalidInput(
                f"{field} is not valid GraphQL{_where(error)}", field=field
            ) from None
        except (ValueError, RecursionError):
            raise InvalidInput(f"{field} is not valid GraphQL", field=field) from None
        operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
        if operations != 1:
            raise InvalidInput(
                f"{field} holds {operations} operations: a registered document holds exactly one",
                field=field,
            )
        try:
            errors = validate(schema, document, max_errors=1)
        except (ValueError, RecursionError):
            errors = [GraphQLError("too complex")]
        if errors:
            raise InvalidInput(
                f"{field} does not validate against the schema{_where(errors[0])}", field=field
            )
    return [operation_digest(text) for text in documents]
