"""Compiling a validated query into an execution plan, once per document, operation and roles.

graphql-core executes a document by interpreting it for every field of every object: it
collects the selection, looks the field up, builds an ``Info``, calls a resolver (for a plain
attribute too), then works out how to complete the value from its type. A plan does that
interpretation once: it is a tree of the fields each object type gets, with what each field is
(a plain attribute, ``__typename``, or a real resolver) and how its value completes (a leaf's
serialiser, a list, an object's own plan, an abstract type's plans by runtime type). The runner
(``api.plans.run``) then walks values through the tree.

A document the plan does not cover is refused with ``NotCompiled`` and runs on the standard
executor: directives (``@skip``, ``@include`` or any other: their effect depends on variables or
on a directive's own meaning), introspection (``__schema``, ``__type``), operations other than
queries, and fragments with variables. The answer is then the standard one, never a different
one. The idea of compiling selection sets comes from graphql-jit (JavaScript); nothing is taken
from its code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.utilities import type_from_ast

# strawberry's back-reference from a graphql-core field to its StrawberryField.
_STRAWBERRY_FIELD = "strawberry-definition"


class NotCompiled(Exception):
    """The document holds something a plan does not cover; it runs on the standard executor."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """A scalar or enum: serialised by its type's own output coercion."""

    type: GraphQLLeafType


@dataclass(frozen=True, slots=True)
class NonNull:
    inner: Completion


@dataclass(frozen=True, slots=True)
class ListOf:
    inner: Completion


@dataclass(slots=True)
class ObjectPlan:
    """The fields an object of one type gets, in response order."""

    type: GraphQLObjectType
    fields: list[FieldPlan] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Abstract:
    """An interface or union: the runtime type picks one of the plans (one per possible type)."""

    type: GraphQLAbstractType
    plans: dict[str, ObjectPlan]


Completion = Leaf | NonNull | ListOf | ObjectPlan | Abstract


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """One response key of an object: what produces its value and how the value completes.

    ``attribute`` is set for a plain field (no resolver, no field extension: strawberry would
    only read the attribute); ``resolve`` for every other field (strawberry's own resolver
    function, with its argument conversion, permission extensions and error handling); neither
    for ``__typename``."""

    key: str
    name: str
    parent: GraphQLObjectType
    nodes: list[FieldNode]
    definition: GraphQLField | None
    attribute: str | None
    resolve: Callable[..., Any] | None
    has_arguments: bool
    completion: Completion | None
    non_null: bool
    # The leaf type when the value is a scalar or enum (nullable or not): completed inline.
    leaf: GraphQLLeafType | None = None
    # A resolver without arguments, field extensions or exception handlers, called as strawberry
    # would call it, without its per-call machinery (``direct(source, info)``; ``info`` only
    # when ``needs_info``).
    direct: Callable[[Any, Any], Any] | None = None
    needs_info: bool = True


@dataclass(frozen=True, slots=True)
class Plan:
    """A compiled query operation: the root type's plan."""

    root: ObjectPlan


