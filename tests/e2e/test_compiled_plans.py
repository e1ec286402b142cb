"""Compiled execution plans (api.plans) against graphql-core's standard executor.

The whole suite runs in ``ARREARS_EXECUTION=compare`` (tests/conftest.py): every query it sends
is answered from its plan and checked against the standard executor. Here, Hypothesis writes
queries nobody wrote by hand — random selections over the schema, with aliases, fragments on
abstract types, ``__typename``, arguments good and bad — sends them as random demo logins, and
fails on the first answer (data, errors, their order and paths) or audit note that differs.
The other tests pin what the plans promise: one compilation per document, operation and role
set; the standard executor for what a plan does not cover; the errors in response order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.common.ids import to_global_id
from api.plans.compare import COMPARED, DIFFERENCES, MOVED
from api.plans.executor import PlanCache, plan_cache
from api.plans.order import in_response_order
from api.schema import schema as public_schema
from api.settings import Settings
from tests.access import LOGINS
from tests.helpers import Gql

SCHEMA: GraphQLSchema = public_schema._schema
# Root fields that record something (an evidence pack is written as it is asked for): their
# second run cannot answer the same, so they are left to their own tests.
RECORDING = {"evidencePack"}
IDS = [
    *(to_global_id(kind, pk) for kind in ("Case", "Borrower", "Debt") for pk in (1, 2, 7)),
    to_global_id("Staff", 1),
    to_global_id("Payment", 1),
    to_global_id("ContactPoint", 1),
    "not-an-id",
]
SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "Int": st.integers(min_value=-1, max_value=4),
    "Boolean": st.booleans(),
    "String": st.sampled_from(["", "x", "default", "M3", "collector1", "Acme Recovery"]),
    "ID": st.sampled_from(IDS),
    "Date": st.sampled_from(["2026-11-01", "2026-06-30", "2025-01-31"]),
    "DateTime": st.sampled_from(["2026-11-30T08:00:00+00:00", "2026-11-29T23:30:00+08:00"]),
    "Decimal": st.sampled_from(["1.00", "0.01", "250000"]),
}


def _value(type_: GraphQLInputType, depth: int = 0) -> st.SearchStrategy[Any] | None:
    """A strategy of values for an input type, or None when none can be made."""
    if isinstance(type_, GraphQLNonNull):
        return _value(type_.of_type, depth)
    if isinstance(type_, GraphQLList):
        inner = _value(type_.of_type, depth)
        return None if inner is None else st.lists(inner, max_size=2)
    if isinstance(type_, GraphQLEnumType):
        return st.sampled_from(sorted(type_.values))
    if isinstance(type_, GraphQLScalarType):
        return SCALARS.get(type_.name)
    if isinstance(type_, GraphQLInputObjectType) and depth < 1:
        parts: dict[str, st.SearchStrategy[Any]] = {}
        for name, field in type_.fields.items():
            strategy = _value(field.type, depth + 1)
            if strategy is None:
                if isinstance(field.type, GraphQLNonNull):
                    return None
                continue
            parts[name] = strategy
        return st.fixed_dictionaries({}, optional=parts)
    return None


def _arguments(field: GraphQLField) -> st.SearchStrategy[dict[str, Any]] | None:
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, argument in field.args.items():
        strategy = _value(argument.type)
        must = isinstance(argument.type, GraphQLNonNull) and argument.default_value is Undefined
        if strategy is None:
            if must:
                return None
            continue
        (required if must else optional)[name] = strategy
    return st.fixed_dictionaries(required, optional=optional)


@st.composite
def _selection(draw: st.DrawFn, type_: GraphQLNamedType, depth: int) -> str:
    """A selection set on ``type_``: up to four fields (aliased now and then), and on an
    abstract type ``__typename`` and inline fragments on some of its possible types."""
    if is_abstract_type(type_):
        possible = list(SCHEMA.get_possible_types(type_))  # type: ignore[arg-type]
        chosen = draw(st.lists(st.sampled_from(possible), max_size=2, unique_by=lambda t: t.name))
        fragments = [f"... on {t.name} {draw(_selection(t, depth))}" for t in chosen]
        return "{ __typename " + " ".join(fragments) + " }"
    assert isinstance(type_, GraphQLObjectType)
    candidates = []
    for name, field in sorted(type_.fields.items()):
        named = get_named_type(field.type)
        if name in RECORDING or (not is_leaf_type(named) and depth <= 0):
            continue
        if _arguments(field) is not None:
            candidates.append((name, field))
    if not candidates:
        return "{ __typename }"
    picked = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=4))
    parts = []
    used: set[str] = set()
    for index, (name, field) in enumerate(picked):
        arguments = _arguments(field)
        assert arguments is not None
        values = draw(arguments)
        rendered = ", ".join(f"{k}: {_literal(field.args[k].type, v)}" for k, v in values.items())
        # A repeated field gets an alias of its own: the same key with other arguments or
        # another selection would not validate.
        alias = f"a{index}: " if name in used or draw(st.booleans()) else ""
        used.add(name)
        text = f"{alias}{name}" + (f"({rendered})" if rendered else "")
        named = get_named_type(field.type)
        if not is_leaf_type(named):
            text += " " + draw(_selection(named, depth - 1))
        parts.append(text)
    if draw(st.booleans()):
        parts.append("__typename")
    return "{ " + " ".join(parts) + " }"


def _literal(type_: GraphQLInputType, value: Any) -> str:
    """A value written into the document (enums bare, the rest as JSON-like literals)."""
    if isinstance(type_, GraphQLNonNull):
        return _literal(type_.of_type, value)
    if isinstance(type_, GraphQLList):
        return "[" + ", ".join(_literal(type_.of_type, v) for v in value) + "]"
    if isinstance(type_, GraphQLEnumType):
        return str(value)
    if isinstance(type_, GraphQLInputObjectType):
        fields = type_.fields
        inner = ", ".join(f"{k}: {_literal(fields[k].type, v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


QUERY_TYPE = SCHEMA.query_type
assert QUERY_TYPE is not None
queries = _selection(QUERY_TYPE, 3).map(lambda selection: "query Random " + selection)


@settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=queries, login=st.sampled_from(sorted(LOGINS)))
async def test_random_queries_answer_the_same_on_both_executors(
    gql: Gql, query: str, login: str
) -> None:
    DIFFERENCES.clear()  # each example stands alone (Hypothesis shrinks a failing one)
    # A run that another commit straddled (the app's audit writer, say) is not compared: its
    # two executions saw different data. Asked again, the query is compared.
    for _ in range(3):
        before, moved = COMPARED[0], MOVED[0]
        response = await gql.raw(login, query)
        if MOVED[0] == moved:
            break
    assert response.status_code == 200, response.text
    assert not DIFFERENCES, DIFFERENCES[0]
    body = response.json()
    # A document over the limits or invalid is refused before execution, on either executor;
    # every other one was compared.
    assert _refused(body) or COMPARED[0] == before + 1, body


def _refused(body: dict[str, Any]) -> bool:
    """Refused before execution: no data, and only errors of the document itself (invalid:
    they point into it; over a limit: they carry the limit's code) — not a failure to run."""
    errors = body.get("errors", [])
    if body.get("data") is not None or not errors:
        return False
    return all(
        "path" not in error and ("locations" in error or "code" in error.get("extensions", {}))
        for error in errors
    )


CASES = """
query Page($first: Int!) {
  cases(first: $first) { edges { node { id reference borrower { fullName phone } } } }
}
"""


@pytest.fixture
def own_app(settings: Settings, engine: Any) -> Iterator[tuple[Any, Settings]]:
    app = create_app(settings, engine=engine)
    yield app, settings


async def _send(app: Any, settings: Settings, login: str, query: str, **variables: Any) -> Any:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as c,
    ):
        gql = Gql(c, settings)
        return (await gql.raw(login, query, variables)).json()


