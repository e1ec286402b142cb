"""flagBorrower and unflagBorrower over HTTP: each flag's effects (the flag-effects table) seen
through contactAllowance, startContact, logContact, placeWithAgency and allocateCases on every
case of the borrower; lifting releases them; every refusal with its code and field; the audit
entry, the timelines, and the lifted row that stays."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.flags.effects import FLAG_RULES, Effect
from domain.flags.errors import FlagAlreadySet
from domain.flags.model import BorrowerFlag, BorrowerFlagKind
from store import tables
from store.flags_repository import SqlFlagRepository
from tests.access import LOGINS
from tests.e2e.contacts_support import (
    ALLOWANCE,
    LOG,
    START,
    audit_of,
    gid,
    midday_zone,
    past_contact,
    point,
    send,
)
from tests.e2e.protections_support import (
    CASE_PROTECTIONS,
    FLAG,
    PLACE,
    RESOLVE,
    UNFLAG,
    file_complaint,
    flag,
    result,
)
from tests.factories import Factory, MadeCase, global_id, writing
from tests.helpers import Gql, assert_forbidden, portfolio_today
from tests.operations_warnings import insert_warning

bf, ev = tables.borrower_flags.c, tables.case_events.c
ALLOCATE = """
mutation($input: AllocateCasesInput!) {
  r: allocateCases(input: $input) {
    __typename ... on UserError { code field }
    ... on AllocateCasesSuccess { assignedCount assignments { case { id } } }
  }
}
"""


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


async def midday_borrower(factory: Factory) -> tuple[Any, MadeCase, MadeCase]:
    """A borrower where it is midday now, with a phone and an address, and two cases of
    collector1's (one per portfolio)."""
    zone = midday_zone()
    borrower = await factory.borrower(time_zone=zone)
    first = await factory.case(borrower=borrower, assignee="collector1")
    second = await factory.case(borrower=borrower, assignee="collector1", portfolio="us-cards")
    await point(factory, borrower.id, zone=zone)
    await point(factory, borrower.id, kind="ADDRESS", value="上海市浦东新区测试路1号", zone=zone)
    return borrower, first, second


async def allowance(gql: Gql, case_gid: str, channel: str) -> dict[str, Any]:
    return await result(gql, "collector1", ALLOWANCE, {"case": case_gid, "channel": channel})


def failing(answer: dict[str, Any]) -> list[str]:
    return [c["rule"] for c in answer["checks"] if not c["passed"]]


def evidence(kind: BorrowerFlagKind) -> dict[str, Any]:
    return {"evidenceRef": "CERT-2026-001"} if FLAG_RULES[kind].evidence_required else {}


