"""The daily run (``arrears daily``): everything that happens because a day passed.

For one date D, in ONE transaction:

1. locks (PostgreSQL) the rows of the cases it will change, in id order — the closed cases whose
   treatment ends with them — so a payment either commits before the run reads or waits for it,
   and every row the run writes later (tasks, notices, events) belongs to a case it holds;
2. re-ages every debt of the cases it looks after (open, on hold, and closed by a cure inside the
   watch window) — the core's days past due moved on where it sent one, else the schedule's —
   and writes ``aged_dpd`` / ``aged_bucket``;
3. re-ages those cases (worst debt, total outstanding, bucket, class, policy version,
   ``dpd_as_of`` = D; ``version`` bumped where a figure changed) and applies the moves of the
   life-cycle table that ageing fires: PAY_IN_FULL / CURE (arrears cleared), REOPEN (a new
   default inside the watch window), ESCALATE (EARLY → COLLECTION past
   ``LifecyclePolicy.escalate_after_days``), with CaseReclassified and CaseTransitioned events —
   the life-cycle policy (escalation point, watch window of a cure) is the collection policy in
   effect at the run's instant (``store.collection_policy_queries``, maker–checker versions it);
4. keeps the classification history (a new period from D when class, bucket or policy changed);
5. returns cases whose placement is no longer current to the pool (CaseRecalled, reason EXPIRED);
6. takes the snapshot of every aged debt for D, and of every debt of a case closed since the
   previous run (with who held it until the closure);
7. judges promises whose window has passed through the collection-work service
   (``domain.arrangements.services.reevaluate``, in a unit of work joined to the run's
   transaction, so its events, timeline and audit are written the normal way);
8. raises the early warnings (``store.warnings_queries.raise_warnings``);
9. treats every case not closed by the strategies and templates in effect at the run's instant
   (``store.treatment_queries.apply_treatment``): its strategy, variant (champion or challenger,
   by a stable hash) and segment; the steps of its segment due on D, once per entry of the
   segment — notices queued or suppressed (with the rule), tasks for the case's people, cases
   placed with an agency or recalled; open tasks of an entry the case left cancelled — and the
   treatment on D's snapshots;
10. projects the decisions of the events it wrote (``store.decisions``), writes its audit entries
    and records D in ``daily_runs`` with the summary.

Then, once per invocation: the purge of what is past retention on the last date run, when the
caller passes the lender's periods (``jobs.purge``: its own transaction, under this run's lock), and
an audit checkpoint when ``ARREARS_AUDIT_CHECKPOINT_DIR`` is set.

Every step of date D uses D itself (ageing, promise windows, placement expiry: a placement's end
date is inclusive, so it is recalled by the run of the day after) and ONE instant of D
(``day_instant``: D's last microsecond where D ends first among the portfolios, capped at the
wall clock) for everything it stamps, so a catch-up writes each missed date as if it had run on
time; only the run's audit entries and ``daily_runs`` carry the wall clock. Without a date, the
run covers ``default_as_of``: the latest date that has ended in every portfolio's time zone.

A date already in ``daily_runs`` is not run again ("nothing to do"); after the last completed
date L, the run catches up L+1 … D one day (one transaction) at a time; a date before L is
refused, and so is a date after today in every portfolio. The whole invocation holds the job's
lock (``jobs.locks``): a concurrent run is refused, a crashed one never blocks the next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.arrangements.events import PromiseEvaluated
from domain.arrangements.services import reevaluate
from domain.cases.classification import DEFAULT_POLICY, ClassificationPolicy
from domain.clock import Clock
from domain.lifecycle.table import LifecyclePolicy, Trigger
from domain.portfolios import DEFAULT_TIME_ZONE, TIME_ZONES, local_date
from domain.restructuring.execution import reevaluate_for_run
from domain.retention.rules import LenderPeriods
from jobs.locks import DAILY_CYCLE, job_lock
from jobs.purge import PurgeResult, purge_under_lock
from store import (
    ageing,
    audit_checkpoints,
    changes_queries,
    collection_policy_queries,
    daily_queries,
    plan_queries,
    writeoff_queries,
)
from store.audit import AuditAction, AuditRecord, Outcome, append, verify
from store.audit_keys import CheckpointError
from store.decisions import append_decisions_from_events
from store.strategy_queries import strategies_in_effect
from store.template_queries import templates_in_effect
from store.treatment_queries import STRATEGY, TreatmentResult, apply_treatment
from store.uow import SqlUnitOfWork
from store.warnings_queries import raise_warnings

JOB = "daily"
ACTOR = "system:daily"
STEPS = (
    "locking cases",
    "re-ageing debts",
    "re-ageing cases",
    "classification history",
    "placement expiry",
    "charge-offs",
    "snapshots",
    "promises",
    "restructurings",
    "early warnings",
    "treatment",
    "decisions",
    "recording the run",
)


class DailyRefused(Exception):
    """The run cannot be made for that date (said in one line)."""


@dataclass(frozen=True)
class Step:
    """Progress: step ``index`` (1-based) of ``total`` for the date ``as_of``."""

    as_of: date
    name: str
    index: int
    total: int


Progress = Callable[[Step], None]


@dataclass(frozen=True)
class CheckpointConfig:
    """Where audit checkpoints go and what signs them (``arrears audit checkpoint``'s settings)."""

    directory: str | None
    signing_key_file: str | None
    env: str


@dataclass
class DayResult:
    """What the run changed on one date."""

    as_of: date
    debts_reaged: int = 0  # debts whose aged DPD or bucket changed
    cases_aged: int = 0  # cases the run looked after
    cases_changed: int = 0  # cases whose figures or life-cycle state changed (version bumped)
    cases_reclassified: int = 0  # bucket, class or policy version changed
    escalated: int = 0
    cured: int = 0
    reopened: int = 0
    periods_opened: int = 0
    snapshots: int = 0
    promises_resolved: int = 0
    placements_expired: int = 0
    restructurings_broken: int = 0  # plans and settlements not paid within their grace days
    charge_offs_applied: int = 0  # the core's charge-offs applied (cases moved: WRITE_OFF)
    warnings_raised: dict[str, int] = field(default_factory=dict)
    # Treatment: the cases treated, those that entered a segment, the steps taken by action and
    # status (DONE, SUPPRESSED, REFUSED, SKIPPED), and what the steps did.
    cases_treated: int = 0
    segments_entered: int = 0
    treatment_steps: dict[str, dict[str, int]] = field(default_factory=dict)
    notices_queued: int = 0
    notices_suppressed: int = 0
    tasks_created: int = 0
    tasks_cancelled: int = 0  # open tasks of a segment entry the case left (or closed)
    cases_placed_by_strategy: int = 0
    cases_recalled_by_strategy: int = 0
    decisions: int = 0

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["warnings_raised_total"] = sum(self.warnings_raised.values())
        return data


@dataclass
class DailyOutcome:
    """An invocation: the days it ran (none: ``nothing_to_do`` says why) and the checkpoint."""

    days: list[DayResult]
    nothing_to_do: str | None = None
    checkpoint: str | None = None
    checkpoint_error: str | None = None
    purge: PurgeResult | None = None  # when the run was given the retention periods


def latest_business_date(now: datetime) -> date:
    """The latest calendar date anywhere the portfolios are (or in UTC) at ``now``: a run for a
    later date would age debts into the future."""
    return max([now.date(), *(local_date(zone, now) for zone in _ZONES)])


_ZONES = sorted({*TIME_ZONES.values(), DEFAULT_TIME_ZONE})


def default_as_of(now: datetime) -> date:
    """The date a run without ``--as-of`` covers: the latest date that has ENDED in every
    portfolio's time zone at ``now`` (the day before the earliest local date), so that the
    default run never ages a portfolio to a day still under way there."""
    return min(local_date(zone, now) for zone in _ZONES) - timedelta(days=1)


def day_instant(day: date, now: datetime) -> datetime:
    """The one instant the run for ``day`` stamps on everything it writes (events, closures,
    promise verdicts, warnings) and counts contacts and signals up to: the last microsecond of
    ``day`` where the day ends first among the portfolios' time zones — an instant that is
    ``day`` in every portfolio's calendar — but never later than ``now`` (a run for today)."""
    ends = min(
        datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(zone)) for zone in _ZONES
    )
    return min(ends.astimezone(UTC) - timedelta(microseconds=1), now)


