"""Maker–checker over HTTP: a change to a rule set or a role is proposed by one person and takes
effect only once a second authorised person approves it (never its maker, never the grantee),
from its stated start; versions count up; concurrent approvals decide once.

The module runs on a database of its own, with the app's clock set by the tests (a rule set in
effect from tomorrow must not reach the shared database's other tests)."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.changes import registry, rules
from domain.conduct.profiles import CN
from domain.payments.waterfall import DEFAULT_WATERFALL
from domain.rulesets import RuleSetKind
from domain.warnings.rules import DEFAULT_RULES
from store import changes_queries, tables
from tests.clocked_app import clocked_app
from tests.daily_support import MovableClock
from tests.e2e.contacts_support import ALLOWANCE, point
from tests.e2e.payment_cases import POST, make_loan, payment_input
from tests.factories import Factory, global_id
from tests.helpers import Gql, assert_forbidden

e = tables.audit_entries.c

PAYLOAD = "__typename ... on UserError { code field message }"
CHANGE_FIELDS = """id kind name payload status reason effectiveFrom ruleSetVersion decisionReason
  proposedBy { login } decidedBy { login }"""
PROPOSE = f"""
mutation($input: ProposeRuleChangeInput!) {{
  r: proposeRuleChange(input: $input) {{
    {PAYLOAD} ... on ProposeRuleChangeSuccess {{ change {{ {CHANGE_FIELDS} }} }}
  }}
}}
"""
APPROVE = f"""
mutation($id: ID!) {{
  r: approveRuleChange(input: {{changeId: $id}}) {{
    {PAYLOAD} ... on ApproveRuleChangeSuccess {{
      change {{ {CHANGE_FIELDS} }} staff {{ login roles }}
    }}
  }}
}}
"""
REJECT = f"""
mutation($id: ID!, $reason: String!) {{
  r: rejectRuleChange(input: {{changeId: $id, reason: $reason}}) {{
    {PAYLOAD} ... on RejectRuleChangeSuccess {{ change {{ {CHANGE_FIELDS} }} }}
  }}
}}
"""
GRANT = f"""
mutation($login: String!, $role: String!, $grant: Boolean!) {{
  grantRole(input: {{login: $login, role: $role, reason: "covers the team"}})
    @include(if: $grant) {{
    {PAYLOAD} ... on RoleChangeSuccess {{ staff {{ login roles }} change {{ {CHANGE_FIELDS} }} }}
  }}
  revokeRole(input: {{login: $login, role: $role, reason: "moves team"}}) @skip(if: $grant) {{
    {PAYLOAD} ... on RoleChangeSuccess {{ staff {{ login roles }} change {{ {CHANGE_FIELDS} }} }}
  }}
}}
"""
RULE_SET = """
query($kind: RuleSetKind!, $name: String!) {
  r: ruleSet(kind: $kind, name: $name) {
    kind name builtin inEffect { version payload effectiveFrom changeId }
    versions { version effectiveFrom changeId }
  }
}
"""
CHANGES = """
query($first: Int, $after: String, $status: [RuleChangeStatus!]) {
  r: ruleChanges(first: $first, after: $after, status: $status) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id status } }
  }
}
"""
PERMISSIONS = "{ viewer { roles permissions } }"


@dataclass
class World:
    gql: Gql
    engine: AsyncEngine
    clock: MovableClock
    factory: Factory

    async def r(self, login: str, document: str, variables: dict[str, Any]) -> Any:
        return (await self.gql(login, document, variables))["r"]

    async def propose(
        self,
        login: str,
        kind: str,
        payload: Any,
        start: datetime | None = None,
        name: str = "default",
        reason: str = "the board decided",
    ) -> Any:
        when = start or self.clock.now()
        variables = {
            "input": {
                "kind": kind,
                "name": name,
                "payload": payload,
                "effectiveFrom": when.isoformat(),
                "reason": reason,
            }
        }
        return await self.r(login, PROPOSE, variables)

    async def entries(self, resource_id: str) -> list[Any]:
        stmt = select(tables.audit_entries).where(e.action == "policy.change").order_by(e.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [row for row in rows if resource_id in (row.resource_ids or [])]


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with clocked_app(tmp_path_factory, "changes", cases=20) as (gql, engine, clock):
        yield World(gql, engine, clock, Factory(engine))


@pytest.fixture(autouse=True)
def now(world: World) -> None:
    """Every test starts at the real time (a test that moves the clock moves it forward)."""
    world.clock.at = max(world.clock.at, datetime.now(UTC))


def principal_first(version: str | None = None) -> dict[str, Any]:
    """Principal first, under a version label of its own (labels never repeat in a rule set)."""
    label = version or f"t-{uuid.uuid4().hex[:10]}"
    return {"version": label, "order": ["PRINCIPAL", "INTEREST", "FEE", "PENALTY"]}


# ---- Four eyes ----------------------------------------------------------------------------------


async def test_the_maker_cannot_approve_their_own_change_and_a_checker_rejects_it(
    world: World,
) -> None:
    proposed = await world.propose(
        "admin", "WATERFALL", principal_first(), world.clock.now() + timedelta(days=1)
    )
    assert proposed["__typename"] == "ProposeRuleChangeSuccess", proposed
    change = proposed["change"]
    assert (change["status"], change["proposedBy"], change["decidedBy"]) == (
        "PENDING",
        {"login": "admin"},
        None,
    )
    own = await world.r("admin", APPROVE, {"id": change["id"]})
    assert (own["__typename"], own["code"], own["field"]) == (
        "RuleViolationError",
        "MAKER_CANNOT_APPROVE",
        "changeId",
    )
    own = await world.r("admin", REJECT, {"id": change["id"], "reason": "changed my mind"})
    assert own["code"] == "MAKER_CANNOT_APPROVE"
    # A collector may neither approve nor propose.
    assert_forbidden(await world.gql.errors("collector1", APPROVE, {"id": change["id"]}))

    rejected = await world.r("manager", REJECT, {"id": change["id"], "reason": " not now "})
    assert rejected["change"]["status"] == "REJECTED"
    assert rejected["change"]["decisionReason"] == "not now"
    assert rejected["change"]["decidedBy"] == {"login": "manager"}
    again = await world.r("manager", APPROVE, {"id": change["id"]})
    assert again["code"] == "ALREADY_DECIDED"

    entries = await world.entries(change["id"])
    assert [(x.actor_login, x.outcome, (x.changes or {}).get("change")) for x in entries] == [
        ("admin", "ALLOWED", "PROPOSED"),
        ("admin", "DENIED", None),
        ("admin", "DENIED", None),
        ("manager", "ALLOWED", "REJECTED"),
        ("manager", "DENIED", None),
    ]
    assert entries[0].reason_text == "the board decided"
    assert entries[3].reason_text == "not now"
    assert entries[3].changes["proposedBy"] == global_id("Staff", await staff_id(world, "admin"))
    assert [x.changes.get("refused") for x in entries if x.outcome == "DENIED"] == [
        "MAKER_CANNOT_APPROVE",
        "MAKER_CANNOT_APPROVE",
        "ALREADY_DECIDED",
    ]
    async with world.engine.connect() as conn:
        versions = (await conn.execute(select(tables.rule_set_versions))).all()
    assert [v for v in versions if v.change_id == pk(change["id"])] == []


def pk(gid: str) -> int:
    return int(base64.b64decode(gid).decode().split(":")[1])


async def staff_id(world: World, login: str) -> int:
    s = tables.staff.c
    async with world.engine.connect() as conn:
        return int((await conn.execute(select(s.id).where(s.login == login))).scalar_one())


# ---- The waterfall takes effect from its start --------------------------------------------------


async def loan(world: World) -> Any:
    return await make_loan(
        world.factory,
        world.engine,
        schedule=[(-40, "1000.00")],
        principal="900.00",
        interest="50.00",
        penalty="30.00",
        fee="20.00",
    )


def reference() -> str:
    return f"TX-{uuid.uuid4().hex[:12]}"


async def first_component(world: World) -> str:
    made = await loan(world)
    posted = await world.r("manager", POST, payment_input(made, "10.00", reference()))
    assert posted["__typename"] == "PostPaymentSuccess", posted
    return str(posted["payment"]["allocations"][0]["component"])


async def test_a_waterfall_change_applies_from_its_start_and_versions_count_up(
    world: World,
) -> None:
    start = world.clock.now() + timedelta(hours=2)
    builtin = rules.waterfall_to_payload(DEFAULT_WATERFALL)
    before = await world.r("manager", RULE_SET, {"kind": "WATERFALL", "name": "default"})
    assert before["inEffect"] is None and before["builtin"] == builtin
    known = [v["version"] for v in before["versions"]]

    payload = principal_first()
    proposed = await world.propose("manager", "WATERFALL", payload, start)
    change = proposed["change"]
    approved = await world.r("admin", APPROVE, {"id": change["id"]})
    assert approved["__typename"] == "ApproveRuleChangeSuccess", approved
    version = approved["change"]["ruleSetVersion"]
    assert version == max(known, default=0) + 1
    assert approved["change"]["status"] == "APPROVED"
    assert approved["change"]["effectiveFrom"] == start.isoformat()
    assert approved["staff"] is None

    # Approved, but not yet in effect: the checked-in order still applies.
    assert await first_component(world) == "PENALTY"
    pending = await world.r("auditor1", RULE_SET, {"kind": "WATERFALL", "name": "default"})
    assert pending["inEffect"] is None
    assert pending["versions"][0] == {
        "version": version,
        "effectiveFrom": start.isoformat(),
        "changeId": change["id"],
    }

    world.clock.at = start
    assert await first_component(world) == "PRINCIPAL"
    current = await world.r("auditor1", RULE_SET, {"kind": "WATERFALL", "name": "default"})
    assert current["inEffect"]["version"] == version
    assert current["inEffect"]["payload"] == payload

    # The next version of the same rule set is the next number; it is back to the default order.
    restored = await world.propose("admin", "WATERFALL", {**builtin, "version": "2026.3"})
    again = await world.r("manager", APPROVE, {"id": restored["change"]["id"]})
    assert again["change"]["ruleSetVersion"] == version + 1
    assert await first_component(world) == "PENALTY"

    entries = await world.entries(change["id"])
    approval = next(x for x in entries if (x.changes or {}).get("change") == "APPROVED")
    assert approval.actor_login == "admin"
    assert approval.changes == {
        "change": "APPROVED",
        "kind": "WATERFALL",
        "name": "default",
        "version": version,
        "effectiveFrom": start.isoformat(),
        "proposedBy": global_id("Staff", await staff_id(world, "manager")),
        "approvedBy": global_id("Staff", await staff_id(world, "admin")),
    }
    assert approval.reason_text == "the board decided"


async def test_concurrent_approvals_decide_once(world: World) -> None:
    second = await world.factory.staff(roles=("manager",))
    proposed = await world.propose(
        "manager", "WATERFALL", principal_first(), world.clock.now() + timedelta(days=30)
    )
    change = proposed["change"]["id"]
    results = await asyncio.gather(
        world.r("admin", APPROVE, {"id": change}),
        world.r(second.login, APPROVE, {"id": change}),
    )
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["ApproveRuleChangeSuccess", "RuleViolationError"], results
    loser = next(r for r in results if r["__typename"] == "RuleViolationError")
    assert loser["code"] == "ALREADY_DECIDED"
    async with world.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(tables.rule_set_versions).where(
                    tables.rule_set_versions.c.change_id == pk(change)
                )
            )
        ).all()
    assert len(rows) == 1
    # Withdrawn again for the tests after this one: nothing of it must take effect.
    async with world.engine.begin() as conn:
        await conn.execute(
            tables.rule_set_versions.delete().where(
                tables.rule_set_versions.c.change_id == pk(change)
            )
        )


# ---- Refusals of a proposal ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "payload", "field"),
    [
        ("WATERFALL", "default", {"version": "3", "order": ["PENALTY", "FEE"]}, "payload.order"),
        ("WATERFALL", "default", {"version": "3", "oder": []}, "payload.order"),
        ("WATERFALL", "CN", principal_first(), "name"),
        ("WATERFALL", "default", [1, 2], "payload"),
        ("CONDUCT_PROFILE", "XX", {}, "name"),
        (
            "WARNING_RULES",
            "default",
            {"version": "3", "rules": [{"name": "X"}]},
            "payload.rules[0].name",
        ),
    ],
)
async def test_a_bad_payload_is_change_invalid_naming_the_field(
    world: World, kind: str, name: str, payload: Any, field: str
) -> None:
    async with world.engine.connect() as conn:
        before = len((await conn.execute(select(tables.rule_changes.c.id))).all())
    refused = await world.propose("admin", kind, payload, name=name)
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "ValidationError",
        "CHANGE_INVALID",
        field,
    )
    async with world.engine.connect() as conn:
        assert len((await conn.execute(select(tables.rule_changes.c.id))).all()) == before


async def test_a_start_in_the_past_is_refused_beyond_a_minute_of_skew(world: World) -> None:
    now = world.clock.now()
    late = await world.propose("admin", "WATERFALL", principal_first(), now - timedelta(minutes=2))
    assert (late["code"], late["field"]) == ("EFFECTIVE_TIME_INVALID", "effectiveFrom")
    # Within the skew: taken (and rejected again, so that it never applies).
    skewed = await world.propose(
        "admin", "WATERFALL", principal_first(), now - timedelta(seconds=30)
    )
    assert skewed["__typename"] == "ProposeRuleChangeSuccess"
    rejected = await world.r("manager", REJECT, {"id": skewed["change"]["id"], "reason": "test"})
    assert rejected["change"]["status"] == "REJECTED"


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("APPROVAL_LIMITS", "default"),
        ("RESTRUCTURING_POLICY", "default"),
        ("LEGAL_POLICY", "CN"),
        ("WRITE_OFF_POLICY", "default"),
    ],
)
async def test_the_debt_handling_rule_sets_are_checked_by_their_own_readers(
    world: World, kind: str, name: str
) -> None:
    found = registry.entry(RuleSetKind(kind))
    if found is None:  # no reader of stored versions yet: nothing is stored that has no effect
        refused = await world.propose("admin", kind, {"version": "1"}, name=name)
        assert (refused["code"], refused["field"]) == ("CHANGE_INVALID", "kind")
        assert "not yet changeable" in refused["message"]
        return
    shown = await world.r("auditor1", RULE_SET, {"kind": kind, "name": name})
    builtin = shown["builtin"]
    assert builtin is not None and builtin == found.default(name)
    bad = await world.propose("admin", kind, {**builtin, "bogus": 1}, name=name)
    assert (bad["__typename"], bad["code"]) == ("ValidationError", "CHANGE_INVALID")
    assert bad["field"].startswith("payload")
    start = world.clock.now() + timedelta(days=1)
    good = await world.propose("admin", kind, builtin, start, name=name)
    assert good["__typename"] == "ProposeRuleChangeSuccess", good
    rejected = await world.r("manager", REJECT, {"id": good["change"]["id"], "reason": "test"})
    assert rejected["change"]["status"] == "REJECTED"


# ---- Conduct profiles and warning rules ---------------------------------------------------------


async def test_a_conduct_profile_change_applies_to_contacts_from_its_start(world: World) -> None:
    borrower = await world.factory.borrower(time_zone="Asia/Shanghai")
    made = await world.factory.case(borrower=borrower, assignee="collector1")
    await point(world.factory, borrower.id, zone="Asia/Shanghai")
    payload = rules.conduct_profile_to_payload(CN)
    payload["version"] = "CN-2026.2"
    for rule in payload["rules"]:
        if rule["rule"] == "DAILY_ATTEMPTS":
            rule["limit"] = 4
    start = world.clock.now() + timedelta(days=2)
    proposed = await world.propose("admin", "CONDUCT_PROFILE", payload, start, name="CN")
    approved = await world.r("manager", APPROVE, {"id": proposed["change"]["id"]})
    assert approved["change"]["status"] == "APPROVED"

    async def allowance(at: datetime) -> Any:
        variables = {"case": made.gid, "channel": "PHONE", "at": at.isoformat()}
        return await world.r("collector1", ALLOWANCE, variables)

    before = await allowance(start - timedelta(hours=1))
    after = await allowance(start + timedelta(hours=1))
    assert (before["profileVersion"], before["attemptsLeftToday"]) == ("CN-2026.1", 6)
    assert (after["profileVersion"], after["attemptsLeftToday"]) == ("CN-2026.2", 4)


async def test_warning_rules_in_effect_are_read_from_their_start(world: World) -> None:
    payload = rules.warning_rules_to_payload(DEFAULT_RULES)
    payload["version"] = "2026.2"
    payload["rules"] = [r for r in payload["rules"] if r["name"] != "RISING_DPD"]
    start = world.clock.now() + timedelta(days=3)
    proposed = await world.propose("manager", "WARNING_RULES", payload, start)
    await world.r("admin", APPROVE, {"id": proposed["change"]["id"]})
    async with world.engine.connect() as conn:
        old = await changes_queries.warning_rules_in_effect(conn, start - timedelta(seconds=1))
        new = await changes_queries.warning_rules_in_effect(conn, start)
    assert old == DEFAULT_RULES
    assert new.version == "2026.2" and len(new.rules) == len(DEFAULT_RULES.rules) - 1


# ---- Role grants --------------------------------------------------------------------------------


async def test_a_grant_takes_effect_only_once_a_second_person_approves_it(world: World) -> None:
    target = await world.factory.staff(roles=("collector",), team="East")
    login = target.login
    first = (await world.gql("admin", GRANT, {"login": login, "role": "team_lead", "grant": True}))[
        "grantRole"
    ]
    assert first["__typename"] == "RoleChangeSuccess", first
    assert first["staff"] == {"login": login, "roles": ["collector"]}
    change = first["change"]
    assert (change["kind"], change["name"], change["status"]) == ("ROLE_GRANT", login, "PENDING")
    assert change["payload"] == {"login": login, "role": "team_lead"}
    assert change["reason"] == "covers the team"
    viewer = (await world.gql(login, PERMISSIONS))["viewer"]
    assert viewer["roles"] == ["collector"] and "case:assign" not in viewer["permissions"]

    own = await world.r("admin", APPROVE, {"id": change["id"]})
    assert own["code"] == "MAKER_CANNOT_APPROVE"
    assert_forbidden(await world.gql.errors(login, APPROVE, {"id": change["id"]}))
    assert (await world.gql(login, PERMISSIONS))["viewer"]["roles"] == ["collector"]

    approved = await world.r("manager", APPROVE, {"id": change["id"]})
    assert approved["staff"] == {"login": login, "roles": ["collector", "team_lead"]}
    assert approved["change"]["ruleSetVersion"] is None
    viewer = (await world.gql(login, PERMISSIONS))["viewer"]
    assert viewer["roles"] == ["collector", "team_lead"]
    assert "case:assign" in viewer["permissions"]

    gid = global_id("Staff", target.id)
    async with world.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(tables.audit_entries)
                .where(e.action == "policy.change", e.actor_login == "manager")
                .order_by(e.id.desc())
                .limit(2)
            )
        ).all()
    by_type = {row.resource_type: row for row in rows}
    assert by_type["Staff"].resource_ids == [gid]
    assert by_type["Staff"].changes == {
        "roles": {"before": ["collector"], "after": ["collector", "team_lead"]}
    }
    assert by_type["RuleChange"].changes["kind"] == "ROLE_GRANT"
    assert by_type["RuleChange"].changes["approvedBy"] == global_id(
        "Staff", await staff_id(world, "manager")
    )

    # Revoking goes the same way.
    revoke = (
        await world.gql("admin", GRANT, {"login": login, "role": "team_lead", "grant": False})
    )["revokeRole"]
    assert revoke["change"]["kind"] == "ROLE_REVOKE"
    assert (await world.gql(login, PERMISSIONS))["viewer"]["roles"] == ["collector", "team_lead"]
    done = await world.r("manager", APPROVE, {"id": revoke["change"]["id"]})
    assert done["staff"]["roles"] == ["collector"]
    assert (await world.gql(login, PERMISSIONS))["viewer"]["roles"] == ["collector"]


async def test_nobody_grants_a_role_to_themselves(world: World) -> None:
    own = (await world.gql("admin", GRANT, {"login": "admin", "role": "manager", "grant": True}))[
        "grantRole"
    ]
    assert (own["__typename"], own["code"], own["field"]) == (
        "RuleViolationError",
        "CANNOT_GRANT_OWN_ROLE",
        "login",
    )
    # Nor approves a grant to themselves: the grantee is not the second person.
    for_manager = (
        await world.gql("admin", GRANT, {"login": "manager", "role": "legal", "grant": True})
    )["grantRole"]
    change = for_manager["change"]["id"]
    refused = await world.r("manager", APPROVE, {"id": change})
    assert (refused["code"], refused["field"]) == ("CANNOT_GRANT_OWN_ROLE", "changeId")
    async with world.engine.connect() as conn:
        roles = (
            await conn.execute(
                select(tables.staff.c.roles).where(tables.staff.c.login == "manager")
            )
        ).scalar_one()
    assert list(roles) == ["manager"]
    # Nor rejects it: the staff member concerned decides nothing about their own roles.
    own = await world.r("manager", REJECT, {"id": change, "reason": "not for me to decide"})
    assert (own["__typename"], own["code"], own["field"]) == (
        "RuleViolationError",
        "CANNOT_GRANT_OWN_ROLE",
        "changeId",
    )
    other = await world.factory.staff(roles=("manager",))
    rejected = await world.r(other.login, REJECT, {"id": change, "reason": "not needed"})
    assert rejected["change"]["status"] == "REJECTED"


async def test_a_grant_that_changes_nothing_is_refused(world: World) -> None:
    held = (
        await world.gql("admin", GRANT, {"login": "collector1", "role": "collector", "grant": True})
    )["grantRole"]
    assert (held["code"], held["field"]) == ("CHANGE_INVALID", "role")


# ---- The listing --------------------------------------------------------------------------------


async def test_changes_are_listed_newest_first_in_pages_and_by_status(world: World) -> None:
    async with world.engine.connect() as conn:
        ids = list(
            (
                await conn.execute(
                    select(tables.rule_changes.c.id).order_by(tables.rule_changes.c.id.desc())
                )
            ).scalars()
        )
        pending = list(
            (
                await conn.execute(
                    select(tables.rule_changes.c.id)
                    .where(tables.rule_changes.c.status == "PENDING")
                    .order_by(tables.rule_changes.c.id.desc())
                )
            ).scalars()
        )
    assert len(ids) > 3
    seen: list[str] = []
    after = None
    while True:
        page = await world.r("auditor1", CHANGES, {"first": 3, "after": after})
        assert page["totalCount"] == len(ids)
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [global_id("RuleChange", i) for i in ids]
    only = await world.r("manager", CHANGES, {"first": 100, "status": ["PENDING"]})
    assert [edge["node"]["id"] for edge in only["edges"]] == [
        global_id("RuleChange", i) for i in pending
    ]
    assert_forbidden(await world.gql.errors("collector1", CHANGES, {}))
    bad = await world.gql.errors("auditor1", CHANGES, {"after": "nonsense"})
    assert bad[0]["extensions"]["code"] == "BAD_USER_INPUT"


# ---- Who may decide a role change ---------------------------------------------------------------


class AllowAll:
    """A policy in which every role holds every permission (as a deployment might configure
    role:grant for managers): only the last-admin rule then stands between them and no admin."""

    def allows(self, roles: Any, permission: str) -> bool:
        return True


async def grant(world: World, actor: str, login: str, role: str, on: bool = True) -> Any:
    field = "grantRole" if on else "revokeRole"
    return (await world.gql(actor, GRANT, {"login": login, "role": role, "grant": on}))[field]


async def test_a_role_change_needs_a_reason(world: World) -> None:
    target = await world.factory.staff(roles=("collector",))
    document = """
    mutation($login: String!, $reason: String) {
      grantRole(input: {login: $login, role: "legal", reason: $reason}) {
        __typename ... on UserError { code field message }
      }
    }"""
    for reason in (None, "   "):
        refused = (await world.gql("admin", document, {"login": target.login, "reason": reason}))[
            "grantRole"
        ]
        assert (refused["code"], refused["field"]) == ("REASON_REQUIRED", "reason"), reason


async def test_a_change_of_the_admin_role_is_approved_by_another_admin_only(world: World) -> None:
    target = await world.factory.staff(roles=("manager",))
    second = await world.factory.staff(roles=("admin",))
    proposed = await grant(world, "admin", target.login, "admin")
    change = proposed["change"]["id"]
    refused = await world.r("manager", APPROVE, {"id": change})
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "RuleViolationError",
        "APPROVER_NOT_ENTITLED",
        "changeId",
    )
    approved = await world.r(second.login, APPROVE, {"id": change})
    assert approved["staff"]["roles"] == ["manager", "admin"]
    # Other role changes: a manager approves them as before.
    revoke = await grant(world, "admin", target.login, "admin", on=False)
    assert (await world.r("manager", APPROVE, {"id": revoke["change"]["id"]}))["code"] == (
        "APPROVER_NOT_ENTITLED"
    )
    done = await world.r(second.login, APPROVE, {"id": revoke["change"]["id"]})
    assert done["staff"]["roles"] == ["manager"]


async def test_a_change_whose_proposer_lost_the_right_to_propose_it_is_not_approved(
    world: World,
) -> None:
    maker = await world.factory.staff(roles=("admin",))
    target = await world.factory.staff(roles=("collector",), team="East")
    role_change = (await grant(world, maker.login, target.login, "team_lead"))["change"]["id"]
    rule_maker = await world.factory.staff(roles=("manager",))
    rule_change = (
        await world.propose(
            rule_maker.login, "WATERFALL", principal_first(), world.clock.now() + timedelta(days=9)
        )
    )["change"]["id"]
    s = tables.staff.c
    async with world.engine.begin() as conn:
        await conn.execute(tables.staff.update().where(s.id == maker.id).values(roles=["manager"]))
        await conn.execute(tables.staff.update().where(s.id == rule_maker.id).values(active=False))
    for change in (role_change, rule_change):
        checker = "admin" if change == rule_change else "manager"
        refused = await world.r(checker, APPROVE, {"id": change})
        assert (refused["__typename"], refused["code"], refused["field"]) == (
            "RuleViolationError",
            "PROPOSER_NOT_ENTITLED",
            "changeId",
        ), change
    # Rejecting it is still possible.
    rejected = await world.r("manager", REJECT, {"id": role_change, "reason": "maker moved on"})
    assert rejected["change"]["status"] == "REJECTED"
    await world.r("admin", REJECT, {"id": rule_change, "reason": "maker left"})


async def test_the_last_active_admin_is_never_revoked(world: World) -> None:
    """Two admins' revokes approved at once (under a policy letting managers approve them) leave
    one admin: the admins are locked, and the second approval sees the first."""
    from domain.changes import services
    from domain.clock import FixedClock
    from store.db import session_factory
    from store.uow import SqlUnitOfWork

    sessions = session_factory(world.engine)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions)

    clock = FixedClock(world.clock.now())
    s = tables.staff.c
    first = await world.factory.staff(roles=("admin",))
    second = await world.factory.staff(roles=("admin",))
    checkers = [await world.factory.staff(roles=("manager",)) for _ in range(3)]
    async with world.engine.begin() as conn:
        rows = (await conn.execute(select(s.id, s.roles).where(s.active.is_(True)))).all()
        admins = [r.id for r in rows if "admin" in r.roles and r.id not in (first.id, second.id)]
        await conn.execute(tables.staff.update().where(s.id.in_(admins)).values(active=False))
    try:
        one = await services.propose_role_change(
            uow, clock, checkers[0].id, first.login, "admin", False, "leaves"
        )
        two = await services.propose_role_change(
            uow, clock, checkers[1].id, second.login, "admin", False, "leaves too"
        )
        results = await asyncio.gather(
            services.approve(uow, clock, checkers[2].id, one.change.id or 0, AllowAll()),
            services.approve(uow, clock, checkers[0].id, two.change.id or 0, AllowAll()),
            return_exceptions=True,
        )
        codes = sorted(getattr(r, "code", "OK") for r in results)
        assert codes == ["LAST_ADMIN", "OK"], results
        remaining = first if isinstance(results[1], tuple) else second
        # Proposing to revoke the one left is refused at once.
        with pytest.raises(Exception) as raised:
            await services.propose_role_change(
                uow, clock, checkers[2].id, remaining.login, "admin", False, "and the last"
            )
        assert getattr(raised.value, "code", None) == "LAST_ADMIN"
        assert getattr(raised.value, "field", None) == "login"
    finally:
        async with world.engine.begin() as conn:
            await conn.execute(tables.staff.update().where(s.id.in_(admins)).values(active=True))
            await conn.execute(
                tables.staff.update().where(s.id.in_([first.id, second.id])).values(active=False)
            )


# ---- Versions: numbering under concurrency, which one is in effect, labels ---------------------


async def delete_versions(world: World, change_ids: list[str]) -> None:
    """Withdraws test versions, so that nothing of them takes effect in later tests."""
    rv = tables.rule_set_versions.c
    async with world.engine.begin() as conn:
        await conn.execute(
            tables.rule_set_versions.delete().where(rv.change_id.in_([pk(i) for i in change_ids]))
        )


async def test_two_changes_of_one_rule_set_approved_at_once_get_consecutive_versions(
    world: World,
) -> None:
    later = world.clock.now() + timedelta(days=300)
    ids = [
        (await world.propose("manager", "WATERFALL", principal_first(), later))["change"]["id"]
        for _ in range(2)
    ]
    checker = await world.factory.staff(roles=("admin",))
    rc = tables.rule_changes.c
    async with world.engine.connect() as blocker:
        # PostgreSQL: both approvals wait on their change's row, then run side by side (each
        # reads the latest version before the other commits). SQLite serialises them anyway.
        if blocker.dialect.name == "postgresql":
            rows = select(rc.id).where(rc.id.in_([pk(i) for i in ids])).with_for_update()
            await blocker.execute(rows)
        approvals = [
            asyncio.ensure_future(world.r("admin", APPROVE, {"id": ids[0]})),
            asyncio.ensure_future(world.r(checker.login, APPROVE, {"id": ids[1]})),
        ]
        await asyncio.sleep(0.3)
        await blocker.commit()
    results = await asyncio.gather(*approvals)
    try:
        assert [r["__typename"] for r in results] == ["ApproveRuleChangeSuccess"] * 2, results
        numbers = sorted(r["change"]["ruleSetVersion"] for r in results)
        assert numbers[1] == numbers[0] + 1
    finally:
        await delete_versions(world, ids)


async def test_the_newest_approved_version_whose_start_has_passed_is_in_effect(
    world: World,
) -> None:
    now = world.clock.now()
    far, near = now + timedelta(days=200), now + timedelta(days=100)
    early = principal_first()
    first = (await world.propose("manager", "WATERFALL", early, far))["change"]["id"]
    assert (await world.r("admin", APPROVE, {"id": first}))["change"]["status"] == "APPROVED"
    restored = {**rules.waterfall_to_payload(DEFAULT_WATERFALL), "version": early["version"] + "b"}
    second = (await world.propose("manager", "WATERFALL", restored, near))["change"]["id"]
    assert (await world.r("admin", APPROVE, {"id": second}))["change"]["status"] == "APPROVED"
    try:
        async with world.engine.connect() as conn:
            at_near = await changes_queries.waterfall_in_effect(conn, near)
            at_far = await changes_queries.waterfall_in_effect(conn, far + timedelta(days=1))
        # The later approval supersedes the earlier one from its own start on, for good.
        assert at_near.version == restored["version"]
        assert at_far.version == restored["version"]
    finally:
        await delete_versions(world, [first, second])


async def test_a_version_label_names_one_version_of_a_rule_set(world: World) -> None:
    builtin = rules.waterfall_to_payload(DEFAULT_WATERFALL)
    reused = await world.propose("admin", "WATERFALL", {**principal_first(builtin["version"])})
    assert (reused["code"], reused["field"]) == ("CHANGE_INVALID", "payload.version")
    start = world.clock.now() + timedelta(days=400)
    label = principal_first()
    ids = [
        (await world.propose("admin", "WATERFALL", label, start))["change"]["id"] for _ in range(2)
    ]
    try:
        assert (await world.r("manager", APPROVE, {"id": ids[0]}))["change"]["status"] == (
            "APPROVED"
        )
        # A stored version carries it now: refused at proposal and at approval.
        again = await world.propose("admin", "WATERFALL", label, start)
        assert (again["code"], again["field"]) == ("CHANGE_INVALID", "payload.version")
        late = await world.r("manager", APPROVE, {"id": ids[1]})
        assert (late["code"], late["field"]) == ("CHANGE_INVALID", "payload.version")
    finally:
        await delete_versions(world, ids)
        await world.r("manager", REJECT, {"id": ids[1], "reason": "duplicate"})


async def test_the_payload_is_stored_as_its_reader_understood_it(world: World) -> None:
    payload = rules.warning_rules_to_payload(DEFAULT_RULES)
    payload["version"] = f"t-{uuid.uuid4().hex[:10]}"
    payload["rules"][0]["windowDays"] = None
    proposed = await world.propose(
        "admin", "WARNING_RULES", payload, world.clock.now() + timedelta(days=50)
    )
    stored = proposed["change"]["payload"]
    assert "windowDays" not in stored["rules"][0]
    normal = rules.warning_rules_to_payload(DEFAULT_RULES)
    assert stored == {**normal, "version": payload["version"]}
    await world.r("manager", REJECT, {"id": proposed["change"]["id"], "reason": "test"})


NODE = """
query($id: ID!) {
  node(id: $id) { __typename id ... on RuleChange { kind status } }
}
"""


async def test_node_answers_a_rule_change_to_those_who_may_read_changes(world: World) -> None:
    proposed = await world.propose(
        "admin", "WATERFALL", principal_first(), world.clock.now() + timedelta(days=60)
    )
    gid = proposed["change"]["id"]
    try:
        seen = (await world.gql("auditor1", NODE, {"id": gid}))["node"]
        assert seen == {
            "__typename": "RuleChange",
            "id": gid,
            "kind": "WATERFALL",
            "status": "PENDING",
        }
        assert (await world.gql("collector1", NODE, {"id": gid}))["node"] is None
        missing = global_id("RuleChange", 10**9)
        assert (await world.gql("auditor1", NODE, {"id": missing}))["node"] is None
    finally:
        await world.r("manager", REJECT, {"id": gid, "reason": "test"})


# ---- The consumers read the version in effect (the wiring) --------------------------------------


async def in_effect_now(world: World, kind: RuleSetKind, name: str, payload: Any) -> int:
    """Stores a version of a rule set in effect for some days already (as an approval long ago
    would have: since before the instant of yesterday's daily run, whatever the time of day the
    test runs at), the next number of its kind and name; returns its row id."""
    found = registry.entry(kind)
    assert found is not None
    rv = tables.rule_set_versions.c
    async with world.engine.begin() as conn:
        latest = (
            await conn.execute(
                select(func.coalesce(func.max(rv.version), 0)).where(
                    rv.kind == kind.value, rv.name == name
                )
            )
        ).scalar_one()
        row = await conn.execute(
            tables.rule_set_versions.insert()
            .values(
                kind=kind.value,
                name=name,
                version=int(latest) + 1,
                payload=found.normalise(name, payload),
                effective_from=world.clock.now() - timedelta(days=3),
                change_id=None,
            )
            .returning(rv.id)
        )
        return int(row.scalar_one())


async def withdraw(world: World, row_id: int) -> None:
    rv = tables.rule_set_versions.c
    async with world.engine.begin() as conn:
        await conn.execute(tables.rule_set_versions.delete().where(rv.id == row_id))


WORKLIST = """
{ myWorklist(first: 100) { edges { node { case { id } contactAllowedNow } } } }
"""


async def test_contacts_and_the_worklist_follow_the_conduct_profile_in_effect(
    world: World,
) -> None:
    from tests.e2e.contacts_support import LOG, START, midday_zone

    zone = midday_zone(world.clock.now())
    borrower = await world.factory.borrower(time_zone=zone)
    made = await world.factory.case(borrower=borrower, assignee="collector1")
    await point(world.factory, borrower.id, zone=zone)

    async def allowed_on_worklist() -> bool:
        edges = (await world.gql("collector1", WORKLIST))["myWorklist"]["edges"]
        (item,) = [e["node"] for e in edges if e["node"]["case"]["id"] == made.gid]
        return bool(item["contactAllowedNow"])

    assert await allowed_on_worklist()
    payload = rules.conduct_profile_to_payload(CN)
    payload["version"] = "CN-wired"
    for rule in payload["rules"]:
        if rule["rule"] == "QUIET_HOURS":
            rule["allowedUntil"] = "10:00"  # it is about noon where the borrower lives
    row = await in_effect_now(world, RuleSetKind.CONDUCT_PROFILE, "CN", payload)
    try:
        assert not await allowed_on_worklist()
        start = {"input": {"caseId": made.gid, "channel": "PHONE"}}
        started = await world.r("collector1", START, start)
        assert (started["__typename"], started["rule"]) == ("ComplianceViolation", "QUIET_HOURS")
        logged = await world.r(
            "collector1",
            LOG,
            {
                "input": {
                    "caseId": made.gid,
                    "channel": "PHONE",
                    "direction": "OUTBOUND",
                    "outcome": "NO_ANSWER",
                    "occurredAt": (world.clock.now() - timedelta(minutes=1)).isoformat(),
                }
            },
        )
        assert logged["__typename"] == "LogContactSuccess", logged
        contact = logged["contact"]
        assert (contact["profileVersion"], contact["breaches"]) == ("CN-wired", ["QUIET_HOURS"])
    finally:
        await withdraw(world, row)


PAYMENT_NODE = """
query($id: ID!) { node(id: $id) { ... on Payment { allocations { component } } } }
"""


async def test_a_reversal_reapplies_later_payments_with_the_waterfall_in_effect(
    world: World,
) -> None:
    from tests.e2e.payment_cases import REVERSE

    made = await loan(world)
    first = await world.r("manager", POST, payment_input(made, "10.00", reference()))
    later = await world.r("manager", POST, payment_input(made, "10.00", reference()))
    assert later["payment"]["allocations"][0]["component"] == "PENALTY"
    row = await in_effect_now(world, RuleSetKind.WATERFALL, "default", principal_first())
    try:
        variables = {"input": {"paymentId": first["payment"]["id"], "reason": "bounced"}}
        reversed_ = await world.r("manager", REVERSE, variables)
        assert reversed_["__typename"] == "ReversePaymentSuccess", reversed_
        again = await world.gql("manager", PAYMENT_NODE, {"id": later["payment"]["id"]})
        assert [a["component"] for a in again["node"]["allocations"]] == ["PRINCIPAL"]
    finally:
        await withdraw(world, row)


SIGNAL = """
mutation($input: PostExternalSignalInput!) {
  r: postExternalSignal(input: $input) {
    __typename ... on PostExternalSignalSuccess { warnings { rule case { id } } }
    ... on UserError { code field message }
  }
}
"""


async def test_signals_and_the_daily_run_raise_warnings_by_the_rules_in_effect(
    world: World,
) -> None:
    """Last in this module: the daily run moves the cases of the module's database."""
    from jobs.daily import run_daily
    from tests.daily_support import AUDIT_KEY

    made = await loan(world)
    payload = rules.warning_rules_to_payload(DEFAULT_RULES)
    payload["version"] = "wired"
    payload["rules"] = [r for r in payload["rules"] if r["name"] != "EXTERNAL_SIGNAL"]
    for rule in payload["rules"]:
        if rule["name"] == "LARGE_OUTSTANDING":
            rule["amounts"] = {"CNY": "500.00", "USD": "500.00"}
    signal = {
        "input": {
            "borrowerId": global_id("Borrower", made.made.borrower.id),
            "kind": "CREDIT_BUREAU_HIT",
            "severity": "HIGH",
            "details": "a default elsewhere",
        }
    }
    row = await in_effect_now(world, RuleSetKind.WARNING_RULES, "default", payload)
    try:
        posted = await world.r("core.banking", SIGNAL, signal)
        assert posted == {"__typename": "PostExternalSignalSuccess", "warnings": []}, posted
        await run_daily(world.engine, world.clock, AUDIT_KEY)
        w = tables.warnings.c
        async with world.engine.connect() as conn:
            raised = (await conn.execute(select(w.rule).where(w.case_id == made.case_id))).scalars()
            assert "LARGE_OUTSTANDING" in set(raised)
    finally:
        await withdraw(world, row)
