"""Running a compiled plan: the response built level by level, resolvers called in batches.

The runner walks the plan breadth first. For one object type at one depth it takes every object
of the page at once and, field by field, reads plain attributes and serialises leaves in a
tight loop; a real resolver (a loader, masking, a permission check) is called for every object
and whatever it returns to await is awaited together, in one batch, so that the DataLoaders see
the whole page's keys at once — as they do under the standard executor, without its per-field
machinery. Then the objects the level produced are run the same way, one level down.

Errors follow the GraphQL specification and graphql-core: an error is located at its field's
path; a null in a non-null position makes the nearest nullable ancestor null, and the work still
running under it is cancelled; an error under an already nulled position is dropped
(graphql-core's ``CollectedErrors``). The errors are listed in response order
(``api.plans.order``), under either executor. One difference remains: when two different
non-null failures null the same ancestor, the one kept is the first in field order here, the
first in object order there (the data is the same null).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, GraphQLResolveInfo, Undefined, located_error
from graphql.execution.collect_fields import FieldDetails
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, inspect, is_iterable

from api.plans.compile import Abstract, Completion, FieldPlan, Leaf, ListOf, NonNull, ObjectPlan

if TYPE_CHECKING:
    from api.plans.executor import PlannedExecutor


class Position:
    """Where a value is put in the response: the nearest nullable one takes a propagated null."""

    __slots__ = ("container", "key", "nullable", "parent", "path")

    def __init__(
        self,
        container: dict[str, Any] | list[Any],
        key: Any,
        nullable: bool,
        parent: Position | None,
        path: Path,
    ) -> None:
        self.container = container
        self.key = key
        self.nullable = nullable
        self.parent = parent
        self.path = path


@dataclass(slots=True)
class Item:
    """One object of a level: its source value, its response dict, path and position (None for
    the root object)."""

    source: Any
    result: dict[str, Any]
    path: Path | None
    position: Position | None


Batches = dict[int, tuple[ObjectPlan, list[Item]]]


class DataNulled(Exception):
    """A null reached the root: the whole ``data`` is null."""


class PlanRunner:
    """Runs one plan for one execution (the executor's context, variables and errors)."""

    def __init__(self, executor: PlannedExecutor) -> None:
        self.executor = executor
        self.errors = executor.collected_errors
        self.is_awaitable = executor.is_awaitable
        self.data_nulled = False
        # Positions a propagated null has reached: the work still to do under them is dropped
        # (graphql-core cancels it), so that it neither runs nor notes what it would read.
        self.nulled: set[Position] = set()

    async def run(self, root: ObjectPlan, root_value: Any) -> dict[str, Any] | None:
        data: dict[str, Any] = {}
        await self.level(root, [Item(root_value, data, None, None)])
        return None if self.data_nulled else data

    def dead(self, position: Position | None) -> bool:
        """Whether a propagated null has reached this position or one above it."""
        if self.data_nulled:
            return True
        nulled = self.nulled
        if not nulled:
            return False
        while position is not None:
            if position in nulled:
                return True
            position = position.parent
        return False

    def alive(self, items: list[Item]) -> list[Item]:
        return [item for item in items if not self.dead(item.position)] if self.nulled else items

    async def level(self, plan: ObjectPlan, items: list[Item]) -> None:
        """Runs every field of ``plan`` on every item, then the objects they produced."""
        children: Batches = {}
        pending: list[tuple[Item, FieldPlan, Path, Any]] = []
        type_name = plan.type.name
        for field in plan.fields:
            if self.data_nulled:
                break
            items = self.alive(items)
            key = field.key
            if field.definition is None:  # __typename
                for item in items:
                    item.result[key] = type_name
                continue
            attribute = field.attribute
            if attribute is not None:
                if field.leaf is not None:
                    # The bulk of a page: a plain attribute holding a scalar or an enum.
                    for item in items:
                        try:
                            value = getattr(item.source, attribute)
                            item.result[key] = self.leaf(field, value)
                        except Exception as exc:
                            item.result[key] = None
                            self.fail(exc, field, Path(item.path, key, type_name), item)
                    continue
                for item in items:
                    path = Path(item.path, key, type_name)
                    try:
                        value = getattr(item.source, attribute)
                        item.result[key] = self.complete(field, value, item, path, children)
                    except Exception as exc:
                        item.result[key] = None
                        self.fail(exc, field, path, item)
                continue
            try:
                arguments = self.arguments(field)
            except Exception as exc:
                for item in items:
                    item.result[key] = None
                    self.fail(exc, field, Path(item.path, key, type_name), item)
                continue
            resolve = field.resolve or self.executor.field_resolver
            direct, needs_info = field.direct, field.needs_info
            for item in items:
                if self.dead(item.position):
                    continue
                path = Path(item.path, key, type_name)
                try:
                    if direct is not None:
                        value = direct(item.source, self.info(field, path) if needs_info else None)
                    else:
                        value = resolve(item.source, self.info(field, path), **arguments)
                    if self.is_awaitable(value):
                        item.result[key] = None  # keeps the key's place in response order
                        pending.append((item, field, path, value))
                        continue
                    item.result[key] = self.complete(field, value, item, path, children)
                except Exception as exc:
                    item.result[key] = None
                    self.fail(exc, field, path, item)
        if pending:
            await self.settle(pending, children)
        if self.data_nulled:
            return
        batches = [(p, self.alive(i)) for p, i in children.values()]
        batches = [(p, i) for p, i in batches if i]
        if len(batches) == 1:
            await self.level(*batches[0])
        elif batches:
            await asyncio.gather(*(self.level(p, i) for p, i in batches))

    async def settle(
        self, pending: list[tuple[Item, FieldPlan, Path, Any]], children: Batches
    ) -> None:
        """Awaits a level's resolvers together, in one batch: every loader call of the level is
        queued before any is dispatched. A null that propagates past a field cancels what is
        still running under the position it reaches, as graphql-core does."""
        tasks: dict[asyncio.Future[Any], int] = {}
        for index, (item, _, _, awaitable) in enumerate(pending):
            if self.dead(item.position):
                _close(awaitable)
                continue
            tasks[asyncio.ensure_future(awaitable)] = index
        waiting = set(tasks)
        try:
            await self._settle(pending, tasks, waiting, children)
        except BaseException:
            # The request itself was cancelled (a disconnect, shutdown) or failed: nothing it
            # started may run on after it, reading through a closed context.
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
            raise

    async def _settle(
        self,
        pending: list[tuple[Item, FieldPlan, Path, Any]],
        tasks: dict[asyncio.Future[Any], int],
        waiting: set[asyncio.Future[Any]],
        children: Batches,
    ) -> None:
        while waiting:
            done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_EXCEPTION)
            nulled_before = len(self.nulled), self.data_nulled
            for task in sorted(done, key=tasks.__getitem__):
                item, field, path, _ = pending[tasks[task]]
                if task.cancelled():
                    continue
                if self.dead(item.position):
                    task.exception()  # retrieved: an answer under a null is dropped, not logged
                    continue
                try:
                    value = task.result()
                    item.result[field.key] = self.complete(field, value, item, path, children)
                except Exception as exc:
                    item.result[field.key] = None
                    self.fail(exc, field, path, item)
            if (len(self.nulled), self.data_nulled) != nulled_before:
                doomed = [t for t in waiting if self.dead(pending[tasks[t]][0].position)]
                for task in doomed:
                    task.cancel()
                if doomed:
                    await asyncio.wait(doomed)
                    for task in doomed:
                        if not task.cancelled():
                            task.exception()  # finished first: dropped all the same
                waiting.difference_update(doomed)

    @staticmethod
    def leaf(field: FieldPlan, value: Any) -> Any:
        """A scalar or enum value completed as graphql-core's ``complete_value`` does."""
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            if field.non_null:
                raise TypeError(
                    f"Cannot return null for non-nullable field {_parent(field)}.{field.name}."
                )
            return None
        leaf_type = field.leaf
        assert leaf_type is not None
        coerced = leaf_type.coerce_output_value(value)
        if coerced is Undefined or coerced is None:
            raise TypeError(
                f"Expected `{inspect(leaf_type)}.coerce_output_value("
                f"{inspect(value)})` to return non-nullable value, returned:"
                f" {inspect(coerced)}"
            )
        return coerced

    def arguments(self, field: FieldPlan) -> dict[str, Any]:
        """A field's arguments: the same for every object of a level, so coerced once."""
        if not field.has_arguments:
            return {}
        assert field.definition is not None
        executor = self.executor
        return get_argument_values(
            field.definition,
            field.nodes[0],
            executor.variable_values,
            None,
            executor.hide_suggestions,
        )

    def info(self, field: FieldPlan, path: Path) -> GraphQLResolveInfo[Any]:
        """The resolver's ``info``, built by the executor as the standard one builds it."""
        assert field.definition is not None
        return self.executor.build_resolve_info(field.definition, field.nodes, field.parent, path)

    def complete(
        self, field: FieldPlan, value: Any, item: Item, path: Path, children: Batches
    ) -> Any:
        """Completes a field's value (raising as graphql-core's ``complete_value`` does)."""
        if field.leaf is not None:
            return self.leaf(field, value)
        assert field.completion is not None
        position = Position(item.result, field.key, not field.non_null, item.position, path)
        return self._complete(field, field.completion, value, position, children)

    def _complete(
        self,
        field: FieldPlan,
        completion: Completion,
        value: Any,
        position: Position,
        children: Batches,
    ) -> Any:
        if isinstance(value, Exception):
            raise value
        if isinstance(completion, NonNull):
            completed = self._complete(field, completion.inner, value, position, children)
            if completed is None:
                raise TypeError(
                    f"Cannot return null for non-nullable field {_parent(field)}.{field.name}."
                )
            return completed
        if value is None or value is Undefined:
            return None
        if isinstance(completion, Leaf):
            coerced = completion.type.coerce_output_value(value)
            if coerced is Undefined or coerced is None:
                raise TypeError(
                    f"Expected `{inspect(completion.type)}.coerce_output_value("
                    f"{inspect(value)})` to return non-nullable value, returned:"
                    f" {inspect(coerced)}"
                )
            return coerced
        if isinstance(completion, ListOf):
            return self._list(field, completion, value, position, children)
        if isinstance(completion, Abstract):
            plan = self._runtime_plan(field, completion, value, position.path)
            return self._object(field, plan, value, position, children)
        return self._object(field, completion, value, position, children)

    def _list(
        self,
        field: FieldPlan,
        completion: ListOf,
        value: Any,
        position: Position,
        children: Batches,
    ) -> list[Any]:
        if not is_iterable(value):
            raise GraphQLError(
                "Expected Iterable, but did not find one for field"
                f" '{_parent(field)}.{field.name}'.",
            )
        inner = completion.inner
        item_nullable = not isinstance(inner, NonNull)
        completed: list[Any] = []
        for index, item in enumerate(value):
            item_path = Path(position.path, index, None)
            item_position = Position(completed, index, item_nullable, position, item_path)
            completed.append(None)
            if self.is_awaitable(item):
                # No list of this schema holds awaitables; completing one would need a batch
                # of its own. It is refused loudly rather than answered differently.
                _close(item)
                raise TypeError(f"awaitable list items are not planned ({field.name})")
            try:
                completed[index] = self._complete(field, inner, item, item_position, children)
            except Exception as exc:
                error = located_error(exc, field.nodes, item_path.as_list())
                if not item_nullable:
                    raise error from None  # the list itself is null: the caller propagates it
                completed[index] = None
                self.errors.add(error, item_path)
        return completed

    def _object(
        self,
        field: FieldPlan,
        plan: ObjectPlan,
        value: Any,
        position: Position,
        children: Batches,
    ) -> dict[str, Any]:
        is_type_of = plan.type.is_type_of
        if is_type_of is not None:
            # strawberry's own check ignores its info: building one per object is saved.
            info = None if _strawberry_made(is_type_of) else self.info(field, position.path)
            matches = is_type_of(value, info)  # type: ignore[arg-type]
            if self.is_awaitable(matches):
                _close(matches)
                raise TypeError(f"asynchronous is_type_of is not planned ({plan.type.name})")
            if not matches:
                raise GraphQLError(
                    f"Expected value of type '{plan.type}' but got: {inspect(value)}.",
                    field.nodes,
                )
        result: dict[str, Any] = {}
        batch = children.get(id(plan))
        if batch is None:
            batch = children[id(plan)] = (plan, [])
        batch[1].append(Item(value, result, position.path, position))
        return result

    def _runtime_plan(
        self, field: FieldPlan, completion: Abstract, value: Any, path: Path
    ) -> ObjectPlan:
        abstract = completion.type
        info = self.info(field, path)
        resolve_type = abstract.resolve_type or self.executor.type_resolver
        runtime = resolve_type(value, info, abstract)
        if self.is_awaitable(runtime):
            _close(runtime)
            raise TypeError(f"asynchronous resolve_type is not planned ({abstract.name})")
        details = [FieldDetails(node, None) for node in field.nodes]
        runtime_type = self.executor.ensure_valid_runtime_type(
            runtime, abstract, details, info, value
        )
        return completion.plans[runtime_type.name]

    def fail(self, exc: Exception, field: FieldPlan, path: Path, item: Item) -> None:
        """A field's error: located at the field, the null propagated as far as it must go."""
        position = Position(item.result, field.key, not field.non_null, item.position, path)
        self._fail_at(exc, field, path, position)

    def _fail_at(
        self, exc: Exception, field: FieldPlan, path: Path, position: Position | None
    ) -> None:
        error = located_error(exc, field.nodes, path.as_list())
        while position is not None and not position.nullable:
            position = position.parent
        if position is None:
            self.errors.add(error, None)
            self.data_nulled = True
            return
        position.container[position.key] = None
        self.errors.add(error, position.path)
        self.nulled.add(position)


def _parent(field: FieldPlan) -> str:
    """The name graphql-core's messages give a field's parent type."""
    return field.parent.name


def _strawberry_made(function: Any) -> bool:
    """Whether an ``is_type_of`` is the one strawberry generates (which never reads its info)."""
    return getattr(function, "__qualname__", "").endswith("_get_is_type_of.<locals>.is_type_of")


def _close(value: Awaitable[Any] | Iterable[Any] | Any) -> None:
    close = getattr(value, "close", None)
    if callable(close):
        close()