async def run_daily(
    engine: AsyncEngine,
    clock: Clock,
    audit_key: bytes,
    *,
    as_of: date | None = None,
    checkpoints: CheckpointConfig | None = None,
    progress: Progress | None = None,
    policy: ClassificationPolicy = DEFAULT_POLICY,
    lifecycle: LifecyclePolicy | None = None,
    retention: LenderPeriods | None = None,
) -> DailyOutcome:
    """Runs the daily cycle up to ``as_of`` (default: ``default_as_of``, the latest date that
    has ended in every portfolio), catching up the dates missed since the last completed run.
    ``lifecycle`` overrides the life-cycle policy; without it each date uses the collection
    policy in effect at its instant.
    Raises JobLocked when another run holds the lock, DailyRefused for a date before the last
    completed run or in the future."""
    target = as_of or default_as_of(clock.now())
    latest = latest_business_date(clock.now())
    if target > latest:
        raise DailyRefused(f"{target} is in the future (the latest business date is {latest})")
    async with job_lock(engine, JOB, lock=DAILY_CYCLE):
        async with engine.connect() as conn:
            last = await daily_queries.last_run(conn)
            done = await daily_queries.has_run(conn, target)
        if done:
            return DailyOutcome([], nothing_to_do=f"the run for {target} already completed")
        if last is not None and target < last:
            raise DailyRefused(
                f"cannot run for {target}: the last completed run is for {last} "
                "(the daily run only moves forward)"
            )
        first = target if last is None else last + timedelta(days=1)
        days = [first + timedelta(days=n) for n in range((target - first).days + 1)]
        results = []
        for day in days:
            results.append(
                await _run_day(engine, clock, audit_key, day, progress, policy, lifecycle)
            )
        outcome = DailyOutcome(results)
        if retention is not None:
            outcome.purge = await purge_under_lock(
                engine, clock, audit_key, as_of=target, periods=retention, actor=ACTOR
            )
        try:
            outcome.checkpoint = await _checkpoint(engine, clock, audit_key, checkpoints)
        except CheckpointError as exc:
            outcome.checkpoint_error = str(exc)
        return outcome


