"""Request limits on a GraphQL document, checked before graphql-core validates it.

A document is refused when it has too many tokens, operations or directives on one selection,
or when its depth, aliases or cost exceed the limits. Each definition is walked once: a
fragment's figures are computed the first time it is spread and reused afterwards, so the
check stays linear however the fragments spread each other (the "billion laughs" document).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    TypeNameMetaFieldDef,
    ValueNode,
    VariableNode,
    parse,
)

from api.common.pagination import DEFAULT_PAGE, MAX_PAGE
from api.errors import ApiError
from api.settings import Settings
from domain.staff.model import Role

# Cost budget of one operation by role; a viewer gets the highest of their roles' budgets.
# The heaviest client query, every field of 100 cases with their debts and instalments (the
# canary's), costs about 37,000; 30 aliases of a nested ``cases(first: 100)`` cost 150,000+.
QUERY_BUDGETS: dict[str, int] = {
    Role.ADMIN: 100_000,
    Role.MANAGER: 100_000,
    Role.AUDITOR: 100_000,
    Role.TEAM_LEAD: 50_000,
    Role.COLLECTOR: 50_000,
    Role.LEGAL: 50_000,
    Role.AGENCY_MANAGER: 50_000,
    Role.AGENCY_AGENT: 50_000,
    Role.INTEGRATION: 50_000,
}
DEFAULT_BUDGET = 10_000  # a viewer without any of these roles
# Assumed length of a list that has no `first` argument (a case's debts, a debt's instalments).
LIST_FAN_OUT = 5
MAX_DEPTH = 12
MAX_ALIASES = 30
# Selections nested through fields and fragments; bounds the recursion of the walk itself.
MAX_NESTING = 100


class TooManyTokens(ApiError):
    code = "TOO_MANY_TOKENS"


class TooManyOperations(ApiError):
    code = "TOO_MANY_OPERATIONS"


class TooManyDirectives(ApiError):
    code = "TOO_MANY_DIRECTIVES"


class QueryTooComplex(ApiError):
    code = "QUERY_TOO_COMPLEX"


@dataclass(frozen=True)
class Limits:
    """The limits applied to one request."""

    max_tokens: int
    max_operations: int
    max_directives: int
    budget: int = DEFAULT_BUDGET
    max_depth: int = MAX_DEPTH
    max_aliases: int = MAX_ALIASES

    @classmethod
    def of(cls, settings: Settings, roles: Iterable[str] = ()) -> Limits:
        """Returns the limits configured in ``settings`` for a viewer with ``roles``."""
        return cls(
            max_tokens=settings.max_tokens,
            max_operations=settings.max_operations,
            max_directives=settings.max_directives_per_field,
            budget=budget_of(roles),
        )


def budget_of(roles: Iterable[str]) -> int:
    """Returns the highest cost budget of the roles."""
    return max((QUERY_BUDGETS.get(role, DEFAULT_BUDGET) for role in roles), default=DEFAULT_BUDGET)


def parse_limited(query: str, limits: Limits) -> DocumentNode:
    """Parses a document, refusing it past the token limit (or as many comments)."""
    try:
        document = parse(
            query, max_lexical_tokens=limits.max_tokens, max_comments=limits.max_tokens
        )
    except GraphQLSyntaxError as error:
        found = re.search(r"Document contains more than \d+ (tokens|comments)\.", error.message)
        if found:
            raise TooManyTokens(
                f"the document exceeds the limit of {limits.max_tokens:,} {found.group(1)}"
            ) from None
        raise
    operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
    if operations > limits.max_operations:
        raise TooManyOperations(
            f"the document has {operations:,} operations; the limit is {limits.max_operations}"
        )
    return document


@dataclass(frozen=True)
class Figures:
    """What a selection costs, how deep it goes and how many aliases it holds, expanded."""

    cost: int = 0
    depth: int = 0
    aliases: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.cost + other.cost, max(self.depth, other.depth), self.aliases + other.aliases
        )


def check_document(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None,
    limits: Limits,
) -> list[Figures]:
    """Returns each operation's figures, or raises the refusal of the first limit exceeded."""
    walk = _Walk(schema, document, variables or {}, limits)
    operations = [
        walk.operation(d) for d in document.definitions if isinstance(d, OperationDefinitionNode)
    ]
    # Only one operation runs, but every definition is validated.
    for found in [*operations, *walk.unused_fragments()]:
        if found.cost > limits.budget:
            raise QueryTooComplex(
                f"query cost {found.cost:,} exceeds your limit of {limits.budget:,}"
            )
        if found.depth > limits.max_depth:
            raise QueryTooComplex(
                f"query depth {found.depth} exceeds the limit of {limits.max_depth}"
            )
    aliases = sum(found.aliases for found in operations)
    if aliases > limits.max_aliases:
        raise QueryTooComplex(f"{aliases:,} aliases exceed the limit of {limits.max_aliases}")
    return operations