def compile_plan(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> Plan:
    """Returns the plan of a validated query operation, or raises ``NotCompiled``."""
    if operation.operation is not OperationType.QUERY:
        raise NotCompiled("only queries are compiled")
    if operation.directives:
        raise NotCompiled("operation directives")
    root_type = schema.query_type
    if root_type is None:
        raise NotCompiled("no query type")
    compiler = _Compiler(schema, fragments)
    root = compiler.object_plan(root_type, [operation.selection_set], root=True)
    return Plan(root)


class _Compiler:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]):
        self.schema = schema
        self.fragments = fragments
        strawberry_schema = getattr(schema, "_strawberry_schema", None)
        config = getattr(strawberry_schema, "config", None)
        self.info_class: Any = getattr(config, "info_class", None)

    def object_plan(
        self,
        type_: GraphQLObjectType,
        selection_sets: Sequence[SelectionSetNode],
        *,
        root: bool = False,
    ) -> ObjectPlan:
        grouped: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()  # shared, as graphql-core's: a fragment counts once per object
        for selection_set in selection_sets:
            self._collect(type_, selection_set, grouped, visited)
        plan = ObjectPlan(type_)
        for key, nodes in grouped.items():
            plan.fields.append(self._field(type_, key, nodes, root=root))
        return plan

    def _collect(
        self,
        type_: GraphQLObjectType,
        selection_set: SelectionSetNode,
        grouped: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        """graphql-core's field collection, for one runtime type, without directives."""
        for selection in selection_set.selections:
            if selection.directives:
                raise NotCompiled("directives")
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection.type_condition, type_):
                    self._collect(type_, selection.selection_set, grouped, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited:
                    continue
                visited.add(name)
                fragment = self.fragments.get(name)
                if fragment is None:
                    raise NotCompiled("unknown fragment")
                if fragment.directives or fragment.variable_definitions:
                    raise NotCompiled("fragment directives or variables")
                if self._applies(fragment.type_condition, type_):
                    self._collect(type_, fragment.selection_set, grouped, visited)
            else:  # pragma: no cover - the three kinds of selection are all there are
                raise NotCompiled("unknown selection")

    def _applies(self, condition: Any, type_: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        conditional = type_from_ast(self.schema, condition)
        if conditional is type_:
            return True
        if conditional is not None and is_abstract_type(conditional):
            return self.schema.is_sub_type(conditional, type_)
        return False

    def _field(
        self, parent: GraphQLObjectType, key: str, nodes: list[FieldNode], *, root: bool
    ) -> FieldPlan:
        name = nodes[0].name.value
        if name == "__typename":
            return FieldPlan(key, name, parent, nodes, None, None, None, False, None, True)
        if name.startswith("__"):
            raise NotCompiled("introspection")
        definition = parent.fields.get(name)
        if definition is None:
            raise NotCompiled(f"unknown field {parent.name}.{name}")
        attribute = _plain_attribute(definition)
        sub_selections = [n.selection_set for n in nodes if n.selection_set is not None]
        completion = self._completion(definition.type, sub_selections)
        inner = completion.inner if isinstance(completion, NonNull) else completion
        direct = None if attribute is not None else _direct_call(definition, self.info_class)
        return FieldPlan(
            key=key,
            name=name,
            parent=parent,
            nodes=nodes,
            definition=definition,
            attribute=attribute,
            resolve=None if attribute is not None else definition.resolve,
            has_arguments=bool(definition.args) or any(n.arguments for n in nodes),
            completion=completion,
            non_null=is_non_null_type(definition.type),
            leaf=inner.type if isinstance(inner, Leaf) else None,
            direct=direct[0] if direct else None,
            needs_info=direct[1] if direct else True,
        )

    def _completion(
        self, type_: GraphQLOutputType, selections: list[SelectionSetNode]
    ) -> Completion:
        if is_non_null_type(type_):
            assert isinstance(type_, GraphQLNonNull)
            return NonNull(self._completion(type_.of_type, selections))
        if is_list_type(type_):
            assert isinstance(type_, GraphQLList)
            return ListOf(self._completion(type_.of_type, selections))
        if is_leaf_type(type_):
            return Leaf(type_)
        if is_object_type(type_):
            assert isinstance(type_, GraphQLObjectType)
            return self.object_plan(type_, selections)
        if is_abstract_type(type_):
            abstract = type_
            plans = {
                possible.name: self.object_plan(possible, selections)
                for possible in self.schema.get_possible_types(abstract)
            }
            return Abstract(abstract, plans)
        raise NotCompiled(f"unexpected output type {type_}")  # pragma: no cover


def _plain_attribute(definition: GraphQLField) -> str | None:
    """The attribute a field reads when strawberry would do nothing else: a basic field (no
    resolver, no field extension such as a permission) that strawberry resolves with its
    ``_get_basic_result`` (which it uses only when no exception handler applies either)."""
    resolve = definition.resolve
    if resolve is None or getattr(resolve, "__name__", "") != "_get_basic_result":
        return None
    strawberry_field = (definition.extensions or {}).get(_STRAWBERRY_FIELD)
    if strawberry_field is None or not strawberry_field.is_basic_field:
        return None
    if strawberry_field.default_resolver is not getattr:
        return None
    name: str = strawberry_field.python_name
    return name


def _direct_call(
    definition: GraphQLField, info_class: Any
) -> tuple[Callable[[Any, Any], Any], bool] | None:
    """How to call a field's resolver function directly, as strawberry's wrapper would: only
    for a resolver with no GraphQL arguments (nothing to convert), no field extension (no
    permission to check) and no exception handler; the source goes where the function asks for
    it (``self``, ``root``, ``parent``) and a strawberry ``Info`` where it asks for one."""
    resolve = definition.resolve
    if info_class is None or getattr(resolve, "__name__", "") not in _WRAPPERS:
        return None
    if _closure_value(resolve, "field_exception_handlers") != ():
        return None
    field = (definition.extensions or {}).get(_STRAWBERRY_FIELD)
    resolver = getattr(field, "base_resolver", None)
    if field is None or resolver is None or field.extensions or resolver.arguments:
        return None
    function = resolver.wrapped_func
    if not callable(function):
        return None
    with_self = resolver.self_parameter is not None
    sources = [p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p]
    info_name = resolver.info_parameter.name if resolver.info_parameter else None

    def call(source: Any, info: Any) -> Any:
        keywords = dict.fromkeys(sources, source)
        if info_name is not None:
            keywords[info_name] = info_class(_raw_info=info, _field=field)
        return function(source, **keywords) if with_self else function(**keywords)

    return call, info_name is not None


# strawberry's resolver wrappers (sync and async) of a field with a resolver function.
_WRAPPERS = ("_resolver", "_async_resolver")


def _closure_value(function: Any, name: str) -> Any:
    """A variable a closure captured (None when it captured no such name)."""
    code = getattr(function, "__code__", None)
    cells = getattr(function, "__closure__", None) or ()
    if code is None or name not in code.co_freevars:
        return None
    return cells[code.co_freevars.index(name)].cell_contents