@pytest.mark.parametrize("kind", list(BorrowerFlagKind))
async def test_each_flag_s_effects_on_every_case_of_the_borrower(
    gql: Gql, factory: Factory, kind: BorrowerFlagKind
) -> None:
    borrower, first, second = await midday_borrower(factory)
    row = FLAG_RULES[kind]
    set_ = await flag(gql, "collector1", borrower.id, kind.value, **evidence(kind))
    assert set_["__typename"] == "FlagBorrowerSuccess", set_
    assert set_["borrowerFlag"]["flag"] == kind.value
    assert set_["borrowerFlag"]["setBy"] == {"login": "collector1"}
    assert set_["borrower"]["flags"] == [{"flag": kind.value}]
    for made in (first, second):
        phone = await allowance(gql, made.gid, "PHONE")
        letter = await allowance(gql, made.gid, "LETTER")
        if Effect.STOP_CONTACT in row.effects:
            assert failing(phone) == [row.rule] and failing(letter) == [row.rule]
            assert phone["nextAllowedAt"] is None
        elif Effect.LETTERS_ONLY in row.effects:
            assert failing(phone) == [row.rule] and failing(letter) == []
        else:
            assert phone["allowed"] is True, phone
        if Effect.REDUCED_ATTEMPTS in row.effects:
            assert phone["attemptsLeftToday"] == row.attempt_limit
            # The reduced limit is the flag's rule: its check names it, not DAILY_ATTEMPTS.
            check = next(c for c in phone["checks"] if c["rule"] == row.rule)
            assert row.rule in check["detail"]
            assert "DAILY_ATTEMPTS" not in [c["rule"] for c in phone["checks"]]
    agency = await factory.agency()
    placed = await result(
        gql, "manager", PLACE, {"input": {"caseId": first.gid, "agencyName": agency.name}}
    )
    if Effect.NO_AGENCY_PLACEMENT in row.effects:
        assert (placed["code"], placed["field"]) == ("ACTION_NOT_ALLOWED", "caseId")
        assert row.rule in placed["message"]
    else:
        assert placed["__typename"] == "PlaceWithAgencySuccess"

    # Lifting it releases every effect; the lifted row stays.
    lifted = await result(
        gql, "manager", UNFLAG, {"input": {"borrowerId": gid("Borrower", borrower.id),
                                           "flag": kind.value, "note": "reviewed"}}
    )  # fmt: skip
    assert lifted == {
        "__typename": "UnflagBorrowerSuccess",
        "borrowerFlag": {"flag": kind.value, "liftedAt": lifted["borrowerFlag"]["liftedAt"]},
        "borrower": {"id": gid("Borrower", borrower.id), "flags": []},
    }
    assert lifted["borrowerFlag"]["liftedAt"] is not None
    assert (await allowance(gql, second.gid, "PHONE"))["allowed"] is True
    # (``first`` may have gone to the agency above, out of the caller's sight: ``second`` stays.)
    for channel in ("PHONE", "LETTER"):
        assert failing(await allowance(gql, second.gid, channel)) == [], (kind, channel)
    if Effect.NO_AGENCY_PLACEMENT in row.effects:
        again = await result(
            gql, "manager", PLACE, {"input": {"caseId": first.gid, "agencyName": agency.name}}
        )
        assert again["__typename"] == "PlaceWithAgencySuccess", again


async def test_a_stopping_flag_refuses_start_and_marks_log_but_not_inbound(
    gql: Gql, factory: Factory
) -> None:
    borrower, first, _ = await midday_borrower(factory)
    await flag(gql, "collector1", borrower.id, "CEASE_COMMUNICATION", evidenceRef="LETTER-9")
    refused = await result(gql, "collector1", START, {"input": {"caseId": first.gid,
                                                                 "channel": "PHONE"}})  # fmt: skip
    assert (refused["__typename"], refused["rule"], refused["field"]) == (
        "ComplianceViolation", "CEASE_COMMUNICATION", "caseId",
    )  # fmt: skip
    assert refused["contact"]["blocked"] is True

    def logged(direction: str) -> dict[str, Any]:
        return {"input": {"caseId": first.gid, "channel": "PHONE", "direction": direction,
                          "outcome": "RIGHT_PARTY_CONTACT"}}  # fmt: skip

    out = await result(gql, "collector1", LOG, logged("OUTBOUND"))
    assert out["contact"]["breaches"] == ["CEASE_COMMUNICATION"]
    inbound = await result(gql, "collector1", LOG, logged("INBOUND"))
    assert inbound["contact"]["breaches"] == []


async def test_hardship_reduces_the_daily_attempts_to_two(gql: Gql, factory: Factory) -> None:
    zone = midday_zone()
    borrower = await factory.borrower(time_zone=zone)
    made = await factory.case(borrower=borrower, assignee="collector1")
    phone = await point(factory, borrower.id, zone=zone)
    now = datetime.now(UTC)
    for minutes in (30, 20):
        await past_contact(factory, made.case, now - timedelta(minutes=minutes), point_id=phone.id)
    before = await allowance(gql, made.gid, "PHONE")
    assert before["allowed"] is True and before["attemptsLeftToday"] == 4  # 2 of 6 used
    await flag(gql, "collector1", borrower.id, "HARDSHIP")
    after = await allowance(gql, made.gid, "PHONE")
    assert failing(after) == ["FLAG_HARDSHIP"]  # the refusal names the flag's rule
    assert after["attemptsLeftToday"] == 0
    assert after["nextAllowedAt"] is not None  # the next local day
    refused = await result(gql, "collector1", START, {"input": {"caseId": made.gid,
                                                                 "channel": "PHONE"}})  # fmt: skip
    assert refused["rule"] == "FLAG_HARDSHIP"


