"""evidencePack over HTTP: the zip downloaded from its URL, every part hashed and compared with
the zip's manifest and the GraphQL answer; regeneration for the same state gives the same bytes;
a new payment changes the payment part; masked for a manager, clear for legal on a LEGAL case;
the reason required and audited with the pack; the download's refusals (401, 404)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.settings import Settings
from store import tables
from tests.e2e.contacts_support import audit_of, past_contact, point
from tests.e2e.payment_cases import POST
from tests.factories import Factory, MadeCase, global_id, writing
from tests.helpers import Gql, assert_forbidden

PACK = """
query($caseId: ID!, $reasonText: String!) {
  r: evidencePack(caseId: $caseId, reasonText: $reasonText) {
    sha256 downloadUrl manifest { name sha256 bytes }
  }
}
"""
PARTS = [
    "contacts.json",
    "contract.json",
    "legal-actions.json",
    "legal-referrals.json",
    "notices.json",
    "payments.json",
    "promises.json",
    "restructuring-instalments.json",
    "restructurings.json",
    "schedule.json",
]
ep, ev = tables.evidence_packs.c, tables.case_events.c


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


async def staff_id(engine: AsyncEngine, login: str) -> int:
    s = tables.staff.c
    async with engine.connect() as conn:
        return int((await conn.execute(select(s.id).where(s.login == login))).scalar_one())


async def legal_case(factory: Factory, engine: AsyncEngine, debts: int = 1) -> MadeCase:
    """A case in stage LEGAL with a record in every part: a call to a phone (with notes and a
    recording), a delivered legal notice, a letter received (not a notice sent), a demand letter
    the outbox sent with its delivery receipt, a promise, a settlement with a plan's instalment,
    a referral and a legal action."""
    made = await factory.case(stage="LEGAL", classification="SEVERE", debts=debts)
    case = made.case
    phone = await point(factory, made.borrower.id)
    at = datetime(2026, 3, 2, 3, 4, 5, tzinfo=UTC)
    collector = await staff_id(engine, "collector1")
    call = await past_contact(
        factory, case, at, point_id=phone.id, outcome="REFUSED_TO_PAY", staff_id=collector
    )
    await past_contact(
        factory, case, at + timedelta(days=3), point_id=None, outcome="DELIVERED",
        channel="LEGAL_NOTICE",
    )  # fmt: skip
    await past_contact(
        factory, case, at + timedelta(days=4), point_id=None, outcome="DELIVERED",
        channel="LETTER", direction="INBOUND",
    )  # fmt: skip
    manager = await staff_id(engine, "manager")
    street = "上海市浦东新区证据路1号"
    address = await point(factory, made.borrower.id, kind="ADDRESS", value=street)
    letter = await factory._insert(
        tables.notices,
        {
            "case_id": case.id, "borrower_id": made.borrower.id, "contact_point_id": address.id,
            "channel": "LETTER", "party": "BORROWER", "template": "DEMAND_LETTER",
            "template_version": "2026.1", "language": "zh", "status": "DELIVERED",
            "created_at": at + timedelta(days=5), "sent_at": at + timedelta(days=5, hours=1),
            "delivered_at": at + timedelta(days=7), "provider_ref": "post-001",
            "subject": "还款通知书", "body": "请还款", "body_digest": "ab" * 32, "attempts": 1,
            "version": 3,
        },
    )  # fmt: skip
    await factory._insert(
        tables.notice_receipts,
        {
            "notice_id": letter.id, "status": "DELIVERED", "delivered_at": at + timedelta(days=7),
            "provider_ref": "post-001", "received_at": at + timedelta(days=7, hours=1),
            "recorded_by": manager,
        },
    )  # fmt: skip
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.contacts)
            .where(tables.contacts.c.id == call.id)
            .values(notes="said they will never pay", recording_ref="rec-001")
        )
    await factory._insert(
        tables.promises,
        {
            "case_id": case.id, "contact_id": call.id, "staff_id": collector,
            "amount": Decimal("500.00"), "currency": "CNY", "promised_on": date(2026, 3, 2),
            "due_date": date(2026, 3, 9), "grace_days": 2, "status": "BROKEN",
            "paid_amount": Decimal("0.00"), "created_at": at, "resolved_at": at + timedelta(9),
            "recorded_by": collector, "version": 2,
        },
    )  # fmt: skip
    plan = await factory._insert(
        tables.restructurings,
        {
            "case_id": case.id, "kind": "INSTALMENT_PLAN", "status": "BROKEN", "currency": "CNY",
            "balance": Decimal("21000.00"), "concession": Decimal("0.00"),
            "replaced_amount": Decimal("3000.00"), "capitalised_interest": Decimal("0.00"),
            "grace_days": 5, "reason": "hardship", "proposed_by": collector,
            "proposed_at": at, "decided_by": manager, "decided_at": at + timedelta(hours=2),
            "payments_in_row": 0, "paid_amount": Decimal("0.00"), "version": 3,
        },
    )  # fmt: skip
    await factory._insert(
        tables.restructuring_instalments,
        {
            "restructuring_id": plan.id, "sequence": 1, "due_date": date(2026, 4, 1),
            "amount": Decimal("3000.00"), "amount_paid": Decimal("0.00"),
        },
    )  # fmt: skip
    await factory._insert(
        tables.legal_referrals,
        {
            "case_id": case.id, "status": "APPROVED", "reason": "no payment in 120 days",
            "conditions": [{"condition": "DPD_AT_LEAST", "passed": True}],
            "referred_by": collector, "referred_at": at + timedelta(days=10),
            "decided_by": manager, "decided_at": at + timedelta(days=11), "version": 2,
        },
    )  # fmt: skip
    await factory._insert(
        tables.legal_actions,
        {
            "case_id": case.id, "kind": "PAYMENT_ORDER", "step": "FILED",
            "body": "浦东新区人民法院", "reference": "(2026)沪0115民督1号",
            "occurred_on": date(2026, 4, 20), "recorded_by": manager,
            "recorded_at": at + timedelta(days=50),
        },
    )  # fmt: skip
    return made


async def generate(
    gql: Gql, login: str, made: MadeCase, reason: str = "court filing"
) -> tuple[dict[str, Any], str]:
    """The pack's GraphQL answer and the request's id."""
    response = await gql.raw(login, PACK, {"caseId": made.gid, "reasonText": reason})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["r"], response.headers["x-request-id"]


async def download(client: httpx.AsyncClient, gql: Gql, login: str | None, url: str) -> Any:
    headers = {"Authorization": f"Bearer {gql.token(login)}"} if login else {}
    return await client.get(url, headers=headers)


async def opened(client: httpx.AsyncClient, gql: Gql, login: str, pack: dict[str, Any]) -> Any:
    """The downloaded zip, checked against its manifest and the GraphQL answer; its files."""
    response = await download(client, gql, login, pack["downloadUrl"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith('attachment; filename="evidence-')
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(["manifest.json", *PARTS])
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr == 0o100644 << 16
    files = {info.filename: archive.read(info) for info in infos}
    manifest = json.loads(files["manifest.json"])
    hashed = [
        {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        for name, data in sorted(files.items())
        if name != "manifest.json"
    ]
    assert manifest["parts"] == hashed
    assert pack["manifest"] == hashed
    assert hashlib.sha256(files["manifest.json"]).hexdigest() == pack["sha256"]
    return manifest, {name: json.loads(data) for name, data in files.items()}


async def test_the_manifest_hashes_the_parts_and_regeneration_gives_the_same_pack(
    gql: Gql, client: httpx.AsyncClient, engine: AsyncEngine, factory: Factory
) -> None:
    made = await legal_case(factory, engine)
    first, _ = await generate(gql, "legal1", made)
    manifest, files = await opened(client, gql, "legal1", first)
    assert (manifest["caseReference"], manifest["personalData"]) == (made.case.reference, "CLEAR")
    assert manifest["format"] == "arrears-evidence-pack/2" and manifest["freeText"] is True

    contract = files["contract.json"]
    assert contract["case"]["reference"] == made.case.reference
    assert contract["case"]["stage"] == "LEGAL"
    debt = made.debts[0]
    assert contract["debts"] == [
        {
            "id": debt.id, "accountNumber": debt.account_number, "productType": "CONSUMER_LOAN",
            "openedOn": debt.opened_on.isoformat(), "currency": "CNY",
            "principal": "20000.00", "interest": "800.00", "penalty": "120.50", "fee": "50.00",
            "status": "DELINQUENT", "balancesAsOf": None,
        }
    ]  # fmt: skip
    borrower = made.borrower
    assert contract["borrower"]["nationalId"] == borrower.national_id  # legal: in clear
    assert contract["borrower"]["phone"] == borrower.phone
    assert [row["sequence"] for row in files["schedule.json"]] == [1, 2, 3]
    assert files["schedule.json"][0]["amountDue"] == "1500.00"
    contacts = files["contacts.json"]
    assert [(c["channel"], c["direction"], c["outcome"]) for c in contacts] == [
        ("PHONE", "OUTBOUND", "REFUSED_TO_PAY"), ("LEGAL_NOTICE", "OUTBOUND", "DELIVERED"),
        ("LETTER", "INBOUND", "DELIVERED"),
    ]  # fmt: skip
    assert contacts[0]["notes"] == "said they will never pay"  # legal works cases: reads notes
    assert contacts[0]["at"] == "2026-03-02T03:04:05Z"
    assert contacts[0]["contactPointKind"] == "PHONE"
    notices = files["notices.json"]
    assert notices["logged"] == [contacts[1]]  # the letter received is not a notice sent
    [letter] = notices["outbox"]
    receipt = letter.pop("receipts")
    assert letter == {
        "id": letter["id"], "channel": "LETTER", "party": "BORROWER", "template": "DEMAND_LETTER",
        "templateVersion": "2026.1", "language": "zh", "status": "DELIVERED", "rule": None,
        "createdAt": "2026-03-07T03:04:05Z", "sentAt": "2026-03-07T04:04:05Z",
        "deliveredAt": "2026-03-09T03:04:05Z", "failedAt": None, "providerRef": "post-001",
        "subject": "还款通知书", "body": "请还款",  # legal sees the address: the text in clear
        "bodyDigest": "ab" * 32, "attempts": 1, "contactPointKind": "ADDRESS",
        "contactPoint": "上海市浦东新区证据路1号",  # legal on a LEGAL case: in clear
    }  # fmt: skip
    assert receipt == [
        {
            "id": receipt[0]["id"], "status": "DELIVERED", "deliveredAt": "2026-03-09T03:04:05Z",
            "providerRef": "post-001", "receivedAt": "2026-03-09T04:04:05Z",
            "recordedBy": await staff_id(engine, "manager"),
        }
    ]  # fmt: skip
    assert [p["status"] for p in files["promises.json"]] == ["BROKEN"]
    assert files["promises.json"][0]["amount"] == "500.00"
    assert [r["kind"] for r in files["restructurings.json"]] == ["INSTALMENT_PLAN"]
    assert files["restructuring-instalments.json"][0]["amount"] == "3000.00"
    assert files["legal-referrals.json"][0]["conditions"] == [
        {"condition": "DPD_AT_LEAST", "passed": True}
    ]
    assert files["legal-actions.json"][0]["reference"] == "(2026)沪0115民督1号"
    assert manifest["fields"] == {
        "address": True, "email": True, "national_id": True, "phone": True,
    }  # fmt: skip
    assert files["payments.json"] == []

    # The same state again: the same parts, the same hash, byte for byte.
    second, _ = await generate(gql, "legal1", made, reason="a second copy for the lawyer")
    assert second["sha256"] == first["sha256"]
    assert second["manifest"] == first["manifest"]
    assert second["downloadUrl"] != first["downloadUrl"]  # stored again, as its own pack
    again, _ = await opened(client, gql, "legal1", second)
    assert again == manifest


async def test_a_new_payment_changes_the_payment_part(
    gql: Gql, client: httpx.AsyncClient, engine: AsyncEngine, factory: Factory
) -> None:
    made = await legal_case(factory, engine)
    before, _ = await generate(gql, "manager", made)
    posted = await gql(
        "manager",
        POST,
        {
            "input": {
                "debtId": global_id("Debt", made.debts[0].id),
                "amount": "300.00",
                "currency": "CNY",
                "paidAt": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                "reference": f"EV-{uuid.uuid4().hex[:12]}",
            }
        },
    )
    assert posted["r"]["__typename"] == "PostPaymentSuccess", posted
    after, _ = await generate(gql, "manager", made)
    assert after["sha256"] != before["sha256"]
    old = {p["name"]: p["sha256"] for p in before["manifest"]}
    new = {p["name"]: p["sha256"] for p in after["manifest"]}
    changed = sorted(name for name in PARTS if old[name] != new[name])
    # The payment, the instalment it paid and the balance moved; nothing else did.
    assert changed == ["contract.json", "payments.json", "schedule.json"]
    _, files = await opened(client, gql, "manager", after)
    [payment] = files["payments.json"]
    assert (payment["amount"], payment["reversed"], payment["accountNumber"]) == (
        "300.00", False, made.debts[0].account_number,
    )  # fmt: skip


async def test_masked_for_a_manager_and_clear_for_legal_on_a_legal_case(
    gql: Gql, client: httpx.AsyncClient, engine: AsyncEngine, factory: Factory
) -> None:
    made = await legal_case(factory, engine)
    masked, masked_request = await generate(gql, "manager", made)
    clear, clear_request = await generate(gql, "legal1", made)
    assert masked["sha256"] != clear["sha256"]
    manifest, files = await opened(client, gql, "manager", masked)
    assert manifest["personalData"] == "MASKED"
    borrower = made.borrower
    shown = files["contract.json"]["borrower"]
    national = borrower.national_id
    assert shown["nationalId"] == f"{national[:3]}****{national[-4:]}"
    assert shown["phone"] == f"{borrower.phone[:3]}****{borrower.phone[-4:]}"
    assert shown["address"] == f"{borrower.city}{borrower.district}****"
    assert shown["email"].endswith("@example.org") and shown["email"] != borrower.email
    phone = files["contacts.json"][0]["contactPoint"]
    assert "****" in phone
    assert national not in json.dumps(files, ensure_ascii=False)
    _, legal_files = await opened(client, gql, "legal1", clear)
    assert legal_files["contract.json"]["borrower"]["nationalId"] == national
    assert "****" not in legal_files["contacts.json"][0]["contactPoint"]
    # The outbox's letter went to an address: masked entirely for the manager, and what it
    # said with it (only its digest binds the text).
    masked_letter = files["notices.json"]["outbox"][0]
    assert masked_letter["contactPoint"] == "****"
    assert (masked_letter["subject"], masked_letter["body"]) == (None, None)
    assert masked_letter["bodyDigest"] == "ab" * 32
    assert "****" not in legal_files["notices.json"]["outbox"][0]["contactPoint"]
    assert legal_files["notices.json"]["outbox"][0]["body"] == "请还款"
    # The parts without personal data are the same for both.
    same = {p["name"]: p["sha256"] for p in masked["manifest"]}
    for part in clear["manifest"]:
        if part["name"] not in ("contract.json", "contacts.json", "notices.json"):
            assert same[part["name"]] == part["sha256"], part["name"]
    # Each audit entry says whether personal data was in clear.
    for request_id, is_clear in ((masked_request, False), (clear_request, True)):
        [entry] = [e for e in await audit_of(engine, request_id) if e.action == "evidence.generate"]
        assert entry.changes["clear"] is is_clear
        assert {f["name"]: f["clear"] for f in entry.fields} == {
            "national_id": is_clear, "phone": is_clear, "email": is_clear, "address": is_clear,
        }  # fmt: skip


async def test_generation_is_audited_with_its_reason_and_stored_with_its_timeline_entry(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await legal_case(factory, engine)
    pack, request_id = await generate(gql, "legal1", made, reason="  filing at the court  ")
    [entry] = [e for e in await audit_of(engine, request_id) if e.action == "evidence.generate"]
    pk = int(pack["downloadUrl"].rsplit("/", 1)[1])
    assert (entry.outcome, entry.actor_login, entry.reason_text) == (
        "ALLOWED", "legal1", "filing at the court",
    )  # fmt: skip
    assert entry.case_ids == [made.case.id]
    assert entry.borrower_ids == [made.borrower.id]
    assert entry.resource_ids == [global_id("EvidencePack", pk)]
    assert entry.changes == {
        "caseReference": made.case.reference, "sha256": pack["sha256"], "clear": True,
        "freeText": True, "parts": len(PARTS),
    }  # fmt: skip
    async with engine.connect() as conn:
        row = (await conn.execute(select(tables.evidence_packs).where(ep.id == pk))).one()
        events = (
            await conn.execute(
                select(ev.name, ev.data).where(ev.case_id == made.case.id).order_by(ev.id)
            )
        ).all()
    assert (row.case_id, row.sha256, row.clear) == (made.case.id, pack["sha256"], True)
    assert row.manifest["parts"] == pack["manifest"]  # the zip's manifest.json, as stored
    assert row.manifest["fields"] == {
        "address": True, "email": True, "national_id": True, "phone": True,
    }  # fmt: skip
    assert [(name, data) for name, data in events] == [
        ("EvidencePackGenerated", {"pack_id": pk, "sha256": pack["sha256"], "clear": True})
    ]


TIMELINE = """
query($id: ID!) { case(id: $id) { timeline(first: 5) { edges { node { kind summary } } } } }
"""


async def test_the_generation_shows_on_the_timeline(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(stage="LEGAL", classification="SEVERE")
    pack, _ = await generate(gql, "manager", made)
    data = await gql("manager", TIMELINE, {"id": made.gid})
    nodes = [e["node"] for e in data["case"]["timeline"]["edges"]]
    summary = f"Evidence pack generated (personal data masked), SHA-256 {pack['sha256'][:12]}…"
    assert nodes[0] == {"kind": "EVIDENCE_PACK", "summary": summary}


@pytest.mark.parametrize("reason", ["", "   "])
async def test_a_reason_is_required(
    gql: Gql, engine: AsyncEngine, factory: Factory, reason: str
) -> None:
    made = await factory.case(stage="LEGAL", classification="SEVERE")
    response = await gql.raw("legal1", PACK, {"caseId": made.gid, "reasonText": reason})
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "REASON_REQUIRED", "field": "reasonText"}
    entries = await audit_of(engine, response.headers["x-request-id"])
    denied = [(e.action, e.outcome, e.changes) for e in entries if e.outcome == "DENIED"]
    assert ("evidence.generate", "DENIED", {"refused": "REASON_REQUIRED"}) in denied
    async with engine.connect() as conn:
        stored = (await conn.execute(select(ep.id).where(ep.case_id == made.case.id))).all()
    assert stored == []


async def test_a_case_outside_the_scope_is_not_found_and_other_roles_are_forbidden(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(stage="COLLECTION", assignee="collector1")
    response = await gql.raw("legal1", PACK, {"caseId": made.gid, "reasonText": "court"})
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["CASE_NOT_FOUND"]
    assert_forbidden(await gql.errors("collector1", PACK, {"caseId": made.gid,
                                                             "reasonText": "court"}))  # fmt: skip
    async with engine.connect() as conn:
        stored = (await conn.execute(select(ep.id).where(ep.case_id == made.case.id))).all()
    assert stored == []


async def refused_download(
    client: httpx.AsyncClient, gql: Gql, engine: AsyncEngine, login: str, path: str, reason: str
) -> None:
    """The download is the audited 404, whatever the reason, which only the audit entry says."""
    response = await download(client, gql, login, path)
    assert response.status_code == 404, (login, response.text)
    assert response.json()["errors"][0]["extensions"]["code"] == "EVIDENCE_PACK_NOT_FOUND"
    assert "application/zip" not in response.headers["content-type"]
    entries = await audit_of(engine, response.headers["x-request-id"])
    assert [(e.action, e.outcome, e.actor_login, e.changes) for e in entries] == [
        (
            "evidence.download", "DENIED", login,
            {"reason": reason, "refused": "EVIDENCE_PACK_NOT_FOUND"},
        )
    ]  # fmt: skip


HISTORY = """
query($b: ID!) {
  accessHistory(borrowerId: $b, first: 10) {
    edges { node { action actorLogin outcome fields { name clear } } }
  }
}
"""


async def test_the_download_is_for_its_generator_while_the_case_is_in_scope(
    gql: Gql, client: httpx.AsyncClient, engine: AsyncEngine, factory: Factory, sql_counter: Any
) -> None:
    made = await legal_case(factory, engine)
    pack, _ = await generate(gql, "legal1", made)
    url = pack["downloadUrl"]
    pk = int(url.rsplit("/", 1)[1])

    unauthenticated = await download(client, gql, None, url)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    forged = await client.get(url, headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401

    async def refused(login: str, reason: str, path: str = url) -> None:
        await refused_download(client, gql, engine, login, path, reason)

    # May generate and sees the case, but the pack is legal1's (its content is never read).
    sql_counter.reset()
    await refused("manager", "NOT_YOURS")
    reads = [" ".join(s.split()) for s in sql_counter.statements if "evidence_packs.content" in s]
    assert reads and all("evidence_packs.generated_by =" in s for s in reads), reads
    await refused("collector1", "NO_PERMISSION")  # may not generate packs at all
    await refused("legal1", "NO_SUCH_PACK", f"/evidence-packs/{pk + 1_000_000}")

    ok = await download(client, gql, "legal1", url)
    assert ok.status_code == 200
    [entry] = await audit_of(engine, ok.headers["x-request-id"])
    assert (entry.action, entry.outcome, entry.case_ids, entry.borrower_ids) == (
        "evidence.download", "ALLOWED", [made.case.id], [made.borrower.id],
    )  # fmt: skip
    assert entry.changes == {"sha256": pack["sha256"], "clear": True}
    clear = [
        {"name": "address", "clear": True}, {"name": "email", "clear": True},
        {"name": "national_id", "clear": True}, {"name": "phone", "clear": True},
    ]  # fmt: skip
    assert entry.fields == clear
    # So the download shows in the borrower's access history (entries with personal data).
    history = await gql("auditor1", HISTORY, {"b": global_id("Borrower", made.borrower.id)})
    seen = [e["node"] for e in history["accessHistory"]["edges"]]
    assert {"action": "evidence.download", "actorLogin": "legal1", "outcome": "ALLOWED",
            "fields": clear} in seen  # fmt: skip

    # Out of legal's scope once the case leaves the LEGAL stage: as if the pack did not exist.
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.cases).where(tables.cases.c.id == made.case.id).values(stage="COLLECTION")
        )
    await refused("legal1", "OUT_OF_SCOPE")


async def test_a_masked_download_lists_the_masked_fields_it_holds(
    gql: Gql, client: httpx.AsyncClient, engine: AsyncEngine, factory: Factory
) -> None:
    made = await legal_case(factory, engine)
    pack, _ = await generate(gql, "manager", made)
    ok = await download(client, gql, "manager", pack["downloadUrl"])
    assert ok.status_code == 200
    [entry] = await audit_of(engine, ok.headers["x-request-id"])
    assert entry.changes == {"sha256": pack["sha256"], "clear": False}
    assert entry.fields == [
        {"name": "address", "clear": False}, {"name": "email", "clear": False},
        {"name": "national_id", "clear": False}, {"name": "phone", "clear": False},
    ]  # fmt: skip


async def test_a_clear_pack_is_not_downloaded_once_its_generator_would_see_masks(
    gql: Gql, client: httpx.AsyncClient, engine: AsyncEngine, factory: Factory
) -> None:
    # Legal loses the role (now a manager: may still generate, sees the case, sees masks).
    made = await legal_case(factory, engine)
    lawyer = await factory.staff(roles=("legal",))
    pack, _ = await generate(gql, lawyer.login, made)
    assert (await download(client, gql, lawyer.login, pack["downloadUrl"])).status_code == 200
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.staff).where(tables.staff.c.id == lawyer.id).values(roles=["manager"])
        )
    await refused_download(
        client, gql, engine, lawyer.login, pack["downloadUrl"], "NO_LONGER_CLEAR"
    )
    # A legal manager keeps the case in scope when it leaves the LEGAL stage, but no longer
    # sees the borrower in clear: the clear pack is refused, a masked one still comes.
    other = await legal_case(factory, engine)
    both = await factory.staff(roles=("legal", "manager"))
    clear, _ = await generate(gql, both.login, other)
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.cases)
            .where(tables.cases.c.id == other.case.id)
            .values(stage="COLLECTION")
        )
    await refused_download(client, gql, engine, both.login, clear["downloadUrl"], "NO_LONGER_CLEAR")
    masked, _ = await generate(gql, both.login, other)
    assert masked["sha256"] != clear["sha256"]
    assert (await download(client, gql, both.login, masked["downloadUrl"])).status_code == 200


async def test_a_pack_is_downloaded_within_24_hours_of_its_generation(
    gql: Gql, client: httpx.AsyncClient, engine: AsyncEngine, factory: Factory
) -> None:
    made = await legal_case(factory, engine)
    pack, _ = await generate(gql, "legal1", made)
    pk = int(pack["downloadUrl"].rsplit("/", 1)[1])

    async def generated(ago: timedelta) -> None:
        async with writing(engine) as conn:
            await conn.execute(
                update(tables.evidence_packs)
                .where(ep.id == pk)
                .values(generated_at=datetime.now(UTC) - ago)
            )

    await generated(timedelta(hours=23, minutes=59))
    assert (await download(client, gql, "legal1", pack["downloadUrl"])).status_code == 200
    await generated(timedelta(hours=24, seconds=1))
    await refused_download(client, gql, engine, "legal1", pack["downloadUrl"], "EXPIRED")


@pytest.mark.parametrize("pk", [2**31, 2**63, 10**30])
async def test_an_id_no_row_can_have_is_the_audited_404(
    gql: Gql, client: httpx.AsyncClient, engine: AsyncEngine, pk: int
) -> None:
    path = f"/evidence-packs/{pk}"
    await refused_download(client, gql, engine, "legal1", path, "NO_SUCH_PACK")
    await refused_download(client, gql, engine, "collector1", path, "NO_SUCH_PACK")


async def test_a_reference_outside_latin_1_names_the_file_both_ways(
    gql: Gql, client: httpx.AsyncClient, engine: AsyncEngine, factory: Factory
) -> None:
    made = await legal_case(factory, engine)
    reference = f'沪-{uuid.uuid4().hex[:8]}"é'
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.cases)
            .where(tables.cases.c.id == made.case.id)
            .values(reference=reference)
        )
    pack, _ = await generate(gql, "legal1", made)
    pk = int(pack["downloadUrl"].rsplit("/", 1)[1])
    response = await download(client, gql, "legal1", pack["downloadUrl"])
    assert response.status_code == 200, response.text
    fallback = f"evidence-_-{reference[2:10]}__-{pk}.zip"
    encoded = quote(f"evidence-{reference}-{pk}.zip", safe="")
    assert response.headers["content-disposition"] == (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    )
    assert unquote(encoded) == f"evidence-{reference}-{pk}.zip"


async def test_the_download_takes_the_same_request_guards_as_graphql(
    engine: AsyncEngine, settings: Settings, factory: Factory
) -> None:
    custom = settings.model_copy(update={"max_concurrent_per_caller": 1})
    app = create_app(custom, engine=engine)
    made = await legal_case(factory, engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://guards.test") as c:
            gql = Gql(c, custom)
            pack, _ = await generate(gql, "legal1", made)
            url = pack["downloadUrl"]
            # The caller's share: a request of legal1's still running, so this one is refused.
            slots = app.state.guards.slots
            slots.wait_seconds, slots.queue = 0.05, 0
            held = await slots.acquire("legal1")
            assert held is not None
            try:
                busy = await download(c, gql, "legal1", url)
            finally:
                await slots.release(held)
            assert busy.status_code == 429, busy.text
            assert busy.headers["Retry-After"] == "1"
            assert busy.json()["errors"][0]["extensions"]["code"] == "TOO_MANY_CONCURRENT_REQUESTS"
            assert "application/zip" not in busy.headers["content-type"]
            entries = await audit_of(engine, busy.headers["x-request-id"])
            assert [(e.action, e.outcome, e.reason_code) for e in entries] == [
                ("request.refused", "DENIED", "TOO_MANY_CONCURRENT_REQUESTS")
            ]
            # The process's share: the download waits for a running request to end.
            running: asyncio.Semaphore = app.state.guards.running
            held = custom.max_concurrent_requests
            for _ in range(held):
                await running.acquire()
            waiting = asyncio.ensure_future(download(c, gql, "legal1", url))
            try:
                await asyncio.sleep(0.2)
                assert not waiting.done()
            finally:
                for _ in range(held):
                    running.release()
            assert (await waiting).status_code == 200


async def test_several_packs_in_one_operation_are_refused_whole(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await legal_case(factory, engine)
    variables = {"caseId": made.gid, "reasonText": "court"}
    aliases = """
    query($caseId: ID!, $reasonText: String!) {
      a: evidencePack(caseId: $caseId, reasonText: $reasonText) { sha256 }
      ...More
    }
    fragment More on Query { b: evidencePack(caseId: $caseId, reasonText: $reasonText) { sha256 } }
    """
    response = await gql.raw("legal1", aliases, variables)
    body = response.json()
    assert body["data"] is None
    # Each is refused (the first refusal nulls the whole answer: one error may be all it shows).
    assert body["errors"] and {e["path"][0] for e in body["errors"]} <= {"a", "b"}
    for error in body["errors"]:
        assert error["extensions"] == {"code": "INVALID_INPUT", "field": "evidencePack"}
        assert "one evidencePack per request" in error["message"]
    entries = await audit_of(engine, response.headers["x-request-id"])
    generated = [(e.outcome, e.changes) for e in entries if e.action == "evidence.generate"]
    assert generated[:1] == [("DENIED", {"refused": "INVALID_INPUT"})]
    assert all(entry == generated[0] for entry in generated)
    async with engine.connect() as conn:
        stored = (await conn.execute(select(ep.id).where(ep.case_id == made.case.id))).all()
    assert stored == []
    # One per operation is fine.
    await generate(gql, "legal1", made)


async def test_the_masking_decision_is_read_after_the_case_is_locked(
    gql: Gql, engine: AsyncEngine, factory: Factory, sql_counter: Any
) -> None:
    made = await legal_case(factory, engine)
    sql_counter.reset()
    await generate(gql, "legal1", made)
    statements = [" ".join(s.split()) for s in sql_counter.statements]
    lock = next(
        n for n, s in enumerate(statements) if "FOR UPDATE" in s or s.startswith("BEGIN IMMEDIATE")
    )
    legal_stage = [n for n, s in enumerate(statements) if "SELECT DISTINCT cases.borrower_id" in s]
    stored = next(n for n, s in enumerate(statements) if s.startswith("INSERT INTO evidence_packs"))
    assert legal_stage and all(lock < n < stored for n in legal_stage), statements


async def test_statements_do_not_grow_with_the_record(
    gql: Gql, engine: AsyncEngine, factory: Factory, sql_counter: Any
) -> None:
    small = await factory.case(stage="LEGAL", classification="SEVERE", instalments=1)
    large = await legal_case(factory, engine, debts=3)
    async with writing(engine) as conn:
        for n in range(5):
            await conn.execute(
                insert(tables.contacts).values(
                    case_id=large.case.id, borrower_id=large.borrower.id,
                    at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n), channel="SMS",
                    direction="OUTBOUND", party="BORROWER", outcome="DELIVERED", notes="",
                    source="LOGGED", blocked=False, breaches=[], consented=False,
                )
            )  # fmt: skip
    sql_counter.reset()
    await generate(gql, "manager", small)
    few = sql_counter.count
    sql_counter.reset()
    await generate(gql, "manager", large)
    assert sql_counter.count == few
    assert len(large.debts) == 3
