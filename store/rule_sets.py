"""The one loader of stored rule-set versions (``domain.rulesets``): the version of a (kind,
name) in effect at an instant — the newest approved one (highest version number) whose start has
passed. A version approved later therefore supersedes an earlier-approved one from its own start
on, even where the earlier one's start comes later: the later approval is the later decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.rulesets import RuleSetKind
from store import tables

v = tables.rule_set_versions.c


@dataclass(frozen=True)
class StoredVersion:
    """An approved version of a rule set: its number, content and when it took effect."""

    kind: RuleSetKind
    name: str
    version: int
    payload: dict[str, Any]
    effective_from: datetime


async def in_effect(
    db: AsyncConnection | AsyncSession, kind: RuleSetKind, name: str, at: datetime
) -> StoredVersion | None:
    """Returns the newest approved version of (kind, name) whose start is at or before ``at``, or
    None (the reader then uses its checked-in default)."""
    stmt = (
        select(v.version, v.payload, v.effective_from)
        .where(v.kind == kind.value, v.name == name, v.effective_from <= at)
        .order_by(v.version.desc())
        .limit(1)
    )
    row = (await db.execute(stmt)).first()
    if row is None:
        return None
    return StoredVersion(kind, name, int(row.version), dict(row.payload), row.effective_from)


async def all_in_effect(
    db: AsyncConnection | AsyncSession, kind: RuleSetKind, at: datetime
) -> list[StoredVersion]:
    """Returns, for every name of ``kind`` with a version in effect at ``at``, that version (the
    newest approved one whose start has passed), by name: the loader of the open kinds
    (strategies, templates), whose names are not known in advance. One statement."""
    stmt = (
        select(v.name, v.version, v.payload, v.effective_from)
        .where(v.kind == kind.value, v.effective_from <= at)
        .order_by(v.name, v.version.desc())
    )
    newest: dict[str, StoredVersion] = {}
    for row in (await db.execute(stmt)).all():
        if row.name not in newest:
            newest[row.name] = StoredVersion(
                kind, row.name, int(row.version), dict(row.payload), row.effective_from
            )
    return list(newest.values())
