"""Notices for the notice tests: a contact point and a notice row on a factory case, as the daily
run's treatment step queues one (QUEUED, a template version, the portfolio's language), a
schedule set by hand, and a loopback HTTP server standing in for the notice gateway."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.factories import Factory, MadeCase, writing

QUEUED_AT = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)


async def contact_point(
    factory: Factory,
    made: MadeCase,
    *,
    kind: str = "PHONE",
    value: str | None = None,
    owner: str = "BORROWER",
    status: str = "VERIFIED",
) -> Any:
    """A contact point of the case's borrower (a number unique to the borrower by default)."""
    borrower = made.borrower.id
    default = {
        "PHONE": f"1390{borrower:07d}"[-11:],
        "EMAIL": f"notice.{borrower}@example.org",
        "ADDRESS": f"上海市浦东新区通知路{borrower}号",
    }[kind]
    return await factory._insert(
        tables.contact_points,
        {
            "borrower_id": borrower,
            "kind": kind,
            "value": value or default,
            "owner": owner,
            "status": status,
            "time_zone": None,
            "consent_start": None,
            "consent_end": None,
            "consented_at": None,
            "created_at": QUEUED_AT,
            "version": 1,
        },
    )


async def insert_notice(
    engine: AsyncEngine,
    made: MadeCase,
    point_id: int | None,
    *,
    channel: str = "SMS",
    template: str = "PAYMENT_REMINDER",
    version: str = "2026.1",
    language: str = "zh",
    status: str = "QUEUED",
    created_at: datetime = QUEUED_AT,
    **values: Any,
) -> int:
    """A notice of the case's borrower, as the treatment step queues one (no action row)."""
    async with writing(engine) as conn:
        result = await conn.execute(
            insert(tables.notices).values(
                case_id=made.case.id,
                borrower_id=made.borrower.id,
                contact_point_id=point_id,
                channel=channel,
                party="BORROWER",
                template=template,
                template_version=version,
                language=language,
                status=status,
                created_at=created_at,
                **{"attempts": 0, "version": 1, **values},
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


async def set_schedule(
    engine: AsyncEngine, made: MadeCase, rows: Sequence[tuple[date, str, str]]
) -> None:
    """Gives the case's first instalments these (due date, amount due, amount paid)."""
    i = tables.instalments.c
    async with writing(engine) as conn:
        for instalment, (due, amount, paid) in zip(made.instalments, rows, strict=False):
            await conn.execute(
                update(tables.instalments)
                .where(i.id == instalment.id)
                .values(due_date=due, amount_due=Decimal(amount), amount_paid=Decimal(paid))
            )


@dataclass
class Received:
    """One request the gateway received."""

    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class FakeGateway:
    """What the gateway received, and how it answers: ``answer`` maps a received request to
    (status, JSON body — or the body's bytes as they are); by default 202 with a provider
    reference per notice, after ``delay`` seconds."""

    received: list[Received] = field(default_factory=list)
    answer: Callable[[Received], tuple[int, dict[str, Any] | bytes]] | None = None
    url: str = ""
    delay: float = 0.0

    def reply(self, request: Received) -> tuple[int, dict[str, Any] | bytes]:
        if self.answer is not None:
            return self.answer(request)
        key = request.headers.get("idempotency-key", "")
        return 202, {"providerRef": f"gw-{key}"}


@contextmanager
def gateway_server() -> Iterator[FakeGateway]:
    """A real HTTP server on 127.0.0.1 (a free port) recording every POST to ``/notices``."""
    gateway = FakeGateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            headers = {k.lower(): v for k, v in self.headers.items()}
            request = Received(headers, self.rfile.read(length))
            gateway.received.append(request)
            status, answer = gateway.reply(request)
            if gateway.delay:
                time.sleep(gateway.delay)
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client stopped reading (a capped or timed-out answer)

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: bodies hold personal data

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}/notices"
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
