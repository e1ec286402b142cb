"""The schema extension that applies the request limits before a document is validated."""

from __future__ import annotations

import re
import weakref
from collections import OrderedDict
from collections.abc import Iterator

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from graphql.validation.rules import overlapping_fields_can_be_merged
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension

from api.limits import Limits, QueryTooComplex, check_document, parse_limited
from api.settings import Settings

# graphql-core meters OverlappingFieldsCanBeMergedRule, which is quadratic in the fields
# sharing a response name, and aborts the validation past a budget. Its default (500,000 units,
# about 5 s here) lets a document within the token limit hold the process for seconds; 5,000
# units take about 50 ms, and no query of the test suite spends a single one.
OVERLAP_BUDGET = 5_000

_SUGGESTION = re.compile(r" Did you mean [^?]*\?")
_DEFAULTS = Settings.model_construct()  # for a schema executed without the app's context


# Documents that parsed within a set of limits and passed validation, per schema, by text: a
# client sends the same few documents again and again, and graphql-core's validation walks the
# whole document with every rule each time. What a document is and whether it is valid depend
# only on its text, the schema (with its validation rules) and the parse limits; the checks
# that depend on variables or on the viewer (``check_document``) still run on every request.
# Bounded in count and in size: a document of more text than this (whitespace costs no token) is
# parsed and validated every time rather than kept, so the cache holds at most a few megabytes.
DOCUMENT_CACHE_SIZE = 256
DOCUMENT_CACHE_MAX_TEXT = 8_192
_validated: weakref.WeakKeyDictionary[GraphQLSchema, OrderedDict[tuple[str, Limits], DocumentNode]]
_validated = weakref.WeakKeyDictionary()


def _validated_documents(schema: GraphQLSchema) -> OrderedDict[tuple[str, Limits], DocumentNode]:
    documents = _validated.get(schema)
    if documents is None:
        documents = _validated.setdefault(schema, OrderedDict())
    return documents


def bound_overlap_validation() -> None:
    """Lowers graphql-core's overlapping-fields budget (its documented module setting)."""
    overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = OVERLAP_BUDGET


class RequestLimits(SchemaExtension):
    """Refuses a document over the limits after parsing, before validation and execution;
    in production, also strips "Did you mean …?" from error messages."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        settings = getattr(context, "settings", None)
        self.settings = settings if isinstance(settings, Settings) else _DEFAULTS
        roles = getattr(getattr(context, "viewer", None), "roles", None) or ()
        self.limits = Limits.of(self.settings, roles)
        self.stand_in = False
        self.known_valid = False
        yield
        ctx = self.execution_context
        if self.stand_in:
            ctx.graphql_document = None  # the audit notes the operation as invalid
        result = ctx.result
        if result is not None and result.errors:
            result.errors = [self._public(error) for error in result.errors]

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is None and ctx.query:
            documents = _validated_documents(ctx.schema._schema)
            known = documents.get((ctx.query, self.limits))
            if known is not None:
                documents.move_to_end((ctx.query, self.limits))
                ctx.graphql_document = known
                self.known_valid = True
            else:
                try:
                    ctx.graphql_document = parse_limited(ctx.query, self.limits)
                except GraphQLError as error:
                    self._refuse(error)
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.pre_execution_errors is None and ctx.graphql_document is not None:
            try:
                check_document(ctx.schema._schema, ctx.graphql_document, ctx.variables, self.limits)
            except GraphQLError as error:
                # Strawberry skips validation when an extension has set errors already.
                ctx.pre_execution_errors = [error]
            except (ValueError, RecursionError, OverflowError):
                # A document the measure itself cannot take is refused, never half-measured.
                ctx.pre_execution_errors = [
                    QueryTooComplex("the document is too complex to measure")
                ]
            else:
                if self.known_valid:
                    ctx.pre_execution_errors = []  # validated before: strawberry skips it
        yield
        if (
            not self.known_valid
            and not self.stand_in
            and ctx.query
            and len(ctx.query) <= DOCUMENT_CACHE_MAX_TEXT
            and ctx.graphql_document is not None
            and ctx.pre_execution_errors == []
        ):
            documents = _validated_documents(ctx.schema._schema)
            documents[(ctx.query, self.limits)] = ctx.graphql_document
            while len(documents) > DOCUMENT_CACHE_SIZE:
                documents.popitem(last=False)

    def _refuse(self, error: GraphQLError) -> None:
        """Ends the request with ``error`` before validation."""
        ctx = self.execution_context
        ctx.pre_execution_errors = [error]
        # Strawberry reads the operation's type right after parsing, and a document without
        # one ends the request as HTTP 400 with no result for the audit: a stand-in
        # operation of the requested name lets the refusal out as an ordinary error.
        name = ctx.operation_name
        ctx.graphql_document = DocumentNode(
            definitions=(
                OperationDefinitionNode(
                    operation=OperationType.QUERY,
                    name=NameNode(value=name) if name else None,
                    variable_definitions=(),
                    directives=(),
                    selection_set=SelectionSetNode(selections=()),
                ),
            )
        )
        self.stand_in = True

    def _public(self, error: GraphQLError) -> GraphQLError:
        if isinstance(error, ValidationAbortedError) and error.message == "Validation aborted.":
            # The overlapping-fields budget ran out, or fragments nest past the recursion limit.
            return QueryTooComplex("the document is too complex to validate")
        if self.settings.is_production and "Did you mean" in error.message:
            return GraphQLError(
                _SUGGESTION.sub("", error.message),
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                original_error=error.original_error,
                extensions=error.extensions,
            )
        return error
