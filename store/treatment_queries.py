"""The treatment step of the daily run in SQL: every case not closed is put in one strategy,
variant and segment, and the steps of its segment that fall due on the run's date are taken
once — notices queued or suppressed, tasks created, cases placed with an agency or recalled, each
step recorded in ``treatment_actions`` with what became of it.

The rules are ``domain.strategies.segmentation``'s (tested against this SQL on random cases); the
SQL is generated from the strategies' and templates' data: the loops here run over strategies,
segments, steps and templates, never over cases, so a run costs the same number of statements
whatever the number of cases. Protections and life-cycle refusals come from their one home
(``store.protections_queries.protection_rule``, ``domain.lifecycle.table.blocked_actions``).

The work runs in the caller's transaction over temporary tables: the treated cases
(``treatment_cases``), the steps of every definition in effect (``treatment_steps``), the steps
due today (``treatment_due``), and for placements the active agencies in turn
(``treatment_agencies``) and their results (``treatment_performance``). A step already recorded
for the case's entry of its segment is never due again, so a repeated run writes nothing new.
The entry is the case's stay in a segment of its strategy: a new version, or a change of variant
alone (a challenger promoted, a new share), keeps it — its steps taken stay taken.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Date,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from domain.cases.events import CasePlaced, CaseRecalled, check_data_keys
from domain.cases.model import CaseStage, CaseStatus
from domain.conduct.profiles import RuleName
from domain.contacts.model import (
    CHANNEL_KIND,
    USABLE_STATUSES,
    ContactChannel,
    ContactPointStatus,
)
from domain.errors import ErrorCode
from domain.flags.effects import Effect, action_effects
from domain.lifecycle.table import Action, Standing, blocked_actions
from domain.notices.model import NoticeRule, NoticeStatus, Template
from domain.notices.templates import serves
from domain.portfolios import DEFAULT_PORTFOLIO, PORTFOLIOS, Portfolio
from domain.strategies.events import (
    TaskCancelled,
    TaskCancelReason,
    TreatmentSegmentEntered,
    TreatmentStepTaken,
)
from domain.strategies.model import (
    MESSAGE_CHANNELS,
    TASK_KINDS,
    ActionStatus,
    Challenger,
    InEffect,
    PlacementMethod,
    SegmentCondition,
    StepAction,
    StepClock,
    Strategy,
    TaskStatus,
    Variant,
)
from domain.strategies.segmentation import (
    challenger_threshold,
    default_strategy,
    ordered_steps,
    severities_from,
    strategy_for,
)
from domain.warnings.model import WarningStatus
from store import tables
from store.ageing import json_object
from store.dialect import add_days, days_between, is_postgresql, variant_bucket
from store.protections_queries import protection_rule
from store.types import Amount, UTCDateTime

c = tables.cases.c
ta = tables.treatment_actions.c
ct = tables.case_treatments.c
ag = tables.agencies.c
cp = tables.contact_points.c

# The reason a CasePlaced / CaseRecalled event of a strategy step carries (the daily run's
# expiry says EXPIRED; a person's recall has none).
STRATEGY = "STRATEGY"
# Warnings still open: a segment's ``warning_severity`` looks at these.
OPEN_WARNINGS = (WarningStatus.RAISED.value, WarningStatus.ACKNOWLEDGED.value)
# How far back a PERFORMANCE placement looks at the agencies' results.
PERFORMANCE_DAYS = 90

# ---- the run's temporary tables -----------------------------------------------------------------

_scratch = MetaData()
_TEMPORARY: dict[str, Any] = {"prefixes": ["TEMPORARY"], "postgresql_on_commit": "DROP"}

# Every treated case (status not CLOSED, a strategy treats its portfolio) with the facts segment
# conditions read, where the rules put it and what its clock says.
treated = Table(
    "treatment_cases",
    _scratch,
    Column("case_id", Integer, primary_key=True),
    Column("borrower_id", Integer, nullable=False),
    Column("portfolio", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("classification", String(16), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("outstanding", Amount(), nullable=False),
    Column("dpd", Integer, nullable=False),
    Column("strategy", String(64), nullable=False),
    Column("champion_segment", String(64), nullable=True),
    Column("variant", String(16), nullable=False),
    Column("version", String(32), nullable=True),
    Column("segment", String(64), nullable=True),
    # The entry of the segment: kept from ``case_treatments`` while (strategy, segment) stays
    # the same (whatever the variant and version), else the run's date (``entered``).
    Column("entered_on", Date, nullable=False),
    Column("entered", Boolean, nullable=False),
    Column("existed", Boolean, nullable=False),
    Column("previous_segment", String(64), nullable=True),
    Column("clock_value", Integer, nullable=True),
    Column("due_day", Integer, nullable=True),
    Column("next_step", String(64), nullable=True),
    Column("next_in_days", Integer, nullable=True),
    Column("last_step", String(64), nullable=True),
    **_TEMPORARY,
)
t = treated.c

# The steps of every definition in effect (champions and running challengers), by segment.
steps = Table(
    "treatment_steps",
    _scratch,
    Column("strategy", String(64), nullable=False),
    Column("variant", String(16), nullable=False),
    Column("segment", String(64), nullable=False),
    Column("position", Integer, nullable=False),
    Column("step", String(64), nullable=False),
    Column("day", Integer, nullable=False),
    Column("action", String(24), nullable=False),
    Column("reason", Text, nullable=False),
    Column("party", String(24), nullable=False),
    Column("channel", String(16), nullable=True),
    Column("point_kind", String(16), nullable=True),
    Column("task_kind", String(24), nullable=True),
    Column("template", String(64), nullable=True),
    Column("template_version", String(32), nullable=True),
    Column("placement", String(16), nullable=True),
    Column("placement_days", Integer, nullable=True),
    Column("always", Boolean, nullable=False),  # never skipped as overtaken
    Column("purpose", String(16), nullable=True),  # the template's (None: not in effect)
    PrimaryKeyConstraint("strategy", "variant", "segment", "step"),
    **_TEMPORARY,
)
s = steps.c

# The steps due today on each case, with what becomes of them.
due = Table(
    "treatment_due",
    _scratch,
    Column("case_id", Integer, nullable=False),
    Column("step", String(64), nullable=False),
    Column("strategy", String(64), nullable=False),
    Column("version", String(32), nullable=False),
    Column("variant", String(16), nullable=False),
    Column("segment", String(64), nullable=False),
    Column("entered_on", Date, nullable=False),
    Column("position", Integer, nullable=False),
    Column("action", String(24), nullable=False),
    Column("reason", Text, nullable=False),
    Column("party", String(24), nullable=False),
    Column("channel", String(16), nullable=True),
    Column("task_kind", String(24), nullable=True),
    Column("template", String(64), nullable=True),
    Column("template_version", String(32), nullable=True),
    Column("placement", String(16), nullable=True),
    Column("placement_days", Integer, nullable=True),
    Column("currency", String(3), nullable=False),
    Column("skipped", Boolean, nullable=False),
    Column("contact_point_id", Integer, nullable=True),
    Column("rule", String(40), nullable=True),
    Column("status", String(16), nullable=True),
    Column("agency_id", Integer, nullable=True),
    Column("ends_on", Date, nullable=True),
    # A placement by rotation: its turn among the day's (1, 2, … in case order).
    Column("turn", Integer, nullable=True),
    # A message's template purpose when the template is approved for the case (else NULL).
    Column("purpose", String(16), nullable=True),
    PrimaryKeyConstraint("case_id", "step"),
    **_TEMPORARY,
)
u = due.c

# Each agency's results in each currency over the last PERFORMANCE_DAYS (placements by
# performance only): the share of what was placed with it that it recovered, in whole millionths
# (exact: never a float).
performance = Table(
    "treatment_performance",
    _scratch,
    Column("agency_id", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("recovered_ppm", Numeric(24, 0), nullable=True),
    PrimaryKeyConstraint("agency_id", "currency"),
    **_TEMPORARY,
)
perf = performance.c

# The active agencies in id order, numbered from 0: a rotation placement's turn picks one.
rotation = Table(
    "treatment_agencies",
    _scratch,
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("agency_id", Integer, nullable=False),
    **_TEMPORARY,
)

_TABLES = (treated, steps, due, performance, rotation)


class per_million(FunctionElement[Any]):
    """``a × 1,000,000 ÷ b`` in whole millionths, truncated toward zero: exact and the same in
    both databases (SQLite keeps amounts as integer minor units, PostgreSQL as NUMERIC); NULL
    when ``b`` is NULL."""

    type = Numeric(24, 0)
    inherit_cache = True


@compiles(per_million)
def _per_million_integers(element: per_million, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(({a}) * 1000000 / ({b}))"


@compiles(per_million, "postgresql")
def _per_million_numeric(element: per_million, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"div(({a}) * 1000000, ({b}))"


# ---- the result ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreatmentResult:
    """What the step did on one date: the cases treated, how many entered a segment, the
    cases of each (action, status) among the steps taken, and the open tasks cancelled."""

    cases_treated: int = 0
    segments_entered: int = 0
    tasks_cancelled: int = 0
    taken: Mapping[tuple[str, str], Sequence[int]] = field(default_factory=dict)
    cancelled_cases: Sequence[int] = ()  # the cases whose open tasks were cancelled

    def count(self, actions: Iterable[StepAction], status: ActionStatus) -> int:
        wanted = {a.value for a in actions}
        return sum(
            len(ids) for (act, st), ids in self.taken.items() if act in wanted and st == status
        )

    @property
    def notices_queued(self) -> int:
        return self.count(MESSAGE_CHANNELS, ActionStatus.DONE)

    @property
    def notices_suppressed(self) -> int:
        return self.count(MESSAGE_CHANNELS, ActionStatus.SUPPRESSED)

    @property
    def tasks_created(self) -> int:
        return self.count(TASK_KINDS, ActionStatus.DONE)

    @property
    def cases_placed(self) -> Sequence[int]:
        return self.taken.get((StepAction.PLACE_WITH_AGENCY.value, ActionStatus.DONE.value), ())

    @property
    def cases_recalled(self) -> Sequence[int]:
        return self.taken.get((StepAction.RECALL.value, ActionStatus.DONE.value), ())

    def by_action(self) -> dict[str, dict[str, int]]:
        """Counts per action and status (the run's summary)."""
        counts: dict[str, dict[str, int]] = {}
        for (action, status), ids in sorted(self.taken.items()):
            counts.setdefault(action, {})[status] = len(ids)
        return counts


# ---- the rules as SQL, from the data ------------------------------------------------------------


def _date(value: date) -> ColumnElement[date]:
    return literal(value, Date)


def event_data(
    event: type[Any], pairs: Mapping[str, Any], extra: Sequence[str] = ()
) -> ColumnElement[Any]:
    """An event's ``data`` built in SQL: exactly the domain event's fields (and ``extra`` keys
    the batch adds), so that the timeline reads the run's events as it reads the services'."""
    check_data_keys(event, set(pairs), extra)
    return json_object(pairs)


def _text(value: str | None) -> ColumnElement[Any]:
    return null() if value is None else cast(literal(value), String)


def condition_sql(when: SegmentCondition) -> ColumnElement[bool]:
    """``segmentation.meets`` over a row of ``treatment_cases``."""
    d, w, bf = tables.debts.c, tables.warnings.c, tables.borrower_flags.c
    parts: list[ColumnElement[bool]] = []
    if when.classifications:
        parts.append(t.classification.in_(sorted(when.classifications)))
    if when.stages:
        parts.append(t.stage.in_(sorted(when.stages)))
    if when.portfolios:
        parts.append(t.portfolio.in_(sorted(when.portfolios)))
    if when.products:
        parts.append(
            exists().where(d.case_id == t.case_id, d.product_type.in_(sorted(when.products)))
        )
    if when.balance:
        bands = []
        for band in when.balance:
            within = [t.currency == band.currency]
            if band.minimum is not None:
                within.append(t.outstanding >= band.minimum)
            if band.maximum is not None:
                within.append(t.outstanding < band.maximum)
            bands.append(and_(*within))
        parts.append(or_(*bands))
    if when.warning_severity is not None:
        at_least = sorted(severities_from(when.warning_severity))
        parts.append(
            exists().where(
                w.case_id == t.case_id, w.status.in_(OPEN_WARNINGS), w.severity.in_(at_least)
            )
        )

    def flagged(kinds: frozenset[str]) -> ColumnElement[bool]:
        return exists().where(
            bf.borrower_id == t.borrower_id, bf.lifted_at.is_(None), bf.flag.in_(sorted(kinds))
        )

    if when.flags_any:
        parts.append(flagged(when.flags_any))
    if when.flags_none:
        parts.append(not_(flagged(when.flags_none)))
    return and_(*parts) if parts else true()


def segment_sql(strategy: Strategy) -> ColumnElement[Any]:
    """``segmentation.segment_of``: the name of the first segment whose condition holds."""
    whens = [(condition_sql(seg.when), seg.name) for seg in strategy.segments]
    return case(*whens, else_=null()) if whens else cast(null(), String)


@functools.cache
def lifecycle_refusal(action: Action) -> ColumnElement[Any]:
    """The code ``blocked_actions`` refuses ``action`` with on the case (``tables.cases``) by its
    status, stage and placement (NULL: allowed), generated from the life-cycle table (once: an
    expression is immutable, and the table is code)."""
    placed = c.agency_id.is_not(None)
    by_code: dict[str, list[ColumnElement[bool]]] = defaultdict(list)
    for status in CaseStatus:
        for stage in CaseStage:
            for is_placed in (True, False):
                codes = {
                    blocked_actions(Standing(status, stage, is_placed, assigned)).get(action)
                    for assigned in (True, False)
                }
                if len(codes) != 1:  # pragma: no cover - the table would have to change
                    raise AssertionError(f"{action} depends on the assignment")
                refused = codes.pop()
                if refused is not None:
                    by_code[refused[0].value].append(
                        and_(
                            c.status == status.value,
                            c.stage == stage.value,
                            placed if is_placed else not_(placed),
                        )
                    )
    whens = [(or_(*conditions), code) for code, conditions in by_code.items()]
    return case(*whens, else_=null()) if whens else cast(null(), String)


def _portfolio_case(values: Mapping[str, str], default: str, portfolio: Any) -> ColumnElement[Any]:
    """A value per portfolio (``portfolio_of``: a portfolio not listed takes the default's)."""
    whens = [(portfolio == name, value) for name, value in sorted(values.items())]
    return case(*whens, else_=default) if whens else literal(default, String)


def language_sql(portfolio: Any) -> ColumnElement[Any]:
    """``portfolio_of(portfolio).language``."""
    return _portfolio_case(
        {name: p.language for name, p in PORTFOLIOS.items()}, DEFAULT_PORTFOLIO.language, portfolio
    )


def _usable(template: Template | None, channel: str, portfolio: Portfolio) -> bool:
    """Whether a template in effect may carry a notice of ``channel`` for a portfolio."""
    return (
        template is not None
        and template.channel.value == channel
        and serves(template, portfolio.conduct_profile, portfolio.language)
    )


def template_approved_sql(
    templates: Mapping[str, Template], used: Iterable[tuple[str, str]], portfolio: Any
) -> ColumnElement[bool]:
    """Whether the step's template (``treatment_steps``) is in effect for its channel and may
    be used for the case's portfolio: it lists the portfolio's conduct profile and has a text in
    its language (``used``: the (template, channel) pairs of the message steps)."""
    known = sorted(PORTFOLIOS)
    allowed: list[ColumnElement[bool]] = []
    for name, channel in sorted(set(used)):
        template = templates.get(name)
        portfolios = [p for p in known if _usable(template, channel, PORTFOLIOS[p])]
        where: list[ColumnElement[bool]] = []
        if portfolios:
            where.append(portfolio.in_(portfolios))
        if _usable(template, channel, DEFAULT_PORTFOLIO):
            where.append(portfolio.not_in(known))
        if where:
            allowed.append(and_(s.template == name, s.channel == channel, or_(*where)))
    return or_(*allowed) if allowed else literal(False, Boolean)


# ---- the definitions in effect as data ----------------------------------------------------------


@dataclass(frozen=True)
class _Definition:
    strategy: str
    variant: Variant
    definition: Strategy


def _definitions(strategies: Mapping[str, InEffect]) -> list[_Definition]:
    found = []
    for name, in_effect in sorted(strategies.items()):
        found.append(_Definition(name, Variant.CHAMPION, in_effect.champion))
        challenger = _running(in_effect)
        if challenger is not None:
            found.append(_Definition(name, Variant.CHALLENGER, challenger.definition))
    return found


def _running(in_effect: InEffect) -> Challenger | None:
    challenger = in_effect.challenger
    return challenger if challenger is not None and challenger.share > 0 else None


def _step_rows(
    definitions: Sequence[_Definition], templates: Mapping[str, Template]
) -> list[dict[str, Any]]:
    rows = []
    for each in definitions:
        for segment in each.definition.segments:
            for position, step in enumerate(ordered_steps(segment)):
                channel = MESSAGE_CHANNELS.get(step.action)
                template = templates.get(step.template) if step.template else None
                task = TASK_KINDS.get(step.action)
                rows.append(
                    {
                        "strategy": each.strategy,
                        "variant": each.variant.value,
                        "segment": segment.name,
                        "position": position,
                        "step": step.name,
                        "day": step.day,
                        "action": step.action.value,
                        "reason": step.reason,
                        "party": step.party.value,
                        "channel": None if channel is None else channel.value,
                        "point_kind": None if channel is None else CHANNEL_KIND[channel].value,
                        "task_kind": None if task is None else task.value,
                        "template": step.template,
                        "template_version": None if template is None else template.version,
                        "placement": None if step.placement is None else step.placement.value,
                        "placement_days": step.placement_days,
                        "always": step.always,
                        "purpose": None if template is None else template.purpose.value,
                    }
                )
    return rows


def _strategy_of_portfolio(strategies: Mapping[str, InEffect]) -> ColumnElement[Any] | None:
    """``strategy_for`` per case's portfolio (None: no strategy treats any case)."""
    named = sorted({p for e in strategies.values() for p in e.champion.portfolios})
    whens = []
    for portfolio in named:
        chosen = strategy_for(strategies, portfolio)
        assert chosen is not None
        whens.append((c.portfolio == portfolio, chosen.champion.name))
    fallback = default_strategy(strategies)
    if fallback is None and not whens:
        return None
    default = null() if fallback is None else literal(fallback.champion.name, String)
    return case(*whens, else_=default) if whens else default


# ---- the step -----------------------------------------------------------------------------------


async def _create(conn: AsyncConnection) -> None:
    if not is_postgresql(conn):
        await _drop(conn)
    await conn.run_sync(lambda sync: _scratch.create_all(sync, tables=list(_TABLES)))


async def _drop(conn: AsyncConnection) -> None:
    """SQLite keeps temporary tables for the connection's life (PostgreSQL drops them at
    commit)."""
    if not is_postgresql(conn):
        await conn.run_sync(
            lambda sync: _scratch.drop_all(sync, tables=list(_TABLES), checkfirst=True)
        )


async def apply_treatment(
    conn: AsyncConnection,
    as_of: date,
    at: datetime,
    strategies: Mapping[str, InEffect],
    templates: Mapping[str, Template],
) -> TreatmentResult:
    """Treats every case not closed on ``as_of`` (stamping ``at``) by the strategies and
    templates in effect: its segment and entry (``case_treatments``, TreatmentSegmentEntered),
    the steps due (``treatment_actions``, TreatmentStepTaken) and what they do (notices, tasks,
    placements, recalls); cancels the open tasks of a segment entry the case left; records the
    treatment on the day's snapshots. Returns what it did."""
    await _create(conn)
    try:
        return await _apply(conn, as_of, at, strategies, templates)
    finally:
        await _drop(conn)


async def _apply(
    conn: AsyncConnection,
    as_of: date,
    at: datetime,
    strategies: Mapping[str, InEffect],
    templates: Mapping[str, Template],
) -> TreatmentResult:
    definitions = _definitions(strategies)
    rows = _step_rows(definitions, templates)
    if rows:
        await conn.execute(insert(steps), rows)
    treated_count = await _segment_cases(conn, as_of, strategies)
    entered = await _enter(conn, as_of, at)
    await _clock(conn, as_of, definitions)
    first_action = int((await conn.execute(select(func.coalesce(func.max(ta.id), 0)))).scalar_one())
    used = {(r["template"], r["channel"]) for r in rows if r["template"] and r["channel"]}
    await _due(conn, as_of, templates, used)
    if any(r["placement"] == PlacementMethod.PERFORMANCE.value for r in rows):
        await _rank_agencies(conn, as_of)
    await _choose_agencies(conn, as_of)
    await _record_actions(conn, as_of, at)
    await _move_cases(conn, at)
    await _notices_and_tasks(conn, as_of, at, first_action)
    cancelled, cancelled_cases = await _keep_treatments(conn, as_of, at)
    await _mark_snapshots(conn, as_of)
    taken: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in await conn.execute(select(u.action, u.status, u.case_id).order_by(u.case_id)):
        taken[(row.action, row.status)].append(row.case_id)
    return TreatmentResult(treated_count, entered, cancelled, dict(taken), cancelled_cases)


async def _segment_cases(
    conn: AsyncConnection, as_of: date, strategies: Mapping[str, InEffect]
) -> int:
    """Fills ``treatment_cases``: each case not closed whose portfolio a strategy treats, with
    its strategy, variant, segment and version."""
    strategy = _strategy_of_portfolio(strategies)
    if strategy is None:
        return 0
    picked = select(
        c.id,
        c.borrower_id,
        c.portfolio,
        c.currency,
        c.classification,
        c.stage,
        c.outstanding_amount,
        c.days_past_due,
        strategy.label("strategy"),
    ).where(c.status != CaseStatus.CLOSED.value)
    base = picked.subquery("picked")
    result = await conn.execute(
        insert(treated).from_select(
            [
                "case_id",
                "borrower_id",
                "portfolio",
                "currency",
                "classification",
                "stage",
                "outstanding",
                "dpd",
                "strategy",
                "variant",
                "entered_on",
                "entered",
                "existed",
            ],
            select(
                *base.c,
                literal(Variant.CHAMPION.value, String),
                _date(as_of),
                literal(True, Boolean),
                literal(False, Boolean),
            ).where(base.c.strategy.is_not(None)),
        )
    )
    if is_postgresql(conn):
        await conn.exec_driver_sql("ANALYZE treatment_cases")
    by_name = sorted(strategies.items())
    await conn.execute(
        update(treated).values(
            champion_segment=case(
                *((t.strategy == name, segment_sql(e.champion)) for name, e in by_name),
                else_=null(),
            )
        )
    )
    challengers = [(name, ch) for name, e in by_name if (ch := _running(e)) is not None]
    if challengers:
        takes = []
        for name, ch in challengers:
            threshold = math.ceil(challenger_threshold(ch.share))
            taken = [t.strategy == name, variant_bucket(t.strategy, t.case_id) < threshold]
            if ch.segments:
                taken.append(t.champion_segment.in_(sorted(ch.segments)))
            takes.append((and_(*taken), Variant.CHALLENGER.value))
        await conn.execute(update(treated).values(variant=case(*takes, else_=t.variant)))
    challenger = t.variant == Variant.CHALLENGER.value
    segment: ColumnElement[Any] = t.champion_segment
    if challengers:
        segment = case(
            *(
                (and_(challenger, t.strategy == name), segment_sql(ch.definition))
                for name, ch in challengers
            ),
            else_=t.champion_segment,
        )
    version = case(
        *((and_(challenger, t.strategy == name), ch.version) for name, ch in challengers),
        *((t.strategy == name, e.champion.version) for name, e in by_name),
        else_=null(),
    )
    await conn.execute(update(treated).values(segment=segment, version=version))
    return max(result.rowcount or 0, 0)


async def _enter(conn: AsyncConnection, as_of: date, at: datetime) -> int:
    """Keeps the entry of every case whose (strategy, segment) stayed — a new version or a
    change of variant alone keeps it (no event: the steps taken in it stay taken); the others
    entered today: TreatmentSegmentEntered for each that is or was in a segment. Returns how
    many entered a segment."""
    same = and_(ct.strategy == t.strategy, ct.segment.is_not_distinct_from(t.segment))
    await conn.execute(
        update(treated)
        .where(ct.case_id == t.case_id)
        .values(
            entered_on=case((same, ct.entered_on), else_=t.entered_on),
            entered=case((same, False), else_=True),
            existed=True,
            previous_segment=ct.segment,
        )
    )
    data = event_data(
        TreatmentSegmentEntered,
        {
            "strategy": t.strategy,
            "version": t.version,
            "variant": t.variant,
            "segment": t.segment,
            "previous_segment": t.previous_segment,
        },
    )
    result = await conn.execute(
        insert(tables.case_events).from_select(
            ["case_id", "at", "actor_id", "name", "data"],
            select(
                t.case_id,
                literal(at, UTCDateTime()),
                cast(null(), Integer),
                literal(TreatmentSegmentEntered.__name__, String),
                data,
            )
            .where(
                t.entered.is_(True), or_(t.segment.is_not(None), t.previous_segment.is_not(None))
            )
            .order_by(t.case_id),
        )
    )
    return max(result.rowcount or 0, 0)


async def _clock(conn: AsyncConnection, as_of: date, definitions: Sequence[_Definition]) -> None:
    """Each case's clock value, due day, and next step with the days until it falls due: the
    first step after the clock not taken yet in the entry (days past due may fall back below a
    step already taken)."""
    days_clocked = [
        and_(
            t.strategy == each.strategy,
            t.variant == each.variant.value,
            t.segment == segment.name,
        )
        for each in definitions
        for segment in each.definition.segments
        if segment.clock is StepClock.DAYS_IN_SEGMENT
    ]
    clock: ColumnElement[Any] = t.dpd
    if days_clocked:
        clock = case(
            (or_(*days_clocked), days_between(conn, _date(as_of), t.entered_on)), else_=t.dpd
        )
    mine = and_(s.strategy == t.strategy, s.variant == t.variant, s.segment == t.segment)
    reached = select(func.max(s.day)).where(mine, s.day <= clock).scalar_subquery()
    ahead = and_(mine, s.day > clock, not_(_taken_in_entry()))
    following = select(func.min(s.day)).where(ahead).scalar_subquery()
    following_step = (
        select(s.step).where(ahead).order_by(s.day, s.position).limit(1)
    ).scalar_subquery()
    await conn.execute(
        update(treated)
        .where(t.segment.is_not(None))
        .values(
            clock_value=clock,
            due_day=reached,
            next_step=following_step,
            next_in_days=following - clock,
        )
    )


def _taken_in_entry() -> ColumnElement[bool]:
    """The step (``treatment_steps``) is recorded for the case's entry of its segment
    (``treatment_cases``): taken or skipped, under whichever variant (the unique key's index)."""
    return (
        exists()
        .where(
            ta.case_id == t.case_id,
            ta.strategy == t.strategy,
            ta.segment == t.segment,
            ta.entered_on == t.entered_on,
            ta.step == s.step,
        )
        .correlate_except(tables.treatment_actions)
    )


def _message_rule(templates: Mapping[str, Template], used: Iterable[tuple[str, str]]) -> Any:
    """Why a message step is suppressed (NULL: it is queued): the life cycle (a case on hold),
    the protections (the first in the table's order that stops the channel), the contact point
    (OPTED_OUT, CONTACT_POINT_INVALID, NO_CONTACT_POINT), the template (NO_APPROVED_TEMPLATE)."""
    mine = and_(cp.borrower_id == c.borrower_id, cp.owner == s.party, cp.kind == s.point_kind)

    def has(status: ContactPointStatus) -> ColumnElement[bool]:
        return exists().where(mine, cp.status == status.value)

    point = _contact_point()
    by_point = case(
        (point.is_not(None), null()),
        (has(ContactPointStatus.OPTED_OUT), RuleName.OPTED_OUT.value),
        (has(ContactPointStatus.INVALID), RuleName.CONTACT_POINT_INVALID.value),
        else_=NoticeRule.NO_CONTACT_POINT.value,
    )
    approved = template_approved_sql(templates, used, c.portfolio)
    return func.coalesce(
        lifecycle_refusal(Action.CONTACT),
        _contact_protection(),
        by_point,
        case((approved, null()), else_=NoticeRule.NO_APPROVED_TEMPLATE.value),
    )


@functools.cache
def _contact_protection() -> ColumnElement[Any]:
    """The protection that stops this channel: STOP_CONTACT stops every one; LETTERS_ONLY every
    one but the letter (a call task is a phone call)."""
    letter = ContactChannel.LETTER.value
    return case(
        (s.channel == letter, protection_rule(Effect.STOP_CONTACT)),
        else_=protection_rule(Effect.STOP_CONTACT, Effect.LETTERS_ONLY),
    )


@functools.cache
def _contact_point() -> Any:
    """The party's point of the channel's kind to address: verified before unverified, then the
    lowest id (NULL: none usable)."""
    usable = sorted(status.value for status in USABLE_STATUSES)
    verified = ContactPointStatus.VERIFIED.value
    return (
        select(cp.id)
        .where(
            cp.borrower_id == c.borrower_id,
            cp.owner == s.party,
            cp.kind == s.point_kind,
            cp.status.in_(usable),
        )
        .order_by(case((cp.status == verified, 0), else_=1), cp.id)
        .limit(1)
        .scalar_subquery()
    )


async def _due(
    conn: AsyncConnection,
    as_of: date,
    templates: Mapping[str, Template],
    used: Iterable[tuple[str, str]],
) -> None:
    """Fills ``treatment_due``: the steps of each case's segment whose day has come and that
    this entry of the segment has not taken yet, the earlier ones skipped (but an ``always``
    step), each with the rule that stops it (NULL: none) and its status."""
    messages = [a.value for a in MESSAGE_CHANNELS]
    active = exists().where(ag.active.is_(True))
    skipped = and_(s.day < t.due_day, s.always.is_(False))
    rule = case(
        (skipped, null()),
        (s.action.in_(messages), _message_rule(templates, used)),
        (
            s.action == StepAction.CALL_TASK.value,
            func.coalesce(lifecycle_refusal(Action.CONTACT), _contact_protection()),
        ),
        # A legal review leads to escalation: refused where the life cycle forbids escalating
        # (on hold, stage LEGAL or WRITTEN_OFF, closed) or a protection does (NO_ESCALATION).
        (
            s.action == StepAction.LEGAL_REVIEW_TASK.value,
            func.coalesce(
                lifecycle_refusal(Action.ESCALATE),
                protection_rule(*action_effects(Action.ESCALATE)),
            ),
        ),
        # A settlement offer is an arrangement put to the borrower: suppressed where the life
        # cycle refuses one (on hold, closed) or a protection stops contact.
        (
            s.action == StepAction.SETTLEMENT_OFFER_TASK.value,
            func.coalesce(lifecycle_refusal(Action.PROMISE), protection_rule(Effect.STOP_CONTACT)),
        ),
        (
            s.action == StepAction.PLACE_WITH_AGENCY.value,
            func.coalesce(
                lifecycle_refusal(Action.PLACE),
                protection_rule(*action_effects(Action.PLACE)),
                case((active, null()), else_=ErrorCode.AGENCY_INACTIVE.value),
            ),
        ),
        (s.action == StepAction.RECALL.value, lifecycle_refusal(Action.RECALL)),
        else_=null(),
    )
    point = case((s.channel.is_not(None), _contact_point()), else_=null())
    approved = template_approved_sql(templates, used, c.portfolio)
    joined = treated.join(
        steps, and_(s.strategy == t.strategy, s.variant == t.variant, s.segment == t.segment)
    ).join(tables.cases, c.id == t.case_id)
    columns = {
        "case_id": t.case_id,
        "step": s.step,
        "strategy": t.strategy,
        "version": t.version,
        "variant": t.variant,
        "segment": t.segment,
        "entered_on": t.entered_on,
        "position": s.position,
        "action": s.action,
        "reason": s.reason,
        "party": s.party,
        "channel": s.channel,
        "task_kind": s.task_kind,
        "template": s.template,
        "template_version": s.template_version,
        "placement": s.placement,
        "placement_days": s.placement_days,
        "currency": t.currency,
        "skipped": skipped,
        "contact_point_id": point,
        "rule": rule,
        "purpose": case((approved, s.purpose), else_=null()),
    }
    await conn.execute(
        insert(due).from_select(
            list(columns),
            select(*columns.values())
            .select_from(joined)
            .where(s.day <= t.clock_value, not_(_taken_in_entry())),
        )
    )
    refused = [StepAction.PLACE_WITH_AGENCY, StepAction.RECALL, StepAction.LEGAL_REVIEW_TASK]
    stopped = case(
        (u.action.in_([a.value for a in refused]), ActionStatus.REFUSED.value),
        else_=ActionStatus.SUPPRESSED.value,
    )
    await conn.execute(
        update(due).values(
            status=case(
                (u.skipped.is_(True), ActionStatus.SKIPPED.value),
                (u.rule.is_(None), ActionStatus.DONE.value),
                else_=stopped,
            )
        )
    )


def _placing(method: PlacementMethod | None = None) -> ColumnElement[bool]:
    conditions = [
        u.action == StepAction.PLACE_WITH_AGENCY.value,
        u.status == ActionStatus.DONE.value,
    ]
    if method is not None:
        conditions.append(u.placement == method.value)
    return and_(*conditions)


async def _rank_agencies(conn: AsyncConnection, as_of: date) -> None:
    """Fills ``treatment_performance``: for each agency and currency, the share of what was
    placed with it over the last PERFORMANCE_DAYS that it recovered — per debt it held, the fall
    of the balance from the first snapshot with the agency to the last, over the first balance
    (the daily snapshots record the balances and who held each debt) — in whole millionths."""
    snap = tables.debt_snapshots.c
    since = as_of - timedelta(days=PERFORMANCE_DAYS - 1)
    held = (
        select(
            snap.debt_id,
            snap.agency_id,
            func.min(snap.as_of).label("first"),
            func.max(snap.as_of).label("last"),
        )
        .where(snap.agency_id.is_not(None), snap.as_of >= since, snap.as_of <= as_of)
        .group_by(snap.debt_id, snap.agency_id)
        .subquery("held")
    )
    first = tables.debt_snapshots.alias("first")
    last = tables.debt_snapshots.alias("last")
    fell = case(
        (first.c.balance > last.c.balance, first.c.balance - last.c.balance),
        else_=literal(0),
    )
    ratio = per_million(func.sum(fell), func.nullif(func.sum(first.c.balance), 0))
    await conn.execute(
        insert(performance).from_select(
            ["agency_id", "currency", "recovered_ppm"],
            select(held.c.agency_id, first.c.currency, ratio)
            .select_from(
                held.join(
                    first, and_(first.c.debt_id == held.c.debt_id, first.c.as_of == held.c.first)
                ).join(last, and_(last.c.debt_id == held.c.debt_id, last.c.as_of == held.c.last))
            )
            .group_by(held.c.agency_id, first.c.currency),
        )
    )


async def _choose_agencies(conn: AsyncConnection, as_of: date) -> None:
    """The agency of each placement due: by ROTATION, the active agencies in id order in turn,
    continuing from the strategy placements made so far; by PERFORMANCE, the active agency that
    recovered the largest share in the case's currency (none recorded: 0; ties by id). Then the
    placement's end: the step's period, capped by the agency's contract.

    Linear in the placements: each one's turn is numbered once (one window over the day's
    rotation placements) and picks its agency by index from ``treatment_agencies``."""
    r = rotation.c
    await conn.execute(
        insert(rotation).from_select(
            ["idx", "agency_id"],
            select((func.row_number().over(order_by=ag.id) - 1), ag.id).where(ag.active.is_(True)),
        )
    )
    agencies = (await conn.execute(select(func.count()).select_from(rotation))).scalar_one()
    # The strategy placements made so far (ix_treatment_actions_action_status).
    made = (
        await conn.execute(
            select(func.count())
            .select_from(tables.treatment_actions)
            .where(
                ta.action == StepAction.PLACE_WITH_AGENCY.value,
                ta.status == ActionStatus.DONE.value,
            )
        )
    ).scalar_one()
    numbered = (
        select(u.case_id, u.step, func.row_number().over(order_by=(u.case_id, u.step)).label("n"))
        .where(_placing(PlacementMethod.ROTATION))
        .subquery("numbered")
    )
    await conn.execute(
        update(due)
        .where(u.case_id == numbered.c.case_id, u.step == numbered.c.step)
        .values(turn=numbered.c.n)
    )
    slot = (literal(made, Integer) + u.turn - 1) % func.nullif(literal(agencies, Integer), 0)
    await conn.execute(
        update(due)
        .where(_placing(PlacementMethod.ROTATION))
        .values(agency_id=select(r.agency_id).where(r.idx == slot).scalar_subquery())
    )
    scored = tables.agencies.outerjoin(
        performance, and_(perf.agency_id == ag.id, perf.currency == u.currency)
    )
    best = (
        select(ag.id)
        .select_from(scored)
        .where(ag.active.is_(True))
        .order_by(func.coalesce(perf.recovered_ppm, 0).desc(), ag.id)
        .limit(1)
        .scalar_subquery()
    )
    await conn.execute(
        update(due).where(_placing(PlacementMethod.PERFORMANCE)).values(agency_id=best)
    )
    contract = select(ag.placement_days).where(ag.id == u.agency_id).scalar_subquery()
    period = case(
        (and_(u.placement_days.is_not(None), u.placement_days < contract), u.placement_days),
        else_=contract,
    )
    await conn.execute(
        update(due)
        .where(_placing(), u.agency_id.is_not(None))
        .values(ends_on=add_days(conn, _date(as_of), period))
    )


async def _record_actions(conn: AsyncConnection, as_of: date, at: datetime) -> None:
    """Writes every due step to ``treatment_actions`` and its TreatmentStepTaken event."""
    keys = ["case_id", "strategy", "version", "variant", "segment", "entered_on", "step"]
    await conn.execute(
        insert(tables.treatment_actions).from_select(
            [*keys, "action", "status", "rule", "as_of", "at"],
            select(
                *(u[k] for k in keys),
                u.action,
                u.status,
                u.rule,
                _date(as_of),
                literal(at, UTCDateTime()),
            ).order_by(u.case_id, u.position),
        )
    )
    data = event_data(
        TreatmentStepTaken,
        {
            "strategy": u.strategy,
            "version": u.version,
            "variant": u.variant,
            "segment": u.segment,
            "step": u.step,
            "action": u.action,
            "status": u.status,
            "rule": u.rule,
        },
    )
    await conn.execute(
        insert(tables.case_events).from_select(
            ["case_id", "at", "actor_id", "name", "data"],
            select(
                u.case_id,
                literal(at, UTCDateTime()),
                cast(null(), Integer),
                literal(TreatmentStepTaken.__name__, String),
                data,
            ).order_by(u.case_id, u.position),
        )
    )


async def _move_cases(conn: AsyncConnection, at: datetime) -> None:
    """Places and recalls the cases whose placement or recall step is done, as
    ``placeWithAgency`` / ``recallCase`` do (the collector leaves a placed case), with their
    CasePlaced / CaseRecalled events (reason STRATEGY) and ``version`` bumped; their open tasks
    go with them to the agency, or back to the pool."""
    placing = and_(_placing(), u.agency_id.is_not(None), u.case_id == c.id)
    recalling = and_(
        u.action == StepAction.RECALL.value,
        u.status == ActionStatus.DONE.value,
        u.case_id == c.id,
    )
    placed = event_data(
        CasePlaced,
        {
            "agency_id": u.agency_id,
            "placement_ends_on": u.ends_on,
            "previous_assignee_id": c.assignee_id,
            "reason": _text(STRATEGY),
        },
        extra=("reason",),
    )
    recalled = event_data(
        CaseRecalled, {"agency_id": c.agency_id, "reason": _text(STRATEGY)}, extra=("reason",)
    )
    for name, data, where in (
        (CasePlaced.__name__, placed, placing),
        (CaseRecalled.__name__, recalled, recalling),
    ):
        await conn.execute(
            insert(tables.case_events).from_select(
                ["case_id", "at", "actor_id", "name", "data"],
                select(
                    c.id,
                    literal(at, UTCDateTime()),
                    cast(null(), Integer),
                    literal(name, String),
                    data,
                )
                .select_from(tables.cases.join(due, u.case_id == c.id))
                .where(where)
                .order_by(c.id),
            )
        )
    await conn.execute(
        update(tables.cases)
        .where(placing)
        .values(
            agency_id=u.agency_id,
            placed_at=literal(at, UTCDateTime()),
            placement_ends_on=u.ends_on,
            assignee_id=None,
            version=c.version + 1,
        )
    )
    await conn.execute(
        update(tables.cases)
        .where(recalling)
        .values(agency_id=None, placed_at=None, placement_ends_on=None, version=c.version + 1)
    )
    # The open tasks of a case the strategy moved follow it to its new owner.
    k = tables.tasks.c
    moved = select(u.case_id).where(
        u.action.in_([StepAction.PLACE_WITH_AGENCY.value, StepAction.RECALL.value]),
        u.status == ActionStatus.DONE.value,
    )
    await conn.execute(
        update(tables.tasks)
        .where(k.case_id == c.id, k.status == TaskStatus.OPEN.value, k.case_id.in_(moved))
        .values(assignee_id=c.assignee_id, agency_id=c.agency_id, version=k.version + 1)
    )


async def _notices_and_tasks(
    conn: AsyncConnection, as_of: date, at: datetime, first_action: int
) -> None:
    """A notice for each message step done (QUEUED) or suppressed (SUPPRESSED, with the rule),
    and an OPEN task for each task step done, for the case's collector or agency (after the
    day's placements), due the next day."""
    joined = (
        due.join(
            tables.treatment_actions,
            and_(ta.case_id == u.case_id, ta.step == u.step, ta.id > first_action),
        )
    ).join(tables.cases, c.id == u.case_id)
    messages = [a.value for a in MESSAGE_CHANNELS]
    notice = {
        "case_id": u.case_id,
        "borrower_id": c.borrower_id,
        "action_id": ta.id,
        "contact_point_id": u.contact_point_id,
        "channel": u.channel,
        "party": u.party,
        "template": func.coalesce(u.template, ""),
        "template_version": func.coalesce(u.template_version, ""),
        "purpose": u.purpose,
        "language": language_sql(c.portfolio),
        "status": case(
            (u.status == ActionStatus.DONE.value, NoticeStatus.QUEUED.value),
            else_=NoticeStatus.SUPPRESSED.value,
        ),
        "rule": u.rule,
        "created_at": literal(at, UTCDateTime()),
        "attempts": literal(0),
        "version": literal(1),
    }
    await conn.execute(
        insert(tables.notices).from_select(
            list(notice),
            select(*notice.values())
            .select_from(joined)
            .where(
                u.action.in_(messages),
                u.status.in_([ActionStatus.DONE.value, ActionStatus.SUPPRESSED.value]),
            )
            .order_by(u.case_id, u.position),
        )
    )
    task = {
        "case_id": u.case_id,
        "action_id": ta.id,
        "kind": u.task_kind,
        "strategy": u.strategy,
        "step": u.step,
        "reason": u.reason,
        "party": u.party,
        "due_on": _date(as_of + timedelta(days=1)),
        "assignee_id": c.assignee_id,
        "agency_id": c.agency_id,
        "status": literal(TaskStatus.OPEN.value, String),
        "created_at": literal(at, UTCDateTime()),
        "version": literal(1),
    }
    await conn.execute(
        insert(tables.tasks).from_select(
            list(task),
            select(*task.values())
            .select_from(joined)
            .where(u.task_kind.is_not(None), u.status == ActionStatus.DONE.value)
            .order_by(u.case_id, u.position),
        )
    )


async def _keep_treatments(
    conn: AsyncConnection, as_of: date, at: datetime
) -> tuple[int, list[int]]:
    """Writes ``case_treatments`` from the run (the last step taken today, else the entry's
    last step; the next step and its date), deletes the rows of cases no longer treated (closed:
    ``Case.treatment`` is null), and cancels the open tasks of segment entries the cases left.
    Returns how many tasks it cancelled and their cases."""
    last = (
        select(u.step)
        .where(u.case_id == t.case_id, u.status != ActionStatus.SKIPPED.value)
        .order_by(u.position.desc())
        .limit(1)
        .scalar_subquery()
    )
    await conn.execute(
        update(treated).where(t.case_id.in_(select(u.case_id))).values(last_step=last)
    )
    next_on = case(
        (t.next_in_days.is_(None), null()),
        else_=add_days(conn, _date(as_of), t.next_in_days),
    )
    await conn.execute(
        update(tables.case_treatments)
        .where(ct.case_id == t.case_id)
        .values(
            strategy=t.strategy,
            version=t.version,
            variant=t.variant,
            segment=t.segment,
            entered_on=t.entered_on,
            step=case(
                (t.last_step.is_not(None), t.last_step),
                (t.entered.is_(True), null()),
                else_=ct.step,
            ),
            step_on=case(
                (t.last_step.is_not(None), _date(as_of)),
                (t.entered.is_(True), null()),
                else_=ct.step_on,
            ),
            next_step=t.next_step,
            next_action_on=next_on,
            as_of=_date(as_of),
        )
    )
    await conn.execute(
        insert(tables.case_treatments).from_select(
            [
                "case_id",
                "strategy",
                "version",
                "variant",
                "segment",
                "entered_on",
                "step",
                "step_on",
                "next_step",
                "next_action_on",
                "as_of",
            ],
            select(
                t.case_id,
                t.strategy,
                t.version,
                t.variant,
                t.segment,
                t.entered_on,
                t.last_step,
                case((t.last_step.is_not(None), _date(as_of)), else_=null()),
                t.next_step,
                next_on,
                _date(as_of),
            )
            .where(t.existed.is_(False))
            .order_by(t.case_id),
        )
    )
    gone = ~exists().where(t.case_id == ct.case_id)
    await conn.execute(delete(tables.case_treatments).where(gone))
    return await _cancel_tasks(conn, at)


async def _cancel_tasks(conn: AsyncConnection, at: datetime) -> tuple[int, list[int]]:
    """Cancels the open tasks of a segment entry the case is no longer in (another segment or
    strategy, or none: the case closed), each with a TaskCancelled event {task_id, kind, step,
    reason}. The cases were locked by the run first (``ageing.lock_cases``), the closed ones
    included: the run, like ``completeTask``, takes a case before its tasks. Returns how many
    it cancelled and their cases."""
    k = tables.tasks.c
    current = (
        select(ta.id)
        .select_from(
            tables.treatment_actions.join(
                tables.case_treatments,
                and_(
                    ct.case_id == ta.case_id,
                    ct.strategy == ta.strategy,
                    ct.segment == ta.segment,
                    ct.entered_on == ta.entered_on,
                ),
            )
        )
        .where(ta.id == k.action_id)
    )
    cancelling = and_(k.status == TaskStatus.OPEN.value, k.action_id.is_not(None), ~exists(current))
    why = case(
        (c.status == CaseStatus.CLOSED.value, TaskCancelReason.CASE_CLOSED.value),
        else_=TaskCancelReason.SEGMENT_LEFT.value,
    )
    data = event_data(
        TaskCancelled,
        {"task_id": k.id, "kind": k.kind, "step": k.step, "reason": cast(why, String)},
    )
    await conn.execute(
        insert(tables.case_events).from_select(
            ["case_id", "at", "actor_id", "name", "data"],
            select(
                k.case_id,
                literal(at, UTCDateTime()),
                cast(null(), Integer),
                literal(TaskCancelled.__name__, String),
                data,
            )
            .select_from(tables.tasks.join(tables.cases, c.id == k.case_id))
            .where(cancelling)
            .order_by(k.case_id, k.id),
        )
    )
    case_ids = list(
        (
            await conn.execute(select(k.case_id).where(cancelling).distinct().order_by(k.case_id))
        ).scalars()
    )
    result = await conn.execute(
        update(tables.tasks)
        .where(cancelling)
        .values(status=TaskStatus.CANCELLED.value, version=k.version + 1)
    )
    return max(result.rowcount or 0, 0), case_ids


async def _mark_snapshots(conn: AsyncConnection, as_of: date) -> None:
    """Records each treated case's strategy, version and variant on its debts' snapshots of the
    day (what variant comparisons read), and who holds the case after the day's placements and
    recalls (the snapshot was taken before them): one UPDATE."""
    snap = tables.debt_snapshots.c
    await conn.execute(
        update(tables.debt_snapshots)
        .where(snap.case_id == ct.case_id, snap.case_id == c.id, snap.as_of == as_of)
        .values(
            strategy=ct.strategy,
            strategy_version=ct.version,
            variant=ct.variant,
            agency_id=c.agency_id,
            assignee_id=c.assignee_id,
        )
    )
