"""Demo protections and early warning: complaints and disputes, borrower flags, partner systems'
signals, and the warnings the daily run raises on the as-of date.

Chosen after the cases are written, from the rows: only cases of no scripted story (their
contacts show the conduct rules by themselves), open, latest first (so the first cases, which
guides and tests reach for, stay unprotected). An open complaint or dispute and an active flag
stop or limit outbound contact, so each is dated after the case's last outbound contact and
last callback asked for (and a resolved complaint or a lifted flag was open, or set, only in that
quiet span): the contact history stays what the conduct engine allows with the protections in
force at each moment. Each is dated in the case's quiet span, never after the demo's "now".

The warnings are raised by the daily run's own statements (``store.warnings_queries``) at "now",
so a daily run on the as-of date raises none anew; a few are then acknowledged, and one handled,
by the case's own people, as the API would record them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.cases.model import CaseStatus
from domain.complaints.model import ComplaintChannel, ComplaintKind, ComplaintStatus
from domain.flags.effects import FLAG_RULES
from domain.flags.model import BorrowerFlagKind
from domain.warnings.model import WarningStatus
from domain.warnings.rules import Severity, SignalKind
from store import tables
from store.demo_staff import AGENCY_IDS, AGENCY_STAFF, COLLECTORS, STAFF_IDS
from store.warnings_queries import raise_warnings

Row = dict[str, Any]

COLLECTOR, AGENCY, POOL = "collector", "agency", "pool"
RETAIL, US = "retail", "us-cards"
_ORAL = frozenset({ComplaintChannel.PHONE, ComplaintChannel.IN_PERSON})
# How many of the latest unscripted open cases are looked at (enough for every wish).
_LOOKED_AT = 400


@dataclass(frozen=True)
class _Wish:
    """A protection the demo shows: where (portfolio, holder kind) and how long the case must
    have been quiet (no outbound contact, no callback due) before "now"."""

    portfolio: str
    holder: str
    quiet_days: int


@dataclass(frozen=True)
class _ComplaintWish(_Wish):
    kind: ComplaintKind = ComplaintKind.COMPLAINT
    channel: ComplaintChannel = ComplaintChannel.PHONE
    description: str = ""
    resolution: str | None = None


@dataclass(frozen=True)
class _FlagWish(_Wish):
    flag: BorrowerFlagKind = BorrowerFlagKind.HARDSHIP
    evidence: str | None = None
    note: str | None = None
    review_in: int | None = None  # days after "today" (negative: the review is overdue)
    lift_note: str | None = None  # set: the flag was lifted


@dataclass(frozen=True)
class _SignalWish(_Wish):
    kind: SignalKind = SignalKind.OTHER
    severity: Severity = Severity.MEDIUM
    details: str = ""
    days_ago: int = 1


C, K, F = ComplaintChannel, ComplaintKind, BorrowerFlagKind
_COMPLAINTS = (
    _ComplaintWish(
        RETAIL,
        COLLECTOR,
        3,
        K.COMPLAINT,
        C.PHONE,
        "Says she was called at work after asking to be called only in the evening.",
    ),
    _ComplaintWish(
        RETAIL,
        AGENCY,
        4,
        K.DISPUTE,
        C.LETTER,
        "Disputes the penalty interest: says the March instalment was paid at the branch.",
    ),
    _ComplaintWish(
        RETAIL,
        AGENCY,
        5,
        K.COMPLAINT,
        C.REGULATOR,
        "Forwarded by the banking regulator's consumer office: tone of the agency's calls.",
    ),
    _ComplaintWish(
        US,
        COLLECTOR,
        4,
        K.DISPUTE,
        C.EMAIL,
        "Disputes the debt in writing and asks for validation of the balance.",
    ),
    _ComplaintWish(
        RETAIL,
        COLLECTOR,
        8,
        K.COMPLAINT,
        C.IN_PERSON,
        "Came to the branch: a field visitor spoke to a neighbour about the debt.",
        "Visit notes reviewed with the team lead; apology letter sent, visits by two staff.",
    ),
    _ComplaintWish(
        RETAIL,
        AGENCY,
        8,
        K.DISPUTE,
        C.WEB,
        "Disputes a fee charged after the card was closed.",
        "Fee confirmed as charged in error and reversed; balance statement sent.",
    ),
    _ComplaintWish(
        US,
        COLLECTOR,
        8,
        K.COMPLAINT,
        C.PHONE,
        "Complains of calls before 8 a.m. at the number on file.",
        "Call log checked: no call before 8 a.m. local time; explained and logged.",
    ),
)
_FLAGS = (
    _FlagWish(
        RETAIL,
        COLLECTOR,
        4,
        F.HARDSHIP,
        note="Hours cut at the factory; income halved until the summer.",
        review_in=60,
    ),
    _FlagWish(
        RETAIL,
        COLLECTOR,
        4,
        F.SERIOUS_ILLNESS,
        evidence="DOC-MED-2041 hospital letter",
        note="In treatment; letters only.",
        review_in=90,
    ),
    _FlagWish(
        RETAIL,
        COLLECTOR,
        5,
        F.DECEASED,
        evidence="DOC-DC-3307 death certificate",
        note="Reported by the family; the estate is handled by hand.",
    ),
    _FlagWish(
        US,
        COLLECTOR,
        4,
        F.MILITARY_SERVICE,
        evidence="DOC-SCRA-5120 active duty status report",
        review_in=180,
    ),
    _FlagWish(
        US,
        COLLECTOR,
        5,
        F.BANKRUPTCY,
        evidence="DOC-BK-26-10234 Chapter 7 notice",
        note="Claims go through the trustee.",
        review_in=120,
    ),
    _FlagWish(
        RETAIL,
        COLLECTOR,
        45,
        F.VULNERABLE,
        note="Elderly borrower living alone; her son helps with the post.",
        review_in=-5,
    ),
    _FlagWish(
        US,
        AGENCY,
        4,
        F.CEASE_COMMUNICATION,
        evidence="DOC-CEASE-7781 borrower's letter",
        note="Asked in writing that we stop contacting him.",
        review_in=365,
    ),
    _FlagWish(
        RETAIL,
        AGENCY,
        12,
        F.HARDSHIP,
        note="Temporary loss of income after an accident.",
        review_in=30,
        lift_note="Back at work full time; repayments resumed.",
    ),
)
_SIGNALS = (
    _SignalWish(
        RETAIL,
        COLLECTOR,
        0,
        SignalKind.CREDIT_BUREAU_HIT,
        Severity.HIGH,
        "New default reported by another lender (credit card).",
        3,
    ),
    _SignalWish(
        US, COLLECTOR, 0, SignalKind.JOB_LOSS, Severity.MEDIUM, "Employer reported a layoff.", 9
    ),
    _SignalWish(
        RETAIL,
        AGENCY,
        0,
        SignalKind.INCOME_DROP,
        Severity.LOW,
        "Salary deposits down by more than half for two months.",
        16,
    ),
    _SignalWish(
        US,
        POOL,
        0,
        SignalKind.LITIGATION_ELSEWHERE,
        Severity.HIGH,
        "Sued by another creditor in county court.",
        6,
    ),
)
del C, K, F


@dataclass(frozen=True)
class _Candidate:
    id: int
    borrower_id: int
    portfolio: str
    holder: str
    assignee_id: int | None
    agency_id: int | None
    quiet_since: datetime  # the last outbound contact or callback asked for, or the opening


async def _candidates(conn: AsyncConnection, scripted: Callable[[int], bool]) -> list[_Candidate]:
    """The latest open cases of no scripted story, latest first, with their quiet span."""
    c, t = tables.cases.c, tables.contacts.c
    last = (
        select(
            t.case_id,
            func.max(t.at).label("last_out"),
            func.max(t.callback_at).label("last_callback"),
        )
        .where(t.direction == "OUTBOUND")
        .group_by(t.case_id)
        .subquery("last")
    )
    rows = await conn.execute(
        select(
            c.id,
            c.borrower_id,
            c.portfolio,
            c.assignee_id,
            c.agency_id,
            c.opened_on,
            last.c.last_out,
            last.c.last_callback,
        )
        .outerjoin(last, last.c.case_id == c.id)
        .where(c.status == CaseStatus.OPEN.value)
        .order_by(c.id.desc())
        .limit(_LOOKED_AT * 2)
    )
    collectors = {STAFF_IDS[login] for login in COLLECTORS}
    found = []
    for row in rows:
        if scripted(row.id):
            continue
        holder = AGENCY if row.agency_id else COLLECTOR if row.assignee_id in collectors else POOL
        opened = datetime.combine(row.opened_on, time(1), UTC)
        moments = [m for m in (row.last_out, row.last_callback) if m is not None]
        found.append(
            _Candidate(
                row.id,
                row.borrower_id,
                row.portfolio,
                holder,
                row.assignee_id,
                row.agency_id,
                max([opened, *moments]),
            )
        )
    return found[:_LOOKED_AT]


class _Picker:
    """Gives each wish a case of its own, latest first; a wish no case fits (a small demo) is
    left out."""

    def __init__(self, candidates: Sequence[_Candidate], now: datetime) -> None:
        self.candidates, self.now, self.used = candidates, now, set[int]()

    def pick(self, wish: _Wish) -> _Candidate | None:
        quiet_before = self.now - timedelta(days=wish.quiet_days)
        for strict in (True, False):
            for case in self.candidates:
                if case.id in self.used or case.portfolio != wish.portfolio:
                    continue
                if strict and case.holder != wish.holder:
                    continue
                if case.quiet_since > quiet_before:
                    continue
                self.used.add(case.id)
                return case
        return None


class _Builder:
    """Builds the rows; every random choice comes from its own ``random.Random`` (the cases'
    draws are untouched)."""

    def __init__(self, seed: int, as_of: date, now: datetime) -> None:
        self.rng = random.Random(f"{seed}:protections")
        self.as_of, self.now = as_of, now

    def moment(self, after: datetime, before: datetime) -> datetime:
        """A whole minute strictly between the two instants."""
        span = int((before - after).total_seconds() // 60)
        return after + timedelta(minutes=self.rng.randint(1, max(span - 1, 1)))

    def worker(self, case: _Candidate) -> int:
        """Who recorded something on the case: its collector, an agent of its agency, or (the
        pool) the team lead."""
        if case.agency_id is not None:
            agency = next(name for name, pk in AGENCY_IDS.items() if pk == case.agency_id)
            return STAFF_IDS[self.rng.choice(AGENCY_STAFF[agency])]
        return case.assignee_id or STAFF_IDS["lead1"]

    def complaint(self, pk: int, case: _Candidate, wish: _ComplaintWish) -> Row:
        filed = self.moment(case.quiet_since, self.now - timedelta(days=wish.quiet_days // 2))
        resolved = self.moment(filed, self.now) if wish.resolution else None
        status = ComplaintStatus.RESOLVED if resolved else ComplaintStatus.OPEN
        return {
            "id": pk,
            "case_id": case.id,
            "borrower_id": case.borrower_id,
            "kind": wish.kind.value,
            "channel": wish.channel.value,
            "written": wish.channel not in _ORAL,
            "description": wish.description,
            "status": status.value,
            "filed_at": filed,
            "filed_by": STAFF_IDS["core.banking"]
            if wish.channel is ComplaintChannel.WEB
            else self.worker(case),
            "resolved_at": resolved,
            "resolved_by": STAFF_IDS["manager"] if resolved else None,
            "resolution": wish.resolution if resolved else None,
            "version": 2 if resolved else 1,
        }

    def flag(self, pk: int, case: _Candidate, wish: _FlagWish) -> Row:
        rule = FLAG_RULES[wish.flag]
        assert wish.evidence or not rule.evidence_required, wish.flag
        assert wish.review_in is not None or not rule.review_required, wish.flag
        latest = self.now - timedelta(days=wish.quiet_days // 2)
        if wish.review_in is not None and wish.review_in < 0:  # set a month before its review
            latest = min(
                latest,
                datetime.combine(self.as_of + timedelta(days=wish.review_in - 30), time(1), UTC),
            )
        set_at = self.moment(case.quiet_since, latest)
        lifted = self.moment(set_at, self.now) if wish.lift_note else None
        review = self.as_of + timedelta(days=wish.review_in) if wish.review_in else None
        return {
            "id": pk,
            "borrower_id": case.borrower_id,
            "flag": wish.flag.value,
            "evidence_ref": wish.evidence,
            "note": wish.note,
            "set_by": self.worker(case),
            "set_at": set_at,
            "review_on": review,
            "lifted_at": lifted,
            "lifted_by": STAFF_IDS["manager"] if lifted else None,
            "lift_note": wish.lift_note if lifted else None,
        }

    def signal(self, pk: int, case: _Candidate, wish: _SignalWish) -> Row:
        day = self.now - timedelta(days=wish.days_ago)
        return {
            "id": pk,
            "borrower_id": case.borrower_id,
            "kind": wish.kind.value,
            "severity": wish.severity.value,
            "details": wish.details,
            "received_at": self.moment(day - timedelta(hours=8), day),
            "posted_by": STAFF_IDS["core.banking"],
            "idempotency_key": None,
            "request_digest": None,
        }


def _rows(
    candidates: Sequence[_Candidate], seed: int, as_of: date, now: datetime
) -> dict[Table, list[Row]]:
    picker, build = _Picker(candidates, now), _Builder(seed, as_of, now)
    rows: dict[Table, list[Row]] = {
        tables.complaints: [],
        tables.borrower_flags: [],
        tables.external_signals: [],
    }
    for wish in _COMPLAINTS:
        case = picker.pick(wish)
        if case is not None:
            made = rows[tables.complaints]
            made.append(build.complaint(len(made) + 1, case, wish))
    for flag_wish in _FLAGS:
        case = picker.pick(flag_wish)
        if case is not None:
            made = rows[tables.borrower_flags]
            made.append(build.flag(len(made) + 1, case, flag_wish))
    for signal_wish in _SIGNALS:
        case = picker.pick(signal_wish)
        if case is not None:
            made = rows[tables.external_signals]
            made.append(build.signal(len(made) + 1, case, signal_wish))
    return rows


async def _work_warnings(conn: AsyncConnection, now: datetime) -> None:
    """Acknowledges two warnings of collectors' cases and one of an agency's case (of different
    rules), and handles one more, by the case's own people."""
    w = tables.warnings.c
    raised = (
        await conn.execute(
            select(w.id, w.rule, w.assignee_id, w.agency_id)
            .where(w.status == WarningStatus.RAISED.value)
            .order_by(w.id)
        )
    ).all()
    ids = {pk: login for login, pk in STAFF_IDS.items()}
    agency_names = {pk: name for name, pk in AGENCY_IDS.items()}
    rules: set[str] = set()
    steps: list[tuple[int, int, bool]] = []  # warning, who, handled
    for want_agency, handled in ((False, False), (True, False), (False, False), (False, True)):
        for row in raised:
            if row.rule in rules or (row.agency_id is not None) != want_agency:
                continue
            if want_agency:
                who = STAFF_IDS[AGENCY_STAFF[agency_names[row.agency_id]][0]]
            elif ids.get(row.assignee_id) in COLLECTORS:
                who = row.assignee_id
            else:
                continue
            rules.add(row.rule)
            steps.append((row.id, who, handled))
            break
    for pk, who, handled in steps:
        values: Row = {
            "status": WarningStatus.ACKNOWLEDGED.value,
            "acknowledged_at": now,
            "acknowledged_by": who,
            "version": 2,
        }
        if handled:
            values |= {
                "status": WarningStatus.HANDLED.value,
                "handled_at": now,
                "handled_by": who,
                "note": "Called the borrower back; a payment plan is being prepared.",
                "version": 3,
            }
        await conn.execute(update(tables.warnings).where(w.id == pk).values(**values))


async def seed_protections(
    conn: AsyncConnection,
    seed: int,
    as_of: date,
    now: datetime,
    scripted: Callable[[int], bool],
) -> dict[str, int]:
    """Writes the demo's complaints, flags and signals into the seeded cases, raises the
    warnings of the as-of date and works a few; returns how many rows of each it wrote."""
    candidates = await _candidates(conn, scripted)
    counts: dict[str, int] = {}
    for table, rows in _rows(candidates, seed, as_of, now).items():
        if rows:
            await conn.execute(insert(table), rows)
        counts[table.name] = len(rows)
    await raise_warnings(conn, as_of, now)
    await _work_warnings(conn, now)
    counts["warnings"] = (
        await conn.execute(select(func.count()).select_from(tables.warnings))
    ).scalar_one()
    return counts
