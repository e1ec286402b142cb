"""Casbin decides a bounded number of times per request, never once per row or field."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.auth import mint_token
from api.settings import Settings

QUERY = """
{ viewer { permissions }
  cases(first: 100) { totalCount edges { node {
    reference borrower { phone nationalId } debts { outstanding { amount } }
    assignee { login agency { name } } agency { name } } } }
  again: cases(first: 50) { edges { node { id } } } }
"""


async def test_enforce_calls_do_not_grow_with_rows(engine: AsyncEngine, settings: Settings) -> None:
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        enforcer = app.state.authorizer.enforcer
        calls: list[tuple[Any, ...]] = []
        real = enforcer.enforce

        def counting(*request: Any) -> bool:
            calls.append(request)
            return bool(real(*request))

        enforcer.enforce = counting
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(
                "/graphql",
                json={"query": QUERY},
                headers={"Authorization": f"Bearer {mint_token(settings, 'manager')}"},
            )
    body = response.json()
    assert "errors" not in body, body
    assert len(body["data"]["cases"]["edges"]) == 100
    # One decision for case:read (asked by two root fields, decided once); the permission list
    # is read from the policy without enforce().
    assert calls == [("manager", "case", "read")]
