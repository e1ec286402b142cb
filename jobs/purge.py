"""The purge (``arrears purge``, and the daily run after its other steps): anonymises what is past
retention (``domain.retention``) in ONE transaction, so a failure leaves no half-anonymised
borrower, and audits it in that transaction with the counts per record kind and the as-of date
(never an id or a value of a person). A dry run runs the same statements and rolls them back: it
reports the same counts, and changes and audits nothing.

The standalone command holds the daily cycle's lock (``jobs.locks``), so a purge never runs
beside an import or a daily run; the daily run calls ``purge_under_lock`` within its own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.clock import Clock
from domain.retention.rules import RULES_VERSION, LenderPeriods, cutoffs
from jobs.locks import DAILY_CYCLE, job_lock
from store import retention_queries
from store.audit import AuditAction, AuditRecord, Outcome, append

JOB = "purge"
ACTOR = "system:purge"


@dataclass(frozen=True)
class PurgeResult:
    """What a purge changed (or, dry, would change): rows per record kind."""

    as_of: date
    counts: Mapping[str, int]
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        """One line: the date and every kind's count of rows anonymised (or, dry, to anonymise)."""
        counts = ", ".join(f"{kind} {n}" for kind, n in self.counts.items())
        dry = " (dry run, nothing changed)" if self.dry_run else ""
        return f"purge as of {self.as_of}{dry}: {counts}"


async def run_purge(
    engine: AsyncEngine,
    clock: Clock,
    audit_key: bytes,
    *,
    as_of: date | None = None,
    periods: LenderPeriods | None = None,
    dry_run: bool = False,
) -> PurgeResult:
    """Purges as of ``as_of`` (default: today, UTC) under the daily cycle's lock (JobLocked when
    an import or a daily run holds it)."""
    async with job_lock(engine, JOB, lock=DAILY_CYCLE):
        return await purge_under_lock(
            engine, clock, audit_key, as_of=as_of, periods=periods, dry_run=dry_run
        )


async def purge_under_lock(
    engine: AsyncEngine,
    clock: Clock,
    audit_key: bytes,
    *,
    as_of: date | None = None,
    periods: LenderPeriods | None = None,
    dry_run: bool = False,
    actor: str = ACTOR,
) -> PurgeResult:
    """Purges in one transaction; the caller holds the daily cycle's lock."""
    now = clock.now()
    day = as_of or now.date()
    cut = cutoffs(day, periods or LenderPeriods())
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        transaction = await conn.begin()
        try:
            counts = await retention_queries.purge(conn, cut, now)
            if dry_run:
                await transaction.rollback()
                return PurgeResult(day, counts, dry_run=True)
            record = AuditRecord(
                at=now,
                action=AuditAction.DATA_PURGE,
                outcome=Outcome.ALLOWED,
                actor_login=actor,
                request_id=f"{JOB}:{day.isoformat()}",
                operation_name=JOB,
                operation_type="job",
                changes={
                    "as_of": day.isoformat(),
                    "rules_version": RULES_VERSION,
                    "closed_before": cut.closed_before.isoformat(),
                    "contact_before": {
                        "default": cut.contact_before.isoformat(),
                        **{p: c.isoformat() for p, c in cut.contact_before_by_profile.items()},
                    },
                    "counts": dict(counts),
                },
            )
            await append(conn, audit_key, [record])
            await transaction.commit()
        except BaseException:
            if transaction.is_active:
                await transaction.rollback()
            raise
    return PurgeResult(day, counts)
