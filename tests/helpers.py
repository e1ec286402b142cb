"""GraphQL-over-HTTP helpers for the end-to-end tests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import ColumnElement, and_, select

from api.auth import mint_token
from api.settings import Settings
from store import tables


class Gql:
    """Sends GraphQL to the app as a given staff login."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self._tokens: dict[str, str] = {}

    def token(self, login: str) -> str:
        if login not in self._tokens:
            self._tokens[login] = mint_token(self.settings, login)
        return self._tokens[login]

    async def raw(
        self, login: str, query: str, variables: dict[str, Any] | None = None
    ) -> httpx.Response:
        return await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.token(login)}"},
        )

    async def __call__(
        self, login: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Returns ``data``; fails the test if the response carries errors."""
        response = await self.raw(login, query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def errors(
        self, login: str, query: str, variables: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Returns the GraphQL errors of a response that must have some."""
        response = await self.raw(login, query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body.get("errors"), f"expected errors, got {body}"
        errors: list[dict[str, Any]] = body["errors"]
        return errors


def portfolio_today() -> date:
    """Today in the demo portfolio's time zone (Asia/Shanghai), as agency placements count it."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def agency_cases_rule(agency_id: Any) -> ColumnElement[bool]:
    """The agency scope in plain SQL, independently of authz/: cases placed with the agency
    while it is active and until the placement's end date (inclusive), portfolio-local."""
    c, a = tables.cases.c, tables.agencies.c
    return and_(
        c.agency_id == agency_id,
        c.agency_id.in_(select(a.id).where(a.active.is_(True))),
        c.placement_ends_on >= portfolio_today(),
    )


def assert_forbidden(errors: list[dict[str, Any]]) -> None:
    """The operation was refused by authorisation."""
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"], errors


def assert_bad_input(errors: list[dict[str, Any]], fragment: str) -> None:
    """The operation was refused for bad input, with a message mentioning ``fragment``."""
    assert len(errors) == 1, errors
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", errors
    assert fragment in errors[0]["message"], errors
