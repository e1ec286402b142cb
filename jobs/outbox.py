"""The outbox (``arrears outbox``): hands the queued notices that are due to the notice gateway.

One run holds the job's lock (``jobs.locks``: a concurrent run is refused) and works in batches
of ``BATCH`` notices, oldest first, up to ``limit``. For each batch:

1. in one transaction: the set-based re-check (``store.notice_queries.suppress_protected``: the
   case closed or on hold, a protection in force, the contact point gone, opted out or invalid →
   SUPPRESSED naming the rule); then, per notice, the conduct rules at this instant
   (``domain.contacts.conduct.assess`` with the conduct profile in effect): quiet hours of a
   timed channel → kept QUEUED with ``not_before`` the next allowed instant, another refusal →
   SUPPRESSED; then rendering from the template version the notice names (missing, or without a
   text in the notice's language → FAILED ``NO_APPROVED_TEMPLATE``). This commits before any
   notice leaves.
2. outside any transaction: each rendered notice goes to the gateway (``jobs.notice_gateways``), one
   after the other.
3. in one transaction: the gateway's answers (``domain.notices.outbox.answer_of``): SENT with
   the subject, body, digest and the provider's reference, and NoticeSent; REJECTED → FAILED
   ``GATEWAY_REJECTED`` and NoticeFailed; UNAVAILABLE → QUEUED again after a delay
   (``RETRY_DELAYS``), FAILED when the attempts run out; and ONE ``notice.send`` audit entry for
   the batch (case ids, notice ids by outcome and counts: never a body or an address).

A crash between a gateway's answer and step 3 leaves the notice QUEUED: the next run sends it
again with the same ``Idempotency-Key`` (``notice-<id>``), by which the gateway recognises the
repeat. A receipt that arrives before step 3 (QUEUED → DELIVERED) is kept: step 3 then records
what was sent without moving the notice back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.clock import Clock
from domain.conduct.profiles import ConductProfile
from domain.contacts.conduct import assess, situation_of
from domain.contacts.model import CHANNEL_KIND, ContactDirection
from domain.money import Money
from domain.notices.errors import TemplateNotRenderable
from domain.notices.model import NoticeRule
from domain.notices.outbox import (
    Answer,
    Verdict,
    at_send,
    collector_of,
    dispute_deadline,
    mask_account,
    retry_at,
)
from domain.notices.rendering import NoticeContext, RenderedNotice, render
from domain.portfolios import conduct_profile_of, local_today, portfolio_of
from jobs.locks import job_lock
from jobs.notice_gateways import Gateway, Outgoing
from store import changes_queries, notice_queries
from store.audit import AuditAction, AuditRecord, Outcome, append
from store.daily_queries import sessions_in
from store.notice_queries import Batch, Failure, QueuedNotice, Sent

JOB = "outbox"
ACTOR = "system:outbox"
# Notices per batch: each batch is one read-and-check transaction, its sends, one write.
BATCH = 100
# The most notices one run takes from the queue (``arrears outbox --limit``).
DEFAULT_LIMIT = 1000


@dataclass
class OutboxResult:
    """What one run did with the notices it took from the queue."""

    sent: int = 0
    deferred: int = 0  # kept QUEUED until the conduct rules allow them (quiet hours)
    suppressed: int = 0
    failed: int = 0
    retrying: int = 0  # the gateway could not take them now: tried again later
    batches: int = 0

    @property
    def taken(self) -> int:
        return self.sent + self.deferred + self.suppressed + self.failed + self.retrying

    def summary(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Progress:
    batch: int
    taken: int
    limit: int


@dataclass
class _Plan:
    """One batch after its checks: what goes to the gateway, and what was decided already."""

    case_ids: set[int] = field(default_factory=set)
    outgoing: list[tuple[Outgoing, RenderedNotice, int]] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)


async def run_outbox(
    engine: AsyncEngine,
    clock: Clock,
    audit_key: bytes,
    gateway: Gateway,
    *,
    limit: int = DEFAULT_LIMIT,
    progress: Callable[[Progress], None] | None = None,
) -> OutboxResult:
    """Sends the queued notices that are due, at most ``limit``, oldest first. Raises JobLocked
    when another run holds the lock."""
    if limit < 1:
        raise ValueError("the limit is at least 1")
    result = OutboxResult()
    async with job_lock(engine, JOB):
        while result.taken < limit:
            size = min(BATCH, limit - result.taken)
            taken = await _batch(engine, clock, audit_key, gateway, size, result)
            if taken == 0:
                break
            result.batches += 1
            if progress is not None:
                progress(Progress(result.batches, result.taken, limit))
            if taken < size:
                break
    return result


async def _batch(
    engine: AsyncEngine,
    clock: Clock,
    audit_key: bytes,
    gateway: Gateway,
    size: int,
    result: OutboxResult,
) -> int:
    """One batch (see the module's docstring); returns how many notices it took."""
    now = clock.now()
    plan = _Plan()
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            ids = await notice_queries.due_batch(conn, now, size)
            if not ids:
                return 0
            for gone in await notice_queries.suppress_protected(conn, ids, now):
                plan.suppressed.append(gone.id)
                plan.case_ids.add(gone.case_id)
            async with sessions_in(conn)() as session:
                remaining = [pk for pk in ids if pk not in set(plan.suppressed)]
                batch = await notice_queries.load_batch(session, remaining)
            profiles = await changes_queries.conduct_profiles_in_effect(
                conn, [conduct_profile_of(x.portfolio) for x in batch.notices], now
            )
            deferrals, suppressions = _check(batch, profiles, now, plan)
            await notice_queries.defer(conn, deferrals)
            await notice_queries.suppress(conn, suppressions)
            await notice_queries.fail(conn, plan.failed, now)
            await notice_queries.failed_events(conn, [f.notice_id for f in plan.failed], now)
    replies = [
        (message, rendered, await gateway.send(message)) for message, rendered, _ in plan.outgoing
    ]
    attempts = {message.notice_id: tried for message, _, tried in plan.outgoing}
    at = clock.now()
    sent: list[Sent] = []
    retries: list[tuple[int, datetime, str]] = []
    rejected: list[Failure] = []
    for message, rendered, reply in replies:
        pk = message.notice_id
        if reply.answer is Answer.ACCEPTED:
            sent.append(
                Sent(pk, rendered.subject, rendered.body, rendered.digest, reply.provider_ref)
            )
            continue
        error = reply.error or reply.answer.value
        again = retry_at(attempts[pk] + 1, at) if reply.answer is Answer.UNAVAILABLE else None
        if again is not None:
            retries.append((pk, again, error))
        else:
            rejected.append(Failure(pk, NoticeRule.GATEWAY_REJECTED.value, error, attempted=True))
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            await notice_queries.mark_sent(conn, sent, at)
            await notice_queries.sent_events(conn, [s.notice_id for s in sent], at)
            await notice_queries.retry(conn, retries)
            await notice_queries.fail(conn, rejected, at)
            await notice_queries.failed_events(conn, [f.notice_id for f in rejected], at)
            outcome = {
                "sent": [s.notice_id for s in sent],
                "deferred": plan.deferred,
                "suppressed": plan.suppressed,
                "failed": [f.notice_id for f in [*plan.failed, *rejected]],
                "retrying": [pk for pk, _, _ in retries],
            }
            await append(conn, audit_key, [_record(at, sorted(plan.case_ids), outcome)])
    result.sent += len(sent)
    result.deferred += len(plan.deferred)
    result.suppressed += len(plan.suppressed)
    result.failed += len(plan.failed) + len(rejected)
    result.retrying += len(retries)
    return len(ids)


def _check(
    batch: Batch,
    profiles: dict[str, ConductProfile],
    now: datetime,
    plan: _Plan,
) -> tuple[list[tuple[int, datetime]], list[tuple[int, str]]]:
    """The conduct rules and rendering of each notice left after the re-check: fills the
    plan's outgoing, deferred, suppressed and failed; returns the deferrals and suppressions
    to write."""
    deferrals: list[tuple[int, datetime]] = []
    suppressions: list[tuple[int, str]] = []
    for notice in batch.notices:
        plan.case_ids.add(notice.case_id)
        case = batch.cases[notice.case_id]
        borrower = batch.borrowers[notice.borrower_id]
        point = batch.point(notice)
        situation = situation_of(
            case,
            borrower,
            batch.points.get(notice.borrower_id, []),
            batch.protections[notice.case_id],
        )
        allowance = assess(
            situation,
            channel=notice.channel,
            party=notice.party,
            direction=ContactDirection.OUTBOUND,
            point=point,
            history=(),  # a message's rules count no calls (a notice goes to a right party)
            at=now,
            conduct=profiles[conduct_profile_of(notice.portfolio)],
        )
        verdict = at_send(allowance)
        if verdict.verdict is Verdict.DEFER:
            assert verdict.not_before is not None
            deferrals.append((notice.id, verdict.not_before))
            plan.deferred.append(notice.id)
            continue
        if verdict.verdict is Verdict.SUPPRESS or point is None:
            suppressions.append((notice.id, verdict.rule or NoticeRule.NO_CONTACT_POINT.value))
            plan.suppressed.append(notice.id)
            continue
        template = batch.templates.get((notice.template, notice.template_version))
        try:
            if template is None or template.channel != notice.channel:
                raise TemplateNotRenderable(notice.template, notice.language, "no such version")
            rendered = render(template, _context(notice, batch, now))
        except TemplateNotRenderable:
            plan.failed.append(Failure(notice.id, NoticeRule.NO_APPROVED_TEMPLATE.value))
            continue
        message = Outgoing(
            notice_id=notice.id,
            channel=notice.channel.value,
            to=point.value,
            to_kind=CHANNEL_KIND[notice.channel],
            language=notice.language,
            subject=rendered.subject,
            body=rendered.body,
            case_reference=notice.case_reference,
        )
        plan.outgoing.append((message, rendered, notice.attempts))
    return deferrals, suppressions


def _context(notice: QueuedNotice, batch: Batch, now: datetime) -> NoticeContext:
    """What the notice says, from the batch's facts: the amounts as of now in the case's
    currency, dated the portfolio's local date; the itemization date is the day the case
    opened (no interest or fees accrue here: the core's balances are taken as they come)."""
    portfolio = portfolio_of(notice.portfolio)
    today = local_today(notice.portfolio, now)
    currency = notice.currency
    paid = batch.payments_since.get(notice.case_id, Decimal("0"))
    due = Money(notice.outstanding, currency)
    payments = Money(paid, currency)
    zero = Money.zero(currency)
    name, identity = collector_of(
        notice.collector_name, notice.collector_login, notice.agency_name, notice.language
    )
    return NoticeContext(
        borrower_name=notice.borrower_name,
        case_reference=notice.case_reference,
        lender_name=portfolio.lender,
        hotline=portfolio.hotline,
        collector_name=name,
        collector_id=identity,
        agency_name=notice.agency_name,
        amount_due=due,
        days_past_due=notice.days_past_due,
        as_of=today,
        account_number=mask_account(batch.accounts.get(notice.case_id, "")),
        itemization_date=notice.opened_on,
        itemization_amount=due + payments,
        interest_since=zero,
        fees_since=zero,
        payments_since=payments,
        dispute_deadline=dispute_deadline(today),
        language=notice.language,
        channel=notice.channel,
    )


def _record(at: datetime, case_ids: list[int], outcome: dict[str, list[int]]) -> AuditRecord:
    """The batch's one audit entry: the notices by outcome and the counts (ids only)."""
    changes: dict[str, Any] = {name: sorted(ids) for name, ids in outcome.items()}
    changes["counts"] = {name: len(ids) for name, ids in outcome.items()}
    return AuditRecord(
        at=at,
        action=AuditAction.NOTICE_SEND,
        outcome=Outcome.ALLOWED,
        actor_login=ACTOR,
        request_id=f"{JOB}:{at.isoformat()}",
        operation_name=JOB,
        operation_type="job",
        resource_type="Case",
        case_ids=case_ids,
        changes=changes,
    )