async def test_a_document_is_compiled_once_per_operation_and_role_set(
    own_app: tuple[Any, Settings],
) -> None:
    app, settings = own_app
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as c,
    ):
        gql = Gql(c, settings)
        first = await gql("manager", CASES, {"first": 2})
        cache = _cache_of(app)
        compiled, hits = cache.compiled, cache.hits
        again = await gql("manager", CASES, {"first": 3})
        assert (cache.compiled, cache.hits) == (compiled, hits + 1)
        assert len(again["cases"]["edges"]) == 3
        assert again["cases"]["edges"][:2] == first["cases"]["edges"]
        # Another role set is another plan; the same role set again is not.
        await gql("collector1", CASES, {"first": 2})
        assert cache.compiled == compiled + 1
        await gql("collector2", CASES, {"first": 2})
        assert cache.compiled == compiled + 1


def _cache_of(app: Any) -> PlanCache:
    """The plan cache of the app's own schema."""
    for route in app.routes:
        endpoint = getattr(route, "endpoint", None)
        schema = getattr(endpoint, "schema", None)
        if schema is not None and hasattr(schema, "_schema"):
            return plan_cache(schema._schema)
    raise AssertionError("no GraphQL route")


async def test_directives_run_on_the_standard_executor_with_the_same_answer(gql: Gql) -> None:
    query = """
    query Page($withPhone: Boolean!) {
      cases(first: 2) { edges { node { reference borrower { phone @include(if: $withPhone) } } } }
    }
    """
    before = COMPARED[0]
    shown = await gql("manager", query, {"withPhone": True})
    hidden = await gql("manager", query, {"withPhone": False})
    assert COMPARED[0] == before  # not compiled: nothing to compare
    phones = [e["node"]["borrower"] for e in shown["cases"]["edges"]]
    assert all(set(b) == {"phone"} and "*" in b["phone"] for b in phones), phones
    assert [e["node"]["borrower"] for e in hidden["cases"]["edges"]] == [{}, {}]


