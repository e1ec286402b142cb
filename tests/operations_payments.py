"""Access-matrix declarations of payments and promises (tests/operations.py joins them to
OPERATIONS): postPayment, reversePayment, recordPromise, and ``node`` for a Payment and a
PromiseToPay.

Payments are posted and reversed by the integration role and managers only, on any case; a
promise is recorded by collectors, team leads, managers and agency staff on the cases they can
see (an agency's staff only on the cases placed with their agency); everybody reads the payments
and promises of the cases they can see, and nothing of the others.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select

from store import tables
from tests.factories import global_id, writing
from tests.helpers import portfolio_today
from tests.matrix import (
    CASE_TARGETS,
    EVERY_ROLE,
    Cell,
    Forbidden,
    Null,
    Operation,
    Refused,
    Target,
    roles_holding,
)

PAYLOAD = "__typename ... on UserError { code field }"
NO_PAYMENT = global_id("Payment", 2_000_000_000)
y, p, d = tables.payments.c, tables.promises.c, tables.debts.c


@dataclass
class MoneyTarget(Target):
    """A case with a payment or a promise on it (its global ID)."""

    node: str | None = None
    reference: str | None = None


def _reference() -> str:
    return f"MX-{uuid.uuid4().hex[:12]}"


def _paid_at() -> str:
    return (datetime.now(UTC) - timedelta(hours=1)).isoformat()


async def money_state(cell: Cell) -> tuple[Any, ...]:
    """What a refused payment or promise leaves alone: the case's debts, payments, promises
    and events."""
    case_id = cell.target.made.case.id
    async with cell.engine.connect() as conn:
        debts = (
            await conn.execute(
                select(d.principal, d.interest, d.penalty, d.fee)
                .where(d.case_id == case_id)
                .order_by(d.id)
            )
        ).all()
        payments = (
            await conn.execute(select(y.id, y.reversed).where(y.case_id == case_id).order_by(y.id))
        ).all()
        promises = (
            await conn.execute(select(p.id, p.status).where(p.case_id == case_id).order_by(p.id))
        ).all()
        ev = tables.case_events.c
        events = (
            await conn.execute(select(func.count()).where(ev.case_id == case_id))
        ).scalar_one()
    return (
        tuple(map(tuple, debts)),
        tuple(map(tuple, payments)),
        tuple(map(tuple, promises)),
        events,
    )


async def _events(cell: Cell) -> list[str]:
    ev = tables.case_events.c
    async with cell.engine.connect() as conn:
        stmt = select(ev.name).where(ev.case_id == cell.target.made.case.id).order_by(ev.id)
        return list((await conn.execute(stmt)).scalars())


# ---- postPayment --------------------------------------------------------------------------------

POST = f"""
mutation($input: PostPaymentInput!) {{
  r: postPayment(input: $input) {{
    {PAYLOAD}
    ... on PostPaymentSuccess {{
      payment {{ amount {{ amount }} allocations {{ component amount {{ amount }} }} }}
      debt {{ outstanding {{ amount }} }}
      case {{ id totalOutstanding {{ amount }} }}
    }}
  }}
}}
"""


def post_variables(target: Target) -> dict[str, Any]:
    return {
        "input": {
            "debtId": global_id("Debt", target.made.debts[0].id),
            "amount": "100.00",
            "currency": "CNY",
            "paidAt": _paid_at(),
            "reference": _reference(),
        }
    }


async def fresh_debt(cell: Cell) -> Target:
    return Target(case=await cell.world.factory.case())


async def check_post(op: Operation, cell: Cell) -> None:
    # The factory's debt: principal 20000.00, interest 800.00, penalty 120.50, fee 50.00
    # (20970.50): 100.00 goes to the penalty first.
    made = cell.target.made
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "PostPaymentSuccess",
        "payment": {
            "amount": {"amount": "100.00"},
            "allocations": [{"component": "PENALTY", "amount": {"amount": "100.00"}}],
        },
        "debt": {"outstanding": {"amount": "20870.50"}},
        "case": {"id": made.gid, "totalOutstanding": {"amount": "20870.50"}},
    }
    assert (await _events(cell))[0] == "PaymentPosted"
    entries = await cell.entries(request_id)
    assert [(x.action, x.outcome) for x in entries] == [("payment.post", "ALLOWED")]


# ---- reversePayment -----------------------------------------------------------------------------

REVERSE = f"""
mutation($input: ReversePaymentInput!) {{
  r: reversePayment(input: $input) {{
    {PAYLOAD}
    ... on ReversePaymentSuccess {{ payment {{ id reversed }} debt {{ outstanding {{ amount }} }} }}
  }}
}}
"""


def reverse_variables(target: Target) -> dict[str, Any]:
    node = target.node if isinstance(target, MoneyTarget) else None
    return {"input": {"paymentId": node or NO_PAYMENT, "reason": "bounced"}}


async def fresh_payment(cell: Cell) -> Target:
    """A new case with a payment of 100.00 that a manager posted."""
    made = await cell.world.factory.case()
    body, _ = await cell.send(POST, post_variables(Target(case=made)), login="manager")
    assert body["data"]["r"]["__typename"] == "PostPaymentSuccess", body
    async with cell.engine.connect() as conn:
        pk = (await conn.execute(select(y.id).where(y.case_id == made.case.id))).scalar_one()
    return MoneyTarget(case=made, node=global_id("Payment", pk))


async def check_reverse(op: Operation, cell: Cell) -> None:
    target = cell.target
    assert isinstance(target, MoneyTarget)
    result, request_id = await cell.result(op.document, op.variables(target))
    assert result == {
        "__typename": "ReversePaymentSuccess",
        "payment": {"id": target.node, "reversed": True},
        "debt": {"outstanding": {"amount": "20970.50"}},
    }
    assert (await _events(cell))[-1:] == ["PaymentReversed"]
    entries = await cell.entries(request_id)
    assert [(x.action, x.outcome) for x in entries] == [("payment.reverse", "ALLOWED")]


# ---- recordPromise ------------------------------------------------------------------------------

RECORD = f"""
mutation($input: RecordPromiseInput!) {{
  r: recordPromise(input: $input) {{
    {PAYLOAD}
    ... on RecordPromiseSuccess {{
      promise {{ amount {{ amount }} status collector {{ login }} agency {{ name }} }}
    }}
  }}
}}
"""


def record_variables(target: Target) -> dict[str, Any]:
    return {
        "input": {
            "caseId": target.made.gid,
            "amount": "500.00",
            "currency": "CNY",
            "dueDate": (portfolio_today() + timedelta(days=7)).isoformat(),
        }
    }


async def case_to_work(cell: Cell) -> Target:
    """A new open case within the caller's reach."""
    role = cell.role
    if role.agency:
        return Target(case=await cell.world.factory.case(agency=role.agency))
    assignee = "collector1" if role.cases in ("own", "team") else None
    return Target(case=await cell.world.factory.case(assignee=assignee))


