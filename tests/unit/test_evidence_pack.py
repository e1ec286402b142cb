"""The evidence pack's pure rules: canonical values, the manifest, a reproducible zip, free text
and notices; and the parts as a viewer may see them (masked by authz.masking)."""

from __future__ import annotations

import enum
import hashlib
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from api.evidence.parts import parts_of, still_clear
from domain.borrowers.model import Borrower
from domain.evidence import pack
from domain.timeline.entries import EVENT_KINDS, EntryKind, event_summary
from store.evidence_queries import CaseRecord

SHANGHAI = timezone(timedelta(hours=8))
MASKED = {"national_id": False, "phone": False}
CLEAR = {"national_id": True, "phone": True}


class Colour(enum.StrEnum):
    RED = "RED"


def documents(**changed: object) -> dict[str, object]:
    base: dict[str, object] = {name: [] for name in pack.PARTS}
    base[pack.CONTRACT] = {"case": {"reference": "AR-1"}, "borrower": {}, "debts": []}
    return {**base, **changed}


def test_canonical_values() -> None:
    assert pack.canonical(Decimal("12.5")) == "12.50"
    assert pack.canonical(Decimal("0")) == "0.00"
    assert pack.canonical(date(2026, 3, 1)) == "2026-03-01"
    instant = datetime(2026, 3, 1, 8, 0, tzinfo=SHANGHAI)
    assert pack.canonical(instant) == "2026-03-01T00:00:00Z"
    assert pack.canonical(Colour.RED) == "RED"
    assert pack.canonical({"b": [Decimal("1.00"), None, True]}) == {"b": ["1.00", None, True]}
    with pytest.raises(ValueError, match="timezone-aware"):
        pack.canonical(datetime(2026, 3, 1))
    with pytest.raises(TypeError, match="float"):
        pack.canonical(1.5)  # money is never a float


def test_encoding_is_canonical_json() -> None:
    data = pack.encode({"b": 1, "a": "上海"})
    assert data == '{\n  "a": "上海",\n  "b": 1\n}\n'.encode()
    assert pack.encode({"a": "上海", "b": 1}) == data  # key order does not matter


def test_the_same_parts_give_the_same_bytes_and_the_manifest_binds_them() -> None:
    one = pack.build(documents(), case_reference="AR-1", fields=MASKED, notes=True)
    two = pack.build(documents(), case_reference="AR-1", fields=MASKED, notes=True)
    assert one.content == two.content and one.sha256 == two.sha256
    archive = zipfile.ZipFile(io.BytesIO(one.content))
    names = [info.filename for info in archive.infolist()]
    assert names == sorted([*pack.PARTS, pack.MANIFEST])
    for info in archive.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.create_system == 3
    manifest = archive.read(pack.MANIFEST)
    assert manifest == one.manifest
    assert hashlib.sha256(manifest).hexdigest() == one.sha256
    listed = json.loads(manifest)
    assert listed == {
        "format": pack.FORMAT,
        "caseReference": "AR-1",
        "personalData": "MASKED",
        "fields": {"national_id": False, "phone": False},
        "freeText": True,
        "parts": [
            {
                "name": name,
                "sha256": hashlib.sha256(archive.read(name)).hexdigest(),
                "bytes": len(archive.read(name)),
            }
            for name in pack.PARTS
        ],
    }
    assert [(p.name, p.sha256, p.bytes) for p in one.parts] == [
        (p["name"], p["sha256"], p["bytes"]) for p in listed["parts"]
    ]


def test_a_changed_part_changes_its_hash_and_the_packs_only() -> None:
    before = pack.build(documents(), case_reference="AR-1", fields=MASKED, notes=True)
    row = {"id": 1, "amount": Decimal("300.00"), "paidAt": datetime(2026, 1, 1, tzinfo=UTC)}
    after = pack.build(
        documents(**{pack.PAYMENTS: [row]}), case_reference="AR-1", fields=MASKED, notes=True
    )
    changed = [a.name for a, b in zip(before.parts, after.parts, strict=True) if a != b]
    assert changed == [pack.PAYMENTS]
    assert before.sha256 != after.sha256
    # Clear or masked is part of what the pack's hash binds.
    clear = pack.build(documents(), case_reference="AR-1", fields=CLEAR, notes=True)
    assert clear.parts == before.parts and clear.sha256 != before.sha256


