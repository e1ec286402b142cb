"""The request limits on a document: cost (fragments costed once), depth, aliases, directives,
tokens and operations, computed against the checked-in schema."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLSchema, GraphQLSyntaxError, build_schema, get_introspection_query, parse

from api.limits import (
    DEFAULT_BUDGET,
    LIST_FAN_OUT,
    Figures,
    Limits,
    QueryTooComplex,
    TooManyDirectives,
    TooManyOperations,
    TooManyTokens,
    budget_of,
    check_document,
    parse_limited,
)

SDL = Path(__file__).resolve().parents[2] / "schema.graphql"
LIMITS = Limits(max_tokens=5000, max_operations=10, max_directives=5, budget=10_000)
UNLIMITED = Limits(
    max_tokens=10**6,
    max_operations=10**6,
    max_directives=10**6,
    budget=10**100,
    max_depth=10**6,
    max_aliases=10**100,
)


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(SDL.read_text(encoding="utf-8"))


def figures(
    schema: GraphQLSchema,
    query: str,
    variables: dict[str, Any] | None = None,
    limits: Limits = UNLIMITED,
) -> Figures:
    """Returns the figures of the document's only operation."""
    (found,) = check_document(schema, parse(query), variables, limits)
    return found


def refusal(schema: GraphQLSchema, query: str, limits: Limits = LIMITS) -> QueryTooComplex:
    with pytest.raises(QueryTooComplex) as caught:
        check_document(schema, parse(query), {}, limits)
    assert caught.value.extensions == {"code": "QUERY_TOO_COMPLEX"}
    return caught.value