class _Walk:
    """One pass over a document; fragments are memoised by name and enclosing page size."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any],
        limits: Limits,
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.limits = limits
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.defaults: dict[str, ValueNode] = {}
        self.memo: dict[tuple[str, int | None], Figures] = {}
        self.walked: set[str] = set()
        self.path: list[str] = []

    def operation(self, node: OperationDefinitionNode) -> Figures:
        self._directives(node.directives)
        self.defaults = {}
        for variable in node.variable_definitions or ():
            self._directives(variable.directives)
            if variable.default_value is not None:
                self.defaults[variable.variable.name.value] = variable.default_value
        # Variable defaults differ between operations, and so may a fragment's cost.
        self.memo.clear()
        root = self.schema.get_root_type(node.operation)
        return self._selections(node.selection_set, root, None, 0)

    def unused_fragments(self) -> list[Figures]:
        """Returns the figures of the fragments no operation spreads."""
        self.defaults = {}
        self.memo.clear()
        unused = [name for name in self.fragments if name not in self.walked]
        return [self._spread(name, None, 0) for name in unused]

    def _selections(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType | None,
        page: int | None,
        level: int,
    ) -> Figures:
        if level > MAX_NESTING:
            raise QueryTooComplex(f"selections nest more than {MAX_NESTING} levels deep")
        total = Figures()
        for selection in selection_set.selections:
            self._directives(selection.directives)
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent, page, level)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self._selections(selection.selection_set, inner, page, level + 1)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._spread(selection.name.value, page, level + 1)
        return total

    def _field(
        self, node: FieldNode, parent: GraphQLNamedType | None, page: int | None, level: int
    ) -> Figures:
        """1 + the sub-selection's cost times the length of the list the field returns."""
        aliases = 1 if node.alias else 0
        if node.selection_set is None:
            return Figures(cost=1, aliases=aliases)
        definition = self._definition(parent, node.name.value)
        named, is_list = _unwrap(definition)
        size = self._first(node) if definition and "first" in definition.args else None
        if is_list:
            # A connection's `first` sizes the list inside it (its edges).
            fan_out = size if size is not None else page if page is not None else LIST_FAN_OUT
            inner = self._selections(node.selection_set, named, None, level + 1)
        else:
            fan_out = 1
            inner = self._selections(node.selection_set, named, size, level + 1)
        # Introspection fields do not count towards the depth (its type references nest).
        depth = 0 if node.name.value.startswith("__") else 1 + inner.depth
        return Figures(1 + fan_out * inner.cost, depth, aliases + inner.aliases)

    def _spread(self, name: str, page: int | None, level: int) -> Figures:
        fragment = self.fragments.get(name)
        if fragment is None:
            return Figures()  # unknown: validation will say so
        key = (name, page)
        if key in self.memo:
            return self.memo[key]
        if name in self.path:
            cycle = " → ".join([*self.path[self.path.index(name) :], name])
            raise QueryTooComplex(f"fragment {name} spreads itself ({cycle})")
        self.path.append(name)
        self._directives(fragment.directives)
        parent = self.schema.get_type(fragment.type_condition.name.value)
        found = self._selections(fragment.selection_set, parent, page, level)
        self.path.pop()
        self.walked.add(name)
        self.memo[key] = found
        return found

    def _definition(self, parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
        if name == "__typename":
            return TypeNameMetaFieldDef
        if parent is not None and parent is self.schema.query_type:
            if name == "__schema":
                return SchemaMetaFieldDef
            if name == "__type":
                return TypeMetaFieldDef
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            found: GraphQLField | None = parent.fields.get(name)
            return found
        return None

    def _first(self, node: FieldNode) -> int:
        """Returns the page size a `first` argument asks for (the maximum when unknown)."""
        value: Any = next((a.value for a in node.arguments or () if a.name.value == "first"), None)
        if isinstance(value, VariableNode):
            name = value.name.value
            if name in self.variables:
                value = self.variables[name]
            elif name in self.defaults:
                value = self.defaults[name]
            else:
                return MAX_PAGE
        if isinstance(value, IntValueNode):
            # More digits than any page could have: Python refuses to parse 4,300+ of them.
            value = MAX_PAGE + 1 if len(value.value.lstrip("-")) > 6 else int(value.value)
        if value is None or isinstance(value, NullValueNode):
            return DEFAULT_PAGE
        if isinstance(value, bool) or not isinstance(value, int):
            return MAX_PAGE
        return min(max(value, 0), MAX_PAGE)

    def _directives(self, directives: tuple[DirectiveNode, ...] | None) -> None:
        count = len(directives or ())
        if count > self.limits.max_directives:
            raise TooManyDirectives(
                f"a selection carries {count:,} directives; the limit is "
                f"{self.limits.max_directives}"
            )


def _unwrap(definition: GraphQLField | None) -> tuple[GraphQLNamedType | None, bool]:
    """Returns the field's named type and whether it is a list."""
    if definition is None:
        return None, False
    kind: Any = definition.type
    is_list = False
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        is_list = is_list or isinstance(kind, GraphQLList)
        kind = kind.of_type
    return kind, is_list