def test_a_pack_has_exactly_its_parts() -> None:
    parts = documents()
    del parts[pack.NOTICES]
    with pytest.raises(ValueError, match="exactly the parts"):
        pack.build(parts, case_reference="AR-1", fields=MASKED, notes=True)
    with pytest.raises(ValueError, match="exactly the parts"):
        pack.build(documents(extra=[]), case_reference="AR-1", fields=MASKED, notes=True)


def test_free_text() -> None:
    rows: list[dict[str, object]] = [
        {"id": 1, "channel": "PHONE", "notes": "n", "recordingRef": "r", "outcome": "NO_ANSWER"},
    ]
    assert pack.without_free_text(rows)[0] == {
        "id": 1, "channel": "PHONE", "notes": None, "recordingRef": None, "outcome": "NO_ANSWER",
    }  # fmt: skip


SENT: dict[str, object] = {
    "channel": "LEGAL_NOTICE", "direction": "OUTBOUND", "blocked": False, "outcome": "DELIVERED",
}  # fmt: skip


@pytest.mark.parametrize(
    ("changed", "notice"),
    [
        ({}, True),  # a legal notice sent, with its receipt
        ({"channel": "LETTER", "outcome": "FAILED"}, True),  # a letter that did not arrive
        ({"channel": "PHONE"}, False),  # not a notice channel
        ({"direction": "INBOUND"}, False),  # a letter received is not a notice sent
        ({"blocked": True, "outcome": None}, False),  # refused by the conduct rules: never sent
        ({"blocked": True}, False),
        ({"outcome": None}, False),  # no delivery receipt (yet)
    ],
)
def test_notices_are_the_notices_sent(changed: dict[str, object], notice: bool) -> None:
    row = {"id": 1, **SENT, **changed}
    assert pack.notices_of([row]) == ([row] if notice else [])


def test_the_manifest_names_each_field_and_whether_it_is_clear() -> None:
    some = pack.build(
        documents(), case_reference="AR-1", fields={"phone": False, "address": True}, notes=False
    )
    manifest = json.loads(some.manifest)
    assert manifest["fields"] == {"address": True, "phone": False}
    assert manifest["personalData"] == "CLEAR" and some.clear is True
    none = pack.build(documents(), case_reference="AR-1", fields=MASKED, notes=False)
    assert json.loads(none.manifest)["personalData"] == "MASKED" and none.clear is False


def test_the_timeline_entry() -> None:
    assert EVENT_KINDS["EvidencePackGenerated"] is EntryKind.EVIDENCE_PACK
    data = {"pack_id": 7, "sha256": "ab" * 32, "clear": True}
    assert event_summary(EntryKind.EVIDENCE_PACK, data) == (
        "Evidence pack generated (personal data in clear), SHA-256 abababababab…"
    )


# ---- the parts as a viewer sees them ---------------------------------------------------------

BORROWER = Borrower(
    full_name="张三",
    national_id="110101199003071234",
    phone="18612344530",
    email="zhang@example.com",
    address="北京市东城区某路1号",
    city="北京市",
    district="东城区",
    employer="某公司",
    income=Decimal("9000.00"),
    id=1,
)


def record() -> CaseRecord:
    call: dict[str, object] = {
        "id": 1, "channel": "PHONE", "contactPointKind": "PHONE", "contactPoint": "13800001111",
        "notes": "will pay", "recordingRef": "rec-1",
    }  # fmt: skip
    notice: dict[str, object] = {
        "id": 2, "channel": "LEGAL_NOTICE", "direction": "OUTBOUND", "blocked": False,
        "outcome": "DELIVERED", "contactPointKind": None, "contactPoint": None, "notes": "",
        "recordingRef": None,
    }  # fmt: skip
    return CaseRecord(
        case={"reference": "AR-1"},
        debts=[],
        schedule=[],
        payments=[{"id": 1, "reversalReason": "bounced"}],
        contacts=[call, notice],
        promises=[],
        restructurings=[{"id": 1, "reason": "hardship", "decisionReason": None}],
        restructuring_instalments=[],
        legal_referrals=[{"id": 1, "reason": "no payment", "decisionReason": "agreed"}],
        legal_actions=[
            {"id": 1, "kind": "PAYMENT_ORDER", "body": "某法院", "reference": "(2026)1"}
        ],
        notices=[
            {
                "id": 9,
                "channel": "SMS",
                "contactPointKind": "PHONE",
                "contactPoint": "13900002222",
                "receipts": [],
            }
        ],
    )