async def test_the_standard_executor_answers_the_same(settings: Settings, engine: Any) -> None:
    standard = settings.model_copy(update={"execution": "standard"})
    compiled = settings.model_copy(update={"execution": "compiled"})
    answers = [
        await _send(create_app(s, engine=engine), s, "acme.agent1", CASES, first=5)
        for s in (standard, compiled)
    ]
    assert answers[0] == answers[1]
    assert len(answers[0]["data"]["cases"]["edges"]) == 5


async def test_errors_come_in_response_order_and_nulls_propagate_as_the_spec_says(
    gql: Gql,
) -> None:
    # legalHolds needs legal_hold:read, which a collector lacks: each case's non-null list
    # fails, the null reaches the nullable ``case`` fields, and the errors follow the aliases'
    # order in the response whichever finished first.
    query = """
    query Holds($a: ID!, $b: ID!) {
      second: case(id: $b) { reference legalHolds { id } }
      first: case(id: $a) { reference legalHolds { id } }
    }
    """
    visible = await gql("collector1", "{ myWorklist(first: 2) { edges { node { case { id } } } } }")
    ids = [e["node"]["case"]["id"] for e in visible["myWorklist"]["edges"]]
    assert len(ids) == 2
    before = COMPARED[0]
    response = await gql.raw("collector1", query, {"a": ids[0], "b": ids[1]})
    body = response.json()
    assert body["data"] == {"second": None, "first": None}
    assert [e["path"] for e in body["errors"]] == [
        ["second", "legalHolds"],
        ["first", "legalHolds"],
    ]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert COMPARED[0] == before + 1 and not DIFFERENCES


def test_the_plan_cache_is_bounded() -> None:
    cache = PlanCache(size=2)

    class Stub:
        def __init__(self, text: str) -> None:
            from graphql import parse

            self.schema = SCHEMA
            self.fragment_definitions: dict[str, Any] = {}
            self.operation = parse(text).definitions[0]

    for text in ("{ viewer { login } }", "{ viewer { roles } }", "{ viewer { team } }"):
        assert cache.get(Stub(text), frozenset({"manager"})) is not None  # type: ignore[arg-type]
    assert cache.compiled == 3
    assert len(cache._plans) == 2
    cache.get(Stub("{ viewer { login } }"), frozenset({"manager"}))  # type: ignore[arg-type]
    assert cache.compiled == 4  # the oldest was dropped: compiled again


def test_response_order_follows_the_data() -> None:
    from graphql import GraphQLError

    data = {"b": [{"x": None}, {"x": None}], "a": None}
    errors = [
        GraphQLError("late", path=["a"]),
        GraphQLError("second item", path=["b", 1, "x"]),
        GraphQLError("first item", path=["b", 0, "x"]),
    ]
    ordered = in_response_order(data, errors)
    assert [e.message for e in ordered] == ["first item", "second item", "late"]


async def test_a_fragment_spread_under_a_repeated_field_counts_once(gql: Gql) -> None:
    # graphql-core collects a fragment once per object, however many of the field's selections
    # spread it: the error of the forbidden field points at one location, under either executor.
    query = """
    query Q { myWorklist(first: 1) { edges { node { case { ...F } case { ...F } } } } }
    fragment F on Case { reference legalHolds { id } }
    """
    before = COMPARED[0]
    errors = await gql.errors("collector1", query)
    assert [len(e["locations"]) for e in errors] == [1]
    assert COMPARED[0] == before + 1 and not DIFFERENCES
