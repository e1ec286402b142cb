"""Reading maker–checker's data: the rule sets in effect for their consumers (one loader per
kind, each through ``store.rule_sets.in_effect``, falling back to the checked-in default), the
changes listing (keyset-paginated, newest first) and each rule set's history of versions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.changes import rules
from domain.changes.model import RuleChange
from domain.conduct.profiles import ConductProfile, profile
from domain.payments.waterfall import DEFAULT_WATERFALL, Waterfall
from domain.rulesets import DEFAULT_NAME, RuleSetKind
from domain.warnings.rules import DEFAULT_RULES, WarningRules
from store import keyset, rule_sets, tables
from store.changes_repository import change_of
from store.keyset import InvalidCursor

rc, rv = tables.rule_changes.c, tables.rule_set_versions.c
Db = AsyncConnection | AsyncSession

_LISTING = "rule_changes"

# ---- The rule sets in effect --------------------------------------------------------------------


async def waterfall_in_effect(db: Db, at: datetime) -> Waterfall:
    """Returns the waterfall in effect at ``at``: the latest approved version, else the default."""
    stored = await rule_sets.in_effect(db, RuleSetKind.WATERFALL, DEFAULT_NAME, at)
    return rules.waterfall_from_payload(stored.payload) if stored else DEFAULT_WATERFALL


async def conduct_profile_in_effect(db: Db, name: str, at: datetime) -> ConductProfile:
    """Returns the named conduct profile in effect at ``at`` (else its checked-in version)."""
    stored = await rule_sets.in_effect(db, RuleSetKind.CONDUCT_PROFILE, name, at)
    if stored is None:
        return profile(name)
    return rules.conduct_profile_from_payload(name, stored.payload)


async def conduct_profiles_in_effect(
    db: Db, names: Sequence[str], at: datetime
) -> dict[str, ConductProfile]:
    """Returns each named conduct profile in effect at ``at`` (else its checked-in version), in
    one statement whatever the number of names (a page of a worklist)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    stmt = (
        select(rv.name, rv.payload)
        .where(
            rv.kind == RuleSetKind.CONDUCT_PROFILE.value,
            rv.name.in_(wanted),
            rv.effective_from <= at,
        )
        .order_by(rv.name, rv.version.desc())
    )
    newest: dict[str, dict[str, Any]] = {}
    for row in (await db.execute(stmt)).all():
        newest.setdefault(row.name, dict(row.payload))
    return {
        name: rules.conduct_profile_from_payload(name, newest[name])
        if name in newest
        else profile(name)
        for name in wanted
    }


async def warning_rules_in_effect(db: Db, at: datetime) -> WarningRules:
    """Returns the early-warning rules in effect at ``at`` (else the checked-in ones)."""
    stored = await rule_sets.in_effect(db, RuleSetKind.WARNING_RULES, DEFAULT_NAME, at)
    return rules.warning_rules_from_payload(stored.payload) if stored else DEFAULT_RULES


class SqlRuleSetReader:
    """The rule sets in effect, read in a unit of work's transaction (``RuleSetReader``)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def conduct_profile(self, name: str, at: datetime) -> ConductProfile:
        return await conduct_profile_in_effect(self.session, name, at)


# ---- The changes listing ------------------------------------------------------------------------


def encode_cursor(change: RuleChange) -> str:
    assert change.id is not None
    return keyset.encode_cursor(_LISTING, change.id)


def decode_cursor(cursor: str) -> keyset.Keyset:
    position = keyset.decode_cursor(cursor, _LISTING)
    if position.value is not None:
        raise InvalidCursor("malformed cursor")
    return position


def _with_version() -> Any:
    """Changes with the rule set's version number their approval wrote, if any."""
    return select(tables.rule_changes, rv.version.label("ruleset_version")).outerjoin(
        tables.rule_set_versions, rv.change_id == rc.id
    )


def _filters(statuses: Sequence[str]) -> list[Any]:
    return [rc.status.in_(list(statuses))] if statuses else []


async def fetch_page(
    session: AsyncSession, statuses: Sequence[str], after: keyset.Keyset | None, first: int
) -> tuple[list[RuleChange], bool]:
    """One page of changes, newest first, with whether more follow."""
    clauses = _filters(statuses)
    if after is not None:
        clauses.append(keyset.after_clause(None, True, rc.id, after))
    stmt = _with_version().where(*clauses).order_by(rc.id.desc())
    rows, more = await keyset.fetch_page(session, stmt, first, scalars=False)
    return [change_of(row) for row in rows], more


async def count(session: AsyncSession, statuses: Sequence[str]) -> int:
    stmt = select(func.count()).select_from(tables.rule_changes).where(*_filters(statuses))
    return int((await session.execute(stmt)).scalar_one())


async def change_by_id(session: AsyncSession, change_id: int) -> RuleChange | None:
    row = (await session.execute(_with_version().where(rc.id == change_id))).one_or_none()
    return change_of(row) if row is not None else None


# ---- Rule sets and their versions ---------------------------------------------------------------


@dataclass(frozen=True)
class VersionRow:
    """An approved version of a rule set, with the change that made it."""

    kind: str
    name: str
    version: int
    payload: dict[str, Any]
    effective_from: datetime
    change_id: int | None


async def versions(
    session: AsyncSession, kind: str | None = None, name: str | None = None
) -> list[VersionRow]:
    """The stored versions of one rule set (or of all), newest first within each."""
    clauses = []
    if kind is not None:
        clauses.append(rv.kind == kind)
    if name is not None:
        clauses.append(rv.name == name)
    stmt = (
        select(rv.kind, rv.name, rv.version, rv.payload, rv.effective_from, rv.change_id)
        .where(*clauses)
        .order_by(rv.kind, rv.name, rv.version.desc())
    )
    return [
        VersionRow(r.kind, r.name, int(r.version), dict(r.payload), r.effective_from, r.change_id)
        for r in (await session.execute(stmt)).all()
    ]