async def test_allocation_leaves_a_case_whose_flag_forbids_it(gql: Gql, factory: Factory) -> None:
    tag = uuid.uuid4().hex[:8]
    team = f"Flags-{tag}"
    await factory.staff(f"flags.{tag}.a", team=team, capacity=10)
    marker = f"标记{tag}"
    kept, free = [], []
    for kind in ("DECEASED", "MILITARY_SERVICE"):
        borrower = await factory.borrower(full_name=f"{marker}{kind}")
        made = await factory.case(borrower=borrower)
        await flag(gql, "manager", borrower.id, kind)
        (kept if Effect.NO_ALLOCATION in FLAG_RULES[BorrowerFlagKind(kind)].effects
         else free).append(made.gid)  # fmt: skip
    variables = {"input": {"teamName": team, "strategy": "LEAST_LOADED",
                           "filter": {"search": marker}}}  # fmt: skip
    answer = await result(gql, "manager", ALLOCATE, variables)
    assert answer["assignedCount"] == 1
    assert [a["case"]["id"] for a in answer["assignments"]] == free
    assert kept and kept[0] not in str(answer)


async def test_refusals_each_with_its_code_and_field(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    mine = await factory.case(assignee="collector1")
    theirs = await factory.case(assignee="collector3")
    borrower = mine.borrower.id
    today = portfolio_today().isoformat()
    tomorrow = (portfolio_today() + timedelta(days=2)).isoformat()
    refusals = [
        (borrower, "DECEASED", {"evidenceRef": " "}, "EVIDENCE_REQUIRED", "evidenceRef"),
        (borrower, "HARDSHIP", {"reviewOn": today}, "REVIEW_DATE_INVALID", "reviewOn"),
        (borrower, "HARDSHIP", {"reviewOn": None}, "REVIEW_DATE_INVALID", "reviewOn"),
        (borrower, "HARDSHIP", {"note": "n" * 2001}, "TEXT_TOO_LONG", "note"),
        (borrower, "HARDSHIP", {"evidenceRef": "e" * 201}, "TEXT_TOO_LONG", "evidenceRef"),
        (theirs.borrower.id, "HARDSHIP", {}, "BORROWER_NOT_FOUND", "borrowerId"),
    ]
    for target, kind, extra, code, field in refusals:
        variables = {"input": {"borrowerId": gid("Borrower", target), "flag": kind,
                               "evidenceRef": None, "reviewOn": tomorrow, **extra}}  # fmt: skip
        body, request_id = await send(gql, "collector1", FLAG, variables)
        assert (body["code"], body["field"]) == (code, field), (kind, extra, body)
        [entry] = await audit_of(engine, request_id)
        assert (entry.action, entry.outcome, entry.changes["refused"]) == (
            "borrower.flag", "DENIED", code,
        )  # fmt: skip
    async with engine.connect() as conn:
        stored = (await conn.execute(select(bf.id).where(bf.borrower_id == borrower))).all()
    assert stored == []
    # DECEASED needs no review date; a flag is set once at a time.
    first = await flag(gql, "collector1", borrower, "DECEASED", reviewOn=None)
    assert first["borrowerFlag"]["reviewOn"] is None
    again = await flag(gql, "collector1", borrower, "DECEASED")
    assert (again["code"], again["field"]) == ("FLAG_ALREADY_SET", "flag")
    # Only a manager lifts a flag, and only one that is set.
    unflag = {"input": {"borrowerId": gid("Borrower", borrower), "flag": "HARDSHIP"}}
    assert_forbidden(await gql.errors("collector1", UNFLAG, unflag))
    assert_forbidden(
        await gql.errors(
            "auditor1",
            FLAG,
            {
                "input": {
                    "borrowerId": gid("Borrower", borrower),
                    "flag": "HARDSHIP",
                    "reviewOn": tomorrow,
                }
            },
        )
    )
    not_set = await result(gql, "manager", UNFLAG, unflag)
    assert (not_set["code"], not_set["field"]) == ("FLAG_NOT_SET", "flag")


async def test_set_and_lift_are_audited_shown_and_kept(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    borrower, first, second = await midday_borrower(factory)
    body, request_id = await send(
        gql, "collector1", FLAG, {"input": {"borrowerId": gid("Borrower", borrower.id),
                                            "flag": "MILITARY_SERVICE", "evidenceRef": "ORD-7",
                                            "note": "deployed", "reviewOn": "2099-06-30"}}
    )  # fmt: skip
    assert body["borrowerFlag"] == {
        "flag": "MILITARY_SERVICE",
        "evidenceRef": "ORD-7",
        "note": "deployed",
        "setAt": body["borrowerFlag"]["setAt"],
        "reviewOn": "2099-06-30",
        "setBy": {"login": "collector1"},
    }
    entries = await audit_of(engine, request_id)
    first_entry = entries[0]
    assert (first_entry.action, first_entry.outcome, first_entry.borrower_ids,
            sorted(first_entry.case_ids)) == (
        "borrower.flag", "ALLOWED", [borrower.id], sorted([first.case.id, second.case.id]),
    )  # fmt: skip
    assert entries[0].changes["flag"] == "MILITARY_SERVICE"
    # Whether evidence was given, never the reference (nor the note).
    assert entries[0].changes["evidenceGiven"] is True
    assert "evidenceRef" not in entries[0].changes
    assert "deployed" not in str(entries[0]._mapping)
    assert "ORD-7" not in str(entries[0]._mapping)
    for made in (first, second):
        shown = await result(gql, "collector1", CASE_PROTECTIONS, {"id": made.gid})
        assert [f["flag"] for f in shown["borrower"]["flags"]] == ["MILITARY_SERVICE"]
        assert shown["timeline"]["edges"][0]["node"] == {
            "kind": "BORROWER_FLAGGED",
            "summary": "Borrower flagged MILITARY_SERVICE, review on 2099-06-30",
        }
    lifted, lift_request = await send(
        gql, "manager", UNFLAG, {"input": {"borrowerId": gid("Borrower", borrower.id),
                                           "flag": "MILITARY_SERVICE", "note": "returned"}}
    )  # fmt: skip
    assert lifted["borrower"]["flags"] == []
    assert lifted["borrowerFlag"]["flag"] == "MILITARY_SERVICE"
    assert lifted["borrowerFlag"]["liftedAt"] is not None
    [lift_entry] = [e for e in await audit_of(engine, lift_request) if e.action != "case.read"]
    assert (lift_entry.action, lift_entry.borrower_ids) == ("borrower.unflag", [borrower.id])
    async with engine.connect() as conn:
        row = (await conn.execute(select(tables.borrower_flags).where(
            bf.borrower_id == borrower.id))).one()  # fmt: skip
        names = (await conn.execute(select(ev.name).where(
            ev.case_id == first.case.id).order_by(ev.id))).scalars().all()  # fmt: skip
    assert (row.flag, row.lift_note, row.lifted_at is not None) == (
        "MILITARY_SERVICE", "returned", True,
    )  # fmt: skip
    assert list(names)[-2:] == ["BorrowerFlagged", "BorrowerUnflagged"]
    # The flag may be set again once lifted; without evidence the audit says so.
    again, again_request = await send(
        gql, "collector1", FLAG, {"input": {"borrowerId": gid("Borrower", borrower.id),
                                            "flag": "HARDSHIP", "reviewOn": "2099-06-30"}}
    )  # fmt: skip
    assert again["__typename"] == "FlagBorrowerSuccess"
    [set_entry] = [e for e in await audit_of(engine, again_request) if e.action == "borrower.flag"]
    assert set_entry.changes["evidenceGiven"] is False
    relifted = await flag(gql, "collector1", borrower.id, "MILITARY_SERVICE", evidenceRef="ORD-8")
    assert relifted["__typename"] == "FlagBorrowerSuccess"


FREE_TEXT = """
query($id: ID!, $w: ID!) {
  r: case(id: $id) {
    complaints { description resolution }
    borrower { flags { note evidenceRef } }
  }
  w: node(id: $w) { ... on Warning { note } }
}
"""


async def test_free_text_is_shown_only_to_roles_that_work_cases(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    """Complaint descriptions and resolutions, flag notes and evidence references and warning
    notes are shown in clear only to roles holding contact:make (as contact notes are);
    auditors, administrators and integrations read null."""
    made = await factory.case(assignee="collector1")
    filed = await file_complaint(gql, "collector1", made.gid)
    await result(
        gql, "manager", RESOLVE, {"input": {"complaintId": filed["complaint"]["id"],
                                            "resolution": "Apologised for the calls."}}
    )  # fmt: skip
    await flag(gql, "collector1", made.borrower.id, "MILITARY_SERVICE", note="on tour")
    warning = await insert_warning(engine, made)
    async with writing(engine) as conn:  # handled, as handleWarning stores it
        await conn.execute(
            update(tables.warnings)
            .where(tables.warnings.c.id == warning)
            .values(status="HANDLED", note="Called the employer.", handled_at=datetime.now(UTC))
        )
    clear = {
        "r": {
            "complaints": [
                {
                    "description": "The collector called four times in one evening.",
                    "resolution": "Apologised for the calls.",
                }
            ],
            "borrower": {"flags": [{"note": "on tour", "evidenceRef": "DOC-1"}]},
        },
        "w": {"note": "Called the employer."},
    }
    hidden = {
        "r": {
            "complaints": [{"description": None, "resolution": None}],
            "borrower": {"flags": [{"note": None, "evidenceRef": None}]},
        },
        "w": {"note": None},
    }
    variables = {"id": made.gid, "w": global_id("Warning", warning)}
    for login, expected in (
        ("collector1", clear),
        ("manager", clear),
        ("lead1", clear),
        ("auditor1", hidden),
        ("admin", hidden),
        ("core.banking", hidden),
    ):
        assert ("contact:make" in LOGINS[login].permissions) == (expected is clear), login
        assert await gql(login, FREE_TEXT, variables) == expected, login


async def test_the_database_sets_a_flag_once_at_a_time(
    factory: Factory, engine: AsyncEngine
) -> None:
    """uq_borrower_flags_active: a second active row of the same flag is refused (a writer
    that skipped the borrower's lock gets FLAG_ALREADY_SET); lifted rows do not count."""
    borrower = await factory.borrower()
    at = datetime.now(UTC)
    async with AsyncSession(engine) as session, session.begin():
        repository = SqlFlagRepository(session)
        lifted = BorrowerFlag(borrower.id, BorrowerFlagKind.HARDSHIP, at, None)
        await repository.add(lifted)
        lifted.lift(at, None, "reviewed")
        await repository.save(lifted)
        await repository.add(BorrowerFlag(borrower.id, BorrowerFlagKind.HARDSHIP, at, None))
        await repository.add(BorrowerFlag(borrower.id, BorrowerFlagKind.DECEASED, at, None))
    with pytest.raises(FlagAlreadySet) as refused:
        async with AsyncSession(engine) as session, session.begin():
            await SqlFlagRepository(session).add(
                BorrowerFlag(borrower.id, BorrowerFlagKind.HARDSHIP, at, None)
            )
    assert (refused.value.code, refused.value.field) == ("FLAG_ALREADY_SET", "flag")
    async with engine.connect() as conn:
        rows = (await conn.execute(select(bf.flag).where(bf.borrower_id == borrower.id))).all()
    assert sorted(r.flag for r in rows) == ["DECEASED", "HARDSHIP", "HARDSHIP"]
    async with writing(engine) as conn:
        await conn.execute(delete(tables.borrower_flags).where(bf.borrower_id == borrower.id))
