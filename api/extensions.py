"""Schema extensions: note each operation's document and outcome for the audit entry."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from store.audit import Outcome


def outcome_of(errors: list[GraphQLError] | None) -> Outcome:
    """ERROR for unexpected failures, DENIED for refusals, else ALLOWED."""
    if not errors:
        return Outcome.ALLOWED
    codes = {(e.extensions or {}).get("code") for e in errors}
    if "INTERNAL" in codes or any(
        e.original_error is not None and not isinstance(e.original_error, GraphQLError)
        for e in errors
    ):
        return Outcome.ERROR
    # Refusals: no permission, bad arguments, masked filters, invalid documents.
    return Outcome.DENIED


class AuditOperation(SchemaExtension):
    """Records the operation's name, type, document hash and outcome on the request audit."""

    def on_execute(self) -> Iterator[None]:
        # The document is parsed and validated by now, so its operation type is known.
        ctx = self.execution_context
        info = ctx.context.audit.info
        info.operation_type = ctx.operation_type.value
        if info.operation_name is None and ctx.graphql_document is not None:
            names = [
                d.name.value
                for d in ctx.graphql_document.definitions
                if isinstance(d, OperationDefinitionNode) and d.name is not None
            ]
            info.operation_name = names[0][:120] if len(names) == 1 else None
        yield

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        audit = ctx.context.audit
        audit.info.set_document(audit.key, ctx.query, ctx.operation_name, "invalid")
        yield
        try:
            kind = ctx.operation_type.value
        except Exception:
            kind = "invalid"
        audit.info.operation_type = kind
        result = ctx.result
        # No result at all means the request failed before strawberry could answer it.
        audit.outcome = (
            Outcome.ERROR if result is None else outcome_of(getattr(result, "errors", None))
        )
