"""Reading strategies: what treats cases at an instant (the champion of each strategy in effect,
its start, and the challenger running against it), and every version of every strategy and
challenger for the ``strategies`` listing, each with its status.

The version of a (kind, name) in effect follows the loader's rule (``store.rule_sets``): the
newest approved version whose start has passed, else the checked-in default — except that a
stored version this release no longer reads (stored by an earlier release: e.g. an action since
removed) is skipped, the version approved before it (or the default) taking its place, so that
it neither stops the daily run nor the listing, which shows it RETIRED with the reason. A
challenger runs while
its share is above zero and its start is later than the start of the champion in effect (a
checked-in champion's start is the beginning of time, so any challenger runs against it; a
checked-in challenger runs against a checked-in champion only): approving a new champion version
— the promotion of the challenger's definition — therefore retires the challenger from that
version's start. A challenger of a strategy that has no champion is ignored, and one whose start
is not later than the champion's never runs: neither is known when it is approved (a champion
version may be approved later with an earlier start), so neither is refused then.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.changes.errors import ChangeInvalid
from domain.changes.model import ChangeStatus
from domain.rulesets import RuleSetKind
from domain.strategies.definition import (
    DEFAULT_CHALLENGERS,
    DEFAULT_STRATEGIES,
    challenger_from_payload,
    strategy_from_payload,
)
from domain.strategies.model import Challenger, InEffect, Strategy, Variant
from store import tables
from store.rule_sets import StoredVersion

Db = AsyncConnection | AsyncSession
rv, rc = tables.rule_set_versions.c, tables.rule_changes.c

KINDS = (RuleSetKind.STRATEGY, RuleSetKind.STRATEGY_CHALLENGER)

# ---- What treats cases --------------------------------------------------------------------------

R = TypeVar("R", Strategy, Challenger)


def runs(challenger: Challenger, start: datetime | None, champion_from: datetime | None) -> bool:
    """Whether a challenger in effect runs against the champion in effect (None: checked in)."""
    if challenger.share <= 0:
        return False
    if champion_from is None:
        return True
    return start is not None and start > champion_from


def read_version(kind: RuleSetKind, name: str, payload: object) -> Strategy | Challenger:
    """The strategy or challenger a stored payload holds, or ChangeInvalid when this release
    no longer reads it (a version stored by an earlier release: e.g. an action since removed)."""
    if kind is RuleSetKind.STRATEGY:
        return strategy_from_payload(name, payload)
    return challenger_from_payload(name, payload)


def _newest_readable(
    versions: Iterable[StoredVersion], read: Callable[[str, object], R]
) -> dict[str, tuple[R, datetime]]:
    """By name, the newest version (highest number) that this release reads, and its start: a
    version it no longer reads is skipped, the one approved before it taking its place."""
    found: dict[str, tuple[int, R, datetime]] = {}
    for stored in versions:
        kept = found.get(stored.name)
        if kept is not None and kept[0] > stored.version:
            continue
        try:
            value = read(stored.name, stored.payload)
        except ChangeInvalid:
            continue
        found[stored.name] = (stored.version, value, stored.effective_from)
    return {name: (value, start) for name, (_, value, start) in found.items()}


def _in_effect(
    champions: Mapping[str, tuple[Strategy, datetime]],
    challengers: Mapping[str, tuple[Challenger, datetime]],
) -> dict[str, InEffect]:
    found = {name: InEffect(strategy) for name, strategy in DEFAULT_STRATEGIES.items()}
    for name, (champion, start) in champions.items():
        found[name] = InEffect(champion, start)
    candidates: dict[str, tuple[Challenger, datetime | None]] = {
        name: (challenger, None) for name, challenger in DEFAULT_CHALLENGERS.items()
    }
    candidates.update(challengers)
    for name, (challenger, begins) in candidates.items():
        current = found.get(name)
        if current is not None and runs(challenger, begins, current.champion_from):
            found[name] = replace(current, challenger=challenger)
    return dict(sorted(found.items()))


def treating(
    champions: Iterable[StoredVersion], challengers: Iterable[StoredVersion]
) -> dict[str, InEffect]:
    """The strategies that treat cases, by name, from the stored versions that have started
    (any number of each name, in any order) over the checked-in defaults: of each name the
    newest version this release reads (one it no longer reads is skipped: the version before
    it, else the default, treats cases — a stored version never stops the daily run)."""
    return _in_effect(
        _newest_readable(champions, strategy_from_payload),
        _newest_readable(challengers, challenger_from_payload),
    )


async def strategies_in_effect(db: Db, at: datetime) -> dict[str, InEffect]:
    """Returns every strategy that treats cases at ``at``, by name: its champion, that
    version's start and the challenger running against it. One statement: every started
    version of both kinds (not only the newest of each name, which ``store.rule_sets`` gives:
    the one before is needed where this release no longer reads the newest)."""
    stmt = (
        select(rv.kind, rv.name, rv.version, rv.payload, rv.effective_from)
        .where(rv.kind.in_([k.value for k in KINDS]), rv.effective_from <= at)
        .order_by(rv.kind, rv.name, rv.version.desc())
    )
    started = [
        StoredVersion(
            RuleSetKind(r.kind), r.name, int(r.version), dict(r.payload), r.effective_from
        )
        for r in (await db.execute(stmt)).all()
    ]
    return treating(
        [v for v in started if v.kind is RuleSetKind.STRATEGY],
        [v for v in started if v.kind is RuleSetKind.STRATEGY_CHALLENGER],
    )


# ---- Every version, for the listing -------------------------------------------------------------


class VersionStatus(enum.StrEnum):
    """Where a version stands: DRAFT (a proposal pending approval), APPROVED (approved, its
    start to come), ACTIVE (treating cases now: the champion in effect, or a running
    challenger), RETIRED (superseded, never to take effect, or a challenger no longer running)."""

    DRAFT = "DRAFT"
    APPROVED = "APPROVED"
    ACTIVE = "ACTIVE"
    RETIRED = "RETIRED"


@dataclass(frozen=True)
class Stored:
    """An approved version of a strategy or challenger (a row of ``rule_set_versions``)."""

    kind: RuleSetKind
    name: str
    number: int
    payload: dict[str, Any]
    effective_from: datetime
    change_id: int | None


@dataclass(frozen=True)
class Pending:
    """A proposed version waiting for its approval (a PENDING row of ``rule_changes``)."""

    change_id: int
    kind: RuleSetKind
    name: str
    payload: dict[str, Any]
    effective_from: datetime


@dataclass(frozen=True)
class StrategyVersion:
    """One version of a strategy (``kind`` CHAMPION) or of its challenger (CHALLENGER), as the
    ``strategies`` listing shows it. ``definition`` is the segmentation the version applies
    (a challenger's own); ``challenger`` holds a challenger's share and segments.
    ``variants``: the variant this version treats cases as now (empty unless ACTIVE).
    ``effective_from`` None: the checked-in default; ``number`` the stored version number;
    ``change_id`` the proposal (DRAFT) or the change whose approval stored it. ``read_error``:
    why this release no longer reads the stored payload (None: it does); such a version treats
    no case (RETIRED, or DRAFT while proposed) and its ``definition`` has no segments."""

    name: str
    kind: Variant
    label: str
    status: VersionStatus
    variants: tuple[Variant, ...]
    definition: Strategy
    challenger: Challenger | None
    effective_from: datetime | None
    number: int | None
    change_id: int | None
    read_error: str | None = None


def _kind_of(kind: RuleSetKind) -> Variant:
    return Variant.CHAMPION if kind is RuleSetKind.STRATEGY else Variant.CHALLENGER


def _future_status(row: Stored, rows: Sequence[Stored]) -> VersionStatus:
    """A version whose start is to come takes effect then unless a later-approved version
    (a higher number, among those this release reads) has started by that instant: the loader
    would take that one instead."""
    overtaken = any(
        other.number > row.number and other.effective_from <= row.effective_from for other in rows
    )
    return VersionStatus.RETIRED if overtaken else VersionStatus.APPROVED


def _read(
    kind: RuleSetKind, name: str, payload: dict[str, Any]
) -> tuple[Strategy | Challenger | None, str | None]:
    """The version a stored payload holds, or None and why this release no longer reads it."""
    try:
        return read_version(kind, name, payload), None
    except ChangeInvalid as error:
        return None, error.message


def _unreadable(kind: RuleSetKind, name: str, payload: dict[str, Any], number: int | None) -> str:
    """The label of a version this release no longer reads: its own if it still has one."""
    label = payload.get("version")
    if isinstance(label, str) and label.strip():
        return label
    return f"#{number}" if number is not None else "?"


def _version(
    kind: RuleSetKind,
    value: Strategy | Challenger,
    status: VersionStatus,
    effective_from: datetime | None,
    number: int | None,
    change_id: int | None,
) -> StrategyVersion:
    variant = _kind_of(kind)
    challenger = value if isinstance(value, Challenger) else None
    definition = value.definition if isinstance(value, Challenger) else value
    return StrategyVersion(
        name=value.name,
        kind=variant,
        label=value.version,
        status=status,
        variants=(variant,) if status is VersionStatus.ACTIVE else (),
        definition=definition,
        challenger=challenger,
        effective_from=effective_from,
        number=number,
        change_id=change_id,
    )


def _listed(
    kind: RuleSetKind,
    name: str,
    payload: dict[str, Any],
    read: tuple[Strategy | Challenger | None, str | None],
    status: VersionStatus,
    effective_from: datetime | None,
    number: int | None,
    change_id: int | None,
) -> StrategyVersion:
    """A stored or proposed version as listed: read, or shown without its content and with the
    reason when this release no longer reads it (it then treats no case: never ACTIVE)."""
    value, error = read
    if value is not None:
        return _version(kind, value, status, effective_from, number, change_id)
    label = _unreadable(kind, name, payload, number)
    description = payload.get("description")
    if kind is RuleSetKind.STRATEGY_CHALLENGER:
        body = payload.get("definition")
        description = body.get("description") if isinstance(body, dict) else None
    empty = Strategy(
        name=name,
        version=label,
        description=description if isinstance(description, str) else "",
        portfolios=frozenset(),
        segments=(),
    )
    return StrategyVersion(
        name=name,
        kind=_kind_of(kind),
        label=label,
        status=VersionStatus.RETIRED if status is not VersionStatus.DRAFT else status,
        variants=(),
        definition=empty,
        challenger=None,
        effective_from=effective_from,
        number=number,
        change_id=change_id,
        read_error=error,
    )


def catalogue(
    stored: Sequence[Stored], pending: Sequence[Pending], at: datetime
) -> list[StrategyVersion]:
    """Every version of every strategy and challenger with its status at ``at``: the
    checked-in defaults, the approved versions and the pending proposals. Ordered by name,
    champion before challenger, then newest first (proposals, approved versions by number
    descending, the checked-in default last). A stored version this release no longer reads is
    listed with its ``read_error``, RETIRED: the loader (``treating``) skips it, and the status
    of the others is the loader's — the newest started version it reads is the ACTIVE one."""
    rows: dict[tuple[RuleSetKind, str], list[Stored]] = {}
    reads: dict[tuple[RuleSetKind, str, int], tuple[Strategy | Challenger | None, str | None]] = {}
    for row in stored:
        rows.setdefault((row.kind, row.name), []).append(row)
        reads[(row.kind, row.name, row.number)] = _read(row.kind, row.name, row.payload)
    readable = {
        key: [r for r in versions if reads[(r.kind, r.name, r.number)][0] is not None]
        for key, versions in rows.items()
    }
    current: dict[tuple[RuleSetKind, str], Stored] = {}
    for key, versions in readable.items():
        started = [r for r in versions if r.effective_from <= at]
        if started:
            current[key] = max(started, key=lambda r: r.number)
    champions: dict[str, tuple[Strategy, datetime]] = {}
    challengers: dict[str, tuple[Challenger, datetime]] = {}
    for (kind, name), row in current.items():
        value = reads[(kind, name, row.number)][0]
        if isinstance(value, Challenger):
            challengers[name] = (value, row.effective_from)
        elif value is not None:
            champions[name] = (value, row.effective_from)
    effect = _in_effect(champions, challengers)

    def running(name: str) -> bool:
        found = effect.get(name)
        return found is not None and found.challenger is not None

    listed: list[tuple[tuple[Any, ...], StrategyVersion]] = []

    def add(order: tuple[Any, ...], version: StrategyVersion) -> None:
        listed.append(
            ((version.name, 0 if version.kind is Variant.CHAMPION else 1, *order), version)
        )

    defaults: list[tuple[RuleSetKind, Strategy | Challenger]] = [
        *((RuleSetKind.STRATEGY, s) for s in DEFAULT_STRATEGIES.values()),
        *((RuleSetKind.STRATEGY_CHALLENGER, c) for c in DEFAULT_CHALLENGERS.values()),
    ]
    for kind, value in defaults:
        in_effect = (kind, value.name) not in current
        if kind is RuleSetKind.STRATEGY_CHALLENGER:
            in_effect = in_effect and running(value.name)
        status = VersionStatus.ACTIVE if in_effect else VersionStatus.RETIRED
        add((2, 0), _version(kind, value, status, None, None, None))
    for (kind, name), versions in rows.items():
        for row in versions:
            if row is current.get((kind, name)):
                active = kind is RuleSetKind.STRATEGY or running(name)
                status = VersionStatus.ACTIVE if active else VersionStatus.RETIRED
            elif row.effective_from > at:
                status = _future_status(row, readable[(kind, name)])
            else:
                status = VersionStatus.RETIRED
            add(
                (1, -row.number),
                _listed(
                    kind,
                    name,
                    row.payload,
                    reads[(kind, name, row.number)],
                    status,
                    row.effective_from,
                    row.number,
                    row.change_id,
                ),
            )
    for change in pending:
        draft = _listed(
            change.kind,
            change.name,
            change.payload,
            _read(change.kind, change.name, change.payload),
            VersionStatus.DRAFT,
            change.effective_from,
            None,
            change.change_id,
        )
        add((0, -change.change_id), draft)
    return [version for _, version in sorted(listed, key=lambda item: item[0])]


async def strategy_versions(db: Db, at: datetime) -> list[StrategyVersion]:
    """Returns every version of every strategy and challenger with its status at ``at``
    (``catalogue``). Two statements: the approved versions and the pending proposals."""
    kinds = [k.value for k in KINDS]
    stored_stmt = select(
        rv.kind, rv.name, rv.version, rv.payload, rv.effective_from, rv.change_id
    ).where(rv.kind.in_(kinds))
    stored = [
        Stored(
            RuleSetKind(r.kind),
            r.name,
            int(r.version),
            dict(r.payload),
            r.effective_from,
            r.change_id,
        )
        for r in (await db.execute(stored_stmt)).all()
    ]
    pending_stmt = select(rc.id, rc.kind, rc.name, rc.payload, rc.effective_from).where(
        rc.kind.in_(kinds), rc.status == ChangeStatus.PENDING.value
    )
    pending = [
        Pending(int(r.id), RuleSetKind(r.kind), r.name, dict(r.payload), r.effective_from)
        for r in (await db.execute(pending_stmt)).all()
    ]
    return catalogue(stored, pending, at)