async def _run_day(
    engine: AsyncEngine,
    clock: Clock,
    audit_key: bytes,
    day: date,
    progress: Progress | None,
    policy: ClassificationPolicy,
    lifecycle: LifecyclePolicy | None,
) -> DayResult:
    """One date, one transaction."""
    result = DayResult(day)
    steps = iter(range(1, len(STEPS) + 1))

    def step(name: str) -> None:
        assert name in STEPS, name
        if progress is not None:
            progress(Step(day, name, next(steps), len(STEPS)))

    started = clock.now()
    # The day's instant: every step stamps it and judges by it (never the wall clock, which on a
    # catch-up is days later); the wall clock only dates the run's audit entries and record.
    at = day_instant(day, started)
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            first_event = await ageing.last_event_id(conn)
            step("locking cases")
            await ageing.lock_cases(conn, day)
            if lifecycle is None:  # the collection policy in effect at the run's instant
                in_effect = await collection_policy_queries.policy_in_effect(conn, at)
                lifecycle = in_effect.lifecycle
            await _reevaluate_plans(conn, day, at, policy)
            step("re-ageing debts")
            result.debts_reaged = await ageing.age_debts(conn, day, policy)
            step("re-ageing cases")
            in_row = await plan_queries.payments_in_row_in_effect(conn, at)
            result.cases_aged = await ageing.compute_figures(
                conn, day, policy, lifecycle, plan_payments_in_row=in_row
            )
            result.cases_reclassified, moved = await ageing.write_case_events(conn, day, at, policy)
            result.cases_changed = await ageing.apply_figures(conn, day, at, policy, lifecycle)
            result.escalated = len(moved.get("ESCALATE", []))
            result.cured = len(moved.get("CURE", [])) + len(moved.get("PAY_IN_FULL", []))
            result.reopened = len(moved.get("REOPEN", []))
            step("classification history")
            result.periods_opened = await ageing.record_history(conn, day)
            step("placement expiry")
            expired = await ageing.expire_placements(conn, day, at)
            result.placements_expired = len(expired)
            step("charge-offs")
            charged = await writeoff_queries.apply_charge_offs(conn, day, at)
            result.charge_offs_applied = charged.applied
            if charged.moved:
                moved[str(Trigger.WRITE_OFF)] = charged.moved
            step("snapshots")
            result.snapshots = await ageing.take_snapshots(conn, day, policy)
            await ageing.drop_figures(conn)
            step("promises")
            result.promises_resolved = await _judge_promises(conn, audit_key, day, at, started)
            step("restructurings")
            broken = await plan_queries.break_lapsed(conn, day, at)
            result.restructurings_broken = len(broken)
            step("early warnings")
            # The rules in effect at the run's instant (maker–checker versions them).
            warning_rules = await changes_queries.warning_rules_in_effect(conn, at)
            result.warnings_raised = await raise_warnings(conn, day, at, rules=warning_rules)
            step("treatment")
            treatment = await apply_treatment(
                conn,
                day,
                at,
                strategies=await strategies_in_effect(conn, at),
                templates=await templates_in_effect(conn, at),
            )
            _count_treatment(result, treatment)
            step("decisions")
            # The order of every writer (store.decisions): the rows of the change, then the
            # decisions lock, then the audit head. The promises' unit of work may have taken the
            # lock and a chain head already; that is safe because every row written since
            # belongs to a case locked in the first step (or to this run alone).
            result.decisions = await append_decisions_from_events(conn, first_event)
            step("recording the run")
            records = _audit_records(day, started, result, moved, expired)
            records += _broken_records(day, started, broken)
            records += _treatment_records(day, started, treatment)
            await append(conn, audit_key, records)
            await daily_queries.record_run(conn, day, started, clock.now(), result.summary())
    return result


