"""The real app over HTTP (httpx ASGI transport), with a SQL statement counter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.settings import Settings
from store.db import is_shadow
from tests.helpers import Gql

LAST = Path(__file__).with_name("test_logs.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Runs test_logs.py after every other test: it searches what the whole run logged."""
    items.sort(key=lambda item: item.path == LAST)


@pytest.fixture(scope="session")
async def client(engine: AsyncEngine, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://arrears.test") as c:
            yield c


@pytest.fixture(scope="session")
def gql(client: httpx.AsyncClient, settings: Settings) -> Gql:
    return Gql(client, settings)


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not is_shadow(conn):  # a differential test's second run is not the request's
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()


@pytest.fixture
def sql_counter(engine: AsyncEngine) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", counter)
