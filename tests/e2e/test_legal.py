"""Legal escalation over HTTP: referToLegal's conditions at their boundaries, on the record
(DPD 89/90, the threshold minus one cent / exactly, the limitation period's last day and the day
after in the portfolio's calendar, a part-payment's restart, effort exhausted each way and not,
an open complaint, a protecting flag); approveLegalReferral (not the referrer, every condition
checked again, the move to LEGAL, one of two concurrent approvals); rejectLegalReferral;
recordLegalAction's validation; timeline, decisions and audit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, insert, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.legal.errors import ReferralPending
from domain.legal.model import LegalReferral
from domain.legal.policy import add_years
from store import tables
from store.legal_repository import SqlLegalRepository
from tests.e2e.protections_support import PLACE
from tests.factories import Factory, MadeCase, global_id, writing
from tests.helpers import Gql, portfolio_today
from tests.legal_support import (
    APPROVE,
    RECORD,
    REFER,
    REJECT,
    add_broken_promise,
    add_contact,
    add_flag,
    add_payment,
    failed_names,
    referable_case,
    set_case,
    set_oldest_due,
    shanghai,
)

WHY = "refused to pay after the final demand"


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


async def refer(gql: Gql, made: MadeCase, login: str = "collector1") -> Any:
    data = await gql(login, REFER, {"input": {"caseId": made.gid, "reason": WHY}})
    return data["r"]


async def approve(gql: Gql, referral_id: str, login: str = "manager") -> Any:
    return (await gql(login, APPROVE, {"input": {"referralId": referral_id}}))["r"]


async def case_row(engine: AsyncEngine, made: MadeCase) -> Any:
    async with engine.connect() as conn:
        stmt = select(tables.cases).where(tables.cases.c.id == made.case.id)
        return (await conn.execute(stmt)).one()


async def event_names(engine: AsyncEngine, made: MadeCase) -> list[str]:
    ev = tables.case_events.c
    async with engine.connect() as conn:
        stmt = select(ev.name).where(ev.case_id == made.case.id).order_by(ev.id)
        return list((await conn.execute(stmt)).scalars())


def assert_refused_naming(result: dict[str, Any], *names: str) -> None:
    assert (result["__typename"], result["code"]) == (
        "RuleViolationError",
        "LEGAL_CONDITIONS_NOT_MET",
    ), result
    assert failed_names(result) == list(names), result["message"]


async def test_a_case_meeting_every_condition_is_referred_and_approved_into_legal(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    agency = await factory.agency()
    made = await referable_case(factory)
    referred = await refer(gql, made)
    assert referred["__typename"] == "ReferToLegalSuccess", referred
    referral = referred["referral"]
    assert (referral["status"], referral["reason"], referral["referredBy"]) == (
        "PENDING", WHY, {"login": "collector1"},
    )  # fmt: skip
    assert [(c["name"], c["passed"]) for c in referral["conditions"]] == [
        (name, True)
        for name in (
            "LIFE_CYCLE", "MIN_DAYS_PAST_DUE", "OUTSTANDING_THRESHOLD", "EFFORT_EXHAUSTED",
            "DEMAND_NOTICE_DELIVERED", "WITHIN_LIMITATION_PERIOD", "NO_OPEN_COMPLAINT",
            "NO_PROTECTING_FLAG", "NO_RESTRUCTURING_IN_EFFECT",
        )
    ]  # fmt: skip
    assert referred["case"]["stage"] == "COLLECTION"
    # A second referral while one waits.
    again = await refer(gql, made, "manager")
    assert (again["code"], again["field"]) == ("REFERRAL_PENDING", None)
    # The referrer cannot approve; a collector has no legal:approve at all.
    own = await refer_and_approve_by_maker(gql, factory)
    assert own["code"] == "MAKER_CANNOT_APPROVE"

    # Placed with an agency meanwhile: approval recalls it.
    await set_case(
        engine, made, agency_id=agency.id, placed_at=datetime.now(UTC), assignee_id=None,
        placement_ends_on=portfolio_today() + timedelta(days=30),
    )  # fmt: skip
    approved = await approve(gql, referral["id"])
    assert approved["__typename"] == "ApproveLegalReferralSuccess", approved
    assert approved["referral"]["status"] == "APPROVED"
    assert approved["referral"]["decidedBy"] == {"login": "manager"}
    assert approved["case"] == {
        "id": made.gid, "stage": "LEGAL", "status": "OPEN", "assignee": None,
    }  # fmt: skip
    row = await case_row(engine, made)
    assert (row.stage, row.agency_id, row.assignee_id) == ("LEGAL", None, None)
    names = await event_names(engine, made)
    assert names[-4:] == [
        "LegalReferralMade", "CaseRecalled", "CaseTransitioned", "LegalReferralApproved",
    ]  # fmt: skip
    # Decided once.
    twice = await approve(gql, referral["id"])
    assert twice["code"] == "ALREADY_DECIDED"
    # The decisions feed: the recall and the legal referral.
    d = tables.decisions.c
    async with engine.connect() as conn:
        stmt = select(d.kind, d.data).where(d.case_id == made.case.id).order_by(d.id)
        decided = [(k, v) for k, v in (await conn.execute(stmt)).all()]
    assert decided[-1] == (
        "LEGAL_REFERRED",
        {"fromStage": "COLLECTION", "policyVersion": "CN@builtin"},
    )
    assert decided[-2][0] == "CASE_RECALLED"
    # The audit entry of the approval: who referred, who approved, and why.
    e = tables.audit_entries.c
    async with engine.connect() as conn:
        stmt = select(e.actor_login, e.reason_text, e.changes).where(
            e.action == "legal.approve", e.outcome == "ALLOWED", e.case_ids.is_not(None)
        ).order_by(e.id.desc()).limit(1)  # fmt: skip
        login, reason_text, changes = (await conn.execute(stmt)).one()
    assert (login, reason_text) == ("manager", WHY)
    assert changes["referredBy"] == global_id("Staff", made.case.assignee_id)
    # The timeline shows it, without the reason.
    timeline = await gql(
        "manager",
        "query($id: ID!) { case(id: $id) { timeline(first: 5) { edges { node { kind summary } } }"
        " legalReferrals { status } } }",
        {"id": made.gid},
    )
    summaries = [e["node"] for e in timeline["case"]["timeline"]["edges"]]
    assert {"kind": "LEGAL", "summary": "Legal referral approved: COLLECTION → LEGAL"} in summaries
    assert WHY not in str(summaries)
    assert timeline["case"]["legalReferrals"] == [{"status": "APPROVED"}]


async def refer_and_approve_by_maker(gql: Gql, factory: Factory) -> Any:
    made = await referable_case(factory)
    referred = await refer(gql, made, "manager")
    assert referred["__typename"] == "ReferToLegalSuccess", referred
    return await approve(gql, referred["referral"]["id"], "manager")


@pytest.mark.parametrize(("dpd", "ok"), [(89, False), (90, True)])
async def test_days_past_due_89_is_refused_and_90_is_not(
    gql: Gql, factory: Factory, dpd: int, ok: bool
) -> None:
    made = await referable_case(factory, days_past_due=dpd)
    result = await refer(gql, made)
    if ok:
        assert result["__typename"] == "ReferToLegalSuccess", result
    else:
        assert_refused_naming(result, "MIN_DAYS_PAST_DUE")


@pytest.mark.parametrize(("amount", "ok"), [("4999.99", False), ("5000.00", True)])
async def test_the_threshold_minus_one_cent_is_refused_and_exactly_is_not(
    gql: Gql, factory: Factory, engine: AsyncEngine, amount: str, ok: bool
) -> None:
    made = await referable_case(factory)
    await set_case(engine, made, outstanding_amount=Decimal(amount))
    result = await refer(gql, made)
    if ok:
        assert result["__typename"] == "ReferToLegalSuccess", result
    else:
        assert_refused_naming(result, "OUTSTANDING_THRESHOLD")
        assert "outstanding CNY 4,999.99" in result["message"] or "4999.99" in result["message"]


@pytest.mark.parametrize(("back", "ok"), [(0, True), (1, False)])
async def test_the_limitation_periods_last_day_is_within_and_the_next_is_not(
    gql: Gql, factory: Factory, engine: AsyncEngine, back: int, ok: bool
) -> None:
    # The oldest unpaid instalment fell due 3 years (+1 day) before today in Shanghai, and the
    # demand notice was delivered before it (so it restarts nothing).
    today = portfolio_today()
    due = add_years(today, -3) - timedelta(days=back)
    made = await referable_case(factory)
    await set_oldest_due(engine, made, due)
    ev = tables.contacts.c
    async with engine.begin() as conn:
        await conn.execute(
            tables.contacts.update()
            .where(ev.case_id == made.case.id, ev.channel == "LEGAL_NOTICE")
            .values(at=datetime(due.year - 1, 1, 5, tzinfo=UTC))
        )
    result = await refer(gql, made)
    if ok:
        assert result["__typename"] == "ReferToLegalSuccess", result
    else:
        assert_refused_naming(result, "WITHIN_LIMITATION_PERIOD")
        assert f"expired after {add_years(due, 3)}" in result["message"]


async def test_a_part_payment_restarts_the_limitation_period(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    today = portfolio_today()
    made = await referable_case(factory)
    await set_oldest_due(engine, made, add_years(today, -3) - timedelta(days=1))
    ev = tables.contacts.c
    async with engine.begin() as conn:
        await conn.execute(
            tables.contacts.update()
            .where(ev.case_id == made.case.id, ev.channel == "LEGAL_NOTICE")
            .values(at=datetime(2020, 1, 5, tzinfo=UTC))
        )
    assert_refused_naming(await refer(gql, made), "WITHIN_LIMITATION_PERIOD")
    await add_payment(engine, made, datetime.now(UTC) - timedelta(days=400))
    result = await refer(gql, made)
    assert result["__typename"] == "ReferToLegalSuccess", result
    limitation = result["referral"]["conditions"][5]
    assert limitation["name"] == "WITHIN_LIMITATION_PERIOD"
    assert "(a part-payment)" in limitation["detail"]


@pytest.mark.parametrize("way", ["none", "quiet", "refused", "broken"])
async def test_effort_is_exhausted_each_of_three_ways_and_not_without_one(
    gql: Gql, factory: Factory, engine: AsyncEngine, way: str
) -> None:
    made = await referable_case(factory, refused=False)
    now = datetime.now(UTC)
    # The latest right-party contact: ten days ago, or 61 days ago (quiet), or a refusal.
    if way == "quiet":
        await add_contact(engine, made, "PROMISE_TO_PAY", now - timedelta(days=61))
    elif way == "refused":
        await add_contact(engine, made, "RIGHT_PARTY_CONTACT", now - timedelta(days=20))
        await add_contact(engine, made, "REFUSED_TO_PAY", now - timedelta(days=10))
    else:
        await add_contact(engine, made, "REFUSED_TO_PAY", now - timedelta(days=20))
        await add_contact(engine, made, "RIGHT_PARTY_CONTACT", now - timedelta(days=10))
    # A third party's word is not a right-party contact.
    await add_contact(engine, made, "THIRD_PARTY_CONTACT", now - timedelta(days=1),
                      party="EMERGENCY_CONTACT")  # fmt: skip
    if way == "broken":
        for days in (50, 40, 30):
            await add_broken_promise(engine, made, portfolio_today() - timedelta(days=days))
    else:
        for days in (50, 40):
            await add_broken_promise(engine, made, portfolio_today() - timedelta(days=days))
    result = await refer(gql, made)
    if way == "none":
        assert_refused_naming(result, "EFFORT_EXHAUSTED")
        assert "2 broken promises (needs 3)" in result["message"]
    else:
        assert result["__typename"] == "ReferToLegalSuccess", result


async def test_an_open_complaint_or_a_protecting_flag_refuses_the_referral(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    complained = await referable_case(factory)
    async with writing(engine) as conn:
        await conn.execute(
            insert(tables.complaints).values(
                case_id=complained.case.id, borrower_id=complained.borrower.id, kind="DISPUTE",
                channel="LETTER", written=True, description="disputes the amount",
                status="OPEN", filed_at=datetime.now(UTC), version=1,
            )
        )  # fmt: skip
    assert_refused_naming(await refer(gql, complained), "NO_OPEN_COMPLAINT")
    for flag in ("BANKRUPTCY", "MILITARY_SERVICE", "DECEASED"):
        flagged = await referable_case(factory)
        await add_flag(engine, flagged, flag)
        result = await refer(gql, flagged)
        assert_refused_naming(result, "NO_PROTECTING_FLAG")
        assert flag in result["message"]


async def test_every_failed_condition_is_named_and_an_unseen_case_is_not_found(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await factory.case(assignee="collector1", days_past_due=45, stage="EARLY")
    await add_contact(engine, made, "PROMISE_TO_PAY", datetime.now(UTC) - timedelta(days=5))
    result = await refer(gql, made)
    assert_refused_naming(
        result, "MIN_DAYS_PAST_DUE", "EFFORT_EXHAUSTED", "DEMAND_NOTICE_DELIVERED"
    )
    other = await referable_case(factory, assignee="collector3")
    hidden = await refer(gql, other)
    assert (hidden["__typename"], hidden["code"]) == ("NotFoundError", "CASE_NOT_FOUND")


async def test_approval_checks_every_condition_again(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await referable_case(factory)
    referred = await refer(gql, made)
    assert referred["__typename"] == "ReferToLegalSuccess"
    await add_flag(engine, made, "BANKRUPTCY")
    result = await approve(gql, referred["referral"]["id"])
    assert_refused_naming(result, "NO_PROTECTING_FLAG")
    assert result["field"] == "referralId"  # the approval's input has no caseId
    row = await case_row(engine, made)
    assert (row.stage, row.assignee_id) == ("COLLECTION", made.case.assignee_id)
    rr = tables.legal_referrals.c
    async with engine.connect() as conn:
        status = (await conn.execute(select(rr.status).where(rr.case_id == made.case.id))).scalar()
    assert status == "PENDING"
    # A manager says no instead; the case stays.
    rejected = await gql(
        "manager", REJECT, {"input": {"referralId": referred["referral"]["id"],
                                      "reason": "the borrower is bankrupt"}},
    )  # fmt: skip
    assert rejected["r"]["referral"]["status"] == "REJECTED"
    assert rejected["r"]["referral"]["decisionReason"] == "the borrower is bankrupt"
    assert rejected["r"]["case"]["stage"] == "COLLECTION"


async def test_two_concurrent_approvals_one_wins_the_other_is_already_decided(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    second = await factory.staff(roles=("manager",))
    made = await referable_case(factory)
    referred = await refer(gql, made)
    referral_id = referred["referral"]["id"]
    results = await asyncio.gather(
        approve(gql, referral_id, "manager"), approve(gql, referral_id, second.login)
    )
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["ApproveLegalReferralSuccess", "RuleViolationError"], results
    assert [r["code"] for r in results if "code" in r] == ["ALREADY_DECIDED"]
    assert (await event_names(engine, made)).count("LegalReferralApproved") == 1


async def test_record_legal_action_validates_and_lists_the_route(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    collection = await factory.case(days_past_due=120)
    made = await factory.case(days_past_due=200, stage="LEGAL")
    today = portfolio_today()

    async def record(case: MadeCase, login: str = "legal1", **values: Any) -> Any:
        base = {"caseId": case.gid, "kind": "LITIGATION", "step": "FILED",
                "occurredOn": today.isoformat()}  # fmt: skip
        return (await gql(login, RECORD, {"input": {**base, **values}}))["r"]

    wrong_stage = await record(collection, "manager")
    assert (wrong_stage["code"], wrong_stage["field"]) == ("LEGAL_ACTION_INVALID", "caseId")
    assert "stage COLLECTION" in wrong_stage["message"]
    ahead = await record(made, occurredOn=(today + timedelta(days=1)).isoformat())
    assert (ahead["code"], ahead["field"]) == ("LEGAL_ACTION_INVALID", "occurredOn")
    no_amount = await record(made, step="JUDGMENT")
    assert (no_amount["code"], no_amount["field"]) == ("LEGAL_ACTION_INVALID", "amount")
    wrong_currency = await record(made, step="JUDGMENT", amount="1000.00", currency="USD")
    assert wrong_currency["code"] == "CURRENCY_MISMATCH"
    collateral = await record(made, kind="COLLATERAL_ENFORCEMENT")
    assert (collateral["code"], collateral["field"]) == ("LEGAL_ACTION_INVALID", "kind")

    filed = await record(made, body="上海市浦东新区人民法院", reference="(2026)沪0115民初1234号",
                         occurredOn=(today - timedelta(days=30)).isoformat())  # fmt: skip
    assert filed["__typename"] == "RecordLegalActionSuccess", filed
    judged = await record(made, step="JUDGMENT", amount="18000.00", currency="CNY")
    action = judged["legalAction"]
    assert (action["kind"], action["step"], action["amount"], action["recordedBy"]) == (
        "LITIGATION", "JUDGMENT", {"amount": "18000.00", "currency": "CNY"}, {"login": "legal1"},
    )  # fmt: skip
    assert judged["case"]["legalActions"] == [{"step": "FILED"}, {"step": "JUDGMENT"}]
    assert (await event_names(engine, made))[-2:] == ["LegalActionRecorded"] * 2
    # A secured debt allows collateral enforcement.
    async with engine.begin() as conn:
        await conn.execute(
            tables.debts.update()
            .where(tables.debts.c.id == made.debts[0].id)
            .values(product_type="AUTO_LOAN")
        )
    repossessed = await record(made, kind="COLLATERAL_ENFORCEMENT", step="ENFORCEMENT")
    assert repossessed["__typename"] == "RecordLegalActionSuccess", repossessed


# ---- The limitation period's restarts, on the record ------------------------------------------


async def move_demands(engine: AsyncEngine, made: MadeCase, **values: Any) -> None:
    ev = tables.contacts.c
    async with engine.begin() as conn:
        await conn.execute(
            tables.contacts.update()
            .where(ev.case_id == made.case.id, ev.channel == "LEGAL_NOTICE")
            .values(**values)
        )


async def test_a_demand_after_the_period_expired_does_not_revive_the_claim(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    # The oldest unpaid instalment fell due 3 years and 2 days ago: the period ended the day
    # before yesterday, and the demand delivered yesterday came too late (it once restarted the
    # period).
    due = add_years(portfolio_today(), -3) - timedelta(days=2)
    made = await referable_case(factory)
    await set_oldest_due(engine, made, due)
    result = await refer(gql, made)
    assert_refused_naming(result, "WITHIN_LIMITATION_PERIOD")
    assert "came after it expired and restarts nothing" in result["message"]


async def test_demands_within_each_period_chain_their_restarts(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    # Due 7 years (and 10 days) ago; a demand in year 2 (within the first period), another in
    # year 4 (within the restarted one): the period now runs 3 years from the second.
    today = portfolio_today()
    due = add_years(today, -7) - timedelta(days=10)
    made = await referable_case(factory)
    await set_oldest_due(engine, made, due)
    await move_demands(engine, made, at=shanghai(add_years(due, 2), 12))
    await add_contact(engine, made, "DELIVERED", shanghai(add_years(due, 4), 12),
                      channel="LEGAL_NOTICE")  # fmt: skip
    result = await refer(gql, made)
    assert_refused_naming(result, "WITHIN_LIMITATION_PERIOD")  # 4 + 3 = 7 years: ended
    # A third demand in year 6, while the second's period runs, carries it past today.
    await add_contact(engine, made, "DELIVERED", shanghai(add_years(due, 6), 12),
                      channel="LEGAL_NOTICE")  # fmt: skip
    result = await refer(gql, made)
    assert result["__typename"] == "ReferToLegalSuccess", result
    limitation = result["referral"]["conditions"][5]
    assert limitation["detail"].startswith(f"3 years from {add_years(due, 6)} (a demand delivered)")


@pytest.mark.parametrize("kind", ["payment", "demand"])
@pytest.mark.parametrize(("local_day", "hour", "ok"), [(0, 23, True), (1, 0, False)])
async def test_a_restart_counts_by_its_local_date_at_the_periods_last_day(
    gql: Gql, factory: Factory, engine: AsyncEngine, kind: str, local_day: int, hour: int,
    ok: bool,
) -> None:  # fmt: skip
    # Due 4 years ago: the first period ended a year ago (on ``ends``). A payment or demand at
    # 23:30 on that last day (Shanghai) restarts it; one at 00:30 the day after does not — in
    # UTC that instant is still the last day, so counting UTC dates would restart it.
    today = portfolio_today()
    due = add_years(today, -4)
    ends = add_years(due, 3)
    made = await referable_case(factory)
    await set_oldest_due(engine, made, due)
    at = shanghai(ends + timedelta(days=local_day), hour, 30)
    if kind == "payment":
        await add_payment(engine, made, at)
    else:
        await add_contact(engine, made, "DELIVERED", at, channel="LEGAL_NOTICE")
    result = await refer(gql, made)
    if ok:
        assert result["__typename"] == "ReferToLegalSuccess", result
    else:
        assert_refused_naming(result, "WITHIN_LIMITATION_PERIOD")
        assert f"expired after {ends}" in result["message"]


async def test_a_reversed_payment_does_not_restart_the_period(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await referable_case(factory)
    await set_oldest_due(engine, made, add_years(portfolio_today(), -3) - timedelta(days=1))
    await move_demands(engine, made, at=datetime(2020, 1, 5, tzinfo=UTC))
    await add_payment(engine, made, datetime.now(UTC) - timedelta(days=400), reversed=True)
    assert_refused_naming(await refer(gql, made), "WITHIN_LIMITATION_PERIOD")


@pytest.mark.parametrize(("status", "ok"), [("DELINQUENT", False), ("SETTLED", True),
                                            ("CLOSED", True)])  # fmt: skip
async def test_a_settled_or_closed_debts_instalments_do_not_date_the_claim(
    gql: Gql, factory: Factory, engine: AsyncEngine, status: str, ok: bool
) -> None:
    # Two debts; the first's oldest unpaid instalment is past the limitation period (even with
    # yesterday's demand). Settled or closed, it is no claim: the second debt's (120 days back)
    # dates the period.
    made = await referable_case(factory, debts=2)
    i, d = tables.instalments.c, tables.debts.c
    old = add_years(portfolio_today(), -3) - timedelta(days=2)
    async with writing(engine) as conn:
        await conn.execute(
            tables.instalments.update()
            .where(i.debt_id == made.debts[0].id, i.sequence == 1)
            .values(due_date=old)
        )
        await conn.execute(
            tables.debts.update().where(d.id == made.debts[0].id).values(status=status)
        )
    result = await refer(gql, made)
    if ok:
        assert result["__typename"] == "ReferToLegalSuccess", result
    else:
        assert_refused_naming(result, "WITHIN_LIMITATION_PERIOD")


# ---- Who is a right party ----------------------------------------------------------------------


@pytest.mark.parametrize(("days", "hour", "ok"), [(59, 0, False), (60, 23, True)])
async def test_the_60_quiet_days_count_local_dates(
    gql: Gql, factory: Factory, engine: AsyncEngine, days: int, hour: int, ok: bool
) -> None:
    # A right-party contact at 00:30 (Shanghai) 59 days back was on the UTC date 60 days back:
    # counted in UTC it would make 60 quiet days.
    made = await referable_case(factory, refused=False)
    at = shanghai(portfolio_today() - timedelta(days=days), hour, 30)
    await add_contact(engine, made, "RIGHT_PARTY_CONTACT", at)
    result = await refer(gql, made)
    if ok:
        assert result["__typename"] == "ReferToLegalSuccess", result
    else:
        assert_refused_naming(result, "EFFORT_EXHAUSTED")
        assert "59 days without a right-party contact" in result["message"]


async def test_an_emergency_contact_is_no_right_party_for_talk_or_for_a_demand(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    now = datetime.now(UTC)
    made = await referable_case(factory, refused=False)
    await add_contact(engine, made, "PROMISE_TO_PAY", now - timedelta(days=61))
    # An emergency contact "reached" five days ago does not end the 61 quiet days.
    await add_contact(engine, made, "RIGHT_PARTY_CONTACT", now - timedelta(days=5),
                      party="EMERGENCY_CONTACT")  # fmt: skip
    assert (await refer(gql, made))["__typename"] == "ReferToLegalSuccess"
    # A demand delivered to an emergency contact is no demand.
    other = await referable_case(factory)
    await move_demands(engine, other, party="EMERGENCY_CONTACT")
    assert_refused_naming(await refer(gql, other), "DEMAND_NOTICE_DELIVERED")


# ---- Restructurings, allocation, the maker, scope ---------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "ok"),
    [("INSTALMENT_PLAN", "ACTIVE", False), ("SETTLEMENT", "ACTIVE", False),
     ("PENALTY_WAIVER", "PROPOSED", False), ("INSTALMENT_PLAN", "BROKEN", True),
     ("PENALTY_WAIVER", "APPROVED", True)],
)  # fmt: skip
async def test_a_restructuring_in_effect_or_waiting_refuses_referral_and_approval(
    gql: Gql, factory: Factory, engine: AsyncEngine, kind: str, status: str, ok: bool
) -> None:
    made = await referable_case(factory)
    referred = await refer(gql, made)
    assert referred["__typename"] == "ReferToLegalSuccess", referred
    async with writing(engine) as conn:
        await conn.execute(
            insert(tables.restructurings).values(
                case_id=made.case.id, kind=kind, status=status, currency="CNY",
                balance=Decimal("20970.00"), concession=Decimal("0.00"), grace_days=0,
                reason="hardship", proposed_by=made.case.assignee_id,
                proposed_at=datetime.now(UTC), payments_in_row=0, paid_amount=Decimal("0.00"),
                version=1,
            )
        )  # fmt: skip
    again = await refer(gql, await referable_case(factory))  # another case: unaffected
    assert again["__typename"] == "ReferToLegalSuccess", again
    result = await approve(gql, referred["referral"]["id"])
    if ok:
        assert result["__typename"] == "ApproveLegalReferralSuccess", result
    else:
        assert_refused_naming(result, "NO_RESTRUCTURING_IN_EFFECT")
        assert f"{kind} {status}" in result["message"]


async def test_an_approved_legal_case_is_never_allocated_to_collectors(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    marker = f"法务{datetime.now(UTC).strftime('%H%M%S%f')}"
    team = f"LegalAlloc-{marker[2:]}"
    await factory.staff(f"legal.alloc.{marker[2:]}", team=team, capacity=10)
    made = await referable_case(factory, borrower=await factory.borrower(full_name=marker + "甲"))
    control = await factory.case(
        days_past_due=30, borrower=await factory.borrower(full_name=marker + "乙")
    )
    referred = await refer(gql, made)
    approved = await approve(gql, referred["referral"]["id"])
    assert approved["case"]["stage"] == "LEGAL", approved
    allocated = await gql(
        "manager",
        "mutation($input: AllocateCasesInput!) { allocateCases(input: $input) { __typename "
        "... on AllocateCasesSuccess { assignments { case { id } } } "
        "... on UserError { code message } } }",
        {"input": {"teamName": team, "filter": {"search": marker}}},
    )
    result = allocated["allocateCases"]
    assert result["__typename"] == "AllocateCasesSuccess", result
    assert [a["case"]["id"] for a in result["assignments"]] == [control.gid]
    assert (await case_row(engine, made)).assignee_id is None


async def test_an_approved_legal_case_is_never_placed_with_an_agency(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await referable_case(factory)
    approved = await approve(gql, (await refer(gql, made))["referral"]["id"])
    assert approved["case"]["stage"] == "LEGAL", approved
    placed = await gql(
        "manager", PLACE, {"input": {"caseId": made.gid, "agencyName": "Acme Recovery"}}
    )
    refused = placed["r"]
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "RuleViolationError",
        "ACTION_NOT_ALLOWED",
        "caseId",
    )
    assert "worked by the legal team, not placed with an agency" in refused["message"]
    assert (await case_row(engine, made)).agency_id is None


async def test_the_maker_cannot_reject_their_own_referral(gql: Gql, factory: Factory) -> None:
    made = await referable_case(factory)
    referred = await refer(gql, made, "manager")
    rejected = await gql(
        "manager", REJECT,
        {"input": {"referralId": referred["referral"]["id"], "reason": "changed my mind"}},
    )  # fmt: skip
    assert (rejected["r"]["code"], rejected["r"]["field"]) == ("MAKER_CANNOT_APPROVE", "referralId")


async def test_a_referral_and_legal_actions_outside_your_scope_are_not_shown(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await referable_case(factory)
    referral = (await refer(gql, made))["referral"]["id"]
    legal = await factory.case(days_past_due=200, stage="LEGAL")
    recorded = await gql(
        "legal1", RECORD,
        {"input": {"caseId": legal.gid, "kind": "LITIGATION", "step": "FILED",
                   "occurredOn": portfolio_today().isoformat()}},
    )  # fmt: skip
    assert recorded["r"]["__typename"] == "RecordLegalActionSuccess", recorded
    query = (
        "query($r: ID!, $c: ID!) { node(id: $r) { id } case(id: $c) { legalActions { step } } "
        "cases(first: 50) { edges { node { id legalActions { step } } } } }"
    )
    mine = await gql("collector1", query, {"r": referral, "c": legal.gid})
    assert mine["node"] == {"id": referral}
    for login in ("collector3", "acme.agent1"):
        seen = await gql(login, query, {"r": referral, "c": legal.gid})
        assert (seen["node"], seen["case"]) == (None, None), login
        shown = [e["node"] for e in seen["cases"]["edges"] if e["node"]["id"] == legal.gid]
        assert shown == [], login


# ---- recordLegalAction: once per key, free text gated ------------------------------------------


async def test_a_retried_legal_action_is_recorded_once(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await factory.case(days_past_due=200, stage="LEGAL")
    values = {"caseId": made.gid, "kind": "PAYMENT_ORDER", "step": "FILED",
              "occurredOn": portfolio_today().isoformat(), "body": "浦东新区人民法院",
              "reference": "(2026)沪0115督123号", "idempotencyKey": "legal-act-1"}  # fmt: skip
    first = (await gql("legal1", RECORD, {"input": values}))["r"]
    assert first["__typename"] == "RecordLegalActionSuccess", first
    again = (await gql("legal1", RECORD, {"input": values}))["r"]
    assert again["legalAction"]["id"] == first["legalAction"]["id"]
    la = tables.legal_actions.c
    async with engine.connect() as conn:
        count = (
            await conn.execute(select(func.count()).where(la.case_id == made.case.id))
        ).scalar()
    assert count == 1
    assert (await event_names(engine, made)).count("LegalActionRecorded") == 1
    # The same key for another step is refused.
    other = (await gql("legal1", RECORD, {"input": {**values, "step": "HEARING"}}))["r"]
    assert (other["code"], other["field"]) == ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")


async def test_a_legal_actions_body_and_reference_are_free_text_for_case_workers_only(
    gql: Gql, factory: Factory
) -> None:
    made = await factory.case(days_past_due=200, stage="LEGAL")
    await gql(
        "legal1", RECORD,
        {"input": {"caseId": made.gid, "kind": "LITIGATION", "step": "FILED",
                   "occurredOn": portfolio_today().isoformat(), "body": "浦东新区人民法院",
                   "reference": "(2026)沪0115民初1234号"}},
    )  # fmt: skip
    query = "query($id: ID!) { case(id: $id) { legalActions { body reference step } } }"
    shown = await gql("legal1", query, {"id": made.gid})
    assert shown["case"]["legalActions"] == [
        {"body": "浦东新区人民法院", "reference": "(2026)沪0115民初1234号", "step": "FILED"}
    ]
    hidden = await gql("auditor1", query, {"id": made.gid})
    assert hidden["case"]["legalActions"] == [{"body": None, "reference": None, "step": "FILED"}]


async def test_only_the_one_pending_index_means_a_referral_is_pending(
    factory: Factory, engine: AsyncEngine
) -> None:
    made = await referable_case(factory)
    now = datetime.now(UTC)
    assignee = made.case.assignee_id

    async def add(referred_by: int) -> None:
        async with AsyncSession(engine) as session:
            repository = SqlLegalRepository(session, true())
            try:
                await repository.add_referral(
                    LegalReferral(made.case.id, "why", (), referred_by, now)
                )
                await session.commit()
            finally:
                await session.rollback()

    await add(assignee)
    with pytest.raises(ReferralPending):
        await add(assignee)
    # Any other integrity error (here a referrer who does not exist) is a fault, not a refusal.
    async with writing(engine) as conn:
        await conn.execute(
            tables.legal_referrals.update()
            .where(tables.legal_referrals.c.case_id == made.case.id)
            .values(status="REJECTED")
        )
    with pytest.raises(IntegrityError):
        await add(10**9)
