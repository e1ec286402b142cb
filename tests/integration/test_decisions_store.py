"""The decisions feed in the store, on a fresh database of the backend under test: the set-based
projection of case events (each kind's data, money as decimal strings, a second projection adds
nothing), rows appended as they are, the unit of work projecting exactly the events it writes,
and the page reader (cases' accounts, the borrower's external id, the actor)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.cases import services
from domain.clock import FixedClock
from domain.decisions import RULES, DecisionKind, is_decision
from store import decisions, tables
from store.db import session_factory
from store.decisions import DecisionRow
from store.keyset import InvalidCursor
from store.uow import SqlUnitOfWork
from tests.factories import Factory, writing

AT = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)
d = tables.decisions.c


async def _event(conn: Any, case_id: int, name: str, actor_id: int | None, **data: Any) -> int:
    inserted = await conn.execute(
        insert(tables.case_events).values(
            case_id=case_id, at=AT, actor_id=actor_id, name=name, data=data
        )
    )
    return int(inserted.inserted_primary_key[0])


async def _promise(conn: Any, case_id: int, amount: str, due: date, paid: str) -> int:
    inserted = await conn.execute(
        insert(tables.promises).values(
            case_id=case_id,
            amount=Decimal(amount),
            currency="CNY",
            promised_on=date(2026, 11, 1),
            due_date=due,
            grace_days=3,
            status="OPEN",
            paid_amount=Decimal(paid),
            created_at=AT,
            version=1,
        )
    )
    return int(inserted.inserted_primary_key[0])


async def _stored(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        stmt = select(d.kind, d.case_id, d.actor_id, d.event_id, d.data).order_by(d.id)
        return [tuple(row) for row in (await conn.execute(stmt)).all()]


def evaluated(promise_id: int, status: str, previous: str, paid: str) -> dict[str, Any]:
    return {
        "promise_id": promise_id,
        "status": status,
        "previous_status": previous,
        "paid_amount": paid,
        "previous_paid_amount": "0.00",
    }


async def test_each_decision_worthy_event_is_projected_once_with_its_data(
    migrated: AsyncEngine,
) -> None:
    factory = Factory(migrated)
    agency = await factory.agency("Acme Recovery")
    staff = await factory.staff("decider", roles=("manager",))
    made = await factory.case()
    case_id = made.case.id
    async with migrated.connect() as conn:
        before = await decisions.last_id(conn)
    assert before == 0
    async with writing(migrated) as conn:
        p1 = await _promise(conn, case_id, "1234.50", date(2026, 11, 20), "1234.50")
        p2 = await _promise(conn, case_id, "0.05", date(2026, 11, 21), "0.01")
        p3 = await _promise(conn, case_id, "10000000.00", date(2026, 11, 22), "0.00")
        events = [
            await _event(
                conn,
                case_id,
                "CasePlaced",
                staff.id,
                agency_id=agency.id,
                placement_ends_on="2027-01-26",
                previous_assignee_id=None,
            ),
            # The daily run's expiry: the recall event with its reason, and no actor.
            await _event(
                conn, case_id, "CaseRecalled", None, agency_id=agency.id, reason="EXPIRED"
            ),
            await _event(conn, case_id, "CaseRecalled", staff.id, agency_id=agency.id),
            await _event(conn, case_id, "CaseAssigned", staff.id, assignee_id=staff.id),
            await _event(
                conn,
                case_id,
                "CaseTransitioned",
                None,
                trigger="ESCALATE",
                from_status="OPEN",
                to_status="OPEN",
                from_stage="EARLY",
                to_stage="COLLECTION",
                close_reason=None,
            ),
            await _event(
                conn,
                case_id,
                "CaseTransitioned",
                staff.id,
                trigger="PAY_IN_FULL",
                from_status="OPEN",
                to_status="CLOSED",
                from_stage="COLLECTION",
                to_stage="COLLECTION",
                close_reason="PAID_IN_FULL",
            ),
            await _event(
                conn,
                case_id,
                "CaseTransitioned",
                staff.id,
                trigger="REOPEN",
                from_status="CLOSED",
                to_status="OPEN",
                from_stage="COLLECTION",
                to_stage="COLLECTION",
                close_reason=None,
            ),
            await _event(
                conn, case_id, "PromiseEvaluated", None, **evaluated(p1, "OPEN", "OPEN", "5.00")
            ),
            await _event(
                conn, case_id, "PromiseEvaluated", None, **evaluated(p1, "KEPT", "OPEN", "1234.50")
            ),
            await _event(
                conn,
                case_id,
                "PromiseEvaluated",
                None,
                **evaluated(p2, "PARTIALLY_KEPT", "OPEN", "0.01"),
            ),
            await _event(
                conn, case_id, "PromiseEvaluated", None, **evaluated(p3, "BROKEN", "OPEN", "0")
            ),
            await _event(
                conn,
                case_id,
                "BorrowerFlagged",
                staff.id,
                borrower_id=made.borrower.id,
                flag_id=1,
                flag="HARDSHIP",
                review_on="2027-02-01",
            ),
            await _event(
                conn,
                case_id,
                "BorrowerUnflagged",
                staff.id,
                borrower_id=made.borrower.id,
                flag_id=1,
                flag="HARDSHIP",
            ),
            await _event(
                conn,
                case_id,
                "ComplaintFiled",
                staff.id,
                complaint_id=1,
                kind="DISPUTE",
                channel="PHONE",
                written=False,
            ),
            await _event(
                conn,
                case_id,
                "ComplaintResolved",
                staff.id,
                complaint_id=1,
                kind="DISPUTE",
                filed_at=AT.isoformat(),
                days_to_resolve=3,
            ),
        ]
        # ---- restructuring: approvals (issue 11) ----
        approved = {
            "status": "ACTIVE",
            "currency": "CNY",
            "balance": "20970.50",
            "proposed_by": staff.id,
        }
        plan_agreed = await _event(
            conn,
            case_id,
            "RestructuringApproved",
            staff.id,
            **approved,
            kind="INSTALMENT_PLAN",
            concession="120.50",
            waiver_amount="120.50",
            instalment_count=2,
            instalment_total="20850.00",
            schedule="2026-12-01=10000.00,2027-01-01=10850.00",
        )
        settlement_agreed = await _event(
            conn,
            case_id,
            "RestructuringApproved",
            staff.id,
            **approved,
            kind="SETTLEMENT",
            concession="2970.50",
            settlement_amount="18000.00",
            settle_by="2026-12-31",
        )
        penalty_waived = await _event(
            conn,
            case_id,
            "RestructuringApproved",
            staff.id,
            **{**approved, "status": "APPROVED"},
            kind="PENALTY_WAIVER",
            concession="120.50",
            waiver_amount="120.50",
        )
        # A proposal or a rejection is no decision.
        await _event(conn, case_id, "RestructuringProposed", staff.id, kind="SETTLEMENT")
        await _event(conn, case_id, "RestructuringRejected", staff.id, kind="SETTLEMENT")
        events += [plan_agreed, settlement_agreed, penalty_waived]
        # ---- restructuring: plans and settlements in effect (issue 11) ----
        in_effect = {"restructuring_id": 5, "currency": "CNY"}
        plan_broken = await _event(
            conn,
            case_id,
            "RestructuringBroken",
            None,
            **in_effect,
            kind="SETTLEMENT",
            paid_amount="100.00",
            broken_on="2026-12-02",
            previous_stage="EARLY",
            stage="COLLECTION",
        )
        plan_completed = await _event(
            conn,
            case_id,
            "RestructuringCompleted",
            None,
            **in_effect,
            kind="INSTALMENT_PLAN",
            paid="20850.00",
            discount="120.50",
        )
        settlement_paid = await _event(
            conn,
            case_id,
            "RestructuringCompleted",
            staff.id,
            **in_effect,
            kind="SETTLEMENT",
            paid="18000.00",
            discount="2970.50",
            written_off_debts=1,  # a recovery settlement: the count, as text on the feed
        )
        unsettled = await _event(
            conn,
            case_id,
            "CaseTransitioned",
            staff.id,
            trigger="UNSETTLE",
            from_status="CLOSED",
            to_status="OPEN",
            from_stage="EARLY",
            to_stage="EARLY",
            close_reason=None,
        )
        # A payment counted is no decision.
        await _event(conn, case_id, "PlanPaymentCounted", None, **in_effect, kind="INSTALMENT_PLAN")
        events += [plan_broken, plan_completed, settlement_paid, unsettled]
        # ---- legal escalation (issue 11) ----
        legal_referred = await _event(
            conn,
            case_id,
            "LegalReferralApproved",
            staff.id,
            referral_id=7,
            status="APPROVED",
            referred_by=staff.id,
            policy_version="CN@builtin",
            from_stage="COLLECTION",
            previous_assignee_id=None,
            recalled_agency_id=None,
        )
        legal_action = await _event(
            conn,
            case_id,
            "LegalActionRecorded",
            staff.id,
            action_id=3,
            kind="LITIGATION",
            step="JUDGMENT",
            occurred_on="2026-03-02",
            amount="18000.00",
            currency="CNY",
        )
        events += [legal_referred, legal_action]
        # ---- write-off (issue 11) ----
        written_off = await _event(
            conn,
            case_id,
            "CaseWrittenOff",
            staff.id,
            source="MANAGER",
            reason_code="UNCOLLECTIBLE",
            amount="20970.50",
            currency="CNY",
            policy_version="default@builtin",
            charge_off_id=None,
        )
        charge_off_requested = await _event(
            conn,
            case_id,
            "ChargeOffRequested",
            staff.id,
            reason_code="UNCOLLECTIBLE",
            amount="20970.50",
            currency="CNY",
        )
        charged_off = await _event(
            conn,
            case_id,
            "CaseWrittenOff",
            None,
            source="CHARGE_OFF",
            reason_code="CORE_CHARGE_OFF",
            amount="20970.50",
            currency="CNY",
            policy_version=None,
            charge_off_id=4,
        )
        events += [written_off, charge_off_requested, charged_off]
        # A promise still open when its case closed (issue 9): cancelled, with what it had.
        cancelled = await _event(
            conn, case_id, "PromiseEvaluated", None, **evaluated(p2, "CANCELLED", "OPEN", "0.01")
        )
        added = await decisions.append_decisions_from_events(conn, 0)
    s, e = staff.id, events
    expected = [
        ("CASE_PLACED", s, e[0], {"agencyName": "Acme Recovery", "placementEndsOn": "2027-01-26"}),
        ("CASE_RECALLED", None, e[1], {"agencyName": "Acme Recovery", "reason": "EXPIRED"}),
        ("CASE_RECALLED", s, e[2], {"agencyName": "Acme Recovery", "reason": "RECALLED"}),
        ("CASE_CLOSED", s, e[5], {"closeReason": "PAID_IN_FULL", "stage": "COLLECTION"}),
        ("CASE_REOPENED", s, e[6], {"status": "OPEN", "stage": "COLLECTION"}),
        (
            "PROMISE_KEPT",
            None,
            e[8],
            {
                "amount": "1234.50",
                "currency": "CNY",
                "dueDate": "2026-11-20",
                "paidAmount": "1234.50",
            },
        ),
        (
            "PROMISE_PARTIALLY_KEPT",
            None,
            e[9],
            {"amount": "0.05", "currency": "CNY", "dueDate": "2026-11-21", "paidAmount": "0.01"},
        ),
        (
            "PROMISE_BROKEN",
            None,
            e[10],
            {
                "amount": "10000000.00",
                "currency": "CNY",
                "dueDate": "2026-11-22",
                "paidAmount": "0.00",
            },
        ),
        ("BORROWER_FLAGGED", s, e[11], {"flag": "HARDSHIP", "reviewOn": "2027-02-01"}),
        ("BORROWER_UNFLAGGED", s, e[12], {"flag": "HARDSHIP"}),
        ("COMPLAINT_FILED", s, e[13], {"complaintKind": "DISPUTE"}),
        ("COMPLAINT_RESOLVED", s, e[14], {"complaintKind": "DISPUTE"}),
        # ---- restructuring: approvals (issue 11) ----
        (
            "PLAN_AGREED",
            s,
            plan_agreed,
            {
                "currency": "CNY",
                "replacedAmount": "20970.50",
                "waiverAmount": "120.50",
                "instalmentTotal": "20850.00",
                "schedule": "2026-12-01=10000.00,2027-01-01=10850.00",
            },
        ),
        (
            "SETTLEMENT_AGREED",
            s,
            settlement_agreed,
            {
                "currency": "CNY",
                "settlementAmount": "18000.00",
                "settleBy": "2026-12-31",
                "discount": "2970.50",
            },
        ),
        ("PENALTY_WAIVED", s, penalty_waived, {"currency": "CNY", "waiverAmount": "120.50"}),
        # ---- restructuring: plans and settlements in effect (issue 11) ----
        (
            "PLAN_BROKEN",
            None,
            plan_broken,
            {
                "restructuringKind": "SETTLEMENT",
                "paidAmount": "100.00",
                "currency": "CNY",
                "brokenOn": "2026-12-02",
            },
        ),
        ("PLAN_COMPLETED", None, plan_completed, {"paid": "20850.00", "currency": "CNY"}),
        (
            "SETTLEMENT_PAID",
            s,
            settlement_paid,
            {"paid": "18000.00", "discount": "2970.50", "currency": "CNY", "writtenOffDebts": "1"},
        ),
        ("CASE_REOPENED", s, unsettled, {"status": "OPEN", "stage": "EARLY", "reason": "UNSETTLE"}),
        # ---- legal escalation (issue 11) ----
        (
            "LEGAL_REFERRED",
            s,
            legal_referred,
            {"fromStage": "COLLECTION", "policyVersion": "CN@builtin"},
        ),
        (
            "LEGAL_ACTION",
            s,
            legal_action,
            {
                "legalKind": "LITIGATION",
                "step": "JUDGMENT",
                "occurredOn": "2026-03-02",
                "amount": "18000.00",
                "currency": "CNY",
            },
        ),
        # ---- write-off (issue 11) ----
        (
            "CASE_WRITTEN_OFF",
            s,
            written_off,
            {
                "source": "MANAGER",
                "reasonCode": "UNCOLLECTIBLE",
                "amount": "20970.50",
                "currency": "CNY",
            },
        ),
        (
            "CHARGE_OFF_REQUESTED",
            s,
            charge_off_requested,
            {"reasonCode": "UNCOLLECTIBLE", "amount": "20970.50", "currency": "CNY"},
        ),
        (
            "CASE_WRITTEN_OFF",
            None,
            charged_off,
            {
                "source": "CHARGE_OFF",
                "reasonCode": "CORE_CHARGE_OFF",
                "amount": "20970.50",
                "currency": "CNY",
            },
        ),
        (
            "PROMISE_CANCELLED",
            None,
            cancelled,
            {"amount": "0.05", "currency": "CNY", "dueDate": "2026-11-21", "paidAmount": "0.01"},
        ),
    ]
    assert added == len(expected)
    assert await _stored(migrated) == [
        (kind, case_id, actor, event, data) for kind, actor, event, data in expected
    ]
    # Every kind of the feed is produced by some rule (flags and complaints included).
    assert {kind for kind, *_ in expected} == set(DecisionKind)
    assert {rule.kind for rule in RULES} == set(DecisionKind)
    # Projecting the same events again, or a range that holds them, adds nothing.
    async with writing(migrated) as conn:
        assert await decisions.append_decisions_from_events(conn, 0) == 0
        assert await decisions.project_events(conn, events) == 0
    assert len(await _stored(migrated)) == len(expected)
    await factory.cleanup()


async def test_the_page_reader_gives_accounts_external_id_actor_and_cursors(
    migrated: AsyncEngine,
) -> None:
    factory = Factory(migrated)
    staff = await factory.staff("reader.actor", roles=("manager",))
    borrower = await factory.borrower(external_id="CORE-B-77")
    made = await factory.case(borrower=borrower, debts=2)
    other = await factory.case(borrower=borrower, portfolio="sme")
    async with writing(migrated) as conn:
        await decisions.append_decisions(
            conn,
            [
                DecisionRow(
                    AT,
                    DecisionKind.CASE_CLOSED,
                    {"closeReason": "CURED"},
                    made.case.id,
                    None,
                    staff.id,
                ),
                # A decision about the borrower as a whole: every account of theirs.
                DecisionRow(
                    AT, DecisionKind.BORROWER_FLAGGED, {"flag": "DECEASED"}, None, borrower.id
                ),
            ],
        )
    async with migrated.connect() as conn:
        page, more = await decisions.fetch_page(conn, 0, 1)
        assert more is True
        (first,) = page
        rest, more = await decisions.fetch_page(
            conn, decisions.decode_cursor(decisions.encode_cursor(first.id)), 5
        )
        assert more is False
        assert await decisions.count(conn) == 2
    accounts = tuple(sorted(debt.account_number for debt in made.debts))
    everything = tuple(sorted([*accounts, other.debts[0].account_number]))
    assert (first.kind, first.case_reference, first.account_numbers) == (
        "CASE_CLOSED",
        made.case.reference,
        accounts,
    )
    assert (first.borrower_external_id, first.actor_login, dict(first.data)) == (
        "CORE-B-77",
        "reader.actor",
        {"closeReason": "CURED"},
    )
    (second,) = rest
    assert second.id > first.id
    assert (second.case_id, second.case_reference, second.account_numbers) == (
        None,
        None,
        everything,
    )
    assert (second.borrower_external_id, second.actor_login) == ("CORE-B-77", None)
    await factory.cleanup()


def test_a_cursor_of_another_listing_or_garbage_is_refused() -> None:
    from store import keyset

    for bad in ("garbage", keyset.encode_cursor("cases", 5), keyset.encode_cursor("decisions", 0)):
        try:
            decisions.decode_cursor(bad)
        except InvalidCursor:
            continue
        raise AssertionError(f"accepted {bad!r}")
    assert decisions.decode_cursor(decisions.encode_cursor(42)) == 42


async def test_the_unit_of_work_projects_exactly_the_events_it_writes(
    migrated: AsyncEngine,
) -> None:
    factory = Factory(migrated)
    await factory.agency("Acme Recovery")
    staff = await factory.staff("placer", roles=("manager",))
    await factory.staff("worker")
    made = await factory.case()
    sessions = session_factory(migrated)
    clock = FixedClock(AT)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions)

    await services.assign_case(uow, clock, made.case.id, "worker", staff.id)
    assert await _stored(migrated) == []  # an assignment is no decision
    await services.place_with_agency(uow, clock, made.case.id, "Acme Recovery", staff.id)
    ((kind, case_id, actor, event_id, data),) = await _stored(migrated)
    assert (kind, case_id, actor) == ("CASE_PLACED", made.case.id, staff.id)
    assert data["agencyName"] == "Acme Recovery"
    async with migrated.connect() as conn:
        ev = tables.case_events.c
        name = (await conn.execute(select(ev.name).where(ev.id == event_id))).scalar_one()
    assert name == "CasePlaced"
    # A unit of work that rolls back leaves neither the event nor the decision.
    async with SqlUnitOfWork(sessions) as work:
        case = await work.cases.get(made.case.id)
        assert case is not None
        case.recall(AT, staff.id)
        await work.rollback()
    assert len(await _stored(migrated)) == 1
    async with migrated.connect() as conn:
        recalled = select(ev.id).where(ev.case_id == made.case.id, ev.name == "CaseRecalled")
        assert (await conn.execute(recalled)).all() == []
    await services.recall_from_agency(uow, clock, made.case.id, staff.id)
    kinds = [row[0] for row in await _stored(migrated)]
    assert kinds == ["CASE_PLACED", "CASE_RECALLED"]
    await factory.cleanup()


def test_the_rules_are_data_that_names_no_personal_field() -> None:
    personal = {"full_name", "national_id", "phone", "email", "address", "employer", "income"}
    free_text = {"description", "resolution", "note", "evidence_ref", "reason_text", "notes"}
    for rule in RULES:
        for field in rule.fields:
            assert field.key not in personal | free_text, (rule.kind, field.key)
    assert is_decision("CaseTransitioned", {"to_status": "CLOSED", "trigger": "CURE"})
    assert not is_decision("CaseTransitioned", {"to_status": "OPEN", "trigger": "ESCALATE"})
    assert not is_decision("PromiseEvaluated", {"status": "KEPT", "previous_status": "KEPT"})
    assert is_decision("PromiseEvaluated", {"status": "BROKEN", "previous_status": "OPEN"})