def bomb(levels: int) -> str:
    """Each fragment spreads the next twice: 2**levels copies of the last one, expanded."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    fragments.append(f"fragment F{levels} on Query {{ a: viewer {{ login }} }}")
    return "query Bomb { ...F0 }\n" + "\n".join(fragments)


PAGE = "edges { node { id debts { id } } }"


# --- cost -------------------------------------------------------------------------------------


def test_cost_is_one_per_field_plus_lists_times_their_length(schema: GraphQLSchema) -> None:
    # cases 1 + totalCount 1 + edges (1 + 10 × (node 1 + id 1 + debts (1 + 5 × id 1)))
    found = figures(schema, f"{{ cases(first: 10) {{ totalCount {PAGE} }} }}")
    assert found.cost == 3 + 10 * (2 + 1 + LIST_FAN_OUT)


def test_first_defaults_to_the_default_page_and_is_capped_at_the_maximum(
    schema: GraphQLSchema,
) -> None:
    one = figures(schema, f"{{ cases(first: 1) {{ {PAGE} }} }}").cost - 2
    assert figures(schema, f"{{ cases {{ {PAGE} }} }}").cost == 2 + 20 * one
    assert figures(schema, f"{{ cases(first: null) {{ {PAGE} }} }}").cost == 2 + 20 * one
    assert figures(schema, f"{{ cases(first: 5000) {{ {PAGE} }} }}").cost == 2 + 100 * one


def test_first_is_read_from_the_variables_or_their_defaults(schema: GraphQLSchema) -> None:
    query = f"query($n: Int) {{ cases(first: $n) {{ {PAGE} }} }}"
    one = figures(schema, f"{{ cases(first: 1) {{ {PAGE} }} }}").cost - 2
    assert figures(schema, query, {"n": 7}).cost == 2 + 7 * one
    assert figures(schema, query, {"n": None}).cost == 2 + 20 * one
    assert figures(schema, query).cost == 2 + 100 * one  # unknown: the maximum
    assert figures(schema, query, {"n": "lots"}).cost == 2 + 100 * one
    with_default = f"query($n: Int = 3) {{ cases(first: $n) {{ {PAGE} }} }}"
    assert figures(schema, with_default).cost == 2 + 3 * one
    assert figures(schema, with_default, {"n": 4}).cost == 2 + 4 * one


def test_aliases_multiply_the_cost(schema: GraphQLSchema) -> None:
    one = figures(schema, f"{{ cases(first: 100) {{ {PAGE} }} }}")
    aliased = " ".join(f"a{i}: cases(first: 100) {{ {PAGE} }}" for i in range(30))
    thirty = figures(schema, f"{{ {aliased} }}")
    assert thirty.cost == 30 * one.cost
    assert thirty.aliases == 30
    error = refusal(schema, f"{{ {aliased} }}")
    assert error.message == f"query cost {thirty.cost:,} exceeds your limit of 10,000"


def test_a_fragment_costs_what_its_fields_cost_where_it_is_spread(schema: GraphQLSchema) -> None:
    inline = figures(schema, f"{{ cases(first: 30) {{ {PAGE} }} }}")
    spread = figures(
        schema,
        "{ cases(first: 30) { ...Page } } fragment Page on CaseConnection { " + PAGE + " }",
    )
    assert spread == inline


def test_the_fragment_bomb_is_costed_once_per_fragment_and_refused_quickly(
    schema: GraphQLSchema,
) -> None:
    document = parse(bomb(30))
    started = time.perf_counter()
    with pytest.raises(QueryTooComplex) as caught:
        check_document(schema, document, {}, LIMITS)
    elapsed = time.perf_counter() - started
    assert caught.value.message == f"query cost {2**30 * 2:,} exceeds your limit of 10,000"
    assert elapsed < 0.05


def test_a_bomb_too_big_to_expand_is_still_costed(schema: GraphQLSchema) -> None:
    # 2**90 copies: walking them is impossible, so finishing at all shows each fragment is
    # costed once.
    assert figures(schema, bomb(90)).cost == 2**90 * 2
    assert figures(schema, bomb(90)).aliases == 2**90


def test_a_bomb_in_a_fragment_no_operation_spreads_is_refused(schema: GraphQLSchema) -> None:
    unused = bomb(25).replace("query Bomb { ...F0 }", "{ viewer { login } }")
    assert "exceeds your limit" in refusal(schema, unused).message


def test_every_operation_is_checked_not_only_the_one_that_runs(schema: GraphQLSchema) -> None:
    query = bomb(20).replace("query Bomb", "query Small { viewer { login } } query Small")
    assert "exceeds your limit" in refusal(schema, query).message


def test_fragment_cycles_are_refused(schema: GraphQLSchema) -> None:
    query = """
    { ...A }
    fragment A on Query { viewer { login } ...B }
    fragment B on Query { ...C }
    fragment C on Query { ...A }
    """
    assert refusal(schema, query).message == "fragment A spreads itself (A → B → C → A)"
    assert "spreads itself" in refusal(schema, "fragment X on Query { ...X } { ...X }").message


def test_the_heaviest_client_query_is_within_a_collectors_budget(schema: GraphQLSchema) -> None:
    everything = """
    query Everything($after: String) { cases(first: 100, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { cursor node {
        id reference portfolio status stage classification bucket daysPastDue dpdAsOf
        policyVersion totalOutstanding { amount currency } openedOn placedAt placementEndsOn
        version
        borrower { id fullName timeZone nationalId phone email address employer income }
        debts { id accountNumber productType status currency principal { amount currency }
          interest { amount currency } penalty { amount currency } fee { amount currency }
          outstanding { amount currency } openedOn pausedDays daysPastDue
          instalments { sequence dueDate amountDue { amount currency }
                        amountPaid { amount currency } } }
        assignee { id login name roles team capacity active
                   agency { id name commissionRate placementDays active } }
        agency { id name commissionRate placementDays active } } } } }
    """
    found = figures(schema, everything)
    assert found.cost <= budget_of(["collector"])
    assert 2 * found.cost > budget_of(["collector"])


def test_introspection_fits_the_smallest_budget_and_does_not_count_as_depth(
    schema: GraphQLSchema,
) -> None:
    found = figures(schema, get_introspection_query(descriptions=True))
    assert found.cost <= DEFAULT_BUDGET
    assert found.depth == 0


def test_budgets_are_the_highest_of_the_viewers_roles() -> None:
    assert budget_of(["collector"]) < budget_of(["collector", "manager"]) == budget_of(["admin"])
    assert budget_of([]) == budget_of(["no-such-role"]) == DEFAULT_BUDGET


# --- depth, aliases, directives -------------------------------------------------------------


def deep(levels: int) -> str:
    """A selection ``levels`` fields deep (unknown fields: depth is counted before validation)."""
    return "{ " + "a { " * levels + "b" + " }" * levels + " }"


def test_depth_up_to_the_limit_passes_and_beyond_is_refused(schema: GraphQLSchema) -> None:
    assert figures(schema, deep(12), limits=LIMITS).depth == 12
    assert refusal(schema, deep(13)).message == "query depth 13 exceeds the limit of 12"


def test_aliases_are_counted_through_fragments(schema: GraphQLSchema) -> None:
    fifteen = " ".join(f"a{i}: viewer {{ login }}" for i in range(15))
    query = "{ ...A ...A } fragment A on Query { " + fifteen + " }"
    assert figures(schema, query, limits=LIMITS).aliases == 30
    over = query.replace("...A ...A", "...A ...A x: viewer { login }")
    assert refusal(schema, over).message == "31 aliases exceed the limit of 30"


def test_directives_per_selection_are_limited(schema: GraphQLSchema) -> None:
    five = " ".join(["@include(if: true)"] * 5)
    figures(schema, f"{{ viewer {five} {{ login }} }}", limits=LIMITS)
    for query in (
        f"{{ viewer {five} @skip(if: false) {{ login }} }}",
        f"query {five} @a {{ viewer {{ login }} }}",
        f"query($v: Int {five} @a) {{ viewer {{ login }} }}",
        f"{{ ...F {five} @a }} fragment F on Query {{ viewer {{ login }} }}",
        f"{{ ... on Query {five} @a {{ viewer {{ login }} }} }}",
        f"{{ viewer {{ login }} }} fragment F on Query {five} @a {{ viewer {{ login }} }}",
    ):
        with pytest.raises(TooManyDirectives) as caught:
            check_document(schema, parse(query), {}, LIMITS)
        assert caught.value.message == "a selection carries 6 directives; the limit is 5"
        assert caught.value.extensions == {"code": "TOO_MANY_DIRECTIVES"}


def test_fragments_nested_past_the_walk_limit_are_refused(schema: GraphQLSchema) -> None:
    chain = [f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(150)]
    chain.append("fragment F150 on Query { viewer { login } }")
    query = "{ ...F0 }\n" + "\n".join(chain)
    assert "nest more than" in refusal(schema, query).message


# --- tokens and operations ----------------------------------------------------------------------


def test_documents_over_the_token_limit_are_refused() -> None:
    limits = Limits(max_tokens=50, max_operations=10, max_directives=5)
    parse_limited("{ " + "viewer { login } " * 12 + "}", limits)  # 50 tokens
    for query, what in (
        ("{ " + "viewer { login } " * 13 + "}", "tokens"),
        ("{ viewer { login } }" + "\n# comment" * 51, "comments"),
    ):
        with pytest.raises(TooManyTokens) as caught:
            parse_limited(query, limits)
        assert caught.value.message == f"the document exceeds the limit of 50 {what}"
        assert caught.value.extensions == {"code": "TOO_MANY_TOKENS"}


def test_documents_with_too_many_operations_are_refused() -> None:
    ten = " ".join(f"query Q{i} {{ viewer {{ login }} }}" for i in range(10))
    parse_limited(ten, LIMITS)
    with pytest.raises(TooManyOperations) as caught:
        parse_limited(ten + " { viewer { login } }", LIMITS)
    assert caught.value.message == "the document has 11 operations; the limit is 10"
    assert caught.value.extensions == {"code": "TOO_MANY_OPERATIONS"}


def test_other_syntax_errors_pass_through_unchanged() -> None:
    with pytest.raises(GraphQLSyntaxError) as caught:
        parse_limited("{ viewer { login }", LIMITS)
    assert not isinstance(caught.value, TooManyTokens)
    assert caught.value.message.startswith("Syntax Error: Expected Name")
