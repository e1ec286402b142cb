"""``arrears agency add`` and ``arrears staff add``: a fresh database gets its first administrator
and its agencies from the operator, each addition audited, bad input refused with one line and
nothing written; the first administrator can then sign in."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.auth import mint_token
from api.settings import Settings
from store import tables
from tests.cli import Ran, invoke
from tests.conftest import TEST_AUDIT_SECRET, TEST_SECRET


async def arrears(*args: str, url: str) -> Ran:
    return await asyncio.to_thread(invoke, *args, url=url)


async def _rows(engine: AsyncEngine, table: str) -> list[dict[str, object]]:
    async with engine.connect() as conn:
        found = await conn.execute(select(tables.metadata.tables[table]))
        return [dict(row._mapping) for row in found]


async def test_the_operator_adds_the_first_admin_and_an_agency(migrated: AsyncEngine) -> None:
    url = migrated.url.render_as_string(hide_password=False)
    added = await arrears(
        "agency",
        "add",
        "Acme Recovery",
        "--commission-rate",
        "0.15",
        "--placement-days",
        "90",
        url=url,
    )
    assert (added.returncode, added.stdout) == (0, "added agency Acme Recovery\n"), added.stderr
    admin = await arrears(
        "staff", "add", "ops.admin", "--name", "Ops Admin", "--role", "admin", url=url
    )
    assert (admin.returncode, admin.stdout) == (0, "added staff ops.admin (roles admin)\n")
    agent = await arrears(
        "staff",
        "add",
        "acme.boss",
        "--name",
        "Acme Boss",
        "--role",
        "agency_manager",
        "--agency",
        "Acme Recovery",
        url=url,
    )
    assert agent.returncode == 0, agent.stderr

    agencies = await _rows(migrated, "agencies")
    assert [(a["name"], str(a["commission_rate"]), a["placement_days"]) for a in agencies] == [
        ("Acme Recovery", "0.1500", 90)
    ]
    staff = {s["login"]: s for s in await _rows(migrated, "staff")}
    assert (staff["ops.admin"]["roles"], staff["ops.admin"]["agency_id"]) == (["admin"], None)
    assert staff["acme.boss"]["agency_id"] == agencies[0]["id"]
    entries = [
        (e["action"], e["actor_login"], e["changes"])
        for e in await _rows(migrated, "audit_entries")
    ]
    assert entries == [
        (
            "agency.create",
            "system:cli",
            {"name": "Acme Recovery", "commissionRate": "0.15", "placementDays": 90, "tailDays": 0},
        ),
        (
            "staff.create",
            "system:cli",
            {
                "login": "ops.admin",
                "roles": ["admin"],
                "team": None,
                "agencyId": None,
                "capacity": 0,
            },
        ),
        (
            "staff.create",
            "system:cli",
            {
                "login": "acme.boss",
                "roles": ["agency_manager"],
                "team": None,
                "agencyId": agencies[0]["id"],
                "capacity": 0,
            },
        ),
    ]
    verified = await arrears("audit", "verify", url=url)
    assert verified.returncode == 0, verified.stderr

    # The first administrator signs in.
    settings = Settings(
        database_url=url, secret_key=TEST_SECRET, audit_secret=TEST_AUDIT_SECRET, env="test"
    )
    app = create_app(settings, migrated)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        answer = await client.post(
            "/graphql",
            json={"query": "{ viewer { login roles } }"},
            headers={"Authorization": f"Bearer {mint_token(settings, 'ops.admin')}"},
        )
    assert answer.json() == {"data": {"viewer": {"login": "ops.admin", "roles": ["admin"]}}}


async def test_bad_additions_change_nothing(migrated: AsyncEngine) -> None:
    url = migrated.url.render_as_string(hide_password=False)
    ok = await arrears(
        "staff", "add", "lead", "--name", "Lead", "--role", "team_lead", "--team", "East", url=url
    )
    assert ok.returncode == 0, ok.stderr
    refusals = {
        (
            "staff",
            "add",
            "lead",
            "--name",
            "Again",
            "--role",
            "collector",
        ): "the login 'lead' exists already",
        (
            "staff",
            "add",
            "client:x",
            "--name",
            "X",
            "--role",
            "admin",
        ): "--login: a login is 1 to 80 letters, digits and . _ @ -, starting with a letter or "
        "digit",
        (
            "staff",
            "add",
            "who",
            "--name",
            "Who",
            "--role",
            "overlord",
        ): "--role: no such role 'overlord'",
        (
            "staff",
            "add",
            "who",
            "--name",
            "Who",
            "--role",
            "agency_agent",
        ): "--role: agency_agent is an agency role; who is not",
        (
            "staff",
            "add",
            "who",
            "--name",
            "Who",
            "--role",
            "collector",
            "--agency",
            "Nobody",
        ): "no agency is named 'Nobody'",
        (
            "staff",
            "add",
            "who",
            "--name",
            " ",
            "--role",
            "collector",
        ): "--name: a name is 1 to 120 characters",
        (
            "agency",
            "add",
            "Zed",
            "--commission-rate",
            "1.5",
            "--placement-days",
            "30",
        ): "the commission rate is a fraction from 0 to below 1, e.g. 0.15",
        (
            "agency",
            "add",
            "Zed",
            "--commission-rate",
            "abc",
            "--placement-days",
            "30",
        ): "the commission rate is a decimal fraction, e.g. 0.15",
        (
            "agency",
            "add",
            "Zed",
            "--commission-rate",
            "0.1",
            "--placement-days",
            "0",
        ): "the placement is 1 day or more, the tail 0 days or more",
    }
    for args, message in refusals.items():
        ran = await arrears(*args, url=url)
        assert (ran.returncode, ran.stdout, ran.stderr) == (1, "", f"arrears: {message}\n"), args
    assert [s["login"] for s in await _rows(migrated, "staff")] == ["lead"]
    assert await _rows(migrated, "agencies") == []
    assert [e["action"] for e in await _rows(migrated, "audit_entries")] == ["staff.create"]