async def check_record(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    role = cell.role
    assert result == {
        "__typename": "RecordPromiseSuccess",
        "promise": {
            "amount": {"amount": "500.00"},
            "status": "OPEN",
            "collector": {"login": cell.login},
            "agency": {"name": role.agency} if role.agency else None,
        },
    }
    assert await _events(cell) == ["PromiseRecorded"]
    entries = await cell.entries(request_id)
    assert [(x.action, x.outcome) for x in entries] == [("promise.record", "ALLOWED")]


# ---- node(id:) of a Payment and a PromiseToPay --------------------------------------------------

NODE = """
query($id: ID!) {
  r: node(id: $id) {
    __typename id
    ... on Payment { reference amount { amount } }
    ... on PromiseToPay { status amount { amount } }
  }
}
"""


def money_on_world_case(kind: str) -> Any:
    """A payment or a promise, inserted as stored rows, on the world case the cell aims at."""

    async def aim(cell: Cell) -> Target:
        name = CASE_TARGETS[cell.login][0 if cell.inside is not False else 1]
        assert name is not None
        made = cell.world.cases[name]
        now = datetime.now(UTC)
        async with writing(cell.engine) as conn:
            if kind == "Payment":
                reference = _reference()
                values: dict[str, Any] = {
                    "case_id": made.case.id,
                    "debt_id": made.debts[0].id,
                    "amount": Decimal("10.00"),
                    "currency": "CNY",
                    "paid_at": now,
                    "reference": reference,
                    "source": "API",
                    "created_at": now,
                    "reversed": False,
                    "version": 1,
                }
                table = tables.payments
            else:
                reference = None
                values = {
                    "case_id": made.case.id,
                    "amount": Decimal("10.00"),
                    "currency": "CNY",
                    "promised_on": portfolio_today(),
                    "due_date": portfolio_today() + timedelta(days=3),
                    "grace_days": 3,
                    "status": "OPEN",
                    "paid_amount": Decimal("0.00"),
                    "created_at": now,
                    "version": 1,
                }
                table = tables.promises
            inserted = await conn.execute(insert(table).values(**values))
            assert inserted.inserted_primary_key is not None
            pk = inserted.inserted_primary_key[0]
        return MoneyTarget(case=made, node=global_id(kind, pk), reference=reference)

    return aim


def node_check(kind: str) -> Any:
    async def check(op: Operation, cell: Cell) -> None:
        target = cell.target
        assert isinstance(target, MoneyTarget)
        result, _ = await cell.result(op.document, op.variables(target))
        fields = (
            {"reference": target.reference, "amount": {"amount": "10.00"}}
            if kind == "Payment"
            else {"status": "OPEN", "amount": {"amount": "10.00"}}
        )
        assert result == {"__typename": kind, "id": target.node, **fields}

    return check


def node_of(kind: str) -> Operation:
    return Operation(
        name=f"node{kind}",
        field="node",
        document=NODE,
        variables=lambda target: {"id": target.node if isinstance(target, MoneyTarget) else ""},
        allowed=EVERY_ROLE,
        denied=None,
        check=node_check(kind),
        scope="case",
        outside=Null(),
        aim=money_on_world_case(kind),
    )


# ---- The declarations ---------------------------------------------------------------------------

PAYMENT_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="postPayment",
        field="postPayment",
        document=POST,
        variables=post_variables,
        allowed=roles_holding("payment:post"),
        permission="payment:post",
        denied=Forbidden("payment:post"),
        check=check_post,
        # Only roles that see every case may post: there is no case outside their reach.
        scope="case",
        outside=Refused("NotFoundError", "DEBT_NOT_FOUND", "debtId", "payment.post"),
        fresh=fresh_debt,
        snapshot=money_state,
    ),
    Operation(
        name="reversePayment",
        field="reversePayment",
        document=REVERSE,
        variables=reverse_variables,
        allowed=roles_holding("payment:reverse"),
        permission="payment:reverse",
        denied=Forbidden("payment:reverse"),
        check=check_reverse,
        scope="case",
        outside=Refused("NotFoundError", "PAYMENT_NOT_FOUND", "paymentId", "payment.reverse"),
        fresh=fresh_payment,
        snapshot=money_state,
    ),
    Operation(
        name="recordPromise",
        field="recordPromise",
        document=RECORD,
        variables=record_variables,
        allowed=roles_holding("promise:record"),
        permission="promise:record",
        denied=Forbidden("promise:record"),
        check=check_record,
        scope="case",
        outside=Refused("NotFoundError", "CASE_NOT_FOUND", "caseId", "promise.record"),
        fresh=case_to_work,
        snapshot=money_state,
    ),
    node_of("Payment"),
    node_of("PromiseToPay"),
)
