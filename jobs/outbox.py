"""The outbox (``arrears outbox``): hands the queued notices that are due to the notice gateway.

One run holds the job's lock (``jobs.locks``: a concurrent run is refused) and works in batches
of ``BATCH`` notices, oldest first, up to ``limit``. For each batch:

1. **Check**, in one transaction: the set-based re-check (``store.notice_queries
   .suppress_protected``: the case closed or on hold, a protection in force, the contact point
   gone, opted out or invalid, the case owing nothing, the notice stale → SUPPRESSED naming the
   rule); then, per notice, the conduct rules at this instant (``domain.contacts.conduct.assess``
   with the conduct profile in effect): quiet hours of a timed channel → kept QUEUED with
   ``not_before`` the next allowed instant, another refusal → SUPPRESSED; then its text: the one
   an earlier attempt stored, else rendered from the template version the notice names (missing,
   or without a text in the notice's language → FAILED ``NO_APPROVED_TEMPLATE``; failing to
   render in any way → FAILED ``RENDER_FAILED``, the error's class as ``last_error``). What was
   decided, and its ``notice.send`` audit entry (``stage`` ``check``), commit together before
   any notice leaves.
2. **Send**, one notice after the other: the conduct rules again at a fresh instant (the quiet
   hours may have begun meanwhile: deferred then), then ``claim`` — the text stored and the
   attempt counted, in a transaction of its own — then the gateway (``jobs.notice_gateways``).
   The batch stops sending after ``send_budget`` seconds (its checks age; the rest wait for the
   next batch, checked afresh), and the run stops after ``OUTAGE_AFTER`` answers in a row that
   say the gateway is unavailable (the notices not handed over stay as they were).
3. **Answers**, in one transaction: SENT with the provider's reference and NoticeSent;
   REJECTED → FAILED ``GATEWAY_REJECTED`` and NoticeFailed; UNAVAILABLE → QUEUED again after a
   delay (``RETRY_DELAYS``), FAILED when the attempts run out; the late deferrals; and the
   ``notice.send`` audit entry (``stage`` ``send``). Neither entry holds a body or an address.

A run that dies after a claim leaves the notice QUEUED with its attempt counted, its text stored
and ``not_before`` a lease (``lease_until``): when it is due again it is resent as stored, with
the same ``Idempotency-Key`` (``notice-<id>``), by which the gateway recognises a repeat; it is
never suppressed (it may have reached the gateway), and once its attempts ran out it FAILS. A
receipt that arrives before step 3 (QUEUED → DELIVERED) is kept: step 3 then records when it was
sent without moving the notice back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.clock import Clock
from domain.conduct.profiles import ConductProfile
from domain.contacts.conduct import Situation, assess, situation_of
from domain.contacts.model import (
    CHANNEL_KIND,
    ContactChannel,
    ContactDirection,
    ContactParty,
    ContactPoint,
)
from domain.money import Money
from domain.notices.errors import NoTemplateText
from domain.notices.model import NoticeRule
from domain.notices.outbox import (
    OUTAGE_AFTER,
    Answer,
    AtSend,
    Verdict,
    amounts_due,
    at_resend,
    at_send,
    attempts_ran_out,
    collector_of,
    dispute_deadline,
    lease_until,
    mask_account,
    retry_at,
)
from domain.notices.rendering import NoticeContext, render
from domain.portfolios import conduct_profile_of, local_today, portfolio_of
from jobs.locks import job_lock
from jobs.notice_gateways import Gateway, Outgoing
from store import changes_queries, notice_queries
from store.audit import AuditAction, AuditRecord, Outcome, append
from store.daily_queries import sessions_in
from store.notice_queries import Batch, Failure, QueuedNotice, Sent

JOB = "outbox"
ACTOR = "system:outbox"
# Notices per batch: each batch is one check transaction, its sends, one answers transaction.
BATCH = 100
# The most notices one run takes from the queue (``arrears outbox --limit``).
DEFAULT_LIMIT = 1000
# The most seconds a batch spends handing notices over; the rest wait for the next batch.
SEND_BUDGET_SECONDS = 60.0
# Why a failure has no answer of the gateway's: the run died after handing it over, last time.
NO_ANSWER_RECORDED = "no answer recorded for the last attempt"


@dataclass
class OutboxResult:
    """What one run did with the notices it took from the queue."""

    sent: int = 0
    deferred: int = 0  # kept QUEUED until the conduct rules allow them (quiet hours)
    suppressed: int = 0
    failed: int = 0
    retrying: int = 0  # the gateway could not take them now: tried again later
    batches: int = 0
    # The gateway answered "unavailable" OUTAGE_AFTER times in a row: the run stopped, leaving
    # ``untried`` notices it had checked as they were (no attempt counted).
    gateway_unavailable: bool = False
    untried: int = 0

    @property
    def taken(self) -> int:
        return self.sent + self.deferred + self.suppressed + self.failed + self.retrying

    def summary(self) -> dict[str, int | bool]:
        return asdict(self)


@dataclass(frozen=True)
class Progress:
    batch: int
    taken: int
    limit: int


@dataclass(frozen=True)
class _Conduct:
    """A notice's conduct check, at any instant (the facts loaded once per batch)."""

    notice: QueuedNotice
    situation: Situation
    point: ContactPoint | None
    profile: ConductProfile

    def at(self, instant: datetime) -> AtSend:
        allowance = assess(
            self.situation,
            channel=self.notice.channel,
            party=self.notice.party,
            direction=ContactDirection.OUTBOUND,
            point=self.point,
            history=(),  # a message's rules count no calls (a notice goes to a right party)
            at=instant,
            conduct=self.profile,
        )
        return at_resend(allowance) if self.notice.attempts > 0 else at_send(allowance)


