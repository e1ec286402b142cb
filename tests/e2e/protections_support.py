"""Shared pieces of the complaint and flag tests: documents and small senders."""

from __future__ import annotations

from typing import Any

from tests.factories import global_id
from tests.helpers import Gql

PAYLOAD = "__typename ... on UserError { code message field }"
COMPLAINT_FIELDS = """
  id kind channel written description status filedAt resolvedAt resolution daysToResolve
  filedBy { login } resolvedBy { login }
"""
FILE = f"""
mutation($input: FileComplaintInput!) {{
  r: fileComplaint(input: $input) {{
    {PAYLOAD}
    ... on FileComplaintSuccess {{ complaint {{ {COMPLAINT_FIELDS} }} case {{ id }} }}
  }}
}}
"""
RESOLVE = f"""
mutation($input: ResolveComplaintInput!) {{
  r: resolveComplaint(input: $input) {{
    {PAYLOAD}
    ... on ResolveComplaintSuccess {{ complaint {{ {COMPLAINT_FIELDS} }} case {{ id }} }}
  }}
}}
"""
FLAG_FIELDS = "flag evidenceRef note setAt reviewOn setBy { login }"
FLAG = f"""
mutation($input: FlagBorrowerInput!) {{
  r: flagBorrower(input: $input) {{
    {PAYLOAD}
    ... on FlagBorrowerSuccess {{
      borrowerFlag {{ {FLAG_FIELDS} }} borrower {{ id flags {{ flag }} }}
    }}
  }}
}}
"""
UNFLAG = f"""
mutation($input: UnflagBorrowerInput!) {{
  r: unflagBorrower(input: $input) {{
    {PAYLOAD} ... on UnflagBorrowerSuccess {{
      borrowerFlag {{ flag liftedAt }} borrower {{ id flags {{ flag }} }}
    }}
  }}
}}
"""
CASE_PROTECTIONS = f"""
query($id: ID!) {{
  r: case(id: $id) {{
    daysPastDue collectionClockDays openedOn
    complaints {{ {COMPLAINT_FIELDS} }}
    borrower {{ flags {{ {FLAG_FIELDS} }} }}
    timeline(first: 20) {{ edges {{ node {{ kind summary }} }} }}
  }}
}}
"""
PLACE = f"""
mutation($input: PlaceWithAgencyInput!) {{
  r: placeWithAgency(input: $input) {{
    {PAYLOAD} ... on PlaceWithAgencySuccess {{ case {{ id }} }}
  }}
}}
"""


async def result(gql: Gql, login: str, document: str, variables: dict[str, Any]) -> Any:
    """Returns ``r`` of a response without errors."""
    data = await gql(login, document, variables)
    return data["r"]


async def file_complaint(
    gql: Gql, login: str, case_gid: str, kind: str = "COMPLAINT", **extra: Any
) -> Any:
    values = {
        "caseId": case_gid,
        "kind": kind,
        "channel": "PHONE",
        "written": False,
        "description": "The collector called four times in one evening.",
        **extra,
    }
    return await result(gql, login, FILE, {"input": values})


async def flag(gql: Gql, login: str, borrower_id: int, flag_kind: str, **extra: Any) -> Any:
    values: dict[str, Any] = {
        "borrowerId": global_id("Borrower", borrower_id),
        "flag": flag_kind,
        "evidenceRef": "DOC-1",
        "reviewOn": "2099-01-01",
        **extra,
    }
    return await result(gql, login, FLAG, {"input": values})
