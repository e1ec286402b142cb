"""Access-matrix declaration of evidence packs (tests/operations.py joins it to OPERATIONS):
``evidencePack``.

Legal staff and managers generate packs (``evidence:generate``) on the cases they can see; legal
sees only cases in stage LEGAL, so another case is CASE_NOT_FOUND (a GraphQL error: the field is
a non-null query), as for a case that does not exist. Inside, the pack is stored, audited with its
reason, and downloadable by its generator: the zip's manifest hashes every part and the pack's
hash is the manifest's. Personal data inside is in clear for legal (the borrower is in legal
proceedings) and masked for a manager.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

from sqlalchemy import func, select

from store import tables
from tests.access import in_legal_proceedings
from tests.matrix import Cell, Failed, Forbidden, Operation, Target, roles_holding

PERMISSION = "evidence:generate"
REASON = "filing a payment order"
PACK = """
query($caseId: ID!, $reasonText: String!) {
  r: evidencePack(caseId: $caseId, reasonText: $reasonText) {
    sha256 downloadUrl manifest { name sha256 bytes }
  }
}
"""
ep, ev = tables.evidence_packs.c, tables.case_events.c


async def fresh_legal_case(cell: Cell) -> Target:
    """A new case in stage LEGAL: inside the scope of every role that may generate packs."""
    return Target(case=await cell.world.factory.case(stage="LEGAL", classification="SEVERE"))


async def pack_state(cell: Cell) -> tuple[Any, ...]:
    """What a refusal leaves alone: the case's stored packs and its timeline."""
    case_id = cell.target.made.case.id
    async with cell.engine.connect() as conn:
        packs = (await conn.execute(select(ep.id).where(ep.case_id == case_id))).all()
        stmt = select(func.count()).where(ev.case_id == case_id)
        events = (await conn.execute(stmt)).scalar_one()
    return tuple(packs), events


async def check_pack(op: Operation, cell: Cell) -> None:
    made = cell.target.made
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    async with cell.engine.connect() as conn:
        clear = cell.role.clear_in_legal_proceedings and await in_legal_proceedings(
            conn, made.borrower.id
        )
        row = (
            await conn.execute(select(tables.evidence_packs).where(ep.case_id == made.case.id))
        ).one()
    assert result["downloadUrl"] == f"/evidence-packs/{row.id}"
    assert (result["sha256"], result["manifest"]) == (row.sha256, row.manifest["parts"])
    assert row.clear is clear
    assert set(row.manifest["fields"].values()) == {clear}
    # The zip from its URL, for the generator: every part hashed as the manifest says.
    token = cell.gql.token(cell.login)
    response = await cell.gql.client.get(
        result["downloadUrl"], headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    files = {name: archive.read(name) for name in archive.namelist()}
    manifest = files.pop("manifest.json")
    assert hashlib.sha256(manifest).hexdigest() == result["sha256"]
    assert (
        json.loads(manifest)["parts"]
        == result["manifest"]
        == [
            {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for name, data in sorted(files.items())
        ]
    )
    national_id = json.loads(files["contract.json"])["borrower"]["nationalId"]
    assert (national_id == made.borrower.national_id) is clear
    entries = await cell.entries(request_id)
    generated = [x for x in entries if x.action == "evidence.generate"]
    assert [(x.outcome, x.case_ids, x.borrower_ids, x.reason_text) for x in generated] == [
        ("ALLOWED", [made.case.id], [made.borrower.id], REASON)
    ]
    assert generated[0].changes["clear"] is clear


EVIDENCE_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="evidencePack",
        field="evidencePack",
        document=PACK,
        variables=lambda target: {"caseId": target.made.gid, "reasonText": REASON},
        allowed=roles_holding(PERMISSION),
        permission=PERMISSION,
        denied=Forbidden(PERMISSION),
        check=check_pack,
        scope="case",
        outside=Failed("CASE_NOT_FOUND"),
        fresh=fresh_legal_case,
        snapshot=pack_state,
    ),
)