@dataclass(frozen=True)
class _Ready:
    """A notice cleared to go: what the gateway gets, its digest, and its conduct check."""

    notice: QueuedNotice
    message: Outgoing
    digest: str
    conduct: _Conduct


@dataclass
class _Decided:
    """What one transaction decided, by outcome (notice ids), for its audit entry."""

    case_ids: set[int] = field(default_factory=set)
    sent: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)

    def outcome(self) -> dict[str, list[int]]:
        return {
            "sent": self.sent,
            "deferred": self.deferred,
            "suppressed": self.suppressed,
            "failed": self.failed,
            "retrying": self.retrying,
        }

    def count_into(self, result: OutboxResult) -> None:
        result.sent += len(self.sent)
        result.deferred += len(self.deferred)
        result.suppressed += len(self.suppressed)
        result.failed += len(self.failed)
        result.retrying += len(self.retrying)

    def __bool__(self) -> bool:
        return any(self.outcome().values())


@dataclass
class _Writes:
    """The rows one transaction writes, by kind of change."""

    deferrals: list[tuple[int, datetime]] = field(default_factory=list)
    suppressions: list[tuple[int, str]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    retries: list[tuple[int, datetime, str]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)


@dataclass
class _Run:
    result: OutboxResult
    unavailable_in_a_row: int = 0


async def run_outbox(
    engine: AsyncEngine,
    clock: Clock,
    audit_key: bytes,
    gateway: Gateway,
    *,
    limit: int = DEFAULT_LIMIT,
    progress: Callable[[Progress], None] | None = None,
    send_budget: float = SEND_BUDGET_SECONDS,
) -> OutboxResult:
    """Sends the queued notices that are due, at most ``limit``, oldest first. Raises JobLocked
    when another run holds the lock."""
    if limit < 1:
        raise ValueError("the limit is at least 1")
    run = _Run(OutboxResult())
    result = run.result
    async with job_lock(engine, JOB):
        while result.taken < limit and not result.gateway_unavailable:
            size = min(BATCH, limit - result.taken)
            selected, cut = await _batch(engine, clock, audit_key, gateway, size, run, send_budget)
            if selected == 0:
                break
            result.batches += 1
            if progress is not None:
                progress(Progress(result.batches, result.taken, limit))
            if selected < size and not cut:
                break
    return result


async def _batch(
    engine: AsyncEngine,
    clock: Clock,
    audit_key: bytes,
    gateway: Gateway,
    size: int,
    run: _Run,
    send_budget: float,
) -> tuple[int, bool]:
    """One batch (see the module's docstring); returns how many notices it selected and whether
    it stopped sending before the end (the budget spent, or the gateway unavailable)."""
    now = clock.now()
    checked, writes = _Decided(), _Writes()
    ready: list[_Ready] = []
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            ids = await notice_queries.due_batch(conn, now, size)
            if not ids:
                return 0, False
            for gone in await notice_queries.suppress_protected(conn, ids, now):
                checked.suppressed.append(gone.id)
                checked.case_ids.add(gone.case_id)
            gone_ids = set(checked.suppressed)
            async with sessions_in(conn)() as session:
                batch = await notice_queries.load_batch(
                    session, [pk for pk in ids if pk not in gone_ids]
                )
            profiles = await changes_queries.conduct_profiles_in_effect(
                conn, [conduct_profile_of(x.portfolio) for x in batch.notices], now
            )
            _check(batch, profiles, now, checked, writes, ready)
            await _write(conn, writes, now)
            if checked:
                await append(conn, audit_key, [_record(now, "check", checked)])
    checked.count_into(run.result)

    sending, answers = _Decided(), _Writes()
    cut = await _send(engine, clock, gateway, ready, run, send_budget, sending, answers)
    if sending:
        at = clock.now()
        async with engine.connect() as conn:
            await conn.execution_options(sqlite_begin="IMMEDIATE")
            async with conn.begin():
                recorded = await notice_queries.mark_sent(conn, answers.sent)
                await notice_queries.sent_events(conn, recorded, at)
                await notice_queries.retry(conn, answers.retries)
                await _write(conn, answers, at)
                await append(conn, audit_key, [_record(at, "send", sending)])
        sending.count_into(run.result)
    return len(ids), cut


async def _write(conn: AsyncConnection, writes: _Writes, at: datetime) -> None:
    """The deferrals, suppressions and failures (with their events) of one transaction."""
    await notice_queries.defer(conn, writes.deferrals)
    await notice_queries.suppress(conn, writes.suppressions)
    await notice_queries.fail(conn, writes.failures, at)
    await notice_queries.failed_events(conn, [f.notice_id for f in writes.failures], at)


def _check(
    batch: Batch,
    profiles: dict[str, ConductProfile],
    now: datetime,
    checked: _Decided,
    writes: _Writes,
    ready: list[_Ready],
) -> None:
    """The conduct rules and the text of each notice left after the re-check: what to defer,
    suppress or fail goes to ``checked`` and ``writes``, what may go to ``ready``."""
    for notice in batch.notices:
        checked.case_ids.add(notice.case_id)
        if attempts_ran_out(notice.attempts):
            writes.failures.append(
                Failure(notice.id, NoticeRule.GATEWAY_REJECTED.value, NO_ANSWER_RECORDED)
            )
            checked.failed.append(notice.id)
            continue
        point = batch.point(notice)
        situation = situation_of(
            batch.cases[notice.case_id],
            batch.borrowers[notice.borrower_id],
            batch.points.get(notice.borrower_id, []),
            batch.protections[notice.case_id],
        )
        profile = profiles[conduct_profile_of(notice.portfolio)]
        conduct = _Conduct(notice, situation, point, profile)
        verdict = conduct.at(now)
        if verdict.verdict is Verdict.DEFER:
            assert verdict.not_before is not None
            writes.deferrals.append((notice.id, verdict.not_before))
            checked.deferred.append(notice.id)
            continue
        if point is None or verdict.verdict is Verdict.SUPPRESS:
            rule = verdict.rule or NoticeRule.NO_CONTACT_POINT.value
            if notice.attempts > 0:  # its point is gone: it cannot be resent
                writes.failures.append(Failure(notice.id, rule, "no contact point to resend to"))
                checked.failed.append(notice.id)
            else:
                writes.suppressions.append((notice.id, rule))
                checked.suppressed.append(notice.id)
            continue
        text = _text(notice, batch, now)
        if isinstance(text, Failure):
            writes.failures.append(text)
            checked.failed.append(notice.id)
            continue
        subject, body, digest = text
        message = Outgoing(
            notice_id=notice.id,
            channel=notice.channel.value,
            to=point.value,
            to_kind=CHANNEL_KIND[notice.channel],
            language=notice.language,
            subject=subject,
            body=body,
            case_reference=notice.case_reference,
        )
        ready.append(_Ready(notice, message, digest, conduct))


def _text(
    notice: QueuedNotice, batch: Batch, now: datetime
) -> tuple[str | None, str, str] | Failure:
    """(subject, body, digest) the notice goes with: as an earlier attempt stored them (never
    rendered again), else rendered now from the version it names; or why it cannot go."""
    if notice.body is not None and notice.body_digest is not None:
        return notice.subject, notice.body, notice.body_digest
    template = batch.templates.get((notice.template, notice.template_version))
    if template is None or template.channel != notice.channel:
        return Failure(notice.id, NoticeRule.NO_APPROVED_TEMPLATE.value, "no such version")
    try:
        rendered = render(template, _context(notice, batch, now))
        if "\x00" in rendered.body or "\x00" in (rendered.subject or ""):
            raise ValueError("a NUL character")  # no database keeps it as text
    except NoTemplateText:
        return Failure(notice.id, NoticeRule.NO_APPROVED_TEMPLATE.value, "no text in its language")
    except Exception as exc:  # whatever one text fails with fails that notice, not the run
        return Failure(notice.id, NoticeRule.RENDER_FAILED.value, type(exc).__name__)
    return rendered.subject, rendered.body, rendered.digest


async def _send(
    engine: AsyncEngine,
    clock: Clock,
    gateway: Gateway,
    ready: list[_Ready],
    run: _Run,
    send_budget: float,
    sending: _Decided,
    answers: _Writes,
) -> bool:
    """Hands the ready notices to the gateway one after the other (see the module's
    docstring); returns whether it stopped before the end."""
    started = time.monotonic()
    handed = 0
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        for index, item in enumerate(ready):
            if handed and time.monotonic() - started > send_budget:
                return True
            pk = item.notice.id
            at = clock.now()
            verdict = item.conduct.at(at)  # the quiet hours may have begun since the check
            if verdict.verdict is not Verdict.SEND:
                sending.case_ids.add(item.notice.case_id)
                if verdict.verdict is Verdict.DEFER:
                    assert verdict.not_before is not None
                    answers.deferrals.append((pk, verdict.not_before))
                    sending.deferred.append(pk)
                else:
                    assert verdict.rule is not None
                    answers.suppressions.append((pk, verdict.rule))
                    sending.suppressed.append(pk)
                continue
            attempt = item.notice.attempts + 1
            message = item.message
            async with conn.begin():
                claimed = await notice_queries.claim(
                    conn, pk, message.subject, message.body, item.digest, lease_until(attempt, at)
                )
            if not claimed:
                continue  # a receipt moved it meanwhile: nothing to send
            handed += 1
            sending.case_ids.add(item.notice.case_id)
            reply = await gateway.send(message)
            answered = clock.now()
            if reply.answer is Answer.UNAVAILABLE:
                run.unavailable_in_a_row += 1
            else:
                run.unavailable_in_a_row = 0
            if reply.answer is Answer.ACCEPTED:
                answers.sent.append(Sent(pk, answered, reply.provider_ref))
                sending.sent.append(pk)
            else:
                error = reply.error or reply.answer.value
                again = retry_at(attempt, answered) if reply.answer is Answer.UNAVAILABLE else None
                if again is not None:
                    answers.retries.append((pk, again, error))
                    sending.retrying.append(pk)
                else:
                    rejected = NoticeRule.GATEWAY_REJECTED.value
                    answers.failures.append(Failure(pk, rejected, error))
                    sending.failed.append(pk)
            if run.unavailable_in_a_row >= OUTAGE_AFTER:
                run.result.gateway_unavailable = True
                run.result.untried += len(ready) - index - 1
                return True
    return False


def _context(notice: QueuedNotice, batch: Batch, now: datetime) -> NoticeContext:
    """What the notice says, from the batch's facts, in the case's currency, dated the
    portfolio's local date: the overdue amount and the next instalment (the unpaid instalments
    of the case's open debts), the balance; the itemization date is the day the case opened,
    its amount that day's balance (the daily run's snapshots; without them, the balance now
    plus the payments since), the payments since are those not reversed after that day, and
    no interest or fees since are stated (the core sends balances, not what it charged)."""
    portfolio = portfolio_of(notice.portfolio)
    today = local_today(notice.portfolio, now)
    currency = notice.currency

    def money(amount: Decimal) -> Money:
        return Money(amount, currency)

    due = amounts_due(batch.instalments.get(notice.case_id, ()), today)
    balance = money(notice.outstanding)
    payments = money(batch.payments_since.get(notice.case_id, Decimal(0)))
    itemized = batch.itemization.get(notice.case_id)
    name, identity = collector_of(
        notice.collector_name, notice.collector_login, notice.agency_name, notice.language
    )
    point = batch.point(notice)
    # A letter to the borrower shows the address it goes to; otherwise the borrower's record's.
    posted = notice.channel is ContactChannel.LETTER and notice.party is ContactParty.BORROWER
    address = point.value if posted and point is not None else notice.borrower_address
    return NoticeContext(
        borrower_name=notice.borrower_name,
        borrower_address=address,
        case_reference=notice.case_reference,
        lender_name=portfolio.lender,
        hotline=portfolio.hotline,
        collector_name=name,
        collector_id=identity,
        collector_address=portfolio.mailing_address,
        agency_name=notice.agency_name,
        amount_due=money(due.overdue),
        balance=balance,
        next_due_date=due.next_due_date,
        next_instalment_amount=None if due.next_amount is None else money(due.next_amount),
        days_past_due=notice.days_past_due,
        as_of=today,
        account_number=mask_account(batch.accounts.get(notice.case_id, "")),
        itemization_date=notice.opened_on,
        itemization_amount=balance + payments if itemized is None else money(itemized),
        interest_since=Money.zero(currency),
        fees_since=Money.zero(currency),
        payments_since=payments,
        dispute_deadline=dispute_deadline(today, conduct_profile_of(notice.portfolio)),
        language=notice.language,
        channel=notice.channel,
    )


def _record(at: datetime, stage: str, decided: _Decided) -> AuditRecord:
    """A transaction's one audit entry: its stage, the notices by outcome and the counts (ids
    only: never a body or an address)."""
    outcome = decided.outcome()
    changes: dict[str, Any] = {"stage": stage}
    changes |= {name: sorted(ids) for name, ids in outcome.items()}
    changes["counts"] = {name: len(ids) for name, ids in outcome.items()}
    return AuditRecord(
        at=at,
        action=AuditAction.NOTICE_SEND,
        outcome=Outcome.ALLOWED,
        actor_login=ACTOR,
        request_id=f"{JOB}:{stage}:{at.isoformat()}",
        operation_name=JOB,
        operation_type="job",
        resource_type="Case",
        case_ids=sorted(decided.case_ids),
        changes=changes,
    )