def contract_borrower(parts: Any) -> dict[str, object]:
    contract = parts.documents[pack.CONTRACT]
    assert isinstance(contract, dict)
    shown: dict[str, object] = contract["borrower"]
    return shown


@pytest.mark.parametrize(
    ("roles", "legal_stage", "clear"),
    [
        (("legal",), True, True),  # legal, the borrower in legal proceedings: in clear
        (("legal",), False, False),  # legal otherwise: masked
        (("manager",), True, False),  # a manager always sees masks
        (("admin",), True, False),
    ],
)
def test_personal_data_is_masked_as_the_api_masks_it(
    roles: tuple[str, ...], legal_stage: bool, clear: bool
) -> None:
    parts = parts_of(record(), BORROWER, roles, legal_stage=legal_stage, notes=True)
    assert parts.clear is clear
    assert parts.fields == {"national_id": clear, "phone": clear, "email": clear, "address": clear}
    shown = contract_borrower(parts)
    if clear:
        assert shown["nationalId"] == "110101199003071234"
        assert shown["address"] == "北京市东城区某路1号"
    else:
        assert shown == {
            "fullName": "张三",
            "timeZone": "Asia/Shanghai",
            "nationalId": "110****1234",
            "phone": "186****4530",
            "email": "z***@example.com",
            "address": "北京市东城区****",
        }
    contacts = parts.documents[pack.CONTACTS]
    assert isinstance(contacts, list)
    assert contacts[0]["contactPoint"] == ("13800001111" if clear else "138****1111")
    # The outbox's notices are masked as the contacts are; the logged ones are the contacts'.
    assert parts.documents[pack.NOTICES] == {
        "outbox": [
            {"id": 9, "channel": "SMS", "contactPointKind": "PHONE",
             "contactPoint": "13900002222" if clear else "139****2222", "receipts": []},
        ],
        "logged": [contacts[1]],
    }  # fmt: skip


def test_free_text_only_for_those_who_read_it() -> None:
    read = parts_of(record(), BORROWER, ("manager",), legal_stage=False, notes=True)
    hidden = parts_of(record(), BORROWER, ("manager",), legal_stage=False, notes=False)
    assert read.documents[pack.PAYMENTS] == [{"id": 1, "reversalReason": "bounced"}]
    assert hidden.documents[pack.PAYMENTS] == [{"id": 1, "reversalReason": None}]
    contacts = hidden.documents[pack.CONTACTS]
    assert isinstance(contacts, list)
    assert (contacts[0]["notes"], contacts[0]["recordingRef"]) == (None, None)
    assert hidden.documents[pack.RESTRUCTURINGS] == [
        {"id": 1, "reason": None, "decisionReason": None}
    ]

    assert hidden.documents[pack.LEGAL_REFERRALS] == [
        {"id": 1, "reason": None, "decisionReason": None}
    ]
    # A legal action's body and reference are free text, as the API treats them.
    assert hidden.documents[pack.LEGAL_ACTIONS] == [
        {"id": 1, "kind": "PAYMENT_ORDER", "body": None, "reference": None}
    ]
    assert read.documents[pack.LEGAL_ACTIONS] == [
        {"id": 1, "kind": "PAYMENT_ORDER", "body": "某法院", "reference": "(2026)1"}
    ]


@pytest.mark.parametrize(
    ("fields", "roles", "legal_stage", "still"),
    [
        ({"national_id": True, "phone": True}, ("legal",), True, True),
        ({"national_id": True, "phone": True}, ("legal",), False, False),  # left legal stage
        ({"national_id": True, "phone": True}, ("manager",), True, False),  # role changed
        ({"national_id": True}, ("legal", "manager"), True, True),
        ({"national_id": True}, ("legal", "manager"), False, False),
        ({"national_id": False, "phone": False}, ("manager",), False, True),  # nothing clear
    ],
)
def test_a_clear_pack_stays_clear_only_while_its_viewer_would_see_it_clear(
    fields: dict[str, bool], roles: tuple[str, ...], legal_stage: bool, still: bool
) -> None:
    assert still_clear(fields, roles, legal_stage=legal_stage) is still
