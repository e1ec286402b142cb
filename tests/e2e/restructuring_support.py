"""Shared pieces of the restructuring tests: documents and small senders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.helpers import Gql, portfolio_today

PAYLOAD = "__typename ... on UserError { code message field }"
FIELDS = """
  id kind status currency requiredAuthority reason decisionReason proposedAt decidedAt
  balance { amount currency } concession { amount } settlementAmount { amount } settleBy
  waiverAmount { amount } replacedAmount { amount } capitalisedInterest { amount }
  total { amount } graceDays paymentsInRow
  instalments { sequence dueDate amount { amount } amountPaid { amount } }
  proposedBy { login } decidedBy { login } case { id version }
"""
PROPOSE = f"""
mutation($input: ProposeRestructuringInput!) {{
  r: proposeRestructuring(input: $input) {{
    {PAYLOAD} ... on ProposeRestructuringSuccess {{ restructuring {{ {FIELDS} }} }}
  }}
}}
"""
APPROVE = f"""
mutation($input: ApproveRestructuringInput!) {{
  r: approveRestructuring(input: $input) {{
    {PAYLOAD} ... on ApproveRestructuringSuccess {{ restructuring {{ {FIELDS} }} }}
  }}
}}
"""
REJECT = f"""
mutation($input: RejectRestructuringInput!) {{
  r: rejectRestructuring(input: $input) {{
    {PAYLOAD} ... on RejectRestructuringSuccess {{ restructuring {{ {FIELDS} }} }}
  }}
}}
"""
CASE = f"""
query($id: ID!) {{
  r: case(id: $id) {{
    version totalOutstanding {{ amount }} debts {{ penalty {{ amount }} }}
    restructurings {{ {FIELDS} }}
    timeline(first: 20) {{ edges {{ node {{ kind summary }} }} }}
  }}
}}
"""


def ahead(days: int) -> str:
    """A portfolio-local date ``days`` from today, as GraphQL takes it."""
    return (portfolio_today() + timedelta(days=days)).isoformat()


async def send(gql: Gql, login: str, document: str, variables: dict[str, Any]) -> Any:
    return (await gql(login, document, variables))["r"]


async def propose(gql: Gql, login: str, case_gid: str, kind: str, **terms: Any) -> Any:
    terms.setdefault("reason", "borrower lost their job; can pay this")
    return await send(gql, login, PROPOSE, {"input": {"caseId": case_gid, "kind": kind, **terms}})


async def approve(gql: Gql, login: str, restructuring_id: str) -> Any:
    return await send(gql, login, APPROVE, {"input": {"restructuringId": restructuring_id}})


async def reject(gql: Gql, login: str, restructuring_id: str, reason: str = "not enough") -> Any:
    variables = {"input": {"restructuringId": restructuring_id, "reason": reason}}
    return await send(gql, login, REJECT, variables)


def settlement(amount: str, days: int = 30) -> dict[str, Any]:
    return {"settlementAmount": amount, "settleBy": ahead(days)}
