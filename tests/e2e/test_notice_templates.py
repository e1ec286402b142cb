"""Notice templates through maker–checker over HTTP: a template lacking what its profile requires
is refused with its own code (at proposal, and again at approval), a valid one proposed by a
manager and approved by an admin is the version in effect, and the loader reads it.

Every template these tests approve has a name of its own: no strategy sends it, so the shared
database's other tests are not disturbed."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.notices.templates import DEFAULT_TEMPLATES, template_from_payload, template_to_payload
from store import tables
from store.template_queries import templates_in_effect
from tests.factories import global_id, writing
from tests.helpers import Gql

ERROR = "__typename ... on UserError { code field message }"
CHANGE = "id status ruleSetVersion"
PROPOSE = f"""
mutation($input: ProposeRuleChangeInput!) {{
  r: proposeRuleChange(input: $input) {{
    {ERROR} ... on ProposeRuleChangeSuccess {{ change {{ {CHANGE} }} }}
  }}
}}
"""
APPROVE = f"""
mutation($id: ID!) {{
  r: approveRuleChange(input: {{changeId: $id}}) {{
    {ERROR} ... on ApproveRuleChangeSuccess {{ change {{ {CHANGE} }} }}
  }}
}}
"""
REJECT = f"""
mutation($id: ID!) {{
  r: rejectRuleChange(input: {{changeId: $id, reason: "test"}}) {{
    {ERROR} ... on RejectRuleChangeSuccess {{ change {{ {CHANGE} }} }}
  }}
}}
"""
RULE_SET = """
query($name: String!) {
  r: ruleSet(kind: NOTICE_TEMPLATE, name: $name) {
    kind name builtin inEffect { version payload } versions { version }
  }
}
"""

BODY = (
    "【{{ lender_name }}】{{ borrower_name }}您好，您的借款已逾期{{ days_past_due }}天，"
    "应还{{ amount_due }}。如有疑问请致电{{ hotline }}。催收专员：{{ collector_name }}"
    "（工号{{ collector_id }}）。"
)


def template(body: str = BODY, version: str = "2026.1") -> dict[str, Any]:
    return {
        "version": version,
        "channel": "SMS",
        "purpose": "REMINDER",
        "profiles": ["CN"],
        "texts": {"zh": {"body": body}},
    }


def unique_name() -> str:
    return f"E2E_REMINDER_{uuid.uuid4().hex[:8].upper()}"


async def propose(gql: Gql, login: str, name: str, payload: dict[str, Any]) -> Any:
    variables = {
        "input": {
            "kind": "NOTICE_TEMPLATE",
            "name": name,
            "payload": payload,
            "effectiveFrom": datetime.now(UTC).isoformat(),
            "reason": "a shorter reminder",
        }
    }
    return (await gql(login, PROPOSE, variables))["r"]


async def refusals(engine: AsyncEngine, since: int) -> list[Any]:
    e = tables.audit_entries.c
    stmt = select(e.actor_login, e.outcome, e.changes).where(
        e.action == "policy.change", e.id > since, e.outcome == "DENIED"
    )
    async with engine.connect() as conn:
        return list((await conn.execute(stmt.order_by(e.id))).all())


async def last_audit_id(engine: AsyncEngine) -> int:
    e = tables.audit_entries.c
    async with engine.connect() as conn:
        found = (await conn.execute(select(e.id).order_by(e.id.desc()).limit(1))).scalar()
    return int(found or 0)


async def test_a_template_lacking_the_collectors_identity_is_refused_with_its_own_code(
    gql: Gql, engine: AsyncEngine
) -> None:
    since = await last_audit_id(engine)
    lacking = BODY.replace("（工号{{ collector_id }}）", "")
    refused = await propose(gql, "manager", unique_name(), template(lacking))
    assert refused == {
        "__typename": "RuleViolationError",
        "code": "TEMPLATE_CONTENT_MISSING",
        "field": "payload.texts.zh",
        "message": "the zh text lacks what CN requires: collector_id (the collector's identity)",
    }
    denied = await refusals(engine, since)
    assert [(x.actor_login, (x.changes or {}).get("refused")) for x in denied] == [
        ("manager", "TEMPLATE_CONTENT_MISSING")
    ]


async def test_a_malformed_template_is_refused_naming_the_field(gql: Gql) -> None:
    broken = await propose(gql, "manager", unique_name(), template(BODY + "{% if hotline %}"))
    assert (broken["__typename"], broken["code"], broken["field"]) == (
        "ValidationError",
        "CHANGE_INVALID",
        "payload.texts.zh.body",
    )
    assert broken["message"].startswith("payload.texts.zh.body line 1: ")
    looping = await propose(
        gql, "manager", unique_name(), template(BODY + "{% for c in hotline %}{% endfor %}")
    )
    assert (looping["code"], looping["field"]) == ("CHANGE_INVALID", "payload.texts.zh.body")
    assert "{% for %} loops" in looping["message"]
    # A checked-in template's label names its checked-in version: a new version needs its own.
    reused = await propose(
        gql,
        "manager",
        "PAYMENT_REMINDER",
        template_to_payload(DEFAULT_TEMPLATES["PAYMENT_REMINDER"]),
    )
    assert (reused["code"], reused["field"]) == ("CHANGE_INVALID", "payload.version")


async def test_a_template_that_would_fail_later_is_refused_when_proposed(gql: Gql) -> None:
    """Nesting the compiler or the parser cannot take, a Jinja global, text that is not UTF-8:
    each a CHANGE_INVALID naming the text, never an internal error or a notice printing a
    function."""
    letter = template("x")
    letter.update(channel="LETTER", purpose="DEMAND")
    cases = {
        "{% if hotline %}" * 99 + "x" + "{% endif %}" * 99: "nested too deeply",
        "{% if hotline %}" * 400 + "x" + "{% endif %}" * 400: "nested too deeply",
        "{{ " + "(" * 3000 + "hotline" + ")" * 3000 + " }}": "nested too deeply",
        "{{ " + "not " * 3000 + "hotline }}": "nested too deeply",
        "{{ lipsum }}": "unknown variable 'lipsum'",
        "{{ range }}": "unknown variable 'range'",
    }
    for construct, named in cases.items():
        letter["texts"] = {"zh": {"subject": "{{ case_reference }}", "body": BODY + construct}}
        refused = await propose(gql, "manager", unique_name(), letter)
        assert (refused["__typename"], refused["code"], refused["field"]) == (
            "ValidationError",
            "CHANGE_INVALID",
            "payload.texts.zh.body",
        ), named
        assert named in refused["message"]
    # JSON may carry a lone surrogate as an escape ("\\ud800"); the API refuses the request
    # before any rule sees it (the template checks refuse it too, for a payload stored earlier).
    letter["texts"] = {"zh": {"subject": "{{ case_reference }}", "body": BODY + "\ud800"}}
    variables = {
        "input": {
            "kind": "NOTICE_TEMPLATE",
            "name": unique_name(),
            "payload": letter,
            "effectiveFrom": datetime.now(UTC).isoformat(),
            "reason": "a surrogate",
        }
    }
    response = await gql.client.post(
        "/graphql",
        content=json.dumps({"query": PROPOSE, "variables": variables}),  # ASCII: escaped
        headers={
            "Authorization": f"Bearer {gql.token('manager')}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_checked_in_template_shows_its_payload_as_the_form_a_proposal_takes(
    gql: Gql,
) -> None:
    shown = (await gql("auditor1", RULE_SET, {"name": "VALIDATION_NOTICE"}))["r"]
    assert shown["kind"] == "NOTICE_TEMPLATE"
    assert shown["builtin"] == template_to_payload(DEFAULT_TEMPLATES["VALIDATION_NOTICE"])
    assert shown["inEffect"] is None
    unknown = (await gql("auditor1", RULE_SET, {"name": "NO_SUCH_TEMPLATE"}))["r"]
    assert (unknown["builtin"], unknown["inEffect"], unknown["versions"]) == (None, None, [])


async def test_an_approved_template_is_in_effect_and_the_loader_reads_it(
    gql: Gql, engine: AsyncEngine
) -> None:
    name = unique_name()
    proposed = await propose(gql, "manager", name, template())
    assert proposed["__typename"] == "ProposeRuleChangeSuccess", proposed
    change = proposed["change"]
    async with engine.connect() as conn:
        assert name not in await templates_in_effect(conn, datetime.now(UTC))
    own = (await gql("manager", APPROVE, {"id": change["id"]}))["r"]
    assert own["code"] == "MAKER_CANNOT_APPROVE"

    approved = (await gql("admin", APPROVE, {"id": change["id"]}))["r"]
    assert approved["change"] == {"id": change["id"], "status": "APPROVED", "ruleSetVersion": 1}
    shown = (await gql("auditor1", RULE_SET, {"name": name}))["r"]
    assert shown["builtin"] is None
    assert shown["inEffect"] == {"version": 1, "payload": template()}
    assert shown["versions"] == [{"version": 1}]

    async with engine.connect() as conn:
        loaded = await templates_in_effect(conn, datetime.now(UTC))
    assert loaded[name] == template_from_payload(name, template())
    assert loaded[name].version == "2026.1"
    assert {n: loaded[n] for n in DEFAULT_TEMPLATES} == dict(DEFAULT_TEMPLATES)


async def test_a_pending_template_lacking_required_content_cannot_be_approved(
    gql: Gql, engine: AsyncEngine
) -> None:
    """A change stored before the requirement existed (as a release that adds one finds it) is
    checked again when approved."""
    name = unique_name()
    lacking = template(BODY.replace("（工号{{ collector_id }}）", ""))
    s = tables.staff.c
    async with writing(engine) as conn:
        manager = (await conn.execute(select(s.id).where(s.login == "manager"))).scalar_one()
        inserted = await conn.execute(
            insert(tables.rule_changes).values(
                kind="NOTICE_TEMPLATE",
                name=name,
                payload=lacking,
                status="PENDING",
                reason="stored under an older release",
                effective_from=datetime.now(UTC),
                proposed_by=manager,
                proposed_at=datetime.now(UTC),
            )
        )
        pk = inserted.inserted_primary_key
        assert pk is not None
    change_id = global_id("RuleChange", int(pk[0]))
    refused = (await gql("admin", APPROVE, {"id": change_id}))["r"]
    assert (refused["__typename"], refused["code"]) == (
        "RuleViolationError",
        "TEMPLATE_CONTENT_MISSING",
    )
    assert "collector_id (the collector's identity)" in refused["message"]
    shown = (await gql("auditor1", RULE_SET, {"name": name}))["r"]
    assert shown["versions"] == []
    rejected = (await gql("admin", REJECT, {"id": change_id}))["r"]
    assert rejected["change"]["status"] == "REJECTED"


async def test_a_pending_template_nested_beyond_the_parser_cannot_be_approved(
    gql: Gql, engine: AsyncEngine
) -> None:
    """A change stored before the nesting limit existed is refused when approved, not failed."""
    deep = template()
    deep.update(channel="LETTER", purpose="DEMAND")
    body = BODY + "{% if hotline %}" * 400 + "x" + "{% endif %}" * 400
    deep["texts"] = {"zh": {"subject": "{{ case_reference }}", "body": body}}
    s = tables.staff.c
    async with writing(engine) as conn:
        manager = (await conn.execute(select(s.id).where(s.login == "manager"))).scalar_one()
        inserted = await conn.execute(
            insert(tables.rule_changes).values(
                kind="NOTICE_TEMPLATE",
                name=unique_name(),
                payload=deep,
                status="PENDING",
                reason="stored under an older release",
                effective_from=datetime.now(UTC),
                proposed_by=manager,
                proposed_at=datetime.now(UTC),
            )
        )
        pk = inserted.inserted_primary_key
        assert pk is not None
    refused = (await gql("admin", APPROVE, {"id": global_id("RuleChange", int(pk[0]))}))["r"]
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "ValidationError",
        "CHANGE_INVALID",
        "payload.texts.zh.body",
    )
    assert "nested too deeply" in refused["message"]