def _record(day: date, at: datetime, action: str, **details: Any) -> AuditRecord:
    return AuditRecord(
        at=at,
        action=action,
        outcome=Outcome.ALLOWED,
        actor_login=ACTOR,
        request_id=f"{JOB}:{day.isoformat()}",
        operation_name=JOB,
        operation_type="job",
        **details,
    )


def _audit_records(
    day: date,
    at: datetime,
    result: DayResult,
    moved: dict[str, list[int]],
    expired: Sequence[int],
) -> list[AuditRecord]:
    """The run's own entry (its summary), one entry naming the cases each move changed and one
    naming the placements that expired. Reclassifications are in the summary and the timeline."""
    records = [_record(day, at, AuditAction.DAILY_RUN, changes=result.summary())]
    for trigger, case_ids in sorted(moved.items()):
        records.append(
            _record(
                day,
                at,
                AuditAction.CASE_TRANSITION,
                resource_type="Case",
                case_ids=list(case_ids),
                changes={"trigger": trigger, "as_of": day.isoformat()},
            )
        )
    if expired:
        records.append(
            _record(
                day,
                at,
                AuditAction.CASE_RECALL,
                resource_type="Case",
                case_ids=list(expired),
                changes={"reason": ageing.EXPIRED, "as_of": day.isoformat()},
            )
        )
    return records


def _broken_records(day: date, at: datetime, case_ids: Sequence[int]) -> list[AuditRecord]:
    """One entry naming the cases whose plan or settlement the run broke (none: no entry)."""
    if not case_ids:
        return []
    return [
        _record(
            day,
            at,
            AuditAction.RESTRUCTURING_BREAK,
            resource_type="Case",
            case_ids=list(case_ids),
            changes={"status": "BROKEN", "as_of": day.isoformat()},
        )
    ]


def _count_treatment(result: DayResult, treatment: TreatmentResult) -> None:
    result.cases_treated = treatment.cases_treated
    result.segments_entered = treatment.segments_entered
    result.treatment_steps = treatment.by_action()
    result.notices_queued = treatment.notices_queued
    result.notices_suppressed = treatment.notices_suppressed
    result.tasks_created = treatment.tasks_created
    result.tasks_cancelled = treatment.tasks_cancelled
    result.cases_placed_by_strategy = len(treatment.cases_placed)
    result.cases_recalled_by_strategy = len(treatment.cases_recalled)


