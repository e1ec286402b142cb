"""PostgreSQL restarts under load: requests fail fast with 503 DATABASE_UNAVAILABLE, the service
recovers by itself, and idempotent retries leave every payment exactly once.

The test runs its own PostgreSQL cluster (tests/pgcluster.py), never the shared server, and a
real ``arrears serve`` against it. Four clients post ~200 payments, each with its own
idempotency key and reference; the cluster is restarted (``pg_ctl restart -m fast``) in the
middle while the load goes on; then it is stopped for a moment (connections refused). Every
request without a definite answer (a 503, a lost connection) is then retried with the same key
until acknowledged. In the database each acknowledged payment is there once, and nothing else
is."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from api.auth import mint_token
from api.settings import Settings
from store import tables
from store.db import create_engine
from store.demo import seed_demo
from store.migrate import upgrade
from tests.conftest import PG_URL, TEST_SECRET
from tests.pgcluster import Cluster, own_cluster, unavailable_reason
from tests.servers import serve_process

pytestmark = [
    pytest.mark.skipif(
        not (PG_URL or "").startswith("postgresql"),
        reason="a PostgreSQL fault test: set ARREARS_TEST_DATABASE_URL to a PostgreSQL URL",
    ),
    pytest.mark.skipif(unavailable_reason() is not None, reason=unavailable_reason() or ""),
]

REQUESTS = 200
WORKERS = 4
RESTART_AFTER = 60  # acknowledged payments before the restart
TIMEOUT = 3.0  # ARREARS_DATABASE_TIMEOUT_SECONDS: a 503 must come well within it
AMOUNT = Decimal("1.00")

POST = """
mutation Post($input: PostPaymentInput!) {
  postPayment(input: $input) {
    __typename
    ... on PostPaymentSuccess { payment { id reference amount { amount } } }
    ... on UserError { code message }
  }
}"""


@dataclass
class Load:
    """What the clients saw."""

    acknowledged: dict[int, str] = field(default_factory=dict)  # request → payment id
    pending: set[int] = field(default_factory=set)  # no definite answer yet
    unavailable: int = 0  # 503 DATABASE_UNAVAILABLE answers
    saved_unanswered: int = 0  # 200s saying the change was saved but the answer was lost
    saved: set[int] = field(default_factory=set)  # the indexes answered so
    connection_errors: int = 0
    slowest_503: float = 0.0
    retries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)


def _payment_pk(global_id: str) -> int:
    kind, _, pk = base64.b64decode(global_id).decode().partition(":")
    assert kind == "Payment"
    return int(pk)


async def _prepare(cluster: Cluster) -> tuple[str, list[tuple[str, str]]]:
    """Creates, migrates and seeds the database; returns its URL and (account, currency)s."""
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text('CREATE DATABASE "arrears_faults"'))
    await admin.dispose()
    url = cluster.url("arrears_faults")
    engine = create_engine(url)
    try:
        await upgrade(engine)
        await seed_demo(engine, cases=20, seed=7)
        async with engine.connect() as conn:
            debts = (
                await conn.execute(
                    select(tables.debts.c.account_number, tables.debts.c.currency)
                    .order_by(tables.debts.c.id)
                    .limit(8)
                )
            ).all()
    finally:
        await engine.dispose()
    return url, [(account, currency) for account, currency in debts]


async def _rows(url: str, prefix: str) -> list[tuple[int, str, Decimal]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            payments = tables.payments.c
            result = await conn.execute(
                select(payments.id, payments.reference, payments.amount).where(
                    payments.reference.like(f"{prefix}%")
                )
            )
            return [(pk, reference, Decimal(amount)) for pk, reference, amount in result]
    finally:
        await engine.dispose()


async def test_requests_fail_fast_and_recover_across_a_database_restart(
    tmp_path: Path,
) -> None:
    run = uuid.uuid4().hex[:8].upper()
    prefix = f"FAULT-{run}-"
    with own_cluster() as cluster:
        url, debts = await _prepare(cluster)
        token = mint_token(Settings(database_url=url, secret_key=TEST_SECRET), "core.banking")
        headers = {"Authorization": f"Bearer {token}"}
        paid_at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()

        def payload(index: int) -> dict[str, Any]:
            account, currency = debts[index % len(debts)]
            return {
                "query": POST,
                "variables": {
                    "input": {
                        "accountNumber": account,
                        "amount": str(AMOUNT),
                        "currency": currency,
                        "paidAt": paid_at,
                        "reference": f"{prefix}{index:04d}",
                        "idempotencyKey": f"fault-{run}-{index:04d}",
                    }
                },
            }

        load = Load()
        halfway = asyncio.Event()  # RESTART_AFTER payments acknowledged

        async def send(client: httpx.AsyncClient, index: int) -> bool:
            """Posts payment ``index``; True when it was acknowledged."""
            started = time.monotonic()
            try:
                response = await client.post("/graphql", json=payload(index), headers=headers)
            except httpx.TransportError:
                load.connection_errors += 1
                load.pending.add(index)
                return False
            elapsed = time.monotonic() - started
            load.statuses[response.status_code] += 1
            if response.status_code == 503:
                body = response.json()
                assert body == {
                    "errors": [
                        {
                            "message": "the database is unavailable; try again shortly",
                            "extensions": {"code": "DATABASE_UNAVAILABLE"},
                        }
                    ]
                }, body
                assert response.headers["retry-after"].isdigit()
                load.unavailable += 1
                load.slowest_503 = max(load.slowest_503, elapsed)
                load.pending.add(index)
                return False
            assert response.status_code == 200, response.text
            body = response.json()
            if body.get("data") is None and body.get("errors"):
                # Saved, but the database went away before the answer was complete: the retry
                # with the same key must return the payment saved, not a second one.
                [error] = body["errors"]
                assert error["extensions"] == {"code": "DATABASE_UNAVAILABLE"}, body
                assert error["message"].startswith("your change was saved"), body
                load.saved_unanswered += 1
                load.saved.add(index)
                load.pending.add(index)
                return False
            assert "errors" not in body, body
            result = body["data"]["postPayment"]
            assert result["__typename"] == "PostPaymentSuccess", result
            assert result["payment"]["reference"] == f"{prefix}{index:04d}"
            assert Decimal(result["payment"]["amount"]["amount"]) == AMOUNT
            previous = load.acknowledged.setdefault(index, result["payment"]["id"])
            assert previous == result["payment"]["id"]  # a retry returns the first result
            load.pending.discard(index)
            if len(load.acknowledged) >= RESTART_AFTER:
                halfway.set()
            return True

        log = tmp_path / "server.log"
        extra = {
            "ARREARS_DATABASE_TIMEOUT_SECONDS": str(TIMEOUT),
            "ARREARS_LOG_LEVEL": "WARNING",
        }
        with serve_process(url, log, extra_env=extra) as served:
            indexes = iter(range(REQUESTS))
            restarted = asyncio.Event()

            async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:

                async def worker() -> None:
                    for index in indexes:
                        await send(client, index)

                async def restarter() -> None:
                    await halfway.wait()
                    await asyncio.to_thread(cluster.restart)
                    restarted.set()

                restart = asyncio.create_task(restarter())
                await asyncio.gather(*(worker() for _ in range(WORKERS)))
                await restart
                assert restarted.is_set()

                # Down for a while: refused connections are 503s too, and /readyz says so.
                await asyncio.to_thread(cluster.pg_ctl, "stop", "-m", "fast")
                started = time.monotonic()
                answered_while_down = await send(client, REQUESTS)
                down_for = time.monotonic() - started
                ready_while_down = await client.get("/readyz")
                await asyncio.to_thread(cluster.pg_ctl, "start")
                first_pass_pending = set(load.pending)

                # Requests whose answer was lost may have been carried out: their rows are there
                # before the retry, and the retry must return that very payment.
                before_retry = {ref: pk for pk, ref, _ in await _rows(url, prefix)}
                lost_answers = {
                    index for index in first_pass_pending if f"{prefix}{index:04d}" in before_retry
                }
                # A payment answered "saved" is there before any retry could have made it.
                saved_missing = {
                    index for index in load.saved if f"{prefix}{index:04d}" not in before_retry
                }
                assert not saved_missing, f"answered saved but not written: {saved_missing}"

                deadline = time.monotonic() + 60
                while load.pending:
                    assert time.monotonic() < deadline, f"unacknowledged: {sorted(load.pending)}"
                    for index in sorted(load.pending):
                        load.retries += 1
                        await send(client, index)
                    if load.pending:
                        await asyncio.sleep(0.2)

                # The same service, never restarted, answers a fresh request.
                fresh = await send(client, REQUESTS + 1)
                ready = await client.get("/readyz")
            assert served.process.poll() is None
            assert not answered_while_down and REQUESTS in first_pass_pending
            assert down_for < TIMEOUT, down_for
            assert ready_while_down.status_code == 503
            assert ready_while_down.json() == {"status": "unavailable"}
            assert fresh
            assert ready.status_code == 200

        rows = await _rows(url, prefix)

    references = Counter(reference for _, reference, _ in rows)
    duplicates = sum(count - 1 for count in references.values() if count > 1)
    acknowledged_ids = {_payment_pk(gid) for gid in load.acknowledged.values()}
    row_ids = {pk for pk, _, _ in rows}
    figures = (
        f"requests sent {REQUESTS + 2} (+{load.retries} retries), "
        f"acknowledged writes {len(load.acknowledged)}, 503s {load.unavailable} "
        f"saved-but-unanswered {load.saved_unanswered}, "
        f"(slowest {load.slowest_503:.2f} s), connection errors {load.connection_errors}, "
        f"retried {len(first_pass_pending)}, of which answer lost {len(lost_answers)}, "
        f"rows found {len(rows)}, duplicates {duplicates}, statuses {dict(load.statuses)}"
    )
    print(f"\ndatabase restart: {figures}")

    assert load.unavailable > 0, f"the load did not cross the restart: {figures}"
    assert load.slowest_503 < TIMEOUT + 1, figures
    assert len(load.acknowledged) == REQUESTS + 2, figures
    assert duplicates == 0, figures
    assert len(rows) == REQUESTS + 2, figures
    assert row_ids == acknowledged_ids, figures
    assert all(amount == AMOUNT for _, _, amount in rows), figures
    for index in lost_answers:
        assert _payment_pk(load.acknowledged[index]) == before_retry[f"{prefix}{index:04d}"]
    assert set(load.statuses) <= {200, 503}, figures
