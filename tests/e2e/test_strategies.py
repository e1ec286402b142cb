"""Strategies over HTTP: the listing of every version of every strategy and challenger with its
status (the checked-in STANDARD active; a proposal DRAFT; approved by a second person, APPROVED
until its start, then ACTIVE and the one before RETIRED), a challenger approved and running, and
its promotion (promoteChallenger → a pending STRATEGY change → approved by someone else → the new
champion ACTIVE and the challenger RETIRED from its start). Invalid payloads are refused naming
the field; only strategy:read reads and only rule_change:propose promotes.

The module runs on a database of its own, with the app's clock set by the tests (versions that
take effect must not reach the shared database's other tests)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.strategies.definition import STANDARD, strategy_from_payload, strategy_to_payload
from store import tables
from tests.clocked_app import clocked_app
from tests.daily_support import MovableClock
from tests.helpers import Gql, assert_forbidden

e, rc = tables.audit_entries.c, tables.rule_changes.c

PAYLOAD = "__typename ... on UserError { code field message }"
CHANGE = "change { id kind name status payload effectiveFrom proposedBy { login } }"
PROPOSE = f"""
mutation($input: ProposeRuleChangeInput!) {{
  r: proposeRuleChange(input: $input) {{ {PAYLOAD} ... on ProposeRuleChangeSuccess {{ {CHANGE} }} }}
}}
"""
APPROVE = f"""
mutation($id: ID!) {{
  r: approveRuleChange(input: {{changeId: $id}}) {{
    {PAYLOAD} ... on ApproveRuleChangeSuccess {{ change {{ id status ruleSetVersion }} }}
  }}
}}
"""
PROMOTE = f"""
mutation($input: PromoteChallengerInput!) {{
  r: promoteChallenger(input: $input) {{ {PAYLOAD} ... on PromoteChallengerSuccess {{ {CHANGE} }} }}
}}
"""
STEP_FIELDS = "name day action party template placement placementDays reason always"
WHEN_FIELDS = """classifications stages portfolios products
  balance { currency minimum maximum } warningSeverity flagsAny flagsNone"""
STRATEGIES = f"""
{{ r: strategies {{
    name version status variants kind description portfolios share challengedSegments
    effectiveFrom ruleSetVersion changeId readError
    segments {{ name clock when {{ {WHEN_FIELDS} }} steps {{ {STEP_FIELDS} }} }}
}} }}
"""
BRIEF = "{ r: strategies { name version status variants kind changeId } }"


@dataclass
class World:
    gql: Gql
    engine: AsyncEngine
    clock: MovableClock

    async def r(self, login: str, document: str, variables: dict[str, Any] | None = None) -> Any:
        return (await self.gql(login, document, variables or {}))["r"]

    async def propose(
        self, login: str, kind: str, name: str, payload: Any, start: datetime | None = None
    ) -> Any:
        variables = {
            "input": {
                "kind": kind,
                "name": name,
                "payload": payload,
                "effectiveFrom": (start or self.clock.now()).isoformat(),
                "reason": "the strategy board decided",
            }
        }
        return await self.r(login, PROPOSE, variables)

    async def approve(self, login: str, change_id: str) -> Any:
        approved = await self.r(login, APPROVE, {"id": change_id})
        assert approved["__typename"] == "ApproveRuleChangeSuccess", approved
        return approved["change"]

    async def promote(self, login: str, strategy: str, version: str, start: datetime) -> Any:
        variables = {
            "input": {
                "strategy": strategy,
                "version": version,
                "effectiveFrom": start.isoformat(),
                "reason": "the challenger cured more cases",
            }
        }
        return await self.r(login, PROMOTE, variables)

    async def brief(self, name: str) -> list[tuple[Any, ...]]:
        """(version, kind, status, variants) of every version of one strategy, as listed."""
        rows = await self.r("manager", BRIEF)
        return [
            (row["version"], row["kind"], row["status"], row["variants"])
            for row in rows
            if row["name"] == name
        ]


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with clocked_app(tmp_path_factory, "s", cases=10) as (gql, engine, clock):
        yield World(gql, engine, clock)


@pytest.fixture(autouse=True)
def now(world: World) -> None:
    """Every test starts at the real time (a test that moves the clock moves it forward)."""
    world.clock.at = max(world.clock.at, datetime.now(UTC))


def strategy(version: str, portfolios: list[str] | None = None) -> dict[str, Any]:
    """The default's segments under another label, with MILD's first SMS a day later."""
    payload = copy.deepcopy(strategy_to_payload(STANDARD))
    mild = next(s for s in payload["segments"] if s["name"] == "MILD")
    mild["steps"][0]["day"] = 2
    return {**payload, "version": version, "portfolios": portfolios or []}


def challenger(version: str, share: str = "0.25") -> dict[str, Any]:
    """Calls first on MILD cases: a call task on day 1, then the SMS on day 5."""
    definition = {
        "description": "Calls before messages for mild cases",
        "segments": [
            {
                "name": "MILD",
                "when": {"classifications": ["MILD"]},
                "clock": "DPD",
                "steps": [
                    {
                        "name": "MILD_CALL_FIRST",
                        "day": 1,
                        "action": "CALL_TASK",
                        "reason": "1 day past due: call before any message",
                    },
                    {
                        "name": "MILD_SMS_LATER",
                        "day": 5,
                        "action": "SMS",
                        "template": "PAYMENT_REMINDER",
                        "reason": "5 days past due: SMS reminder",
                    },
                ],
            }
        ],
    }
    return {"version": version, "share": share, "segments": ["MILD"], "definition": definition}


def label() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


# ---- The checked-in default ---------------------------------------------------------------------


async def test_the_default_strategy_is_listed_active_as_the_champion(world: World) -> None:
    rows = await world.r("manager", STRATEGIES)
    standard = [r for r in rows if r["name"] == "STANDARD" and r["version"] == "2026.1"]
    assert len(standard) == 1
    found = standard[0]
    assert {k: v for k, v in found.items() if k not in ("segments", "description")} == {
        "name": "STANDARD",
        "version": "2026.1",
        "status": "ACTIVE",
        "variants": ["CHAMPION"],
        "kind": "CHAMPION",
        "portfolios": [],
        "share": None,
        "challengedSegments": None,
        "effectiveFrom": None,
        "ruleSetVersion": None,
        "changeId": None,
        "readError": None,
    }
    assert found["description"] == STANDARD.description
    assert [s["name"] for s in found["segments"]] == [s.name for s in STANDARD.segments]
    mild = next(s for s in found["segments"] if s["name"] == "MILD")
    assert mild["clock"] == "DPD"
    assert mild["when"] == {
        "classifications": ["MILD"],
        "stages": [],
        "portfolios": [],
        "products": [],
        "balance": [],
        "warningSeverity": None,
        "flagsAny": [],
        "flagsNone": [],
    }
    assert mild["steps"][0] == {
        "name": "MILD_SMS_1",
        "day": 1,
        "action": "SMS",
        "party": "BORROWER",
        "template": "PAYMENT_REMINDER",
        "placement": None,
        "placementDays": None,
        "reason": "1 day past due: first SMS reminder",
        "always": False,
    }
    mild_us = next(s for s in found["segments"] if s["name"] == "MILD_US")
    assert [(s["name"], s["always"]) for s in mild_us["steps"]] == [
        ("MILD_US_VALIDATION", True),
        ("MILD_US_EMAIL", False),
        ("MILD_US_CALL_1", False),
        ("MILD_US_CALL_2", False),
    ]
    written_off = found["segments"][1]
    assert (written_off["name"], written_off["when"]["stages"], written_off["steps"]) == (
        "WRITTEN_OFF",
        ["WRITTEN_OFF"],
        [],
    )
    moderate = next(s for s in found["segments"] if s["name"] == "MODERATE")
    place = next(s for s in moderate["steps"] if s["action"] == "PLACE_WITH_AGENCY")
    assert (place["day"], place["placement"], place["placementDays"], place["party"]) == (
        45,
        "ROTATION",
        60,
        "BORROWER",
    )
    pre_due = next(s for s in found["segments"] if s["name"] == "PRE_DUE")
    assert pre_due["when"]["warningSeverity"] == "LOW"
    assert pre_due["clock"] == "DAYS_IN_SEGMENT"


async def test_only_strategy_readers_list_strategies(world: World) -> None:
    assert_forbidden(await world.gql.errors("collector1", BRIEF))
    assert_forbidden(await world.gql.errors("acme.agent1", BRIEF))
    for login in ("admin", "lead1", "auditor1"):
        rows = await world.r(login, BRIEF)
        assert ("STANDARD", "2026.1") in {(r["name"], r["version"]) for r in rows}
    async with world.engine.connect() as conn:
        denied = (
            await conn.execute(
                select(e.outcome, e.changes)
                .where(e.action == "authz.denied")
                .order_by(e.id.desc())
                .limit(1)
            )
        ).one()
    assert denied.outcome == "DENIED"
    assert "strategy:read" in str(denied.changes)


# ---- Versions, challengers and the promotion ----------------------------------------------------


async def test_versions_challenger_and_promotion(world: World) -> None:
    start = world.clock.now() + timedelta(days=1)
    # A manager proposes a new version from tomorrow: DRAFT until someone else approves it.
    proposed = await world.propose("manager", "STRATEGY", "STANDARD", strategy("2026.2"), start)
    assert proposed["__typename"] == "ProposeRuleChangeSuccess", proposed
    change = proposed["change"]
    assert await world.brief("STANDARD") == [
        ("2026.2", "CHAMPION", "DRAFT", []),
        ("2026.1", "CHAMPION", "ACTIVE", ["CHAMPION"]),
    ]
    rows = await world.r("manager", STRATEGIES)
    draft = next(r for r in rows if r["version"] == "2026.2")
    assert (draft["changeId"], draft["effectiveFrom"], draft["ruleSetVersion"]) == (
        change["id"],
        change["effectiveFrom"],
        None,
    )
    # The admin approves it: APPROVED until its start, then ACTIVE and the default RETIRED.
    approved = await world.approve("admin", change["id"])
    assert (approved["status"], approved["ruleSetVersion"]) == ("APPROVED", 1)
    assert await world.brief("STANDARD") == [
        ("2026.2", "CHAMPION", "APPROVED", []),
        ("2026.1", "CHAMPION", "ACTIVE", ["CHAMPION"]),
    ]
    world.clock.at = start
    assert await world.brief("STANDARD") == [
        ("2026.2", "CHAMPION", "ACTIVE", ["CHAMPION"]),
        ("2026.1", "CHAMPION", "RETIRED", []),
    ]

    # No challenger runs yet: nothing to promote.
    refused = await world.promote("manager", "STANDARD", "2026.3", world.clock.now())
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "RuleViolationError",
        "NO_CHALLENGER",
        "strategy",
    )

    # A challenger on a quarter of the MILD cases, approved a minute later: it runs (a
    # challenger starting at the champion's start would not).
    world.clock.at += timedelta(minutes=1)
    proposed = await world.propose(
        "manager", "STRATEGY_CHALLENGER", "STANDARD", challenger("2026.2-c1")
    )
    assert proposed["__typename"] == "ProposeRuleChangeSuccess", proposed
    await world.approve("admin", proposed["change"]["id"])
    assert await world.brief("STANDARD") == [
        ("2026.2", "CHAMPION", "ACTIVE", ["CHAMPION"]),
        ("2026.1", "CHAMPION", "RETIRED", []),
        ("2026.2-c1", "CHALLENGER", "ACTIVE", ["CHALLENGER"]),
    ]
    rows = await world.r("auditor1", STRATEGIES)
    running = next(r for r in rows if r["version"] == "2026.2-c1")
    assert (
        running["share"],
        running["challengedSegments"],
        running["portfolios"],
        running["description"],
    ) == ("0.25", ["MILD"], None, "Calls before messages for mild cases")
    assert [
        (s["name"], s["day"], s["action"], s["template"]) for s in running["segments"][0]["steps"]
    ] == [
        ("MILD_CALL_FIRST", 1, "CALL_TASK", None),
        ("MILD_SMS_LATER", 5, "SMS", "PAYMENT_REMINDER"),
    ]

    # A label the strategy used already is refused on the input's field; a collector may not.
    taken = await world.promote("manager", "STANDARD", "2026.2", world.clock.now())
    assert (taken["code"], taken["field"]) == ("CHANGE_INVALID", "version")
    assert_forbidden(
        await world.gql.errors(
            "collector1",
            PROMOTE,
            {
                "input": {
                    "strategy": "STANDARD",
                    "version": "x",
                    "effectiveFrom": world.clock.now().isoformat(),
                    "reason": "r",
                }
            },
        )
    )

    # The promotion: a pending STRATEGY change holding the champion (2026.2: its description,
    # portfolios and segments) with the challenged MILD replaced, in place, by the challenger's
    # MILD — every other segment kept — from an hour on.
    promotion_start = world.clock.now() + timedelta(hours=1)
    promoted = await world.promote("manager", "STANDARD", "2026.3", promotion_start)
    assert promoted["__typename"] == "PromoteChallengerSuccess", promoted
    change = promoted["change"]
    assert (change["kind"], change["name"], change["status"], change["proposedBy"]) == (
        "STRATEGY",
        "STANDARD",
        "PENDING",
        {"login": "manager"},
    )
    champion_payload = strategy("2026.2")
    (challenged,) = challenger("x")["definition"]["segments"]
    expected = {
        **champion_payload,
        "version": "2026.3",
        "segments": [
            copy.deepcopy(challenged) if s["name"] == "MILD" else s
            for s in champion_payload["segments"]
        ],
    }
    assert change["payload"] == strategy_to_payload(strategy_from_payload("STANDARD", expected))
    assert change["payload"]["description"] == STANDARD.description
    names = [s["name"] for s in change["payload"]["segments"]]
    assert names == [s.name for s in STANDARD.segments]
    mild = change["payload"]["segments"][names.index("MILD")]
    assert [x["name"] for x in mild["steps"]] == ["MILD_CALL_FIRST", "MILD_SMS_LATER"]
    # The segments it did not challenge are the champion's, unchanged.
    kept = [s for s in change["payload"]["segments"] if s["name"] != "MILD"]
    assert kept == [
        s
        for s in strategy_to_payload(strategy_from_payload("STANDARD", champion_payload))[
            "segments"
        ]
        if s["name"] != "MILD"
    ]
    async with world.engine.connect() as conn:
        entries = (
            await conn.execute(
                select(e.action, e.outcome, e.changes)
                .where(e.action == "policy.change")
                .order_by(e.id.desc())
                .limit(1)
            )
        ).all()
    assert [(x.action, x.outcome, x.changes["change"]) for x in entries] == [
        ("policy.change", "ALLOWED", "PROPOSED")
    ]
    assert await world.brief("STANDARD") == [
        ("2026.3", "CHAMPION", "DRAFT", []),
        ("2026.2", "CHAMPION", "ACTIVE", ["CHAMPION"]),
        ("2026.1", "CHAMPION", "RETIRED", []),
        ("2026.2-c1", "CHALLENGER", "ACTIVE", ["CHALLENGER"]),
    ]
    # The maker cannot approve it; the admin can. The challenger runs until its start.
    own = await world.r("manager", APPROVE, {"id": change["id"]})
    assert own["code"] == "MAKER_CANNOT_APPROVE"
    await world.approve("admin", change["id"])
    assert await world.brief("STANDARD") == [
        ("2026.3", "CHAMPION", "APPROVED", []),
        ("2026.2", "CHAMPION", "ACTIVE", ["CHAMPION"]),
        ("2026.1", "CHAMPION", "RETIRED", []),
        ("2026.2-c1", "CHALLENGER", "ACTIVE", ["CHALLENGER"]),
    ]
    world.clock.at = promotion_start
    assert await world.brief("STANDARD") == [
        ("2026.3", "CHAMPION", "ACTIVE", ["CHAMPION"]),
        ("2026.2", "CHAMPION", "RETIRED", []),
        ("2026.1", "CHAMPION", "RETIRED", []),
        ("2026.2-c1", "CHALLENGER", "RETIRED", []),
    ]
    rows = await world.r("manager", STRATEGIES)
    champion = next(r for r in rows if r["version"] == "2026.3")
    assert [s["name"] for s in champion["segments"]] == [s.name for s in STANDARD.segments]
    mild = next(s for s in champion["segments"] if s["name"] == "MILD")
    assert [s["name"] for s in mild["steps"]] == ["MILD_CALL_FIRST", "MILD_SMS_LATER"]
    moderate = next(s for s in champion["segments"] if s["name"] == "MODERATE")
    assert [s["name"] for s in moderate["steps"]] == [
        "MODERATE_LETTER",
        "MODERATE_CALL",
        "MODERATE_PLACE",
    ]
    assert champion["ruleSetVersion"] == 2 and champion["changeId"] == change["id"]
    # Nothing runs against the new champion: nothing to promote.
    again = await world.promote("manager", "STANDARD", "2026.4", world.clock.now())
    assert again["code"] == "NO_CHALLENGER"
    async with world.engine.connect() as conn:
        denied = (
            await conn.execute(
                select(e.outcome, e.reason_code)
                .where(e.action == "policy.change")
                .order_by(e.id.desc())
                .limit(1)
            )
        ).one()
    assert denied.outcome == "DENIED"


async def test_a_new_strategy_for_one_portfolio_with_a_challenger_of_share_zero(
    world: World,
) -> None:
    name = "US_TRIAL"
    proposed = await world.propose("admin", "STRATEGY", name, strategy("1", ["us-cards"]))
    assert proposed["__typename"] == "ProposeRuleChangeSuccess", proposed
    await world.approve("manager", proposed["change"]["id"])
    stopped = await world.propose(
        "admin", "STRATEGY_CHALLENGER", name, challenger("1-c1", share="0")
    )
    await world.approve("manager", stopped["change"]["id"])
    assert await world.brief(name) == [
        ("1", "CHAMPION", "ACTIVE", ["CHAMPION"]),
        ("1-c1", "CHALLENGER", "RETIRED", []),
    ]
    rows = await world.r("manager", STRATEGIES)
    assert next(r for r in rows if r["name"] == name)["portfolios"] == ["us-cards"]
    refused = await world.promote("admin", name, "2", world.clock.now())
    assert (refused["code"], refused["field"]) == ("NO_CHALLENGER", "strategy")
    # A challenger of a strategy that does not exist runs against nothing.
    orphan = await world.propose("admin", "STRATEGY_CHALLENGER", "NO_CHAMPION", challenger("1"))
    await world.approve("manager", orphan["change"]["id"])
    assert await world.brief("NO_CHAMPION") == [("1", "CHALLENGER", "RETIRED", [])]
    unknown = await world.promote("admin", "NO_CHAMPION", "2", world.clock.now())
    assert unknown["code"] == "NO_CHALLENGER"
    # Listed by name, champion before challenger, newest first.
    names = [r["name"] for r in await world.r("manager", BRIEF)]
    assert names == sorted(names)


async def test_a_promotion_that_would_name_a_segment_twice_is_refused(world: World) -> None:
    name = "DUPES"
    champion = await world.propose("admin", "STRATEGY", name, strategy("1", ["us-cards"]))
    await world.approve("manager", champion["change"]["id"])
    world.clock.at += timedelta(minutes=1)
    # The challenger takes MILD only but brings a MODERATE of its own: the champion keeps its.
    payload = challenger("1-c1")
    extra = copy.deepcopy(payload["definition"]["segments"][0])
    extra["name"] = "MODERATE"
    extra["when"] = {"classifications": ["MODERATE"]}
    for step in extra["steps"]:
        step["name"] = f"MODERATE_{step['name']}"
    payload["definition"]["segments"].append(extra)
    proposed = await world.propose("admin", "STRATEGY_CHALLENGER", name, payload)
    await world.approve("manager", proposed["change"]["id"])
    assert (await world.brief(name))[-1] == ("1-c1", "CHALLENGER", "ACTIVE", ["CHALLENGER"])
    async with world.engine.connect() as conn:
        before = len((await conn.execute(select(rc.id))).all())
    refused = await world.promote("admin", name, "2", world.clock.now())
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "ValidationError",
        "CHANGE_INVALID",
        "strategy",
    ), refused
    assert "two segments named MODERATE" in refused["message"]
    async with world.engine.connect() as conn:
        assert len((await conn.execute(select(rc.id))).all()) == before
        denied = (
            await conn.execute(
                select(e.outcome, e.changes)
                .where(e.action == "policy.change")
                .order_by(e.id.desc())
                .limit(1)
            )
        ).one()
    assert (denied.outcome, denied.changes["refused"]) == ("DENIED", "CHANGE_INVALID")


# ---- Invalid payloads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "mutate", "field"),
    [
        ("STRATEGY", lambda p: p["segments"][4]["steps"][0].update(day=-1),
         "payload.segments[4].steps[0].day"),
        ("STRATEGY", lambda p: p["segments"][4]["steps"][0].pop("template"),
         "payload.segments[4].steps[0].template"),
        ("STRATEGY", lambda p: p["segments"][1].update(name="LEGAL"), "payload.segments[1].name"),
        ("STRATEGY", lambda p: p["segments"][0]["when"].update(balance=[
            {"currency": "CNY", "minimum": "5000", "maximum": "100"}]),
         "payload.segments[0].when.balance[0].maximum"),
        ("STRATEGY", lambda p: p.update(version="2026.1"), "payload.version"),
        ("STRATEGY", lambda p: p.update(portfolios=["mars"]), "payload.portfolios[0]"),
        ("STRATEGY_CHALLENGER", lambda p: p.update(share="1.5"), "payload.share"),
        ("STRATEGY_CHALLENGER", lambda p: p.update(share=0.5), "payload.share"),
        ("STRATEGY_CHALLENGER", lambda p: p["definition"]["segments"][0]["steps"][1].update(
            action="PLACE_WITH_AGENCY"), "payload.definition.segments[0].steps[1].template"),
        ("STRATEGY", lambda p: p["segments"][6]["steps"][2].update(always=True),
         "payload.segments[6].steps[2].always"),
        ("STRATEGY", lambda p: p["segments"][4]["steps"][0].update(always="yes"),
         "payload.segments[4].steps[0].always"),
        ("STRATEGY", lambda p: p["segments"][7]["steps"][1].update(
            action="RECALL", template=None, party=None),
         "payload.segments[7].steps[1].action"),
    ],
)  # fmt: skip
async def test_invalid_payloads_are_refused_naming_the_field(
    world: World, kind: str, mutate: Any, field: str
) -> None:
    payload = strategy(label()) if kind == "STRATEGY" else challenger(label())
    mutate(payload)
    async with world.engine.connect() as conn:
        before = len((await conn.execute(select(rc.id))).all())
    refused = await world.propose("manager", kind, "STANDARD", payload)
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "ValidationError",
        "CHANGE_INVALID",
        field,
    ), refused
    async with world.engine.connect() as conn:
        assert len((await conn.execute(select(rc.id))).all()) == before


async def test_strategy_names_are_capitals(world: World) -> None:
    refused = await world.propose("manager", "STRATEGY", "standard", strategy(label()))
    assert (refused["code"], refused["field"]) == ("CHANGE_INVALID", "name")


# ---- A stored version this release no longer reads ----------------------------------------------


async def test_a_stored_version_no_longer_readable_is_skipped_and_listed(world: World) -> None:
    """Versions stored by an earlier release whose payload this one refuses (an action since
    removed): the daily run and the listing go on, the version before treating cases."""
    readable = strategy("legacy-1", ["retail"])
    readable["segments"] = [s for s in readable["segments"] if s["name"] != "MILD_US"]
    broken = copy.deepcopy({**readable, "version": "legacy-2"})
    broken["segments"][2]["steps"][0]["action"] = "FAX"  # HARDSHIP's first step
    broken_challenger = challenger("legacy-c1", share="1")
    broken_challenger["definition"]["segments"][0]["steps"][0]["action"] = "FAX"
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    async with world.engine.begin() as conn:
        for kind, number, payload, start in (
            ("STRATEGY", 1, readable, long_ago),
            ("STRATEGY", 2, broken, long_ago + timedelta(days=1)),
            ("STRATEGY_CHALLENGER", 1, broken_challenger, long_ago + timedelta(days=2)),
        ):
            await conn.execute(
                insert(tables.rule_set_versions).values(
                    kind=kind, name="LEGACY", version=number, payload=payload, effective_from=start
                )
            )
    rows = [r for r in await world.r("manager", STRATEGIES) if r["name"] == "LEGACY"]
    assert [(r["version"], r["kind"], r["status"], r["variants"]) for r in rows] == [
        ("legacy-2", "CHAMPION", "RETIRED", []),
        ("legacy-1", "CHAMPION", "ACTIVE", ["CHAMPION"]),
        ("legacy-c1", "CHALLENGER", "RETIRED", []),
    ]
    assert "payload.segments[2].steps[0].action" in rows[0]["readError"]
    assert (rows[0]["segments"], rows[0]["portfolios"], rows[0]["ruleSetVersion"]) == ([], [], 2)
    assert rows[1]["readError"] is None and len(rows[1]["segments"]) == len(readable["segments"])
    assert "payload.definition.segments[0].steps[0].action" in rows[2]["readError"]
    assert (rows[2]["portfolios"], rows[2]["share"], rows[2]["segments"]) == (None, None, [])
    # Nothing to promote: the challenger that does not read does not run.
    refused = await world.promote("admin", "LEGACY", "legacy-3", world.clock.now())
    assert refused["code"] == "NO_CHALLENGER"

    # The daily run treats the retail cases by the version before it, as champion.
    from jobs.daily import run_daily
    from tests.daily_support import AUDIT_KEY

    outcome = await run_daily(world.engine, world.clock, AUDIT_KEY)
    assert outcome.days, outcome
    t, cases = tables.case_treatments.c, tables.cases.c
    async with world.engine.connect() as conn:
        treated = (
            await conn.execute(
                select(cases.portfolio, t.strategy, t.version, t.variant).join(
                    tables.cases, cases.id == t.case_id
                )
            )
        ).all()
    retail = {(r.strategy, r.version, r.variant) for r in treated if r.portfolio == "retail"}
    assert retail == {("LEGACY", "legacy-1", "CHAMPION")}, treated
