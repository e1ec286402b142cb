"""The executor strawberry runs every operation with: compiled plans for queries, the standard
executor for the rest, and both side by side in the test suite.

``PlannedExecutor`` is graphql-core's documented extension point (``executor_class``): the
operation arrives parsed, validated and with its variables coerced. A query whose document the
plan compiler covers runs on its plan, compiled once per document, operation and role set and
kept in a bounded LRU per schema; anything else runs on graphql-core's own executor. Either way
the errors are listed in response order (``response_order``), so that the two agree on it.

``ARREARS_EXECUTION`` chooses: ``compiled`` (the default), ``standard`` (graphql-core for
everything: the reference, and a way out should a plan ever be wrong), or ``compare`` — the
test suite's mode, in which a compiled query is run a second time on the standard executor
inside a rolled-back transaction, and any difference in data, errors, their order and paths, or
what the request's audit entry would record, is kept for the suite to fail on
(``api.plans.compare``).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from typing import Any

from graphql import ExecutionResult, GraphQLError, GraphQLSchema
from graphql.execution.executor import Executor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.plans.compile import NotCompiled, Plan, compile_plan
from api.plans.order import in_response_order
from api.plans.run import PlanRunner

# Plans kept per schema: distinct (document, operation, role set) triples. A client sends a
# handful of documents; an attacker sending endless distinct ones only churns the cache. A plan
# keeps its document alive, so a document of more text than PLAN_MAX_TEXT is compiled for its
# request and not kept.
PLAN_CACHE_SIZE = 256
PLAN_MAX_TEXT = 8_192


class _NotPlanned:
    """The cached verdict on a document the compiler does not cover."""


NOT_PLANNED = _NotPlanned()


class PlanCache:
    """A bounded LRU of compiled plans (or of the verdict that a document is not compiled)."""

    def __init__(self, size: int = PLAN_CACHE_SIZE) -> None:
        self.size = size
        self._plans: OrderedDict[tuple[str, str | None, frozenset[str]], Plan | _NotPlanned]
        self._plans = OrderedDict()
        self._lock = threading.Lock()
        self.compiled = 0
        self.hits = 0

    def get(self, executor: Executor[Any], roles: frozenset[str]) -> Plan | None:
        operation = executor.operation
        location = operation.loc
        if location is None:
            return None
        body = location.source.body
        if len(body) > PLAN_MAX_TEXT:
            return _compiled_or_none(executor)
        digest = hashlib.sha256(body.encode()).hexdigest()
        name = operation.name.value if operation.name else None
        key = (digest, name, roles)
        with self._lock:
            found = self._plans.get(key)
            if found is not None:
                self._plans.move_to_end(key)
                self.hits += 1
                return found if isinstance(found, Plan) else None
        plan: Plan | _NotPlanned = _compiled_or_none(executor) or NOT_PLANNED
        with self._lock:
            self._plans[key] = plan
            self.compiled += 1
            while len(self._plans) > self.size:
                self._plans.popitem(last=False)
        return plan if isinstance(plan, Plan) else None


def _compiled_or_none(executor: Executor[Any]) -> Plan | None:
    try:
        return compile_plan(executor.schema, executor.operation, executor.fragment_definitions)
    except NotCompiled:
        return None


_caches: weakref.WeakKeyDictionary[GraphQLSchema, PlanCache] = weakref.WeakKeyDictionary()


def plan_cache(schema: GraphQLSchema) -> PlanCache:
    """The plan cache of one schema (one per app: its extensions and policy are its own)."""
    cache = _caches.get(schema)
    if cache is None:
        cache = _caches.setdefault(schema, PlanCache())
    return cache


def execution_mode(context: Any) -> str:
    """The context's ``settings.execution``; ``standard`` for a context that is not the app's."""
    settings = getattr(context, "settings", None)
    mode = getattr(settings, "execution", None)
    return mode if isinstance(mode, str) else "standard"


def viewer_roles(context: Any) -> frozenset[str]:
    roles = getattr(getattr(context, "viewer", None), "roles", None) or ()
    return frozenset(roles)


class PlannedExecutor(StrawberryGraphQLCoreExecutionContext):
    """Runs a query on its compiled plan when there is one, else as graphql-core does."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        mode = execution_mode(self.context_value)
        manager = self.middleware_manager
        if mode == "standard" or (manager is not None and manager.middlewares):
            # Field middleware wraps every resolver, plain attributes too: a plan would skip it.
            return super().execute_operation(serially)
        plan = plan_cache(self.schema).get(self, viewer_roles(self.context_value))
        if plan is None:
            return super().execute_operation(serially)
        if mode == "compare":
            from api.plans.compare import compared

            return compared(self, plan)
        return self.run_plan(plan)

    async def run_plan(self, plan: Plan) -> ExecutionResult:
        """The operation's result from its plan (errors in response order)."""
        runner = PlanRunner(self)
        try:
            data = await runner.run(plan.root, self.root_value)
        except GraphQLError as error:
            self.collected_errors.add(error, None)
            data = None
        result: ExecutionResult = self.build_response(data)
        return result

    def run_standard(self) -> Any:
        """The operation on graphql-core's own executor (for ``compare``): its result, or an
        awaitable of it."""
        return super().execute_operation()

    def build_response(self, data: dict[str, Any] | None) -> Any:
        result = super().build_response(data)
        if isinstance(result, ExecutionResult) and result.errors:
            result.errors = in_response_order(result.data, result.errors)
        return result