def _treatment_records(day: date, at: datetime, treatment: TreatmentResult) -> list[AuditRecord]:
    """One entry per (action, status) of the steps taken, naming the cases; the cases the steps
    placed and recalled under the placement's own actions (reason STRATEGY); and one entry
    naming the cases whose open tasks the run cancelled."""
    records = [
        _record(
            day,
            at,
            AuditAction.TREATMENT_STEP,
            resource_type="Case",
            case_ids=list(case_ids),
            changes={"action": action, "status": status, "as_of": day.isoformat()},
        )
        for (action, status), case_ids in sorted(treatment.taken.items())
    ]
    for action, case_ids in (
        (AuditAction.CASE_PLACE, treatment.cases_placed),
        (AuditAction.CASE_RECALL, treatment.cases_recalled),
    ):
        if case_ids:
            records.append(
                _record(
                    day,
                    at,
                    action,
                    resource_type="Case",
                    case_ids=list(case_ids),
                    changes={"reason": STRATEGY, "as_of": day.isoformat()},
                )
            )
    if treatment.cancelled_cases:
        records.append(
            _record(
                day,
                at,
                AuditAction.TASK_CANCEL,
                resource_type="Case",
                case_ids=list(treatment.cancelled_cases),
                changes={"tasks": treatment.tasks_cancelled, "as_of": day.isoformat()},
            )
        )
    return records


async def _reevaluate_plans(
    conn: AsyncConnection, day: date, at: datetime, policy: ClassificationPolicy
) -> int:
    """Counts the payments and reversals that came since (the core's feed evaluates nothing)
    against the plans and settlements they concern, case by case through the same evaluation
    as a payment's, in a unit of work inside the run's transaction, before the run ages the
    cases and breaks what lapsed (``store.plan_queries.cases_to_reevaluate``: a small set).
    Returns how many cases it took."""
    case_ids = await plan_queries.cases_to_reevaluate(conn, day)
    if not case_ids:
        return 0
    async with SqlUnitOfWork(daily_queries.sessions_in(conn)) as uow:
        for case_id in case_ids:
            case = await uow.cases.get_with_debts(case_id)
            if case is not None:
                await reevaluate_for_run(uow, case, day, at, policy)
        await uow.commit()
    return len(case_ids)


async def _judge_promises(
    conn: AsyncConnection, audit_key: bytes, day: date, at: datetime, started: datetime
) -> int:
    """Judges the promises whose window has passed, and cancels those whose case has closed,
    case by case through the collection-work service, in a unit of work inside the run's
    transaction (a small set: only cases with an OPEN promise past its due date and grace days
    or on a closed case; a promise already judged is never taken again). Returns how many
    promises it resolved."""
    case_ids = await ageing.cases_with_lapsed_promises(conn, day)
    if not case_ids:
        return 0

    def audit(events: list[Any]) -> tuple[bytes, list[AuditRecord]]:
        judged = [e for e in events if isinstance(e, PromiseEvaluated)]
        if not judged:
            return audit_key, []
        return audit_key, [
            _record(
                day,
                started,
                AuditAction.PROMISE_EVALUATE,
                resource_type="Case",
                case_ids=sorted({e.case_id for e in judged if e.case_id is not None}),
                changes={"promises": [e.data() for e in judged], "as_of": day.isoformat()},
            )
        ]

    resolved = 0
    async with SqlUnitOfWork(daily_queries.sessions_in(conn), audit=audit) as uow:
        for case_id in case_ids:
            case = await uow.cases.get(case_id)
            if case is None:
                continue
            changes = await reevaluate(uow, case, day, at, None)
            resolved += sum(1 for change in changes if change.status != change.previous_status)
        await uow.commit()
    return resolved


async def _checkpoint(
    engine: AsyncEngine, clock: Clock, audit_key: bytes, config: CheckpointConfig | None
) -> str:
    """Writes a signed checkpoint of the audit chain heads, after verifying the chains (never
    vouching for a broken trail); says why not when checkpoints are not configured."""
    if config is None or not config.directory:
        return "skipped: ARREARS_AUDIT_CHECKPOINT_DIR is not set"
    directory, signer = audit_checkpoints.signing_key(
        config.directory, config.signing_key_file, config.env
    )
    async with engine.connect() as conn:
        _checked, breaks = await verify(conn, audit_key)
        if breaks:
            raise CheckpointError(f"audit trail broken at {breaks[0]}; no checkpoint written")
        heads = await audit_checkpoints.read_heads(conn)
    path = audit_checkpoints.write(directory, signer, heads, clock.now())
    return f"written: {path}"
