"""Reading strategies: what treats cases at an instant (the champion of each strategy in effect,
its start, and the challenger running against it), and every version of every strategy and
challenger for the ``strategies`` listing, each with its status.

The version of a (kind, name) in effect is the loader's (``store.rule_sets``): the newest
approved version whose start has passed, else the checked-in default. A challenger runs while
its share is above zero and its start is later than the start of the champion in effect (a
checked-in champion's start is the beginning of time, so any challenger runs against it; a
checked-in challenger runs against a checked-in champion only): approving a new champion version
— the promotion of the challenger's definition — therefore retires the challenger from that
version's start. A challenger of a strategy that has no champion is ignored.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.changes.model import ChangeStatus
from domain.rulesets import RuleSetKind
from domain.strategies.definition import (
    DEFAULT_CHALLENGERS,
    DEFAULT_STRATEGIES,
    challenger_from_payload,
    strategy_from_payload,
)
from domain.strategies.model import Challenger, InEffect, Strategy, Variant
from store import rule_sets, tables
from store.rule_sets import StoredVersion

Db = AsyncConnection | AsyncSession
rv, rc = tables.rule_set_versions.c, tables.rule_changes.c

KINDS = (RuleSetKind.STRATEGY, RuleSetKind.STRATEGY_CHALLENGER)

# ---- What treats cases --------------------------------------------------------------------------


def runs(challenger: Challenger, start: datetime | None, champion_from: datetime | None) -> bool:
    """Whether a challenger in effect runs against the champion in effect (None: checked in)."""
    if challenger.share <= 0:
        return False
    if champion_from is None:
        return True
    return start is not None and start > champion_from


def treating(
    champions: Iterable[StoredVersion], challengers: Iterable[StoredVersion]
) -> dict[str, InEffect]:
    """The strategies that treat cases, by name, from the stored versions in effect (the newest
    started version of each name) over the checked-in defaults."""
    found = {name: InEffect(strategy) for name, strategy in DEFAULT_STRATEGIES.items()}
    for stored in champions:
        champion = strategy_from_payload(stored.name, stored.payload)
        found[stored.name] = InEffect(champion, stored.effective_from)
    candidates: dict[str, tuple[Challenger, datetime | None]] = {
        name: (challenger, None) for name, challenger in DEFAULT_CHALLENGERS.items()
    }
    for stored in challengers:
        challenger = challenger_from_payload(stored.name, stored.payload)
        candidates[stored.name] = (challenger, stored.effective_from)
    for name, (challenger, start) in candidates.items():
        current = found.get(name)
        if current is not None and runs(challenger, start, current.champion_from):
            found[name] = replace(current, challenger=challenger)
    return dict(sorted(found.items()))


async def strategies_in_effect(db: Db, at: datetime) -> dict[str, InEffect]:
    """Returns every strategy that treats cases at ``at``, by name: its champion, that
    version's start and the challenger running against it. Two statements."""
    champions = await rule_sets.all_in_effect(db, RuleSetKind.STRATEGY, at)
    challengers = await rule_sets.all_in_effect(db, RuleSetKind.STRATEGY_CHALLENGER, at)
    return treating(champions, challengers)


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
    ``change_id`` the proposal (DRAFT) or the change whose approval stored it."""

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


def _kind_of(kind: RuleSetKind) -> Variant:
    return Variant.CHAMPION if kind is RuleSetKind.STRATEGY else Variant.CHALLENGER


def _future_status(row: Stored, rows: Sequence[Stored]) -> VersionStatus:
    """A version whose start is to come takes effect then unless a later-approved version
    (a higher number) has started by that instant: the loader would take that one instead."""
    overtaken = any(
        other.number > row.number and other.effective_from <= row.effective_from for other in rows
    )
    return VersionStatus.RETIRED if overtaken else VersionStatus.APPROVED


def _definition(kind: RuleSetKind, name: str, payload: dict[str, Any]) -> Strategy | Challenger:
    if kind is RuleSetKind.STRATEGY:
        return strategy_from_payload(name, payload)
    return challenger_from_payload(name, payload)


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


def catalogue(
    stored: Sequence[Stored], pending: Sequence[Pending], at: datetime
) -> list[StrategyVersion]:
    """Every version of every strategy and challenger with its status at ``at``: the
    checked-in defaults, the approved versions and the pending proposals. Ordered by name,
    champion before challenger, then newest first (proposals, approved versions by number
    descending, the checked-in default last)."""
    rows: dict[tuple[RuleSetKind, str], list[Stored]] = {}
    for row in stored:
        rows.setdefault((row.kind, row.name), []).append(row)
    current: dict[tuple[RuleSetKind, str], Stored] = {}
    for key, versions in rows.items():
        started = [r for r in versions if r.effective_from <= at]
        if started:
            current[key] = max(started, key=lambda r: r.number)
    effect = treating(
        [_stored(r) for (kind, _), r in current.items() if kind is RuleSetKind.STRATEGY],
        [_stored(r) for (kind, _), r in current.items() if kind is RuleSetKind.STRATEGY_CHALLENGER],
    )

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
                status = _future_status(row, versions)
            else:
                status = VersionStatus.RETIRED
            value = _definition(kind, name, row.payload)
            add(
                (1, -row.number),
                _version(kind, value, status, row.effective_from, row.number, row.change_id),
            )
    for change in pending:
        value = _definition(change.kind, change.name, change.payload)
        draft = _version(
            change.kind, value, VersionStatus.DRAFT, change.effective_from, None, change.change_id
        )
        add((0, -change.change_id), draft)
    return [version for _, version in sorted(listed, key=lambda item: item[0])]


def _stored(row: Stored) -> StoredVersion:
    return StoredVersion(row.kind, row.name, row.number, row.payload, row.effective_from)


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
